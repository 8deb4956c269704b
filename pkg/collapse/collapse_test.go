package collapse

import (
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// TestOpMapping: every op, on a real tree, with the threshold off.
func TestOpMapping(t *testing.T) {
	tests := []struct {
		name string
		ev   func(f *fix) *event.FS
		want []string
	}{
		{"read", func(f *fix) *event.FS { return f.op("read", "d/a") }, []string{"read $R/d/a"}},
		{"read never existed", func(f *fix) *event.FS { return f.opE("read", "d/nope", false) }, nil},
		{"read O_PATH", func(f *fix) *event.FS {
			e := f.op("read", "d/a")
			e.Flags = []string{"O_RDONLY", "O_PATH", "O_CLOEXEC"}
			return e
		}, nil},
		{"write O_PATH", func(f *fix) *event.FS {
			e := f.op("write", "d/a")
			e.Flags = []string{"O_WRONLY", "O_PATH"}
			return e
		}, nil},
		{"create O_PATH", func(f *fix) *event.FS {
			e := f.op("create", "d/new")
			e.Flags = []string{"O_CREAT", "O_PATH"}
			return e
		}, nil},
		{"readdir", func(f *fix) *event.FS { return f.op("readdir", "d") }, []string{"read $R/d"}},
		{"exec", func(f *fix) *event.FS { return f.op("exec", "d/a") }, []string{"read $R/d/a"}},
		{"link_from", func(f *fix) *event.FS { return f.op("link_from", "d/a") }, []string{"read $R/d/a"}},
		{"link_from missing", func(f *fix) *event.FS { return f.opE("link_from", "d/nope", false) }, nil},
		{"write", func(f *fix) *event.FS { return f.op("write", "d/a") }, []string{"write $R/d/a"}},
		{"write never existed", func(f *fix) *event.FS { return f.opE("write", "d/nope", false) }, nil},
		{"write vanished file", func(f *fix) *event.FS { return f.op("write", "d/gone") }, []string{"write $R/d"}},
		{"write vanished dir", func(f *fix) *event.FS { return f.op("write", "d/gonedir/x") }, []string{"write $R/d"}},
		{"truncate", func(f *fix) *event.FS { return f.op("truncate", "d/a") }, []string{"write $R/d/a"}},
		{"connect_unix", func(f *fix) *event.FS { return f.op("connect_unix", "d/sock") }, []string{"write $R/d/sock"}},
		{"connect_unix missing", func(f *fix) *event.FS { return f.opE("connect_unix", "d/nosock", false) }, nil},
		{"create", func(f *fix) *event.FS { return f.op("create", "d/new") }, []string{"write $R/d"}},
		{"create existing", func(f *fix) *event.FS { return f.opE("create", "d/a", true) }, nil},
		{"create in vanished dir", func(f *fix) *event.FS { return f.op("create", "d/tmp/x/y") }, []string{"write $R/d"}},
		{"mkdir", func(f *fix) *event.FS { return f.op("mkdir", "d/e/newdir") }, []string{"write $R/d/e"}},
		{"mkdir existing", func(f *fix) *event.FS { return f.opE("mkdir", "d/e", true) }, nil},
		{"mknod", func(f *fix) *event.FS { return f.op("mknod", "d/fifo") }, []string{"write $R/d"}},
		{"symlink", func(f *fix) *event.FS { return f.op("symlink", "d/e/ln") }, []string{"write $R/d/e"}},
		{"symlink existing", func(f *fix) *event.FS { return f.opE("symlink", "d/e", true) }, nil},
		{"link_to", func(f *fix) *event.FS { return f.op("link_to", "d/hard") }, []string{"write $R/d"}},
		{"bind_unix", func(f *fix) *event.FS { return f.op("bind_unix", "d/e/s.sock") }, []string{"write $R/d/e"}},
		{"remove", func(f *fix) *event.FS { return f.op("remove", "d/e/old") }, []string{"write $R/d/e"}},
		{"remove missing", func(f *fix) *event.FS { return f.opE("remove", "d/e/old", false) }, nil},
		{"rmdir", func(f *fix) *event.FS { return f.op("rmdir", "d/e/olddir") }, []string{"write $R/d/e"}},
		{"rename_from", func(f *fix) *event.FS { return f.op("rename_from", "d/a") }, []string{"write $R/d"}},
		{"rename_from missing", func(f *fix) *event.FS { return f.opE("rename_from", "d/zz", false) }, nil},
		{"rename_to new", func(f *fix) *event.FS { return f.opE("rename_to", "d/e/b", false) }, []string{"write $R/d/e"}},
		{"rename_to replacing", func(f *fix) *event.FS { return f.opE("rename_to", "d/a", true) }, []string{"write $R/d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFix(t)
			f.file("d/a")
			f.dir("d/e")
			l, err := net.Listen("unix", f.p("d/sock"))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			res := collapseT(t, Options{}, f.start(), tt.ev(f), exitOK())
			if got := f.fsGrants(res); !slices.Equal(got, tt.want) {
				t.Errorf("grants = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWriteCoversRead(t *testing.T) {
	f := newFix(t)
	f.file("d/a", "d/b", "d/sub/c", "other")
	res := collapseT(t, Options{},
		f.start(), f.op("read", "d/a"), f.op("write", "d/b"), f.op("read", "d/b"),
		f.op("read", "d/sub/c"), f.op("create", "d/new"), f.op("read", "other"), exitOK())
	want := []string{"read $R/other", "write $R/d"}
	if got := f.fsGrants(res); !slices.Equal(got, want) {
		t.Errorf("grants = %q, want %q", got, want)
	}
	// Every event is attributed to the grant covering it.
	for _, g := range res.Grants {
		if g.Value == f.p("d") && g.Observed != 5 {
			t.Errorf("write $R/d observed %d, want 5 (%s)", g.Observed, g.Why)
		}
	}
}

func TestSymlinkResolved(t *testing.T) {
	f := newFix(t)
	f.file("real/lib.so", "real/x/y")
	if err := os.Symlink("real", f.p("link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("lib.so", f.p("real/alias.so")); err != nil {
		t.Fatal(err)
	}
	res := collapseT(t, Options{}, f.start(),
		f.op("read", "link/lib.so"), f.op("read", "real/alias.so"), f.op("write", "link/x/y"), exitOK())
	want := []string{"read $R/real/lib.so", "write $R/real/x/y"}
	if got := f.fsGrants(res); !slices.Equal(got, want) {
		t.Errorf("grants = %q, want %q", got, want)
	}
}

func TestVanishedRead(t *testing.T) {
	f := newFix(t)
	f.dir("d")
	// Read of a file that is gone and not covered: dropped with a warning.
	res := collapseT(t, Options{}, f.start(), f.op("read", "d/gone"), exitOK())
	if got := f.fsGrants(res); got != nil {
		t.Errorf("grants = %q, want none", got)
	}
	if ws := f.warnings(res); !hasWarning(ws, "$R/d/gone was read but no longer exists") {
		t.Errorf("no warning for the vanished read: %q", ws)
	}
	// The same read of a file the workload created and deleted: covered.
	res = collapseT(t, Options{}, f.start(), f.op("create", "d/gone"), f.op("read", "d/gone"), f.op("remove", "d/gone"), exitOK())
	if got, want := f.fsGrants(res), []string{"write $R/d"}; !slices.Equal(got, want) {
		t.Errorf("grants = %q, want %q", got, want)
	}
	if ws := f.warnings(res); hasWarning(ws, "no longer exists") {
		t.Errorf("covered read warned about: %q", ws)
	}
}

func TestThreshold(t *testing.T) {
	f := newFix(t)
	// Each case under its own parent, so that the root does not collapse.
	f.file("s1/lib/a", "s1/lib/b", "s1/lib/c", "s1/lib/d", "s1/lib/sub/x", "s2/three/a", "s2/three/b", "s2/three/c",
		"s3/w/a", "s3/w/b", "s3/w/c", "s3/w/d", "s4/mixed/a", "s4/mixed/b", "s4/mixed/c", "s4/mixed/d",
		"s5/up/p1/a", "s5/up/p1/b", "s5/up/p1/c", "s5/up/p1/d", "s5/up/p2/a", "s5/up/p2/b", "s5/up/p2/c", "s5/up/p2/d",
		"s5/up/p3/a", "s5/up/p3/b", "s5/up/p3/c", "s5/up/p3/d", "s5/up/f")
	recs := []event.Record{f.start()}
	for _, p := range []string{"s1/lib/a", "s1/lib/b", "s1/lib/c", "s1/lib/sub/x", "s2/three/a", "s2/three/b", "s2/three/c"} {
		recs = append(recs, f.op("read", p))
	}
	recs = append(recs, f.op("readdir", "s1/lib/sub")) // a directory entry counts once
	for _, p := range []string{"s3/w/a", "s3/w/b", "s3/w/c", "s3/w/d", "s4/mixed/a", "s4/mixed/b"} {
		recs = append(recs, f.op("write", p))
	}
	recs = append(recs, f.op("read", "s4/mixed/c"), f.op("exec", "s4/mixed/d"))
	for _, d := range []string{"p1", "p2", "p3"} {
		for _, x := range []string{"a", "b", "c", "d"} {
			recs = append(recs, f.op("read", "s5/up/"+d+"/"+x))
		}
	}
	recs = append(recs, f.op("read", "s5/up/f"), exitOK())

	res := collapseT(t, Options{Threshold: 4}, recs...)
	want := []string{
		"read $R/s1/lib",                                                 // a, b, c, sub
		"read $R/s2/three/a", "read $R/s2/three/b", "read $R/s2/three/c", // 3 < 4
		"read $R/s4/mixed", // 4 used, 2 written: read the directory, keep the writes
		"read $R/s5/up",    // p1, p2, p3 collapsed, and f: four entries
		"write $R/s3/w",    // 4 written
		"write $R/s4/mixed/a", "write $R/s4/mixed/b",
	}
	if got := f.fsGrants(res); !slices.Equal(got, want) {
		t.Errorf("threshold 4:\n got %q\nwant %q", got, want)
	}
	for _, g := range res.Grants {
		if g.Value == f.p("s5/up") && (g.Observed != 13 || !strings.Contains(g.Why, "4 entries directly under it were used (threshold 4)")) {
			t.Errorf("up: observed %d, why %q", g.Observed, g.Why)
		}
	}

	res = collapseT(t, Options{Threshold: 0}, recs...)
	if got := f.fsGrants(res); len(got) != 28 {
		t.Errorf("threshold 0 gave %d grants, want every path (28): %q", len(got), got)
	}
	res = collapseT(t, Options{Threshold: 3}, recs...)
	if got := f.fsGrants(res); !slices.Contains(got, "read $R/s2/three") {
		t.Errorf("threshold 3 did not collapse three/: %q", got)
	}
}

// TestThresholdTiers: the threshold never reaches /, protected or guarded
// directories.
func TestThresholdTiers(t *testing.T) {
	f := newFix(t)
	home := "home"
	f.file(home+"/a", home+"/b", home+"/c", home+"/d",
		home+"/.ssh/k1", home+"/.ssh/k2", home+"/.ssh/k3", home+"/.ssh/k4",
		home+"/.ssh/sub/a", home+"/.ssh/sub/b", home+"/.ssh/sub/c", home+"/.ssh/sub/d")
	recs := []event.Record{f.start()}
	for _, p := range []string{"a", "b", "c", "d", ".ssh/k1", ".ssh/k2", ".ssh/k3", ".ssh/k4",
		".ssh/sub/a", ".ssh/sub/b", ".ssh/sub/c", ".ssh/sub/d"} {
		recs = append(recs, f.op("read", home+"/"+p))
	}
	res := collapseT(t, Options{Threshold: 2, Home: f.p(home)}, append(recs, exitOK())...)
	for _, g := range f.fsGrants(res) {
		if g == "read $R/home" || strings.HasSuffix(g, "/.ssh") || strings.HasSuffix(g, "/.ssh/sub") {
			t.Errorf("threshold reached a sensitive directory: %s", g)
		}
	}
	if got := f.fsGrants(res); len(got) != 12 {
		t.Errorf("want the 12 files granted one by one, got %q", got)
	}
	// Without the home guard the same tree collapses (proving the test can fail).
	res = collapseT(t, Options{Threshold: 2}, append(recs, exitOK())...)
	if got := f.fsGrants(res); !slices.Contains(got, "read $R/home") {
		t.Errorf("unguarded home did not collapse: %q", got)
	}
	// Real guarded directories: four files of /etc never give /etc.
	var etc []string
	ents, _ := os.ReadDir("/etc")
	for _, e := range ents {
		if e.Type().IsRegular() && len(etc) < 4 {
			etc = append(etc, "/etc/"+e.Name())
		}
	}
	recs = []event.Record{f.start()}
	for _, p := range etc {
		recs = append(recs, f.op("read", p))
	}
	res = collapseT(t, Options{Threshold: 1}, append(recs, exitOK())...)
	for _, g := range grantsOf(res, "filesystem") {
		if g == "read /etc" || g == "read /" {
			t.Errorf("threshold reached %s", g)
		}
	}
}

func TestWriteCollapseTiers(t *testing.T) {
	f := newFix(t)
	f.file("home/notes.txt", "home/.bashrc", "home/.ssh/known_hosts", "home/proj/x")
	res := collapseT(t, Options{Home: f.p("home")}, f.start(),
		f.op("create", "home/.bashrc.tmp"), f.op("rename_from", "home/.bashrc.tmp"), f.op("rename_to", "home/.bashrc"),
		f.op("create", "home/.ssh/known_hosts.tmp"), f.op("create", "/root/.cache-x"), exitOK())
	want := []string{"write $R/home"}
	if got := f.fsGrants(res); !slices.Equal(got, want) {
		t.Errorf("grants = %q, want %q", got, want)
	}
	ws := f.warnings(res)
	if !hasWarning(ws, "write collapse to guarded directory $R/home: it becomes writable as a whole, including 2 entries the workload never touched: notes.txt, proj") ||
		!hasWarning(ws, "makes the protected entries in it writable too: .ssh") {
		t.Errorf("no guarded warning with the untouched siblings: %q", ws)
	}
	if len(res.Errors) != 2 || !strings.Contains(res.Errors[0], "write collapse to "+f.p("home/.ssh")+" skipped") ||
		!strings.Contains(res.Errors[1], "write collapse to /root skipped") {
		t.Errorf("errors = %q, want the .ssh and /root collapses skipped", res.Errors)
	}
	// A write collapse into / is skipped too.
	res = collapseT(t, Options{}, f.start(), f.op("create", "/sandlock-test-never-created"), exitOK())
	if got := f.fsGrants(res); got != nil || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "write collapse to / skipped") {
		t.Errorf("create in /: grants %q errors %q", got, res.Errors)
	}
}

func TestNeverGranted(t *testing.T) {
	f := newFix(t)
	res := collapseT(t, Options{Threshold: 1}, f.start(),
		f.op("read", "/proc/self/status"), f.op("read", "/proc/thread-self/comm"), f.op("read", "/proc/1/cmdline"),
		f.op("write", "/dev/tty"), f.op("write", "/dev/pts/0"), f.op("readdir", "/"), f.op("read", "/proc/cpuinfo"), exitOK())
	want := []string{"read /proc/cpuinfo"}
	if got := grantsOf(res, "filesystem"); !slices.Equal(got, want) {
		t.Errorf("grants = %q, want %q", got, want)
	}
	ws := f.warnings(res)
	if !hasWarning(ws, "5 pid- or session-specific paths were not granted") || !hasWarning(ws, "/ is never granted") {
		t.Errorf("warnings = %q", ws)
	}
	for _, p := range []string{"/proc/self", "/proc/12/x", "/proc/thread-self", "/dev/pts/3", "/dev/tty"} {
		if !neverGranted(p) {
			t.Errorf("neverGranted(%q) = false", p)
		}
	}
	for _, p := range []string{"/proc", "/proc/sys/kernel", "/proc/1x", "/dev/tty0", "/dev/ptsx", "/dev/null"} {
		if neverGranted(p) {
			t.Errorf("neverGranted(%q) = true", p)
		}
	}
}

func TestNonUTF8(t *testing.T) {
	f := newFix(t)
	bad := "caf\xe9"
	f.file("d/"+bad+"/x", "d/"+bad+"/y", "d/ok")
	res := collapseT(t, Options{}, f.start(), f.op("write", "d/"+bad+"/x"), f.op("read", "d/"+bad+"/y"), f.op("read", "d/ok"), exitOK())
	want := []string{"write $R/d"}
	if got := f.fsGrants(res); !slices.Equal(got, want) {
		t.Errorf("grants = %q, want %q", got, want)
	}
	ws := f.warnings(res)
	if !hasWarning(ws, `2 paths a TOML profile cannot spell (not valid UTF-8) are covered by granting their nearest UTF-8 ancestor $R/d instead: "$R/d/caf\xe9/x", "$R/d/caf\xe9/y"`) {
		t.Errorf("warnings = %q", ws)
	}
	for _, g := range res.Grants {
		for _, e := range g.Examples {
			if e != f.p("d/ok") {
				t.Errorf("example %q: only UTF-8 paths may be examples", e)
			}
		}
	}
	// Under a directory granted anyway, the substitution needs no warning.
	res = collapseT(t, Options{}, f.start(), f.op("write", "d/"+bad+"/x"), f.op("create", "d/new"), exitOK())
	if ws := f.warnings(res); hasWarning(ws, "cannot spell") {
		t.Errorf("warned although $R/d is granted for a create: %q", ws)
	}
}

func TestPrefix(t *testing.T) {
	f := newFix(t)
	f.file("p/a/b", "p/c", "q/x", "home/h")
	recs := []event.Record{f.start(), f.op("read", "p/a/b"), f.op("read", "q/x"), exitOK()}
	res := collapseT(t, Options{Prefixes: []string{f.p("p")}}, recs...)
	if got, want := f.fsGrants(res), []string{"read $R/p", "read $R/q/x"}; !slices.Equal(got, want) {
		t.Errorf("grants = %q, want %q", got, want)
	}
	recs = []event.Record{f.start(), f.op("read", "p/a/b"), f.op("write", "p/c"), exitOK()}
	res = collapseT(t, Options{Prefixes: []string{f.p("p")}}, recs...)
	if got, want := f.fsGrants(res), []string{"write $R/p"}; !slices.Equal(got, want) {
		t.Errorf("grants = %q, want %q", got, want)
	}

	refused := []struct {
		prefix string
		home   string
		usage  bool
	}{
		{"/", "", false},
		{"/root", "", false},
		{f.p("home"), f.p("home"), false},
		{"/etc", "", false},
		{"/proc/self", "", false},
		{f.p("x/.ssh"), "", false},
		{"relative/dir", "", true},
		{f.p("missing"), "", true},
	}
	f.dir("x/.ssh")
	for _, r := range refused {
		_, err := New(Options{Prefixes: []string{r.prefix}, Home: r.home, Headroom: 1.5})
		var ue *UsageError
		var re *RefusedError
		switch {
		case r.usage && !errors.As(err, &ue):
			t.Errorf("prefix %s: err = %v, want a usage error", r.prefix, err)
		case !r.usage && !errors.As(err, &re):
			t.Errorf("prefix %s: err = %v, want a refusal", r.prefix, err)
		}
		if r.usage || r.prefix == "/" || r.prefix == "/proc/self" {
			continue
		}
		if _, err := New(Options{Prefixes: []string{r.prefix}, Home: r.home, Headroom: 1.5, ForceSensitive: true}); err != nil {
			t.Errorf("prefix %s with force: %v", r.prefix, err)
		}
	}
	if _, err := New(Options{Prefixes: []string{"/"}, ForceSensitive: true, Headroom: 1.5}); err == nil {
		t.Error("prefix / accepted with force")
	}
}

// A forced prefix on a protected directory lets a write collapse there
// through (the user asked for it).
func TestForcedPrefixAllowsCollapse(t *testing.T) {
	f := newFix(t)
	f.dir("h/.ssh")
	res := collapseT(t, Options{Prefixes: []string{f.p("h/.ssh")}, ForceSensitive: true},
		f.start(), f.op("create", "h/.ssh/known_hosts"), exitOK())
	if got, want := f.fsGrants(res), []string{"write $R/h/.ssh"}; !slices.Equal(got, want) || len(res.Errors) != 0 {
		t.Errorf("grants = %q errors %q, want %q", got, res.Errors, want)
	}
}

func TestNetwork(t *testing.T) {
	f := newFix(t)
	n := func(op, proto, family, addr string, port, pid, fd int) *event.Net {
		return &event.Net{PID: pid, Syscall: op, Op: op, Proto: proto, Family: family, Addr: addr, Port: port, FD: fd}
	}
	res := collapseT(t, Options{}, f.start(),
		n("connect", "tcp", "inet", "127.0.0.1", 8080, 1, 3),
		n("connect", "tcp", "inet6", "::1", 8443, 1, 4),
		n("connect", "tcp", "inet", "127.0.0.1", 0, 1, 3),
		// getaddrinfo's probes: connected, never sent on.
		n("connect", "udp", "inet", "192.0.2.1", 53, 1, 5),
		n("connect", "udp", "inet6", "2001:db8::1", 53, 1, 6),
		// A connected socket that is then used.
		n("connect", "udp", "inet", "127.0.0.53", 53, 1, 7),
		n("send", "udp", "inet", "127.0.0.53", 53, 1, 7),
		// sendto with an explicit address.
		n("send", "udp", "inet6", "::1", 5353, 2, 3),
		// A connect, then a send recorded with another address: both.
		n("connect", "udp", "inet", "127.0.0.2", 9999, 3, 3),
		n("send", "udp", "inet", "127.0.0.3", 9999, 3, 3),
		// Same pid, other fd: the probe stays a probe.
		n("connect", "udp", "inet", "198.51.100.7", 53, 4, 8),
		n("send", "udp", "inet", "127.0.0.9", 53, 4, 9),
		n("connect", "icmp", "inet", "127.0.0.1", 0, 1, 10),
		n("send", "icmp", "inet6", "::1", 0, 1, 11),
		n("bind", "tcp", "inet", "0.0.0.0", 9000, 1, 12),
		n("bind", "tcp", "inet6", "::", 9000, 1, 13),
		n("bind", "tcp", "inet", "0.0.0.0", 0, 1, 14),
		n("bind", "udp", "inet", "0.0.0.0", 5000, 1, 15),
		exitOK())
	want := []string{
		"allow icmp://127.0.0.1", "allow icmp://::1",
		"allow tcp://127.0.0.1:8080", "allow tcp://[::1]:8443",
		"allow udp://127.0.0.2:9999", "allow udp://127.0.0.3:9999", "allow udp://127.0.0.53:53", "allow udp://127.0.0.9:53",
		"allow udp://[::1]:5353",
		"allow_bind 9000",
	}
	if got := grantsOf(res, "network"); !slices.Equal(got, want) {
		t.Errorf("network:\n got %q\nwant %q", got, want)
	}
	for _, g := range res.Grants {
		if g.Key == "allow_bind" {
			if _, ok := g.Value.(int64); !ok || g.Observed != 2 {
				t.Errorf("allow_bind %v (%T) observed %d", g.Value, g.Value, g.Observed)
			}
		}
	}
	// The probes are not granted, but named.
	if ws := f.warnings(res); !hasWarning(ws, "UDP sockets were connected to udp://192.0.2.1:53, udp://198.51.100.7:53, udp://[2001:db8::1]:53 but no data was seen sent there") {
		t.Errorf("no warning naming the probes: %q", ws)
	}
	// A probe in run 1 is not turned into traffic by a send on the same
	// pid and fd in run 2.
	res = collapseT(t, Options{}, f.start(), n("connect", "udp", "inet", "192.0.2.1", 53, 1, 5), exitOK(),
		f.start(), n("send", "udp", "inet", "127.0.0.1", 53, 1, 5), exitOK())
	if got, want := grantsOf(res, "network"), []string{"allow udp://127.0.0.1:53"}; !slices.Equal(got, want) {
		t.Errorf("two runs: %q, want %q", got, want)
	}

	c, _ := New(Options{Headroom: 1.5})
	c.Add(f.start())
	for _, bad := range []*event.Net{
		n("connect", "tcp", "inet", "example.com", 80, 1, 1),
		n("connect", "tcp", "inet", "::1", 80, 1, 1),
		n("connect", "tcp", "inet6", "127.0.0.1", 80, 1, 1),
	} {
		if err := c.Add(bad); err == nil {
			t.Errorf("Add(%+v) accepted", bad)
		}
	}
}

func TestLimits(t *testing.T) {
	f := newFix(t)
	tests := []struct {
		name  string
		peaks [][]*event.Peak // per run
		h     float64
		want  []string
	}{
		{"headroom 1.5", [][]*event.Peak{{{MemBytes: 32 << 20, RSSBytes: 1 << 20, Processes: 3, FDMax: 100}}}, 1.5,
			[]string{"memory 48M", "open_files 150", "processes 5"}},
		{"floors", [][]*event.Peak{{{MemBytes: 1 << 20, Processes: 1, FDMax: 4}}}, 1.5,
			[]string{"memory 16M", "open_files 64", "processes 4"}},
		{"rounded up", [][]*event.Peak{{{MemBytes: 20<<20 + 1, Processes: 7, FDMax: 65}}}, 1,
			[]string{"memory 21M", "open_files 65", "processes 7"}},
		{"whole G", [][]*event.Peak{{{MemBytes: 1 << 30, Processes: 2, FDMax: 3}}}, 2,
			[]string{"memory 2G", "open_files 64", "processes 4"}},
		{"never RSS", [][]*event.Peak{{{MemBytes: 64 << 20, RSSBytes: 8 << 30, Processes: 1, FDMax: 3}}}, 1,
			[]string{"memory 64M", "open_files 64", "processes 4"}},
		{"max over runs, samples ignored", [][]*event.Peak{
			{{MemBytes: 100 << 20, Processes: 50, FDMax: 500, Sample: true}, {MemBytes: 40 << 20, Processes: 2, FDMax: 70}},
			{{MemBytes: 30 << 20, Processes: 6, FDMax: 10}},
		}, 1, []string{"memory 40M", "open_files 70", "processes 6"}},
		{"samples when no final peak", [][]*event.Peak{{{MemBytes: 50 << 20, Processes: 5, FDMax: 80, Sample: true}}}, 1,
			[]string{"memory 50M", "open_files 80", "processes 5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var recs []event.Record
			for _, rp := range tt.peaks {
				recs = append(recs, f.start())
				for _, p := range rp {
					recs = append(recs, p)
				}
				recs = append(recs, exitOK())
			}
			res := collapseT(t, Options{Headroom: tt.h}, recs...)
			if got := grantsOf(res, "limits"); !slices.Equal(got, tt.want) {
				t.Errorf("limits = %q, want %q", got, tt.want)
			}
		})
	}
	if res := collapseT(t, Options{}, f.start(), exitOK()); grantsOf(res, "limits") != nil {
		t.Error("limits without a peak record")
	}
	for _, h := range []float64{0.5, 0, -1, 2000} {
		if _, err := New(Options{Headroom: h}); err == nil {
			t.Errorf("headroom %g accepted", h)
		}
	}
}

func TestMeta(t *testing.T) {
	f := newFix(t)
	code := func(c int) *int { return &c }
	ok := &event.Exit{Code: code(0)}
	timeout := &event.Exit{Signal: "SIGKILL", TimedOut: true}
	failed := &event.Exit{Code: code(3)}
	tests := []struct {
		name     string
		exits    []*event.Exit // nil: the run has no exit
		want     *event.Exit
		complete bool
	}{
		{"one ok", []*event.Exit{ok}, ok, true},
		{"timeout beats ok", []*event.Exit{ok, timeout}, timeout, true},
		{"failure beats timeout", []*event.Exit{timeout, failed, ok}, failed, true},
		{"incomplete", []*event.Exit{ok, nil}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var recs []event.Record
			for _, e := range tt.exits {
				recs = append(recs, f.start("make", "-j2"))
				if e != nil {
					recs = append(recs, e)
				}
			}
			res := collapseT(t, Options{}, recs...)
			m := res.Meta
			if m.Exit != tt.want || m.Complete != tt.complete || m.Runs != len(tt.exits) || m.Schema != 1 ||
				!slices.Equal(m.Argv, []string{"make", "-j2"}) || m.Cwd != f.root {
				t.Errorf("meta = %+v", m)
			}
		})
	}
}

func TestMetaWarnings(t *testing.T) {
	f := newFix(t)
	res := collapseT(t, Options{}, f.start(),
		&event.Warning{Msg: "io_uring was set up: its file operations were not observed"},
		&event.Warning{Msg: "io_uring was set up: its file operations were not observed"},
		&event.Syscalls{Counts: map[string]int64{"openat": 9, "io_uring_setup": 1, "shmget": 2}},
		exitOK())
	want := []string{
		"io_uring was set up: its file operations were not observed",
		"the workload called syscalls sandlock always blocks, so it will behave differently under sandlock run: io_uring_setup x1",
		`the workload used System V IPC, which sandlock blocks unless [syscalls] extra_allow = ["sysv_ipc"]: shmget x2`,
	}
	if !slices.Equal(res.Meta.Warnings, want) {
		t.Errorf("meta warnings:\n got %q\nwant %q", res.Meta.Warnings, want)
	}
}

func TestProgram(t *testing.T) {
	f := newFix(t)
	f.file("bin/tool", "build.sh", "notexec")
	for _, p := range []string{"bin/tool", "build.sh"} {
		if err := os.Chmod(f.p(p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		argv    []string
		path    string
		exec    string
		want    string
		warning string
	}{
		{[]string{"tool", "-v"}, "/nonexistent:" + f.p("bin"), "", "$R/bin/tool", ""},
		{[]string{"./build.sh", "x"}, "", "/bin/sh", "$R/build.sh", ""},       // the script, not its interpreter
		{[]string{"../" + fBase(f) + "/build.sh"}, "", "", "$R/build.sh", ""}, // relative to cwd
		{[]string{"tool"}, "bin", "", "$R/bin/tool", ""},                      // relative PATH entry
		{[]string{"notexec"}, f.root, "/usr/bin/true", "/usr/bin/true", "not found on PATH"},
		{[]string{"missing"}, "", "", "", "was not found on PATH and no exec"},
	}
	for _, tt := range tests {
		recs := []event.Record{f.start(tt.argv...)}
		if tt.exec != "" {
			recs = append(recs, &event.Exec{PID: 1, Path: tt.exec, Argv: tt.argv})
		}
		res := collapseT(t, Options{PathEnv: tt.path}, append(recs, exitOK())...)
		var exe string
		var args []any
		for _, g := range res.Grants {
			switch g.Section + "." + g.Key {
			case "program.exec":
				exe = f.rel(g.Value.(string))
			case "program.args":
				args = g.Value.([]any)
			}
		}
		if exe != tt.want {
			t.Errorf("%q on PATH %q: exec = %q, want %q", tt.argv, tt.path, exe, tt.want)
		}
		if len(args) != len(tt.argv)-1 {
			t.Errorf("%q: args = %q", tt.argv, args)
		}
		if tt.warning != "" && !hasWarning(f.warnings(res), tt.warning) {
			t.Errorf("%q: no warning %q in %q", tt.argv, tt.warning, f.warnings(res))
		}
	}
}

func fBase(f *fix) string { return f.root[strings.LastIndexByte(f.root, '/')+1:] }

func TestAddErrors(t *testing.T) {
	f := newFix(t)
	c, _ := New(Options{Headroom: 1.5})
	if err := c.Add(f.op("read", "x")); err == nil || err.Error() != "fs record before any start record" {
		t.Errorf("event before start: %v", err)
	}
	c.Add(f.start())
	if err := c.Add(&event.Grant{}); err == nil {
		t.Error("grant record accepted in an event stream")
	}
	c.Add(exitOK())
	if err := c.Add(f.op("read", "x")); err == nil || !strings.Contains(err.Error(), "after the run's exit record") {
		t.Errorf("event after exit: %v", err)
	}
	if err := c.Add(&event.Peak{MemBytes: -1}); err == nil {
		t.Error("negative peak accepted")
	}
	c2, _ := New(Options{Headroom: 1.5})
	if _, err := c2.Result(); err == nil {
		t.Error("Result with no run")
	}
}

// TestDeterministic: the same input gives the same stream, whatever order
// the maps iterate in.
func TestDeterministic(t *testing.T) {
	f := newFix(t)
	f.file("a/1", "a/2", "a/3", "a/4", "b/1", "c/x")
	recs := []event.Record{f.start(), f.op("read", "a/1"), f.op("read", "a/2"), f.op("write", "a/3"),
		f.op("read", "a/4"), f.op("create", "b/n"), f.op("read", "c/x"),
		&event.Net{Op: "connect", Proto: "tcp", Family: "inet", Addr: "127.0.0.1", Port: 1},
		&event.Net{Op: "connect", Proto: "tcp", Family: "inet", Addr: "127.0.0.2", Port: 1},
		&event.Peak{MemBytes: 1, Processes: 1, FDMax: 1}, exitOK()}
	first := encode(t, collapseT(t, Options{Threshold: 4}, recs...))
	for i := 0; i < 20; i++ {
		if got := encode(t, collapseT(t, Options{Threshold: 4}, recs...)); got != first {
			t.Fatalf("run %d differs:\n%s\nvs\n%s", i, got, first)
		}
	}
}

func encode(t testing.TB, res *Result) string {
	var b strings.Builder
	w := event.NewWriter(&b)
	for _, r := range res.Records() {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	return b.String()
}
