package collapse

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// propTree builds a random tree with the awkward parts: a guarded home
// with credentials in it, symlinks, names that are not UTF-8.
func propTree(t *testing.T, rng *rand.Rand) (f *fix, paths []string) {
	f = newFix(t)
	f.dir("home/.ssh", "home/.aws", "home/proj")
	f.file("home/.ssh/id", "home/.ssh/config", "home/.aws/credentials", "home/.bashrc")
	var dirs = []string{"", "home", "home/proj", "home/.ssh"}
	for i := 0; i < 12; i++ {
		parent := dirs[rng.IntN(len(dirs))]
		name := fmt.Sprintf("d%d", i)
		if rng.IntN(8) == 0 {
			name += "\xff"
		}
		d := strings.TrimPrefix(parent+"/"+name, "/")
		f.dir(d)
		dirs = append(dirs, d)
	}
	for i := 0; i < 40; i++ {
		d := dirs[rng.IntN(len(dirs))]
		name := fmt.Sprintf("f%d", i)
		if rng.IntN(10) == 0 {
			name = "caf\xe9" + name
		}
		f.file(strings.TrimPrefix(d+"/"+name, "/"))
	}
	if err := os.Symlink("home/proj", f.p("link")); err != nil {
		t.Fatal(err)
	}
	err := filepath.Walk(f.root, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Paths that do not exist, under existing and vanished directories,
	// through the symlink, and outside the tree.
	for i := 0; i < 15; i++ {
		d := dirs[rng.IntN(len(dirs))]
		paths = append(paths, f.p(strings.TrimPrefix(d+fmt.Sprintf("/new%d", i), "/")),
			f.p(strings.TrimPrefix(d+fmt.Sprintf("/gone%d/x", i), "/")))
	}
	paths = append(paths, f.p("link/p1"), f.p("link"), "/proc/self/status", "/proc/1/maps", "/dev/tty",
		"/dev/pts/0", "/dev/null", "/etc/hostname", "/root/.profile", "/sandlock-prop-new", "/etc/sandlock-prop-new", "/")
	return f, paths
}

var allOps = []string{"read", "readdir", "exec", "link_from", "write", "truncate", "connect_unix", "create",
	"mkdir", "mknod", "remove", "rmdir", "rename_from", "rename_to", "link_to", "symlink", "bind_unix"}

func canonical(p string) (string, bool) {
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", false
	}
	return r, true
}

// nearestUTF8 is p or its nearest ancestor whose path is valid UTF-8.
func nearestUTF8(p string) string {
	for !utf8.ValidString(p) {
		p = filepath.Dir(p)
	}
	return p
}

func nearestExisting(p string) string {
	for {
		if c, ok := canonical(p); ok {
			return c
		}
		p = filepath.Dir(p)
	}
}

func within(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// TestProperty: for random event streams over a random tree, every
// granted path was observed or is a directory reached by a documented rule;
// never /, never pid- or session-specific, never a collapse into a protected
// path; nothing is covered by another grant; and every need the table says
// must be granted is covered (or reported).
func TestProperty(t *testing.T) {
	for seed := uint64(1); seed <= 150; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		f, paths := propTree(t, rng)
		opts := Options{Threshold: rng.IntN(5), Home: f.p("home")}
		if rng.IntN(4) == 0 {
			opts.Prefixes = []string{f.p("home/proj")}
		}
		recs := []event.Record{f.start()}
		for i := rng.IntN(60); i >= 0; i-- {
			p := paths[rng.IntN(len(paths))]
			_, exists := canonical(p)
			if rng.IntN(5) == 0 {
				exists = !exists
			}
			recs = append(recs, &event.FS{PID: 1, Syscall: "x", Op: allOps[rng.IntN(len(allOps))], Path: p, Existed: exists})
		}
		recs = append(recs, exitOK())
		res := collapseT(t, opts, recs...)
		checkProperty(t, seed, f, opts, recs, res)
	}
}

func checkProperty(t testing.TB, seed uint64, f *fix, opts Options, recs []event.Record, res *Result) {
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("seed %d: "+format, append([]any{seed}, args...)...)
	}
	type grant struct{ path, key string }
	var grants []grant
	observed := map[string]bool{}
	for _, r := range recs {
		if e, ok := r.(*event.FS); ok {
			if c, ok := canonical(e.Path); ok {
				observed[c] = true
			}
		}
	}
	warned := map[string]bool{}
	for _, w := range res.Warnings {
		warned[w.Path] = true
	}
	for _, g := range res.Grants {
		if g.Section != "filesystem" {
			continue
		}
		p := g.Value.(string)
		grants = append(grants, grant{p, g.Key})
		c, exists := canonical(p)
		switch {
		case p == "/":
			fail("granted /")
		case !utf8.ValidString(p):
			fail("granted a non-UTF-8 path %q", p)
		case !exists || c != p:
			fail("granted %q, which does not exist or is not canonical (%q)", p, c)
		case neverGranted(p):
			fail("granted the session-specific %s", p)
		}
		isPrefix := len(opts.Prefixes) > 0 && p == opts.Prefixes[0]
		if !observed[p] && !isPrefix {
			fi, err := os.Stat(p)
			if err != nil || !fi.IsDir() {
				fail("granted %s, which was not observed and is not a directory", p)
			}
			below := false
			for o := range observed {
				below = below || within(o, p)
			}
			for _, r := range recs {
				if e, ok := r.(*event.FS); ok {
					below = below || within(nearestExisting(e.Path), p) || within(e.Path, p)
				}
			}
			if !below {
				fail("granted %s, but nothing observed lies beneath it", p)
			}
			if underProtected(p) {
				fail("collapsed into the protected %s", p)
			}
			if (guardedDirs[p] || p == f.p("home")) && (g.Key != "write" || !warned[p]) {
				fail("reached the guarded %s by %s without a warning", p, g.Key)
			}
		}
	}
	covered := func(p string, write bool) bool {
		for _, g := range grants {
			if within(p, g.path) && (g.key == "write" || !write) {
				return true
			}
		}
		return false
	}
	for i, a := range grants {
		for j, b := range grants {
			if i != j && within(a.path, b.path) && (b.key == "write" || a.key == "read") {
				fail("%s %s is covered by %s %s", a.key, a.path, b.key, b.path)
			}
		}
	}
	// Completeness.
	for _, r := range recs {
		e, ok := r.(*event.FS)
		if !ok || neverGranted(e.Path) {
			continue
		}
		op := opIndex(e.Op)
		if fails(op, e.Existed) {
			continue
		}
		switch opNeed[op] {
		case needRead:
			c, ok := canonical(e.Path)
			if !ok || c == "/" || neverGranted(c) {
				continue
			}
			if u := nearestUTF8(c); u != c && (u == "/" || underProtected(u)) {
				continue // reported as a skipped collapse
			}
			if !covered(c, false) {
				fail("%s of %s (%s) not covered by any grant", e.Op, e.Path, c)
			}
		case needWrite, needParent:
			target := ""
			if c, ok := canonical(e.Path); ok && opNeed[op] == needWrite {
				target = c
			} else {
				target = nearestExisting(filepath.Dir(e.Path))
				if fi, err := os.Stat(target); err != nil || !fi.IsDir() {
					continue // under a file: the op failed with ENOTDIR
				}
			}
			target = nearestUTF8(target)
			if neverGranted(target) {
				continue
			}
			if target == "/" || underProtected(target) {
				if len(opts.Prefixes) == 0 && !warned[target] {
					// A direct write of a file in a protected directory
					// is granted; a collapse there is skipped with an error.
					if fi, err := os.Stat(target); err == nil && fi.IsDir() && len(res.Errors) == 0 {
						fail("%s of %s: collapse into %s neither granted nor reported", e.Op, e.Path, target)
					}
				}
				continue
			}
			if !covered(target, true) {
				fail("%s of %s: %s not covered by a write grant", e.Op, e.Path, target)
			}
		}
	}
}
