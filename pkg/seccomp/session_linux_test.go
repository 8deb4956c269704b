//go:build linux && amd64

package seccomp

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
	"golang.org/x/sys/unix"
)

// envOpens makes the test binary a workload that opens /dev/null N times.
const envOpens = "SECCOMP_TEST_OPENS"

// envQuiet makes the test binary a workload that renames a directory and
// then stays quiet.
const envQuiet = "SECCOMP_TEST_QUIET"

// envDumpEnv makes the test binary a workload that writes its environment
// to the file it names.
const envDumpEnv = "SECCOMP_TEST_DUMP_ENV"

// envTry makes the test binary a workload that tries to open (or, with an
// x: prefix, execute) each of a comma-separated list of paths; with
// envTrySetgroups it first calls setgroups, with envTrySetres=UID,GID
// setresgid(-1, GID, -1) and setresuid(-1, UID, -1) (what GNU make's
// posix_spawn does in each child).
const (
	envTry          = "SECCOMP_TEST_TRY"
	envTrySetgroups = "SECCOMP_TEST_TRY_SETGROUPS"
	envTrySetres    = "SECCOMP_TEST_TRY_SETRES"
)

// envBrk makes the test binary a workload that queries its break N times
// and moves it twice.
const envBrk = "SECCOMP_TEST_BRK"

func TestMain(m *testing.M) {
	MaybeRunHelper()
	if dir := os.Getenv(envQuiet); dir != "" {
		// Rename DIR/a to DIR/b, then make no notified call for 1.5 s.
		if err := unix.Rename(dir+"/a", dir+"/b"); err != nil {
			os.Exit(1)
		}
		time.Sleep(1500 * time.Millisecond)
		os.Exit(0)
	}
	if p := os.Getenv(envDumpEnv); p != "" {
		os.WriteFile(p, []byte(strings.Join(os.Environ(), "\n")+"\n"), 0o644)
		os.Exit(0)
	}
	if list := os.Getenv(envTry); list != "" {
		// Try each path (x:PATH: execute it), failures expected;
		// first setgroups when asked (it may fail too).
		if os.Getenv(envTrySetgroups) != "" {
			unix.Setgroups([]int{os.Getegid()})
		}
		if ids := strings.Split(os.Getenv(envTrySetres), ","); len(ids) == 2 {
			uid, _ := strconv.Atoi(ids[0])
			gid, _ := strconv.Atoi(ids[1])
			// This thread only, as glibc's spawn child (one thread) does.
			unix.RawSyscall(unix.SYS_SETRESGID, ^uintptr(0), uintptr(gid), ^uintptr(0))
			unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), uintptr(uid), ^uintptr(0))
		}
		for _, p := range strings.Split(list, ",") {
			if x, ok := strings.CutPrefix(p, "x:"); ok {
				syscall.Exec(x, []string{x}, nil)
				continue
			}
			if fd, err := unix.Open(p, unix.O_RDONLY, 0); err == nil {
				unix.Close(fd)
			}
		}
		os.Exit(0)
	}
	if s := os.Getenv(envBrk); s != "" {
		// N queries, then two moves of the break.
		n, _ := strconv.Atoi(s)
		cur, _, _ := unix.RawSyscall(unix.SYS_BRK, 0, 0, 0)
		for i := 0; i < n; i++ {
			unix.RawSyscall(unix.SYS_BRK, 0, 0, 0)
		}
		unix.RawSyscall(unix.SYS_BRK, cur+1<<16, 0, 0)
		unix.RawSyscall(unix.SYS_BRK, cur, 0, 0)
		os.Exit(0)
	}
	if s := os.Getenv(envOpens); s != "" {
		n, _ := strconv.Atoi(s)
		for i := 0; i < n; i++ {
			fd, err := unix.Open("/dev/null", unix.O_RDONLY, 0)
			if err != nil {
				os.Exit(1)
			}
			unix.Close(fd)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type memSink struct {
	mu   sync.Mutex
	recs []event.Record
}

func (s *memSink) Emit(r event.Record) { s.mu.Lock(); s.recs = append(s.recs, r); s.mu.Unlock() }
func (s *memSink) Flush()              {}

func requireUnotify(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("seccomp user notification unavailable (CI=true makes this a failure): %v", err)
	}
	t.Skipf("seccomp user notification unavailable: %v", err)
}

// traceRun traces path (the test binary itself when "") with env added to
// ours, to the end of the tree, and returns the closed session (its
// supervisor's state stays readable) and the main process's status.
func traceRun(t testing.TB, sink Sink, path string, argv []string, env ...string) (*Session, syscall.WaitStatus) {
	t.Helper()
	return traceRunEnv(t, sink, path, argv, append(os.Environ(), env...))
}

// traceRunEnv is traceRun with exactly env as the workload's environment.
func traceRunEnv(t testing.TB, sink Sink, path string, argv, env []string) (*Session, syscall.WaitStatus) {
	t.Helper()
	if path == "" {
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		path = self
	}
	s, err := Start(Options{
		Path: path, Argv: argv, Env: env,
		Stdin: os.Stdin, Stdout: os.Stderr, Stderr: os.Stderr, Sink: sink,
	})
	requireUnotify(t, err)
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
	ws := <-s.Exited()
	if err := <-s.ExecResult(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	return s, ws
}

// traceOpens runs the test binary as a workload opening /dev/null n times.
func traceOpens(t testing.TB, n int) (*memSink, syscall.WaitStatus) {
	sink := &memSink{}
	_, ws := traceRun(t, sink, "", []string{"opens"}, envOpens+"="+strconv.Itoa(n))
	return sink, ws
}

// TestSession drives the API directly: every open is reported once, with
// the exec record of the workload.
func TestSession(t *testing.T) {
	sink, ws := traceOpens(t, 100)
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("workload status %v", ws)
	}
	opens, execs := 0, 0
	for _, r := range sink.recs {
		switch r := r.(type) {
		case *event.FS:
			if r.Path == "/dev/null" && r.Op == "read" && r.Existed {
				opens++
			}
		case *event.Exec:
			execs++
		}
	}
	if opens != 100 || execs != 1 {
		t.Errorf("%d opens of /dev/null and %d exec records, want 100 and 1", opens, execs)
	}
}

// BenchmarkRoundTrip is the cost of one notified open, read, resolved,
// answered and recorded (the workload's own open included).
func BenchmarkRoundTrip(b *testing.B) {
	traceOpens(b, b.N)
}

// BenchmarkStartStop is the fixed cost of a trace: start the reaper, hand
// the listener over, run /bin/true (a handful of notified calls) and
// stop, the tracer's own process start excluded.
func BenchmarkStartStop(b *testing.B) {
	for i := 0; i < b.N; i++ {
		traceRun(b, &memSink{}, "/bin/true", []string{"true"})
	}
}

// benchResolveWarm resolves p over and over once /usr/lib is known.
func benchResolveWarm(b *testing.B, p string) {
	r := newResolver()
	r.resolve("", "/usr/lib/os-release", true, 1, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.resolve("", p, true, 1, 1)
	}
}

// BenchmarkResolveCached is a path in a known directory: one lstat.
func BenchmarkResolveCached(b *testing.B) { benchResolveWarm(b, "/usr/lib/os-release") }

// BenchmarkResolveMissingDir is a compiler's include probe: a file under
// a directory that does not exist, below a known one (one lstat).
func BenchmarkResolveMissingDir(b *testing.B) {
	benchResolveWarm(b, "/usr/lib/no-such-dir/bits/types.h")
}

// BenchmarkResolveLink is a shared library opened through its soname
// link (libz.so.1 -> libz.so.1.2.13 on Debian; a plain file elsewhere).
func BenchmarkResolveLink(b *testing.B) {
	benchResolveWarm(b, "/usr/lib/x86_64-linux-gnu/libz.so.1")
}

// BenchmarkResolveCold walks every component.
func BenchmarkResolveCold(b *testing.B) {
	r := newResolver()
	for i := 0; i < b.N; i++ {
		r.drop()
		r.resolve("", "/usr/lib/os-release", true, 1, 1)
	}
}

// TestWakeSync: the receiver switches synchronous wake-up on before it
// waits (Linux 6.6+; CI kernels have it). A wrong ioctl argument would
// leave it off for good, silently tripling the cost of a serial workload.
func TestWakeSync(t *testing.T) {
	s, _ := traceRun(t, &memSink{}, "", []string{"opens"}, envOpens+"=50")
	if s.sup.syncGone && os.Getenv("CI") != "true" {
		t.Skip("this kernel has no SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6)")
	}
	if s.sup.syncGone || s.sup.syncOns == 0 {
		t.Errorf("synchronous wake-up not in use: switched on %d times, refused by the kernel %v", s.sup.syncOns, s.sup.syncGone)
	}
}

// TestReaperThreadNotRecorded: the reaper forks the workload from the
// thread that carries the filter, so that thread's calls (the fork, the Go
// runtime's mmaps) reach the listener too; they must be answered without
// being counted or recorded. /bin/true forks nothing, so any clone counted
// would be the reaper's.
func TestReaperThreadNotRecorded(t *testing.T) {
	sink := &memSink{}
	s, ws := traceRun(t, sink, "/bin/true", []string{"true"})
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("workload status %v", ws)
	}
	if s.reaperCalls == 0 {
		t.Fatal("no call of the reaper's filter thread was seen: the test proves nothing")
	}
	c := s.Counts()
	for _, name := range []string{"clone", "clone3", "vfork", "fork"} {
		if c[name] != 0 {
			t.Errorf("%s counted %d times: the reaper's fork was taken for the workload's", name, c[name])
		}
	}
	if len(sink.recs) == 0 {
		t.Fatal("no records")
	}
	for _, r := range sink.recs {
		var pid int
		switch r := r.(type) {
		case *event.FS:
			pid = r.PID
		case *event.Exec:
			pid = r.PID
		default:
			continue
		}
		if pid != s.Pid() {
			t.Errorf("record of pid %d, want only the workload's %d: %+v", pid, s.Pid(), r)
		}
	}
	if fs, ok := sink.recs[0].(*event.FS); !ok || fs.Op != event.OpExec || !strings.HasSuffix(fs.Path, "/true") {
		t.Errorf("first record %+v, want the exec of true", sink.recs[0])
	}
}

// TestLongArgv: the exec record's argv comes whole from /proc/PID/cmdline
// however long it is (xargs hands cat up to 2 MiB), through a buffer
// that grows from 16 KiB.
func TestLongArgv(t *testing.T) {
	argv := []string{"true"}
	for i := 0; i < 6000; i++ {
		argv = append(argv, fmt.Sprintf("/some/tree/d%03d/file-%05d", i%200, i))
	}
	sink := &memSink{}
	s, ws := traceRun(t, sink, "/bin/true", argv)
	if ws.ExitStatus() != 0 {
		t.Fatalf("workload: %v", ws)
	}
	var got []string
	for _, r := range sink.recs {
		if e, ok := r.(*event.Exec); ok && e.PID == s.Pid() {
			got = e.Argv
		}
	}
	if !reflect.DeepEqual(got, argv) {
		t.Errorf("argv of %d strings recorded as %d (first %q)", len(argv), len(got), got[:min(len(got), 3)])
	}
}

// TestBrkQueryNotNotified: brk(0) only asks, so the filter lets it through;
// a brk that moves the break is notified (the memory ledger charges it).
// The test binary's libc moves the break at start-up too, so the runs with
// 1 and 101 queries must count the same.
func TestBrkQueryNotNotified(t *testing.T) {
	count := func(queries int) int64 {
		s, ws := traceRun(t, &memSink{}, "", []string{"brk"}, envBrk+"="+strconv.Itoa(queries))
		if ws.ExitStatus() != 0 {
			t.Fatalf("workload: %v", ws)
		}
		return s.Counts()["brk"]
	}
	few, many := count(0), count(100)
	if few < 2 || many != few {
		t.Errorf("brk notified %d times with 1 query and %d with 101, want the same and at least 2 (the moves)", few, many)
	}
}

// TestQuietRenamer: a process that renames and then makes no notified call
// must not keep the directory cache off for the whole tree until it exits:
// other processes' calls find its rename over.
func TestQuietRenamer(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	d := canonTemp(t)
	if err := os.Mkdir(d+"/a", 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(d+"/f", []byte("x"), 0o644)
	script := `"$0" & sleep 0.5; for i in 1 2 3 4 5 6 7 8 9 10; do cat "$1" >/dev/null; done; wait $!`
	s, ws := traceRun(t, &memSink{}, "/bin/sh", []string{"sh", "-c", script, self, d + "/f"}, envQuiet+"="+d)
	if ws.ExitStatus() != 0 {
		t.Fatalf("workload: %v", ws)
	}
	if s.sup.staleDone == 0 {
		t.Errorf("the quiet rename kept the caches off until the renamer exited")
	}
}

// tryFiles makes, in a new directory: secret (mode 0), public (0644) and
// script (0644, not executable).
func tryFiles(t *testing.T) (dir string) {
	d := canonTemp(t)
	for name, mode := range map[string]os.FileMode{"secret": 0, "public": 0o644, "script": 0o644} {
		if err := os.WriteFile(d+"/"+name, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d+"/"+name, mode)
	}
	return d
}

// tried lists the fs records under dir: "op name".
func tried(sink *memSink, dir string) []string {
	var got []string
	for _, r := range sink.recs {
		if f, ok := r.(*event.FS); ok && strings.HasPrefix(f.Path, dir+"/") {
			got = append(got, f.Op+" "+strings.TrimPrefix(f.Path, dir+"/"))
		}
	}
	return got
}

// TestRefusedByPermissions: an open or exec that the file permissions
// refuse gives the workload nothing and records nothing (no grant for a
// probe of someone else's file). Root is refused neither (it reads a mode
// 0 file); TestUnprivileged runs this as uid 65534, where both are.
func TestRefusedByPermissions(t *testing.T) {
	d := tryFiles(t)
	sink := &memSink{}
	traceRun(t, sink, "", []string{"try"}, envTry+"="+d+"/secret,"+d+"/public,x:"+d+"/script")
	want := []string{"read public"}
	if os.Geteuid() == 0 {
		want = []string{"read secret", "read public", "exec script"}
	}
	if got := tried(sink, d); !reflect.DeepEqual(got, want) {
		t.Errorf("records %q, want %q", got, want)
	}
}

// TestRefusedNotJudgedAfterSetgroups: once the workload changes its
// credentials (or only tries to), they may not be ours any more: every
// attempt is recorded again.
func TestRefusedNotJudgedAfterSetgroups(t *testing.T) {
	d := tryFiles(t)
	sink := &memSink{}
	traceRun(t, sink, "", []string{"try"}, envTry+"="+d+"/secret,"+d+"/public", envTrySetgroups+"=1")
	if got, want := tried(sink, d), []string{"read secret", "read public"}; !reflect.DeepEqual(got, want) {
		t.Errorf("records %q, want %q", got, want)
	}
}

// TestRefusedJudgedAfterSameIDs: a set*id call naming only the ids the
// workload already has (GNU make's spawn children make one each) changes
// nothing, so permissions are still judged; one naming another id counts
// as a change even when it fails (unprivileged: EPERM).
func TestRefusedJudgedAfterSameIDs(t *testing.T) {
	d := tryFiles(t)
	same := strconv.Itoa(os.Getuid()) + "," + strconv.Itoa(os.Getgid())
	want := []string{"read public"}
	if os.Geteuid() == 0 {
		want = []string{"read secret", "read public"}
	}
	sink := &memSink{}
	traceRun(t, sink, "", []string{"try"}, envTry+"="+d+"/secret,"+d+"/public", envTrySetres+"="+same)
	if got := tried(sink, d); !reflect.DeepEqual(got, want) {
		t.Errorf("after setresuid to the same ids: records %q, want %q", got, want)
	}
	other := 12345
	if os.Getuid() == other {
		other++
	}
	sink = &memSink{}
	traceRun(t, sink, "", []string{"try"}, envTry+"="+d+"/secret,"+d+"/public", envTrySetres+"="+strconv.Itoa(other)+","+strconv.Itoa(os.Getgid()))
	if got, want := tried(sink, d), []string{"read secret", "read public"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after setresuid to uid %d: records %q, want %q", other, got, want)
	}
}

// TestWorkloadEnv: the helpers run with their own Go settings (helperEnv);
// the workload gets exactly its own environment back, set or unset.
func TestWorkloadEnv(t *testing.T) {
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") && !strings.HasPrefix(kv, "GOMAXPROCS=") && !strings.HasPrefix(kv, "GOGC=") {
			base = append(base, kv)
		}
	}
	for _, own := range [][]string{
		{"GOMAXPROCS=3", "GOGC=77"},
		{"GODEBUG=madvdontneed=1"},
		{},
	} {
		dump := filepath.Join(t.TempDir(), "env")
		env := append(append(append([]string(nil), base...), own...), envDumpEnv+"="+dump)
		traceRunEnv(t, &memSink{}, "", []string{"env"}, env)
		b, err := os.ReadFile(dump)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, kv := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if strings.HasPrefix(kv, "SANDLOCK_TRACE_") {
				t.Errorf("the workload sees %s", kv)
			}
			got[kv] = true
		}
		for _, kv := range env {
			if !got[kv] {
				t.Errorf("with %q the workload lacks %s", own, kv)
			}
		}
		if len(got) != len(env) {
			t.Errorf("with %q the workload has %d variables, want %d:\n%s", own, len(got), len(env), b)
		}
	}
}
