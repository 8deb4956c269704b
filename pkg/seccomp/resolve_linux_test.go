//go:build linux && amd64

package seccomp

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
	"golang.org/x/sys/unix"
)

func canonTemp(t *testing.T) string {
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mkTree(t *testing.T, d string) {
	for _, dir := range []string{"a/b/c", "x/y"} {
		if err := os.MkdirAll(filepath.Join(d, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(d, "a/b/c/file"), []byte("x"), 0o644)
	os.Symlink("a/b", filepath.Join(d, "rel"))          // relative dir link
	os.Symlink(d+"/a/b/c", filepath.Join(d, "abs"))     // absolute dir link
	os.Symlink("../../x/y", filepath.Join(d, "a/b/up")) // climbs out
	os.Symlink("c/file", filepath.Join(d, "a/b/flink")) // file link
	os.Symlink("chain2", filepath.Join(d, "chain1"))
	os.Symlink("rel/c", filepath.Join(d, "chain2"))
	os.Symlink("loop2", filepath.Join(d, "loop1"))
	os.Symlink("loop1", filepath.Join(d, "loop2"))
	os.Symlink("nowhere", filepath.Join(d, "dangling"))
}

// TestResolveMatchesKernel compares with the kernel's own lookup (the
// path of an fd opened on the same string) on existing paths, twice: cold
// and through the directory cache.
func TestResolveMatchesKernel(t *testing.T) {
	d := canonTemp(t)
	mkTree(t, d)
	r := newResolver()
	for _, p := range []string{
		"a/b/c/file", "rel/c/file", "abs/file", "a/b/up", "a/b/flink", "chain1/file",
		"rel/../b/c", "a/b/up/../../a", "a/./b//c/", "rel/c/../c/file", "chain1",
	} {
		// The kernel's own answer: open it and read the fd's link.
		f, err := os.Open(d + "/" + p)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
		st, _ := f.Stat()
		f.Close()
		for pass := 0; pass < 2; pass++ {
			got := r.resolve("", d+"/"+p, true, os.Getpid(), os.Getpid())
			if got.path != want || !got.exists || got.dir != st.IsDir() {
				t.Errorf("pass %d: resolve(%s) = %+v, want %s (dir %v)", pass, p, got, want, st.IsDir())
			}
		}
	}
}

// TestResolveSlashesAtRoot: "//name" (what "$DIR/name" gives for DIR=/)
// is "/name", existing or not, cold and through the cache; the stream
// refuses a path with an empty component, so one such open used to make
// sandlock-collapse reject the whole trace.
func TestResolveSlashesAtRoot(t *testing.T) {
	r := newResolver()
	for pass := 0; pass < 2; pass++ {
		for p, want := range map[string]resolved{
			"//etc":                    {path: "/etc", exists: true, dir: true},
			"///etc//":                 {path: "/etc", exists: true, dir: true},
			"//nonexistent-sandlock-x": {path: "/nonexistent-sandlock-x"},
			"//etc/hostname":           {path: "/etc/hostname", exists: true},
		} {
			got := r.resolve("", p, true, os.Getpid(), os.Getpid())
			if got.path != want.path || got.exists != want.exists || got.dir != want.dir {
				t.Errorf("pass %d: resolve(%q) = %+v, want %+v", pass, p, got, want)
			}
		}
	}
}

// TestResolveMissingDir: under a directory that does not exist, the
// cached resolver must say what the uncached walk says (cold, warm, and
// through links and ".." after the missing part).
func TestResolveMissingDir(t *testing.T) {
	d := canonTemp(t)
	mkTree(t, d)
	r := newResolver()
	for _, p := range []string{
		"a/nope/f", "a/nope/deeper/f", "rel/nope/f", "abs/nope/f", "a/b/up/nope/f",
		"a/nope/../b/c/file", "dangling/f", "chain1/nope/f", "a/b/c/file/f", "loop1/f",
	} {
		want := newResolver().walk("", d+"/"+p, true, os.Getpid(), os.Getpid(), 0)
		if want.exists {
			t.Fatalf("%s exists", p)
		}
		for pass := 0; pass < 2; pass++ {
			if got := r.resolve("", d+"/"+p, true, os.Getpid(), os.Getpid()); got != want {
				t.Errorf("pass %d: resolve(%s) = %+v, want %+v", pass, p, got, want)
			}
		}
	}
}

func TestResolveFinalComponent(t *testing.T) {
	d := canonTemp(t)
	mkTree(t, d)
	r := newResolver()
	for _, tt := range []struct {
		p      string
		follow bool
		want   resolved
	}{
		{"rel", false, resolved{path: d + "/rel", exists: true, link: true}},
		{"rel/flink", false, resolved{path: d + "/a/b/flink", exists: true, link: true}},
		{"rel/flink", true, resolved{path: d + "/a/b/c/file", exists: true}},
		{"dangling", true, resolved{path: d + "/nowhere"}},
		{"dangling", false, resolved{path: d + "/dangling", exists: true, link: true}},
		{"missing/deeper/../x", true, resolved{path: d + "/missing/x"}},
		{"loop1", true, resolved{path: d + "/loop1"}},
		{"rel/new", false, resolved{path: d + "/a/b/new"}},
	} {
		if got := r.resolve("", d+"/"+tt.p, tt.follow, 1, 1); got != tt.want {
			t.Errorf("resolve(%s, follow=%v) = %+v, want %+v", tt.p, tt.follow, got, tt.want)
		}
	}
}

// TestResolveCacheInvalidation: after a rename the cache must be dropped,
// and then the new layout is seen.
func TestResolveCacheInvalidation(t *testing.T) {
	d := canonTemp(t)
	mkTree(t, d)
	r := newResolver()
	if got := r.resolve("", d+"/a/b/c/file", true, 1, 1); !got.exists {
		t.Fatalf("cold: %+v", got)
	}
	if len(r.cache) == 0 {
		t.Fatal("nothing cached")
	}
	if err := os.Rename(d+"/a/b", d+"/a/moved"); err != nil {
		t.Fatal(err)
	}
	os.Symlink("../x", d+"/a/b")
	r.drop()
	if got := r.resolve("", d+"/a/b/y", true, 1, 1); got.path != d+"/x/y" || !got.dir {
		t.Errorf("after rename: %+v", got)
	}
}

// TestResolveDirFDs: from its second lookup in a cached directory the
// final component is looked up relative to a descriptor of the directory.
// That descriptor names the directory it was opened on, so it must go with
// the cache: after the directory is replaced (and the cache dropped, as a
// notified rename does) the new one must be seen. The descriptors stay
// bounded.
func TestResolveDirFDs(t *testing.T) {
	d := canonTemp(t)
	if err := os.MkdirAll(d+"/dir/f", 0o755); err != nil { // f: a directory
		t.Fatal(err)
	}
	r := newResolver()
	for i := 0; i < 3; i++ {
		if got := r.resolve("", d+"/dir/f", true, 1, 1); !got.exists || !got.dir {
			t.Fatalf("lookup %d: %+v", i, got)
		}
	}
	if fd := r.dirs[d+"/dir"]; fd < 0 {
		t.Fatalf("no descriptor after three lookups: %d", fd)
	}
	if err := os.Rename(d+"/dir", d+"/old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(d+"/dir", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d+"/dir/f", nil, 0o644); err != nil { // f: a file now
		t.Fatal(err)
	}
	r.drop()
	for i := 0; i < 3; i++ {
		if got := r.resolve("", d+"/dir/f", true, 1, 1); !got.exists || got.dir {
			t.Fatalf("after the directory was replaced, lookup %d: %+v (the old one's?)", i, got)
		}
	}

	// Our descriptors are those naming the directories made here: other
	// goroutines of the test binary (sessions of earlier tests winding
	// down) may open and close their own meanwhile.
	many := d + "/many/"
	held := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range ents {
			if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, many) {
				n++
			}
		}
		return n
	}
	r.drop()
	for i := 0; i < maxDirFDs+100; i++ {
		sub := many + strconv.Itoa(i)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 2; j++ {
			if got := r.resolve("", sub+"/x", true, 1, 1); got.exists || got.path != sub+"/x" {
				t.Fatalf("%s/x: %+v", sub, got)
			}
		}
	}
	if n := held(); n > maxDirFDs || n <= 0 {
		t.Errorf("%d descriptors held, want 1..%d", n, maxDirFDs)
	}
	r.drop()
	if n := held(); n != 0 {
		t.Errorf("%d descriptors left after drop", n)
	}
}

func TestResolveProcSelf(t *testing.T) {
	r := newResolver()
	pid := os.Getpid()
	got := r.resolve("", "/proc/self/status", true, pid, pid)
	if want := "/proc/" + strconv.Itoa(pid) + "/status"; got.path != want || !got.exists {
		t.Errorf("got %+v, want %s", got, want)
	}
	// A tracee's /proc/self is the tracee, not us.
	got = r.resolve("", "/proc/self/status", true, 1, 1)
	if got.path != "/proc/1/status" {
		t.Errorf("got %+v", got)
	}
}

func TestResolveRoot(t *testing.T) {
	d := canonTemp(t)
	mkTree(t, d)
	r := newResolver()
	// In a tracee whose root is d, an absolute link resolves inside d.
	os.Symlink("/a/b", d+"/inroot")
	got := r.resolve(d, "/inroot/c/file", true, 1, 1)
	if got.path != "/a/b/c/file" || !got.exists {
		t.Errorf("got %+v", got)
	}
	if got := r.resolve(d, "/../../a", true, 1, 1); got.path != "/a" || !got.dir {
		t.Errorf("dot-dot above the root: %+v", got)
	}
}

func TestOpenFlags(t *testing.T) {
	for _, tt := range []struct {
		f    uint64
		want string
	}{
		{0, "[O_RDONLY]"},
		{oWRONLY | oCREAT | oTRUNC, "[O_WRONLY O_CREAT O_TRUNC]"},
		{oRDWR | oCLOEXEC | oDIRECTORY, "[O_RDWR O_CLOEXEC O_DIRECTORY]"},
		{oWRONLY | oSYNC, "[O_WRONLY O_SYNC]"},
		{oDSYNC, "[O_RDONLY O_DSYNC]"},
		{oRDWR | oTMPFILE, "[O_RDWR O_TMPFILE]"},
		{oPATH | oNOFOLLOW, "[O_RDONLY O_NOFOLLOW O_PATH]"},
	} {
		if got := fmtSlice(OpenFlags(tt.f)); got != tt.want {
			t.Errorf("OpenFlags(%#x) = %s, want %s", tt.f, got, tt.want)
		}
	}
}

func fmtSlice(s []string) string {
	out := "["
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out + "]"
}

func TestBuildFilter(t *testing.T) {
	f, err := buildFilter(append(BaseSyscalls, SandlockBlocked...))
	if err != nil {
		t.Fatal(err)
	}
	if len(f) < len(BaseSyscalls)*2 {
		t.Errorf("filter too short: %d", len(f))
	}
	if _, err := buildFilter([]string{"nosuchcall"}); err == nil {
		t.Error("unknown syscall accepted")
	}
}

// fuzzTree makes mkTree's tree in a canonical temporary directory that
// lives as long as the fuzz target (t.TempDir is per input).
func fuzzTree(f *testing.F) string {
	d, err := os.MkdirTemp("", "fuzz-resolve-")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(d) })
	d, _ = filepath.EvalSymlinks(d)
	mkTree(&testing.T{}, d)
	return d
}

// FuzzResolve: whatever the tracee passes, the resolved path is one the
// event stream accepts (absolute, canonical, no "." or ".." components),
// existing targets agree with the kernel's own lookup, and the openat2
// walker (resolveHow, for RESOLVE_* lookups) without any RESOLVE_ bit says
// what the cached resolver says: the two walk paths separately, and must
// not drift apart.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{"a/b/c/file", "rel/../b/c", "../../..", "./././", "loop1/x", "abs/../../a",
		"dangling/x/..", "//a//b//", "a/b/up/../../../rel", "chain1/../chain2", "\xff/\n/\"", "proc"} {
		f.Add(s)
	}
	d := fuzzTree(f)
	r := newResolver()
	f.Fuzz(func(t *testing.T, p string) {
		if strings.IndexByte(p, 0) >= 0 || len(p) > 1000 {
			return
		}
		for _, follow := range []bool{true, false} {
			got := r.resolve("", d+"/"+p, follow, 1, 1)
			if msg := event.CheckPath(got.path); msg != "" {
				t.Fatalf("resolve(%q, %v) = %q: %s", p, follow, got.path, msg)
			}
			// As readPath does: a relative path starts at the base, an
			// absolute one at the root.
			ref := got
			if p != "" && p[0] == '/' {
				ref = r.resolve("", p, follow, 1, 1)
			}
			how, ok := r.resolveHow("", d, p, follow, 0, 1, 1)
			if ok && (how.path != ref.path || how.exists != ref.exists || how.dir != ref.dir || how.link != ref.link) ||
				!ok && ref.exists {
				t.Fatalf("follow %v: resolve(%q) = %+v, resolveHow says %+v (ok %v)", follow, p, ref, how, ok)
			}
			if follow && got.exists && !strings.HasPrefix(got.path, "/proc") {
				// O_PATH: no FIFO blocks, no device is touched.
				fd, err := unix.Open(d+"/"+p, unix.O_PATH|unix.O_CLOEXEC, 0)
				if err != nil {
					continue // e.g. EACCES; existence is what we claim
				}
				want, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
				unix.Close(fd)
				if want != got.path {
					t.Fatalf("resolve(%q) = %q, kernel says %q", p, got.path, want)
				}
			}
		}
	})
}

// TestPathSpellings traces real opens of one file or directory spelled in
// many ways (doubled and trailing slashes, ".", "..", links, relative to
// the working directory and absolute) and requires each record to name
// what the kernel opened, in the canonical form the event stream accepts.
// Missing targets, and lookups the kernel fails with ENOTDIR, keep their
// lexical path under their canonical directory and are marked not existing.
func TestPathSpellings(t *testing.T) {
	d := canonTemp(t)
	mkTree(t, d)
	existing := []string{
		"a/b/c/file", "./a/b/c/file", "a//b//c//file", "a/b/c/./file", "a/b/c/", "a/b/c/.",
		"rel/c/file", "abs/file", "chain1/file", "a/b/up", "a/b/up/", "a/b/flink", "rel/../b/c/file",
		d + "//a/b/c/file", d + "/./abs", "//etc", "//etc/", "///etc//hostname", "/etc/./hostname", "/./etc", "//",
	}
	missing := map[string]string{
		"nope":                     d + "/nope",
		"a//nope":                  d + "/a/nope",
		"rel/nope":                 d + "/a/b/nope",
		"//nonexistent-sandlock-y": "/nonexistent-sandlock-y",
		"/etc//nonexistent-sl-z":   "/etc/nonexistent-sl-z",
		// ENOTDIR: a file followed by "/", "." or "..", also through a
		// link (followed for the trailing slash): the lookup fails
		// there and the rest is lexical.
		"a/b/c/file/":   d + "/a/b/c/file",
		"a/b/c/file/.":  d + "/a/b/c/file",
		"a/b/c/file/..": d + "/a/b/c",
		"a/b/flink/":    d + "/a/b/c/file",
	}
	want := map[string]string{}
	for _, p := range existing {
		full := p
		if p[0] != '/' {
			full = d + "/" + p
		}
		fd, err := unix.Open(full, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		want[p], _ = os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		unix.Close(fd)
	}
	list := append([]string(nil), existing...)
	for p, w := range missing {
		list = append(list, p)
		want[p] = w
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	s, err := Start(Options{
		Path: self, Argv: []string{"try"}, Dir: d,
		Env:   append(os.Environ(), envTry+"="+strings.Join(list, ",")),
		Stdin: os.Stdin, Stdout: os.Stderr, Stderr: os.Stderr, Sink: sink,
	})
	requireUnotify(t, err)
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
	<-s.Exited()
	s.Close()
	got := map[string]*event.FS{}
	for _, r := range sink.recs {
		if f, ok := r.(*event.FS); ok && f.PID == s.Pid() && f.Syscall == "openat" {
			raw := f.Raw
			if raw == "" {
				raw = f.Path
			}
			if _, asked := want[raw]; asked {
				got[raw] = f
			}
		}
	}
	for _, p := range list {
		f := got[p]
		switch {
		case f == nil:
			t.Errorf("%q: no record", p)
		case f.Path != want[p]:
			t.Errorf("%q: recorded %q, want %q", p, f.Path, want[p])
		case event.CheckPath(f.Path) != "":
			t.Errorf("%q: recorded %q: %s", p, f.Path, event.CheckPath(f.Path))
		case f.Existed != (missing[p] == ""):
			t.Errorf("%q: existed %v", p, f.Existed)
		}
	}
}

// FuzzResolveHow holds the openat2 walker to the kernel's own openat2 on
// the same tree, path and RESOLVE_* bits: where the kernel opens a file,
// resolveHow must name that file (the fd's link); where it refuses the
// lookup (EXDEV, ELOOP), resolveHow must refuse it or call it a final
// symlink not followed; a missing target (ENOENT, ENOTDIR) must not be
// reported as existing.
func FuzzResolveHow(f *testing.F) {
	for _, s := range []string{"a/b/c/file", "/a/b/c/file", "rel/c/file", "abs/file", "a/b/up", "../../etc/hostname",
		"chain1/file", "loop1", "dangling", "a/b/flink", "..", "/", "a/../../..", "rel/../../x", "a/b/c/file/x"} {
		for _, how := range []uint8{0, resolveBeneath, resolveInRoot, resolveNoSymlinks, resolveNoXdev, resolveInRoot | resolveNoXdev} {
			f.Add(s, how, true)
		}
	}
	d := fuzzTree(f)
	dirfd, err := unix.Open(d, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { unix.Close(dirfd) })
	r := newResolver()
	f.Fuzz(func(t *testing.T, p string, how uint8, follow bool) {
		if strings.IndexByte(p, 0) >= 0 || len(p) > 500 || p == "" {
			return
		}
		how &= resolveNoXdev | resolveNoSymlinks | resolveBeneath | resolveInRoot
		if how&resolveBeneath != 0 && how&resolveInRoot != 0 {
			return // EINVAL: the kernel takes one scope at most
		}
		if strings.HasPrefix(p, "/proc") || strings.Contains(p, "/proc/") {
			return // magic links: another test's business
		}
		flags := uint64(unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK)
		if !follow {
			flags |= unix.O_NOFOLLOW
		}
		fd, kerr := unix.Openat2(dirfd, p, &unix.OpenHow{Flags: flags, Resolve: uint64(how)})
		kpath := ""
		if kerr == nil {
			kpath, _ = os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
			unix.Close(fd)
		}
		got, ok := r.resolveHow("", d, p, follow, uint64(how), 1, 1)
		switch {
		case kerr == nil:
			if !ok || !got.exists || got.link || got.path != kpath {
				t.Fatalf("openat2(%q, how %#x, follow %v) opened %s; resolveHow = %+v, ok %v", p, how, follow, kpath, got, ok)
			}
		case kerr == unix.ENOENT || kerr == unix.ENOTDIR:
			if ok && got.exists && !got.link {
				t.Fatalf("openat2(%q, how %#x, follow %v): %v; resolveHow says it exists: %+v", p, how, follow, kerr, got)
			}
		case kerr == unix.EXDEV || kerr == unix.ELOOP:
			if ok && !(got.link && !follow) {
				t.Fatalf("openat2(%q, how %#x, follow %v): %v; resolveHow accepts it: %+v", p, how, follow, kerr, got)
			}
		}
		if ok {
			if msg := event.CheckPath(got.path); msg != "" {
				t.Fatalf("resolveHow(%q, how %#x) = %q: %s", p, how, got.path, msg)
			}
		}
	})
}
