package check

import (
	"testing"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

const testABI = 7

// grants builds evaluator grants without touching the disk: a path ending
// in "/" is a directory (the slash is dropped).
func grants(read, write []string) []FSGrant {
	var out []FSGrant
	add := func(key string, paths []string) {
		for i, p := range paths {
			dir := len(p) > 1 && p[len(p)-1] == '/'
			if dir {
				p = p[:len(p)-1]
			}
			if p == "/" {
				dir = true
			}
			out = append(out, FSGrant{Key: key, Index: i, Path: p, Given: p, Dir: dir, Access: GrantAccess(key, dir, testABI)})
		}
	}
	add(KeyRead, read)
	add(KeyWrite, write)
	return out
}

func TestGrantAccessMasks(t *testing.T) {
	cases := []struct {
		key  string
		dir  bool
		abi  int
		want Access
	}{
		{KeyRead, true, 7, Execute | ReadFile | ReadDir},
		{KeyRead, false, 7, Execute | ReadFile},
		{KeyWrite, false, 7, Execute | ReadFile | WriteFile | Truncate | IoctlDev},
		{KeyWrite, true, 7, Execute | ReadFile | ReadDir | WriteFile | Truncate | IoctlDev | RemoveFile | RemoveDir |
			MakeChar | MakeDir | MakeReg | MakeSock | MakeFifo | MakeBlock | MakeSym | Refer},
		// Before ABI 5 there is no IOCTL_DEV, before 3 no TRUNCATE, before 2 no REFER.
		{KeyWrite, false, 4, Execute | ReadFile | WriteFile | Truncate},
		{KeyWrite, true, 1, Execute | ReadFile | ReadDir | WriteFile | RemoveFile | RemoveDir |
			MakeChar | MakeDir | MakeReg | MakeSock | MakeFifo | MakeBlock | MakeSym},
	}
	for _, c := range cases {
		if got := GrantAccess(c.key, c.dir, c.abi); got != c.want {
			t.Errorf("GrantAccess(%s, dir=%v, abi %d) = %v, want %v", c.key, c.dir, c.abi, got, c.want)
		}
	}
	if h := HandledAccess(7); h&^(WriteAccess(7)) != 0 {
		t.Errorf("write mask %v misses handled rights %v", WriteAccess(7), h&^WriteAccess(7))
	}
}

func TestCheckFS(t *testing.T) {
	g := grants(
		[]string{"/usr/", "/etc/hosts", "/home/u/proj/"},
		[]string{"/tmp/out/", "/var/log/app.log", "/home/u/proj/build/"},
	)
	type tc struct {
		name    string
		op      FSOp
		allowed bool
		checked bool
		missing Need  // when denied
		by      []int // grant indexes, when allowed
	}
	cases := []tc{
		{"read below a read dir", FSOp{Op: event.OpRead, Path: "/usr/lib/libc.so.6", Existed: true}, true, true, Need{}, []int{0}},
		{"read the read dir itself", FSOp{Op: event.OpRead, Path: "/usr", Dir: true, Existed: true}, true, true, Need{}, []int{0}},
		{"readdir below", FSOp{Op: event.OpReaddir, Path: "/usr/share", Dir: true, Existed: true}, true, true, Need{}, []int{0}},
		{"exec below a read dir", FSOp{Op: event.OpExec, Path: "/usr/bin/cat", Existed: true}, true, true, Need{}, []int{0}},
		{"read outside", FSOp{Op: event.OpRead, Path: "/etc/shadow", Existed: true}, false, true, Need{"/etc/shadow", ReadFile}, nil},
		{"a prefix is not a parent", FSOp{Op: event.OpRead, Path: "/usrlocal/x", Existed: true}, false, true, Need{"/usrlocal/x", ReadFile}, nil},
		{"read file grant exact", FSOp{Op: event.OpRead, Path: "/etc/hosts", Existed: true}, true, true, Need{}, []int{1}},
		{"nothing beneath a file grant", FSOp{Op: event.OpRead, Path: "/etc/hosts/x", Existed: true}, false, true, Need{"/etc/hosts/x", ReadFile}, nil},
		{"missing file: ENOENT, not Landlock", FSOp{Op: event.OpRead, Path: "/etc/nope", Existed: false}, true, false, Need{}, nil},
		{"write below read dir", FSOp{Op: event.OpWrite, Path: "/usr/lib/x", Existed: true}, false, true, Need{"/usr/lib/x", WriteFile}, nil},
		{"truncate below read dir", FSOp{Op: event.OpTruncate, Path: "/usr/lib/x", Existed: true}, false, true, Need{"/usr/lib/x", Truncate}, nil},
		{"write below write dir", FSOp{Op: event.OpWrite, Path: "/tmp/out/a/b", Existed: true}, true, true, Need{}, []int{3}},
		{"write file grant", FSOp{Op: event.OpWrite, Path: "/var/log/app.log", Existed: true}, true, true, Need{}, []int{4}},
		{"create next to a write file grant", FSOp{Op: event.OpCreate, Path: "/var/log/app.log.1"}, false, true, Need{"/var/log", MakeReg}, nil},
		{"create in write dir", FSOp{Op: event.OpCreate, Path: "/tmp/out/new"}, true, true, Need{}, []int{3}},
		{"create in the write dir's parent", FSOp{Op: event.OpCreate, Path: "/tmp/new"}, false, true, Need{"/tmp", MakeReg}, nil},
		{"create of existing: no MAKE_REG", FSOp{Op: event.OpCreate, Path: "/tmp/x", Existed: true}, true, false, Need{}, nil},
		{"remove the write dir itself needs its parent", FSOp{Op: event.OpRmdir, Path: "/tmp/out", Existed: true, Dir: true}, false, true, Need{"/tmp", RemoveDir}, nil},
		{"remove inside write dir", FSOp{Op: event.OpRemove, Path: "/tmp/out/f", Existed: true}, true, true, Need{}, []int{3}},
		{"mkdir under read dir", FSOp{Op: event.OpMkdir, Path: "/home/u/proj/new"}, false, true, Need{"/home/u/proj", MakeDir}, nil},
		{"mkdir in nested write dir", FSOp{Op: event.OpMkdir, Path: "/home/u/proj/build/obj"}, true, true, Need{}, []int{5}},
		{"read in nested write dir credits the write grant", FSOp{Op: event.OpRead, Path: "/home/u/proj/build/x.o", Existed: true}, true, true, Need{}, []int{5}},
		{"read next to nested write dir credits the read grant", FSOp{Op: event.OpRead, Path: "/home/u/proj/main.c", Existed: true}, true, true, Need{}, []int{2}},
		{"symlink", FSOp{Op: event.OpSymlink, Path: "/tmp/out/l"}, true, true, Need{}, []int{3}},
		{"bind unix outside", FSOp{Op: event.OpBindUnix, Path: "/run/s.sock"}, false, true, Need{"/run", MakeSock}, nil},
		{"mknod fifo", FSOp{Op: event.OpMknod, Path: "/usr/fifo", Make: MakeFifo}, false, true, Need{"/usr", MakeFifo}, nil},
		{"rename_to over existing needs remove too", FSOp{Op: event.OpRenameTo, Path: "/tmp/out/x", Existed: true}, true, true, Need{}, []int{3}},
		{"connect unix is not Landlock's", FSOp{Op: event.OpConnectUnix, Path: "/run/dbus/s", Existed: true}, true, false, Need{}, nil},
		{"exec outside", FSOp{Op: event.OpExec, Path: "/opt/bin/x", Existed: true}, false, true, Need{"/opt/bin/x", Execute}, nil},
	}
	for _, c := range cases {
		v := CheckFS(g, Needs(c.op))
		if v.Allowed != c.allowed || v.Checked != c.checked {
			t.Errorf("%s: allowed=%v checked=%v, want %v %v (missing %+v)", c.name, v.Allowed, v.Checked, c.allowed, c.checked, v.Missing)
			continue
		}
		if !c.allowed && v.Missing != c.missing {
			t.Errorf("%s: missing %+v, want %+v", c.name, v.Missing, c.missing)
		}
		if c.allowed && !equalInts(v.By, c.by) {
			t.Errorf("%s: by %v, want %v", c.name, v.By, c.by)
		}
	}
}

// Rights add up across grants, as Landlock unions the rules on a path: a
// read grant deep down and a write grant above still allow everything
// below both.
func TestCheckFSUnion(t *testing.T) {
	g := grants([]string{"/a/b/"}, []string{"/a/"})
	v := CheckFS(g, []Need{{"/a/b/c", ReadFile | WriteFile}})
	if !v.Allowed || !equalInts(v.By, []int{1}) {
		t.Fatalf("got %+v, want allowed by the write grant", v)
	}
	// Rights spread over two grants, none holding both.
	g = []FSGrant{
		{Key: KeyRead, Path: "/x", Dir: true, Access: ReadFile},
		{Key: KeyRead, Index: 1, Path: "/x/y", Dir: true, Access: WriteFile},
	}
	v = CheckFS(g, []Need{{"/x/y/z", ReadFile | WriteFile}})
	if !v.Allowed || !equalInts(v.By, []int{1, 0}) { // by right: write_file, then read_file
		t.Fatalf("got %+v, want allowed by both grants", v)
	}
}

func TestPairNeedsRefer(t *testing.T) {
	from := FSOp{Op: event.OpRenameFrom, Path: "/tmp/out/a", Existed: true}
	to := FSOp{Op: event.OpRenameTo, Path: "/tmp/other/a"}
	// Only /tmp/out is writable: the target's parent lacks MAKE_REG and REFER.
	g := grants(nil, []string{"/tmp/out/"})
	v := CheckFS(g, PairNeeds(from, to))
	if v.Allowed || v.Missing.Path != "/tmp/other" {
		t.Fatalf("got %+v, want denied on /tmp/other", v)
	}
	g = grants(nil, []string{"/tmp/"})
	if v := CheckFS(g, PairNeeds(from, to)); !v.Allowed {
		t.Fatalf("got %+v, want allowed", v)
	}
	needs := PairNeeds(from, FSOp{Op: event.OpRenameTo, Path: "/tmp/out/b"})
	for _, n := range needs {
		if n.Access&Refer != 0 {
			t.Fatalf("a rename within one directory needs no REFER: %+v", needs)
		}
	}
}

func TestRootGrantCoversAll(t *testing.T) {
	g := grants([]string{"/"}, nil)
	if v := CheckFS(g, []Need{{"/etc/passwd", ReadFile}}); !v.Allowed {
		t.Fatalf("read / must cover /etc/passwd: %+v", v)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
