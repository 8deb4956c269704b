package collapse

import (
	"testing"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// FuzzCollapse drives the collapser with event streams decoded from fuzz
// bytes over a real tree: paths built from awkward components (protected
// and guarded names, /proc/<pid>, non-UTF-8 bytes, vanished directories),
// any op, either existed flag, any threshold. It must not panic, and
// TestProperty's invariants must hold.
func FuzzCollapse(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{4, 7, 0x21, 0x13, 0x55, 0x02, 0x71, 0x01})
	f.Add([]byte{2, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19})
	// One tree for the whole run (f's temp dir outlives each input).
	fx := newFix(f)
	fx.dir("home/.ssh", "home/proj/src", "etc2", "a/b/c", "caf\xe9/d")
	fx.file("home/.ssh/id", "home/.bashrc", "home/proj/src/x.go", "home/proj/src/y.go",
		"a/b/c/1", "a/b/c/2", "a/b/3", "a/4", "caf\xe9/d/e", "etc2/conf")
	f.Fuzz(func(t *testing.T, data []byte) {
		comps := []string{"home", ".ssh", "proj", "src", "x.go", "a", "b", "c", "1", "2", "3",
			"gone", "caf\xe9", "d", "e", "etc2", "conf", "new", "id", ".bashrc"}
		sys := []string{"/", "/proc/self/status", "/proc/12/maps", "/dev/tty", "/dev/pts/1", "/dev/null",
			"/etc/hostname", "/root/x", "/new-file", "/etc/new-file", "/proc/cpuinfo"}
		if len(data) == 0 {
			return
		}
		opts := Options{Threshold: int(data[0] % 5), Home: fx.p("home"), Headroom: 1.5}
		recs := []event.Record{fx.start()}
		for i := 1; i+1 < len(data); i += 2 {
			op, sel := data[i], data[i+1]
			var p string
			if sel&0x80 != 0 {
				p = sys[int(sel&0x7f)%len(sys)]
			} else {
				p = fx.root
				for n, s := 0, int(sel&0x7f); n <= int(op>>5)%4; n++ {
					p += "/" + comps[s%len(comps)]
					s = s/len(comps) + int(op) + n
				}
			}
			recs = append(recs, &event.FS{PID: 1, Syscall: "x", Op: allOps[int(op&0x1f)%len(allOps)], Path: p, Existed: op&0x10 != 0})
		}
		recs = append(recs, exitOK())
		c, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if err := c.Add(r); err != nil {
				t.Fatal(err)
			}
		}
		res, err := c.Result()
		if err != nil {
			t.Fatal(err)
		}
		checkProperty(t, 0, fx, opts, recs, res)
	})
}
