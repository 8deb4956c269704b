package profile

import (
	"reflect"
	"testing"
	"time"
)

func TestMinimize(t *testing.T) {
	in := []string{"/a/b/c", "/a-b", "/a/b", "/a/bc", "/a-b/x", "/a/b", "/z"}
	want := []string{"/a-b", "/a/b", "/a/bc", "/z"}
	if got := Minimize(in); !reflect.DeepEqual(got, want) {
		t.Errorf("Minimize = %q, want %q", got, want)
	}
	if got := Minimize([]string{"/usr", "/", "/etc"}); !reflect.DeepEqual(got, []string{"/"}) {
		t.Errorf("Minimize with / = %q", got)
	}
	if got := Uncovered([]string{"/tmp/x", "/tmpx", "/usr"}, []string{"/tmp"}); !reflect.DeepEqual(got, []string{"/tmpx", "/usr"}) {
		t.Errorf("Uncovered = %q", got)
	}
	for _, c := range []struct {
		dir, p string
		want   bool
	}{{"/a", "/a", true}, {"/a", "/a/b", true}, {"/a", "/ab", false}, {"/a/b", "/a", false}, {"/", "/x", true}} {
		if got := Covers(c.dir, c.p); got != c.want {
			t.Errorf("Covers(%q, %q) = %v", c.dir, c.p, got)
		}
	}
}

func TestMergeLimits(t *testing.T) {
	cases := []struct {
		name                   string
		aMem, bMem, wantMem    string
		aProc, bProc, wantProc int64
		aFiles, bFiles, wantF  int64
	}{
		{"both set", "1G", "1536M", "1536M", 4, 3, 4, 64, 128, 128},
		{"sizes, not strings", "900M", "1G", "1G", 0, 0, 0, 0, 0, 0},
		{"equal sizes keep BASE's spelling", "1024M", "1G", "1024M", 8, 8, 8, 64, 64, 64},
		{"unset is unlimited", "", "48M", "", 0, 100, 100, 0, 64, 0},
		{"unset processes is 64", "48M", "", "", 4, 0, 0, 64, 0, 0},
		{"explicit 64 vs unset", "", "", "", 64, 0, 0, 0, 0, 0},
	}
	for _, c := range cases {
		a, b := &Profile{}, &Profile{}
		a.Limits = Limits{Memory: c.aMem, Processes: c.aProc, OpenFiles: c.aFiles}
		b.Limits = Limits{Memory: c.bMem, Processes: c.bProc, OpenFiles: c.bFiles}
		m := Merge(a, b)
		if m.Limits.Memory != c.wantMem || m.Limits.Processes != c.wantProc || m.Limits.OpenFiles != c.wantF {
			t.Errorf("%s: got %+v", c.name, m.Limits)
		}
	}
}

func TestMergeKeepsBase(t *testing.T) {
	base, err := Decode([]byte("# command: a\n[program]\nargs = [\"x\"]\nno_coredump = true\n[filesystem]\non_exit = \"keep\"\n"), "base")
	if err != nil {
		t.Fatal(err)
	}
	next, err := Decode([]byte("# command: b\n# kernel: 6.18\n[program]\nexec = \"/usr/bin/b\"\nargs = [\"y\"]\ncwd = \"/tmp\"\nno_coredump = false\nclean_env = true\n[filesystem]\non_exit = \"abort\"\non_error = \"abort\"\n"), "new")
	if err != nil {
		t.Fatal(err)
	}
	m := Merge(base, next)
	// BASE sets args without exec: NEW's exec is used, with its own args.
	if m.Program.Exec != "/usr/bin/b" || !reflect.DeepEqual(m.Program.Args, []string{"y"}) || m.Program.Cwd != "/tmp" {
		t.Errorf("program: %+v", m.Program)
	}
	if m.Program.Kept["no_coredump"] != true || m.Program.Kept["clean_env"] != true {
		t.Errorf("program kept: %v", m.Program.Kept)
	}
	if m.Filesystem.Kept["on_exit"] != "keep" || m.Filesystem.Kept["on_error"] != "abort" {
		t.Errorf("filesystem kept: %v", m.Filesystem.Kept)
	}
	h := MergeHeader("base", "new", base, next, time.Unix(0, 0))
	want := []string{"sandlock profile merged by sandlock-merge", "merged base and new at 1970-01-01T00:00:00Z", "command: a", "command: b"}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("MergeHeader = %q, want %q", h, want)
	}
	// Merge does not share slices with its inputs.
	m.Program.Args[0] = "changed"
	if next.Program.Args[0] != "y" {
		t.Errorf("Merge aliased BASE's args")
	}
}
