//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sandlock-learn/sandlock-learn/internal/testutil"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// result is one finished trace.
type result struct {
	events []event.Record
	stdout string // what was not events (with -o) or the raw stream
	stderr string
	code   int
}

func lookBin(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not on PATH (TestMain installs it): %v", name, err)
	}
	return p
}

var (
	unotifyOnce sync.Once
	unotifyErr  string
)

// requireUnotify skips (fails with CI=true) when the kernel cannot trace.
func requireUnotify(t testing.TB) {
	t.Helper()
	unotifyOnce.Do(func() {
		cmd := exec.Command(lookBin(t, "sandlock-trace"), "-o", os.DevNull, "--", "true")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		err := cmd.Run()
		if err != nil {
			unotifyErr = fmt.Sprintf("%v: %s", err, stderr.String())
		}
	})
	if unotifyErr != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("seccomp user notification unavailable (CI=true makes this a failure): %s", unotifyErr)
		}
		t.Skipf("seccomp user notification unavailable: %s", unotifyErr)
	}
}

func command(args ...string) *exec.Cmd {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	return cmd
}

// runTrace runs sandlock-trace with args and parses the event stream on
// its stdout.
func runTrace(t *testing.T, args ...string) result {
	t.Helper()
	requireUnotify(t)
	cmd := command(append([]string{lookBin(t, "sandlock-trace")}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String(), code: exitCode(t, err)}
	if !hasOutput(args) {
		res.events = parseEvents(t, stdout.Bytes())
		noHangupWarning(t, res.events)
	}
	return res
}

// noHangupWarning fails a trace whose listener never hung up: the loop ends
// when the filter has no task left, so a filtered task that outlives the
// workload (the reaper's thread that forked it, say) shows as this warning
// after a 5 s wait.
func noHangupWarning(t testing.TB, recs []event.Record) {
	t.Helper()
	for _, r := range recs {
		if w, ok := r.(*event.Warning); ok && strings.Contains(w.Msg, "did not report that every traced task was gone") {
			t.Errorf("the listener never hung up: %q", w.Msg)
		}
	}
}

// hasOutput says whether -o sends the events elsewhere than stdout.
func hasOutput(args []string) bool {
	for i, a := range args {
		if a == "--" {
			return false
		}
		if (a == "-o" || a == "--output") && i+1 < len(args) && args[i+1] != "/dev/stdout" {
			return true
		}
	}
	return false
}

func exitCode(t testing.TB, err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("run: %v", err)
	return -1
}

func parseEvents(t testing.TB, b []byte) []event.Record {
	t.Helper()
	r := event.NewReader(bytes.NewReader(b), "trace")
	var out []event.Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("event stream: %v\n%s", err, b)
		}
		out = append(out, rec)
	}
}

// checkStream asserts the stream's frame: start first, exit last.
func checkStream(t *testing.T, res result) *event.Exit {
	t.Helper()
	if len(res.events) < 2 {
		t.Fatalf("stream too short (%d records); stderr:\n%s", len(res.events), res.stderr)
	}
	if _, ok := res.events[0].(*event.Start); !ok {
		t.Fatalf("first record is %T, want start", res.events[0])
	}
	ex, ok := res.events[len(res.events)-1].(*event.Exit)
	if !ok {
		t.Fatalf("last record is %T, want exit; stderr:\n%s", res.events[len(res.events)-1], res.stderr)
	}
	if ex.Events != int64(len(res.events)-1) {
		t.Errorf("exit.events = %d, want %d", ex.Events, len(res.events)-1)
	}
	return ex
}

func fsEvents(res result, pred func(*event.FS) bool) []*event.FS {
	var out []*event.FS
	for _, r := range res.events {
		if f, ok := r.(*event.FS); ok && pred(f) {
			out = append(out, f)
		}
	}
	return out
}

func netEvents(res result) []*event.Net {
	var out []*event.Net
	for _, r := range res.events {
		if n, ok := r.(*event.Net); ok {
			out = append(out, n)
		}
	}
	return out
}

func under(dir string) func(*event.FS) bool {
	return func(f *event.FS) bool { return f.Path == dir || strings.HasPrefix(f.Path, dir+"/") }
}

// tempDir is a canonical temporary directory others can enter.
func tempDir(t *testing.T) string {
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(d, 0o777)
	os.Chmod(filepath.Dir(d), 0o755) // uid 65534 must reach it
	return d
}

func touch(t *testing.T, p string) {
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fsWant is the expected event without its pid.
type fsWant struct {
	Syscall, Op, Path string
	Flags             []string
	Existed, Dir      bool
}

func asWant(f *event.FS) fsWant {
	return fsWant{f.Syscall, f.Op, f.Path, f.Flags, f.Existed, f.Dir}
}

const (
	oRDONLY     = 0x0
	oWRONLY     = 0x1
	oRDWR       = 0x2
	oCREAT      = 0x40
	oEXCL       = 0x80
	oTRUNC      = 0x200
	oDIRECTORY  = 0x10000
	oNOFOLLOW   = 0x20000
	oCLOEXEC    = 0x80000
	oPATH       = 0x200000
	atRemovedir = 0x200
)

func hex(n int) string { return "0x" + strconv.FormatInt(int64(n), 16) }

// TestFSOps: one workload per path syscall, each asserting the exact
// event(s) it must produce.
func TestFSOps(t *testing.T) {
	requireUnotify(t)
	type tc struct {
		name  string
		setup func(d string)
		args  func(d string) []string
		want  func(d string) []fsWant
	}
	tests := []tc{
		{"open read", func(d string) { touch(t, d+"/f") },
			func(d string) []string { return []string{"open", d + "/f", hex(oRDONLY)} },
			func(d string) []fsWant {
				return []fsWant{{"open", "read", d + "/f", []string{"O_RDONLY"}, true, false}}
			}},
		{"open missing", nil,
			func(d string) []string { return []string{"open", d + "/nope", hex(oRDONLY)} },
			func(d string) []fsWant {
				return []fsWant{{"open", "read", d + "/nope", []string{"O_RDONLY"}, false, false}}
			}},
		{"open write trunc", func(d string) { touch(t, d+"/f") },
			func(d string) []string { return []string{"open", d + "/f", hex(oWRONLY | oTRUNC)} },
			func(d string) []fsWant {
				return []fsWant{{"open", "write", d + "/f", []string{"O_WRONLY", "O_TRUNC"}, true, false}}
			}},
		{"open create", nil,
			func(d string) []string { return []string{"open", d + "/new", hex(oWRONLY | oCREAT | oEXCL | oCLOEXEC)} },
			func(d string) []fsWant {
				return []fsWant{{"open", "create", d + "/new", []string{"O_WRONLY", "O_CREAT", "O_EXCL", "O_CLOEXEC"}, false, false}}
			}},
		{"open dir", func(d string) { os.Mkdir(d+"/sub", 0o755) },
			func(d string) []string { return []string{"open", d + "/sub", hex(oRDONLY | oDIRECTORY)} },
			func(d string) []fsWant {
				return []fsWant{{"open", "readdir", d + "/sub", []string{"O_RDONLY", "O_DIRECTORY"}, true, true}}
			}},
		{"open through symlink", func(d string) { touch(t, d+"/target"); os.Symlink("target", d+"/ln") },
			func(d string) []string { return []string{"open", d + "/ln", hex(oRDWR)} },
			func(d string) []fsWant {
				return []fsWant{{"open", "write", d + "/target", []string{"O_RDWR"}, true, false}}
			}},
		{"open O_PATH is not recorded", func(d string) { touch(t, d+"/f") },
			func(d string) []string { return []string{"open", d + "/f", hex(oPATH)} },
			func(d string) []fsWant { return nil }},
		{"openat relative", func(d string) { os.Mkdir(d+"/sub", 0o755); touch(t, d+"/sub/f") },
			func(d string) []string { return []string{"openat", d + "/sub", "f", hex(oRDONLY | oCLOEXEC)} },
			func(d string) []fsWant {
				return []fsWant{
					{"openat", "readdir", d + "/sub", []string{"O_RDONLY", "O_DIRECTORY"}, true, true}, // the helper's own dirfd
					{"openat", "read", d + "/sub/f", []string{"O_RDONLY", "O_CLOEXEC"}, true, false},
				}
			}},
		{"openat2", func(d string) { touch(t, d+"/f") },
			func(d string) []string { return []string{"openat2", d, "f", hex(oWRONLY | oNOFOLLOW)} },
			func(d string) []fsWant {
				return []fsWant{
					{"openat", "readdir", d, []string{"O_RDONLY", "O_DIRECTORY"}, true, true},
					{"openat2", "write", d + "/f", []string{"O_WRONLY", "O_NOFOLLOW"}, true, false},
				}
			}},
		{"creat", nil,
			func(d string) []string { return []string{"creat", d + "/c"} },
			func(d string) []fsWant {
				return []fsWant{{"creat", "create", d + "/c", []string{"O_WRONLY", "O_CREAT", "O_TRUNC"}, false, false}}
			}},
		{"mkdir", nil,
			func(d string) []string { return []string{"mkdir", d + "/m"} },
			func(d string) []fsWant { return []fsWant{{"mkdir", "mkdir", d + "/m", nil, false, false}} }},
		{"mkdirat", nil,
			func(d string) []string { return []string{"mkdirat", d, "m"} },
			func(d string) []fsWant {
				return []fsWant{
					{"openat", "readdir", d, []string{"O_RDONLY", "O_DIRECTORY"}, true, true},
					{"mkdirat", "mkdir", d + "/m", nil, false, false},
				}
			}},
		{"mknod", nil,
			func(d string) []string { return []string{"mknod", d + "/fifo"} },
			func(d string) []fsWant { return []fsWant{{"mknod", "mknod", d + "/fifo", nil, false, false}} }},
		{"mknodat", nil,
			func(d string) []string { return []string{"mknodat", d, "fifo"} },
			func(d string) []fsWant {
				return []fsWant{
					{"openat", "readdir", d, []string{"O_RDONLY", "O_DIRECTORY"}, true, true},
					{"mknodat", "mknod", d + "/fifo", nil, false, false},
				}
			}},
		{"unlink symlink keeps the link", func(d string) { touch(t, d+"/target"); os.Symlink("target", d+"/ln") },
			func(d string) []string { return []string{"unlink", d + "/ln"} },
			func(d string) []fsWant { return []fsWant{{"unlink", "remove", d + "/ln", nil, true, false}} }},
		{"unlinkat", func(d string) { touch(t, d+"/f") },
			func(d string) []string { return []string{"unlinkat", d, "f", "0"} },
			func(d string) []fsWant {
				return []fsWant{
					{"openat", "readdir", d, []string{"O_RDONLY", "O_DIRECTORY"}, true, true},
					{"unlinkat", "remove", d + "/f", nil, true, false},
				}
			}},
		{"unlinkat removedir", func(d string) { os.Mkdir(d+"/sub", 0o755) },
			func(d string) []string { return []string{"unlinkat", d, "sub", hex(atRemovedir)} },
			func(d string) []fsWant {
				return []fsWant{
					{"openat", "readdir", d, []string{"O_RDONLY", "O_DIRECTORY"}, true, true},
					{"unlinkat", "rmdir", d + "/sub", nil, true, true},
				}
			}},
		{"rmdir", func(d string) { os.Mkdir(d+"/sub", 0o755) },
			func(d string) []string { return []string{"rmdir", d + "/sub"} },
			func(d string) []fsWant { return []fsWant{{"rmdir", "rmdir", d + "/sub", nil, true, true}} }},
		{"rename", func(d string) { touch(t, d+"/a") },
			func(d string) []string { return []string{"rename", d + "/a", d + "/b"} },
			func(d string) []fsWant {
				return []fsWant{{"rename", "rename_from", d + "/a", nil, true, false}, {"rename", "rename_to", d + "/b", nil, false, false}}
			}},
		{"renameat", func(d string) { touch(t, d+"/a"); touch(t, d+"/b") },
			func(d string) []string { return []string{"renameat", d, "a", "b"} },
			func(d string) []fsWant {
				return []fsWant{
					{"openat", "readdir", d, []string{"O_RDONLY", "O_DIRECTORY"}, true, true},
					{"renameat", "rename_from", d + "/a", nil, true, false}, {"renameat", "rename_to", d + "/b", nil, true, false},
				}
			}},
		{"renameat2", func(d string) { os.Mkdir(d+"/a", 0o755) },
			func(d string) []string { return []string{"renameat2", d, "a", "b"} },
			func(d string) []fsWant {
				return []fsWant{
					{"openat", "readdir", d, []string{"O_RDONLY", "O_DIRECTORY"}, true, true},
					{"renameat2", "rename_from", d + "/a", nil, true, true}, {"renameat2", "rename_to", d + "/b", nil, false, false},
				}
			}},
		{"link", func(d string) { touch(t, d+"/a") },
			func(d string) []string { return []string{"link", d + "/a", d + "/b"} },
			func(d string) []fsWant {
				return []fsWant{{"link", "link_from", d + "/a", nil, true, false}, {"link", "link_to", d + "/b", nil, false, false}}
			}},
		{"linkat", func(d string) { touch(t, d+"/a") },
			func(d string) []string { return []string{"linkat", d, "a", "b"} },
			func(d string) []fsWant {
				return []fsWant{
					{"openat", "readdir", d, []string{"O_RDONLY", "O_DIRECTORY"}, true, true},
					{"linkat", "link_from", d + "/a", nil, true, false}, {"linkat", "link_to", d + "/b", nil, false, false},
				}
			}},
		{"symlink", nil,
			func(d string) []string { return []string{"symlink", "/nowhere", d + "/ln"} },
			func(d string) []fsWant { return []fsWant{{"symlink", "symlink", d + "/ln", nil, false, false}} }},
		{"symlinkat", nil,
			func(d string) []string { return []string{"symlinkat", "/nowhere", d, "ln"} },
			func(d string) []fsWant {
				return []fsWant{
					{"openat", "readdir", d, []string{"O_RDONLY", "O_DIRECTORY"}, true, true},
					{"symlinkat", "symlink", d + "/ln", nil, false, false},
				}
			}},
		{"truncate", func(d string) { touch(t, d+"/f") },
			func(d string) []string { return []string{"truncate", d + "/f"} },
			func(d string) []fsWant { return []fsWant{{"truncate", "truncate", d + "/f", nil, true, false}} }},
		{"unix bind", nil,
			func(d string) []string { return []string{"unix-bind", d + "/sock"} },
			func(d string) []fsWant { return []fsWant{{"bind", "bind_unix", d + "/sock", nil, false, false}} }},
		{"unix connect", func(d string) {
			l, err := net.Listen("unix", d+"/srv")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
		},
			func(d string) []string { return []string{"unix-connect", d + "/srv"} },
			func(d string) []fsWant { return []fsWant{{"connect", "connect_unix", d + "/srv", nil, true, false}} }},
		{"open symlink loop missing", func(d string) { os.Symlink("l2", d+"/l1"); os.Symlink("l1", d+"/l2") },
			func(d string) []string { return []string{"open", d + "/l1", hex(oRDONLY)} },
			func(d string) []fsWant {
				return []fsWant{{"open", "read", d + "/l1", []string{"O_RDONLY"}, false, false}}
			}},
		{"openat2 RESOLVE_BENEATH", func(d string) { touch(t, d+"/f") },
			func(d string) []string { return []string{"openat2", d, "./f", hex(oRDONLY), "0x8"} },
			func(d string) []fsWant {
				return []fsWant{
					{"openat", "readdir", d, []string{"O_RDONLY", "O_DIRECTORY"}, true, true},
					{"openat2", "read", d + "/f", []string{"O_RDONLY"}, true, false},
				}
			}},
		{"abstract unix socket ignored", nil,
			func(d string) []string { return []string{"abstract", "sandlock-test-" + strconv.Itoa(os.Getpid())} },
			func(d string) []fsWant { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tempDir(t)
			if tt.setup != nil {
				tt.setup(d)
			}
			res := runTrace(t, append([]string{"--", "testop"}, tt.args(d)...)...)
			ex := checkStream(t, res)
			if ok := ex.Code != nil && *ex.Code == 0; ok == strings.Contains(tt.name, "missing") {
				t.Fatalf("workload exit %+v (failure expected only for a missing file)\n%s", ex, res.stderr)
			}
			var got []fsWant
			for _, f := range fsEvents(res, under(d)) {
				got = append(got, asWant(f))
			}
			if want := tt.want(d); !reflect.DeepEqual(got, want) {
				t.Errorf("events under %s:\n got  %+v\n want %+v", d, got, want)
			}
		})
	}
}

// TestExecEvents: a successful execve gives an exec record for the new
// image (with argv) and exec fs events for the file, the interpreter and
// the libraries; the failed attempts of a $PATH walk give no exec record
// and never name the tracer's own image.
func TestExecEvents(t *testing.T) {
	d := tempDir(t)
	res := runTrace(t, "--", "testop", "execve", "/bin/sh", "-c", "PATH="+d+":/usr/bin:/bin; true; exec cat /dev/null")
	ex := checkStream(t, res)
	if ex.Code == nil || *ex.Code != 0 {
		t.Fatalf("exit %+v\n%s", ex, res.stderr)
	}
	self, _ := os.Executable()
	selfCanon, _ := filepath.EvalSymlinks(self)
	var execs []*event.Exec
	for _, r := range res.events {
		if e, ok := r.(*event.Exec); ok {
			execs = append(execs, e)
			if e.Path == selfCanon {
				t.Errorf("exec record names the tracer's own image: %+v", e)
			}
		}
	}
	cat, _ := filepath.EvalSymlinks("/bin/cat")
	sh, _ := filepath.EvalSymlinks("/bin/sh")
	// testop itself, then the shell it execs, then cat.
	if len(execs) != 3 || execs[1].Path != sh || execs[2].Path != cat {
		for _, e := range execs {
			t.Logf("exec %+v", e)
		}
		t.Fatalf("want exec records of testop, %s, %s", sh, cat)
	}
	if want := []string{"cat", "/dev/null"}; !reflect.DeepEqual(execs[2].Argv, want) {
		t.Errorf("argv %q, want %q", execs[2].Argv, want)
	}
	// The failed attempt in d (cat is not there) is an exec fs event
	// that did not exist, and nothing else.
	if got := fsEvents(res, under(d)); len(got) != 1 || got[0].Existed || got[0].Op != "exec" {
		t.Errorf("events in %s: %+v", d, got)
	}
	interp := fsEvents(res, func(f *event.FS) bool { return f.Op == "exec" && strings.Contains(f.Path, "/ld-linux") })
	if len(interp) == 0 {
		t.Errorf("no exec event for the ELF interpreter")
	}
	for _, f := range fsEvents(res, func(f *event.FS) bool { return f.Op == "exec" }) {
		if f.Path == selfCanon {
			t.Errorf("exec fs event names the tracer's own image: %+v", f)
		}
	}
}

func TestExecveat(t *testing.T) {
	res := runTrace(t, "--", "testop", "execveat", "/bin", "true", "true")
	checkStream(t, res)
	tr, _ := filepath.EvalSymlinks("/bin/true")
	got := fsEvents(res, func(f *event.FS) bool { return f.Syscall == "execveat" && f.Path == tr })
	if len(got) == 0 || got[0].Op != "exec" || !got[0].Existed {
		t.Fatalf("execveat event: %+v", got)
	}
	found := false
	for _, r := range res.events {
		if e, ok := r.(*event.Exec); ok && e.Path == tr {
			found = true
		}
	}
	if !found {
		t.Errorf("no exec record for %s", tr)
	}
}

// loopback starts the servers the network tests talk to.
func loopback(t *testing.T, network, addr string) string {
	switch network {
	case "tcp":
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("no %s loopback: %v", addr, err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		return l.Addr().String()
	default:
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Skipf("no %s loopback: %v", addr, err)
		}
		t.Cleanup(func() { c.Close() })
		return c.LocalAddr().String()
	}
}

func TestNetOps(t *testing.T) {
	requireUnotify(t)
	for _, fam := range []struct{ name, any, family string }{{"v4", "127.0.0.1:0", "inet"}, {"v6", "[::1]:0", "inet6"}} {
		for _, tt := range []struct{ op, proto, sys, evop string }{
			{"connect", "tcp", "connect", "connect"},
			{"connect", "udp", "connect", "connect"},
			{"bind", "tcp", "bind", "bind"},
			{"bind", "udp", "bind", "bind"},
			{"sendto", "udp", "sendto", "send"},
			{"sendmsg", "udp", "sendmsg", "send"},
		} {
			t.Run(fam.name+"/"+tt.op+"/"+tt.proto, func(t *testing.T) {
				var addr string
				if tt.op == "bind" {
					// a free port: take one and release it
					a := loopback(t, tt.proto, fam.any)
					addr = a
				} else {
					addr = loopback(t, tt.proto, fam.any)
				}
				if tt.op == "bind" {
					// The port is in use by our socket; bind with
					// port 0 instead on the same address.
					h, _, _ := net.SplitHostPort(addr)
					addr = net.JoinHostPort(h, "0")
				}
				res := runTrace(t, "--", "testop", tt.op, tt.proto, addr)
				ex := checkStream(t, res)
				if ex.Code == nil || *ex.Code != 0 {
					t.Fatalf("workload failed: %+v\n%s", ex, res.stderr)
				}
				h, p, _ := net.SplitHostPort(addr)
				port, _ := strconv.Atoi(p)
				got := netEvents(res)
				if len(got) != 1 {
					t.Fatalf("net events: %+v", got)
				}
				n := got[0]
				want := event.Net{PID: n.PID, Syscall: tt.sys, Op: tt.evop, Proto: tt.proto, Family: fam.family, Addr: h, Port: port, FD: n.FD}
				if *n != want || n.FD < 3 {
					t.Errorf("got %+v\nwant %+v", *n, want)
				}
			})
		}
	}
}

// A connected UDP socket sends without naming a destination (glibc's
// resolver: connect, then sendmmsg with no address): the peer is the
// destination and must show up as a send; a connect alone sends nothing,
// and a TCP socket's traffic is the connect's.
func TestConnectedSend(t *testing.T) {
	requireUnotify(t)
	for _, fam := range []struct{ name, any, family string }{{"v4", "127.0.0.1:0", "inet"}, {"v6", "[::1]:0", "inet6"}} {
		for _, tt := range []struct {
			mode, proto string
			send        bool
		}{
			{"sendmsg", "udp", true},
			{"sendmmsg", "udp", true},
			{"none", "udp", false},
			{"sendmsg", "tcp", false},
		} {
			t.Run(fam.name+"/"+tt.proto+"/"+tt.mode, func(t *testing.T) {
				addr := loopback(t, tt.proto, fam.any)
				res := runTrace(t, "--", "testop", "connected", tt.mode, tt.proto, addr)
				ex := checkStream(t, res)
				if ex.Code == nil || *ex.Code != 0 {
					t.Fatalf("workload failed: %+v\n%s", ex, res.stderr)
				}
				h, p, _ := net.SplitHostPort(addr)
				port, _ := strconv.Atoi(p)
				got := netEvents(res)
				want := []event.Net{{Syscall: "connect", Op: "connect", Proto: tt.proto, Family: fam.family, Addr: h, Port: port}}
				if tt.send {
					want = append(want, event.Net{Syscall: tt.mode, Op: "send", Proto: tt.proto, Family: fam.family, Addr: h, Port: port})
				}
				if len(got) != len(want) {
					t.Fatalf("net events %+v, want %+v", got, want)
				}
				for i := range want {
					want[i].PID, want[i].FD = got[i].PID, got[0].FD
					if *got[i] != want[i] {
						t.Errorf("event %d: got %+v\nwant %+v", i, *got[i], want[i])
					}
				}
			})
		}
	}
}

func TestSendmmsgThreeDestinations(t *testing.T) {
	a := loopback(t, "udp", "127.0.0.1:0")
	b := loopback(t, "udp", "127.0.0.1:0")
	c := loopback(t, "udp", "127.0.0.1:0")
	res := runTrace(t, "--", "testop", "sendmmsg", a, b, c)
	checkStream(t, res)
	got := netEvents(res)
	if len(got) != 3 {
		t.Fatalf("want 3 net events, got %+v", got)
	}
	for i, want := range []string{a, b, c} {
		if addr := net.JoinHostPort(got[i].Addr, strconv.Itoa(got[i].Port)); addr != want || got[i].Proto != "udp" || got[i].Op != "send" || got[i].Syscall != "sendmmsg" {
			t.Errorf("event %d: %+v, want %s", i, got[i], want)
		}
	}
}

// TestThreads: 64 threads opening 100 distinct files each lose no event.
func TestThreads(t *testing.T) {
	d := tempDir(t)
	const threads, files = 64, 100
	for i := 0; i < threads; i++ {
		for j := 0; j < files; j++ {
			touch(t, fmt.Sprintf("%s/t%d-f%d", d, i, j))
		}
	}
	res := runTrace(t, "-o", "/dev/stdout", "--", "testop", "threads", d, strconv.Itoa(threads), strconv.Itoa(files))
	checkStream(t, res)
	seen := map[string]int{}
	for _, f := range fsEvents(res, under(d)) {
		if f.Op == "read" && f.Existed {
			seen[f.Path]++
		}
	}
	if len(seen) != threads*files {
		t.Fatalf("%d distinct files seen, want %d", len(seen), threads*files)
	}
	for p, n := range seen {
		if n != 1 {
			t.Errorf("%s seen %d times", p, n)
		}
	}
}

func execRecords(res result) []*event.Exec {
	var out []*event.Exec
	for _, r := range res.events {
		if e, ok := r.(*event.Exec); ok {
			out = append(out, e)
		}
	}
	return out
}

// TestVforkExec: Go's StartProcess (clone with CLONE_VFORK|CLONE_VM, then
// exec in the child) and a real vfork(2) from C, when a compiler is there.
func TestVforkExec(t *testing.T) {
	tr, _ := filepath.EvalSymlinks("/bin/true")
	check := func(t *testing.T, res result) {
		checkStream(t, res)
		for _, e := range execRecords(res) {
			if e.Path == tr {
				return
			}
		}
		t.Errorf("no exec record of %s: %+v", tr, execRecords(res))
	}
	t.Run("clone-vfork", func(t *testing.T) {
		check(t, runTrace(t, "--", "testop", "spawn", "/bin/true"))
	})
	t.Run("vfork", func(t *testing.T) {
		cc, err := exec.LookPath("cc")
		if err != nil {
			t.Skip("no C compiler for the vfork(2) program")
		}
		d := tempDir(t)
		src := d + "/vfork.c"
		os.WriteFile(src, []byte(`#include <unistd.h>
#include <sys/wait.h>
int main(void) {
	pid_t p = vfork();
	if (p == 0) { execl("/bin/true", "true", (char *)0); _exit(127); }
	int st; waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
`), 0o644)
		if out, err := exec.Command(cc, "-o", d+"/vfork", src).CombinedOutput(); err != nil {
			t.Fatalf("cc: %v\n%s", err, out)
		}
		check(t, runTrace(t, "--", d+"/vfork"))
	})
}

func TestExecFromNonLeaderThread(t *testing.T) {
	res := runTrace(t, "--", "testop", "thread-exec", "/bin/cat", "/dev/null")
	ex := checkStream(t, res)
	if ex.Code == nil || *ex.Code != 0 {
		t.Fatalf("exit %+v\n%s", ex, res.stderr)
	}
	cat, _ := filepath.EvalSymlinks("/bin/cat")
	var e *event.Exec
	for _, r := range execRecords(res) {
		if r.Path == cat {
			e = r
		}
	}
	if e == nil {
		t.Fatalf("no exec record of cat: %+v", execRecords(res))
	}
	// cat's own opens come from the same process.
	if got := fsEvents(res, func(f *event.FS) bool { return f.Path == "/dev/null" && f.PID == e.PID }); len(got) != 1 {
		t.Errorf("cat's open of /dev/null by pid %d: %+v", e.PID, got)
	}
}

func TestShellPipeline(t *testing.T) {
	d := tempDir(t)
	touch(t, d+"/in")
	res := runTrace(t, "--", "sh", "-c", "cat "+d+"/in | wc -c > "+d+"/out")
	ex := checkStream(t, res)
	if ex.Code == nil || *ex.Code != 0 {
		t.Fatalf("exit %+v", ex)
	}
	pids := map[string]int{}
	for _, e := range execRecords(res) {
		pids[filepath.Base(e.Path)] = e.PID
	}
	if pids["cat"] == 0 || pids["wc"] == 0 || pids["cat"] == pids["wc"] {
		t.Fatalf("exec records: %+v", execRecords(res))
	}
	if got := fsEvents(res, func(f *event.FS) bool { return f.Path == d+"/in" }); len(got) != 1 || got[0].PID != pids["cat"] {
		t.Errorf("read of in: %+v", got)
	}
	if got := fsEvents(res, func(f *event.FS) bool { return f.Path == d+"/out" }); len(got) != 1 || got[0].Op != "create" {
		t.Errorf("create of out: %+v", got)
	}
}

func TestExitStatus(t *testing.T) {
	requireUnotify(t)
	d := tempDir(t)
	os.WriteFile(d+"/noexec", []byte("#!/bin/sh\n"), 0o644)
	os.WriteFile(d+"/garbage", []byte("\x00\x01not a program"), 0o755)
	for _, tt := range []struct {
		name string
		args []string
		code int
		sig  string
	}{
		{"ok", []string{"true"}, 0, ""},
		{"status", []string{"sh", "-c", "exit 3"}, 3, ""},
		{"signal", []string{"sh", "-c", "kill -9 $$"}, 137, "SIGKILL"},
		{"not found", []string{"no-such-command-" + strconv.Itoa(os.Getpid())}, 127, ""},
		{"not found path", []string{d + "/missing"}, 127, ""},
		{"not executable", []string{d + "/noexec"}, 126, ""},
		{"directory", []string{d}, 126, ""},
		{"bad format", []string{d + "/garbage"}, 126, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := runTrace(t, append([]string{"--"}, tt.args...)...)
			if res.code != tt.code {
				t.Errorf("exit status %d, want %d; stderr:\n%s", res.code, tt.code, res.stderr)
			}
			// A command that could not run always says why, naming it.
			if want := map[int]string{126: ": cannot execute: ", 127: ": command not found"}[tt.code]; want != "" &&
				!strings.Contains(res.stderr, "sandlock-trace: "+tt.args[0]+want) {
				t.Errorf("stderr %q does not say %q", res.stderr, tt.args[0]+want)
			}
			ex := checkStream(t, res)
			if tt.sig != "" {
				if ex.Code != nil || ex.Signal != tt.sig {
					t.Errorf("exit record %+v, want signal %s", ex, tt.sig)
				}
			} else if ex.Code == nil || *ex.Code != tt.code || ex.Signal != "" {
				t.Errorf("exit record %+v, want code %d", ex, tt.code)
			}
		})
	}
}

// TestStdoutSeparation: the workload's stdout never enters the stream.
func TestStdoutSeparation(t *testing.T) {
	res := runTrace(t, "--", "testop", "print", `{"type":"exit","code":0}`)
	checkStream(t, res)
	if !strings.Contains(res.stderr, `{"type":"exit","code":0}`) {
		t.Errorf("workload output not on stderr: %q", res.stderr)
	}
	f := filepath.Join(tempDir(t), "ev.ndjson")
	res = runTrace(t, "-o", f, "--", "testop", "print", "hello")
	if res.stdout != "hello\n" {
		t.Errorf("with -o, stdout = %q, want the workload's", res.stdout)
	}
	b, _ := os.ReadFile(f)
	res.events = parseEvents(t, b)
	checkStream(t, res)
}

func TestNonUTF8Path(t *testing.T) {
	d := tempDir(t)
	name := d + "/caf\xe9\xff\n\"q\""
	touch(t, name)
	res := runTrace(t, "--", "testop", "open", name, "0")
	checkStream(t, res)
	if !strings.Contains(res.stdout, `"path_b64":`) {
		t.Errorf("no path_b64 in the stream")
	}
	got := fsEvents(res, under(d))
	if len(got) != 1 || got[0].Path != name || !got[0].Existed {
		t.Fatalf("events: %+v", got)
	}
}

func TestIOUringWarning(t *testing.T) {
	res := runTrace(t, "--", "testop", "io_uring")
	checkStream(t, res)
	found := false
	for _, r := range res.events {
		if w, ok := r.(*event.Warning); ok && strings.HasPrefix(w.Msg, "io_uring") {
			found = true
		}
	}
	if !found {
		t.Errorf("no io_uring warning record")
	}
	if !strings.Contains(res.stderr, "io_uring") {
		t.Errorf("no io_uring warning on stderr: %q", res.stderr)
	}
}

func TestSyscallCounts(t *testing.T) {
	d := tempDir(t)
	res := runTrace(t, "--syscalls", "--", "testop", "mkdir", d+"/x")
	checkStream(t, res)
	var sc *event.Syscalls
	for _, r := range res.events {
		if s, ok := r.(*event.Syscalls); ok {
			sc = s
		}
	}
	if sc == nil || sc.Counts["mkdir"] != 1 || sc.Counts["execve"] < 1 {
		t.Fatalf("syscalls record: %+v", sc)
	}
}

func TestTimeout(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"sleep", []string{"sleep", "60"}},
		{"ignores SIGTERM", []string{"sh", "-c", "trap '' TERM; sleep 60"}},
		{"daemon", []string{"sh", "-c", "(setsid sleep 60 &); sleep 60"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := runTrace(t, append([]string{"--timeout", "0.5", "--"}, tt.args...)...)
			ex := checkStream(t, res)
			if !ex.TimedOut {
				t.Errorf("exit record %+v, want timed_out", ex)
			}
			if res.code < 128 {
				t.Errorf("exit status %d, want a signal status", res.code)
			}
		})
	}
}

// startTrace starts sandlock-trace in the background.
func startTrace(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	requireUnotify(t)
	cmd := command(append([]string{lookBin(t, "sandlock-trace")}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
	return cmd, &stdout, &stderr
}

func TestSIGINT(t *testing.T) {
	d := tempDir(t)
	cmd, stdout, _ := startTrace(t, "--", "sh", "-c", "echo $$ > "+d+"/pid; exec sleep 60")
	testutil.WaitPID(t, d+"/pid")
	time.Sleep(50 * time.Millisecond) // let exec sleep happen (not an assertion)
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	code := exitCode(t, err)
	res := result{events: parseEvents(t, stdout.Bytes()), code: code}
	ex := checkStream(t, res)
	if ex.Signal != "SIGINT" || code != 130 {
		t.Errorf("exit record %+v, status %d; want SIGINT, 130", ex, code)
	}
}

// TestTracerKilled: SIGKILL to the tracer takes the whole workload with
// it, including a grandchild in its own session.
func TestTracerKilled(t *testing.T) {
	d := tempDir(t)
	cmd, _, _ := startTrace(t, "-o", os.DevNull, "--", "sh", "-c",
		"setsid sh -c 'echo $$ > "+d+"/gc; exec sleep 60' & echo $$ > "+d+"/pid; wait")
	main := testutil.WaitPID(t, d+"/pid")
	gc := testutil.WaitPID(t, d+"/gc")
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	for i := 0; i < 500 && (testutil.Alive(main) || testutil.Alive(gc)); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if testutil.Alive(main) || testutil.Alive(gc) {
		t.Fatalf("workload survived the tracer: main %v, grandchild %v", testutil.Alive(main), testutil.Alive(gc))
	}
}

func TestOutputFailure(t *testing.T) {
	t.Run("dev-full", func(t *testing.T) {
		res := runTrace(t, "-o", "/dev/full", "--", "sh", "-c", "while :; do cat /dev/null; done")
		if res.code != 125 || !strings.Contains(res.stderr, "cannot write events") {
			t.Errorf("status %d, stderr %q", res.code, res.stderr)
		}
	})
	t.Run("closed-pipe", func(t *testing.T) {
		requireUnotify(t)
		d := tempDir(t)
		cmd := command(lookBin(t, "sandlock-trace"), "--", "sh", "-c", "echo $$ > "+d+"/pid; while :; do cat /dev/null; done")
		r, w, _ := os.Pipe()
		cmd.Stdout = w
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		main := testutil.WaitPID(t, d+"/pid")
		r.Close() // the reader dies
		code := exitCode(t, cmd.Wait())
		if code != 125 || !strings.Contains(stderr.String(), "cannot write events") {
			t.Errorf("status %d, stderr %q", code, stderr.String())
		}
		if testutil.Alive(main) {
			t.Errorf("workload %d still running", main)
		}
	})
}

// TestUnprivileged runs the whole trace as uid 65534 (when we are root;
// otherwise every test already is unprivileged).
func TestUnprivileged(t *testing.T) {
	requireUnotify(t)
	if os.Getuid() != 0 {
		t.Skip("not root: the other tests run unprivileged already")
	}
	d := tempDir(t)
	bin := filepath.Join(d, "bin")
	os.Mkdir(bin, 0o755)
	self, _ := os.Executable()
	for _, name := range []string{"sandlock-trace", "testop"} {
		b, err := os.ReadFile(self)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bin, name), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	work := filepath.Join(d, "work")
	os.Mkdir(work, 0o777)
	os.Chmod(work, 0o777)
	run := func(args ...string) result {
		cmd := command(append([]string{filepath.Join(bin, "sandlock-trace"), "--", "testop"}, args...)...)
		cmd.Env = append(os.Environ(), "PATH="+bin+":/usr/bin:/bin")
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
		cmd.Dir = work
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		code := exitCode(t, cmd.Run())
		res := result{events: parseEvents(t, stdout.Bytes()), code: code, stderr: stderr.String()}
		ex := checkStream(t, res)
		if code != 0 || ex.Code == nil || *ex.Code != 0 {
			t.Fatalf("status %d, exit %+v, stderr:\n%s", code, ex, res.stderr)
		}
		if st := res.events[0].(*event.Start); st.UID != 65534 {
			t.Errorf("start uid %d", st.UID)
		}
		return res
	}
	res := run("creat", work+"/made")
	got := fsEvents(res, under(work))
	if len(got) != 1 || got[0].Op != "create" || got[0].Path != work+"/made" {
		t.Errorf("events: %+v", got)
	}
	// The peer of a connected UDP socket is read through pidfd_getfd,
	// which needs no privilege over one's own child.
	addr := loopback(t, "udp", "127.0.0.1:0")
	res = run("connected", "sendmmsg", "udp", addr)
	if n := netEvents(res); len(n) != 2 || n[1].Op != "send" || net.JoinHostPort(n[1].Addr, strconv.Itoa(n[1].Port)) != addr {
		t.Errorf("net events as uid 65534: %+v, want a connect and a send to %s", n, addr)
	}
}

// TestBadPointer: an unreadable argument gives a warning record, the
// workload sees its own EFAULT, and the trace goes on.
func TestBadPointer(t *testing.T) {
	res := runTrace(t, "--", "testop", "badptr")
	ex := checkStream(t, res)
	if ex.Code == nil || *ex.Code != 1 || !strings.Contains(res.stderr, "bad address") {
		t.Errorf("workload should fail with EFAULT: %+v %q", ex, res.stderr)
	}
	found := false
	for _, r := range res.events {
		if w, ok := r.(*event.Warning); ok && strings.Contains(w.Msg, "cannot read the arguments of open") {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning record")
	}
}

func TestProcSelfFD(t *testing.T) {
	d := tempDir(t)
	touch(t, d+"/f")
	res := runTrace(t, "--", "testop", "procfd", d+"/f")
	checkStream(t, res)
	got := fsEvents(res, under(d))
	if len(got) != 3 {
		t.Fatalf("want 3 opens of %s/f: %+v", d, got)
	}
	for _, f := range got {
		if f.Path != d+"/f" || !f.Existed || f.Op != "read" {
			t.Errorf("event %+v", f)
		}
	}
}

func TestLongPath(t *testing.T) {
	d := tempDir(t)
	p := d
	for len(p) < 3900 {
		p += "/" + strings.Repeat("d", 200)
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	touch(t, p+"/f")
	res := runTrace(t, "--", "testop", "open", p+"/f", "0")
	checkStream(t, res)
	if got := fsEvents(res, under(d)); len(got) != 1 || got[0].Path != p+"/f" || !got[0].Existed {
		t.Errorf("events: %d", len(got))
	}
}

func TestSendmmsg1024(t *testing.T) {
	a := loopback(t, "udp", "127.0.0.1:0")
	res := runTrace(t, "--", "testop", "sendmany", "1024", a)
	checkStream(t, res)
	if got := netEvents(res); len(got) != 1024 {
		t.Errorf("%d net events, want 1024", len(got))
	}
}

// TestChroot: after chroot, paths resolve in the new root and are
// reported as the tracee sees them.
func TestChroot(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("chroot needs root")
	}
	d := tempDir(t)
	os.MkdirAll(d+"/etc", 0o755)
	touch(t, d+"/etc/inside")
	os.Symlink("/etc/inside", d+"/abs")
	res := runTrace(t, "--", "testop", "chroot", d, "/abs")
	checkStream(t, res)
	got := fsEvents(res, func(f *event.FS) bool { return f.Syscall == "open" })
	if len(got) != 1 || got[0].Path != "/etc/inside" || !got[0].Existed {
		t.Errorf("events: %+v", got)
	}
}

// copyFile copies src to dst with mode.
func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

// TestChrootChild: a process started after its parent's chroot lives in
// the new root too: its exec and its opens resolve there. (Until a chroot,
// pivot_root or setns, new processes are given the first one's root
// without reading /proc/PID/root.) The child is ldconfig, a static binary,
// which opens /etc/ld.so.cache.
func TestChrootChild(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("chroot needs root")
	}
	d := tempDir(t)
	os.MkdirAll(d+"/etc", 0o755)
	copyFile(t, "/etc/ld.so.cache", d+"/etc/ld.so.cache", 0o644)
	copyFile(t, "/sbin/ldconfig", d+"/ldconfig-inside", 0o755)
	res := runTrace(t, "--", "testop", "chroot-spawn", d, "/ldconfig-inside", "-p")
	if ex := checkStream(t, res); ex.Code == nil || *ex.Code != 0 {
		t.Fatalf("exit %+v\n%s", ex, res.stderr)
	}
	var child int
	for _, r := range res.events {
		if e, ok := r.(*event.Exec); ok && e.Path == "/ldconfig-inside" {
			child = e.PID
		}
	}
	if child == 0 {
		t.Fatalf("no exec record of /ldconfig-inside as the chrooted child sees it:\n%s", res.stdout)
	}
	got := fsEvents(res, func(f *event.FS) bool { return f.PID == child && f.Path == "/etc/ld.so.cache" })
	if len(got) == 0 || !got[0].Existed {
		t.Errorf("the child's open of /etc/ld.so.cache inside the new root: %+v", got)
	}
	if ex := fsEvents(res, func(f *event.FS) bool { return f.Op == "exec" && f.Path == "/ldconfig-inside" }); len(ex) == 0 || !ex[0].Existed {
		t.Errorf("the exec of /ldconfig-inside inside the new root: %+v", ex)
	}
}

// TestCreateThatCannotCreate: O_CREAT on a directory, or on a path ending
// in "/", "." or "..", fails (EISDIR, ENOENT, ENOTDIR; checked by the
// workload) and creates nothing, so nothing is recorded: a create record
// would grant writing into the parent. The same open of a plain new name
// creates it and is recorded.
func TestCreateThatCannotCreate(t *testing.T) {
	d := tempDir(t)
	os.Mkdir(d+"/dir", 0o755)
	touch(t, d+"/file")
	for _, p := range []string{"dir", "dir/", "dir/.", "dir/..", "new/", "new/.", "file/", "file/."} {
		res := runTrace(t, "--", "testop", "open", d+"/"+p, hex(oCREAT|oWRONLY))
		if ex := checkStream(t, res); ex.Code == nil || *ex.Code != 1 {
			t.Errorf("%s: want the open to fail in the workload: %+v %s", p, ex, res.stderr)
		}
		if got := fsEvents(res, under(d)); len(got) != 0 {
			t.Errorf("%s: recorded %s", p, fmtFS(got))
		}
	}
	res := runTrace(t, "--", "testop", "open", d+"/new", hex(oCREAT|oWRONLY))
	checkStream(t, res)
	if got := fsEvents(res, under(d)); len(got) != 1 || got[0].Op != "create" || got[0].Path != d+"/new" {
		t.Errorf("plain create recorded %s", fmtFS(got))
	}
}

// TestExecPathWithNewline: a program in a directory whose name has a
// newline: /proc/PID/maps prints that newline as \012, and an exec record
// naming the printed form would be a path that does not exist (sandlock run
// refuses a profile naming one). Every exec record must name an existing
// file, the program's among them.
func TestExecPathWithNewline(t *testing.T) {
	d := tempDir(t) + "/new\nline"
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, "/bin/true", d+"/true", 0o755)
	res := runTrace(t, "--", "testop", "execve", d+"/true")
	if ex := checkStream(t, res); ex.Code == nil || *ex.Code != 0 {
		t.Fatalf("exit %+v\n%s", ex, res.stderr)
	}
	found := false
	for _, f := range fsEvents(res, func(f *event.FS) bool { return f.Op == "exec" }) {
		if _, err := os.Lstat(f.Path); err != nil {
			t.Errorf("exec record of a path that does not exist: %q (%s)", f.Path, f.Syscall)
		}
		found = found || f.Path == d+"/true"
	}
	if !found {
		t.Errorf("no exec record of %q", d+"/true")
	}
}

// TestLinger: a process left behind by the main one is stopped after
// --linger, with a warning, and the trace ends.
func TestLinger(t *testing.T) {
	d := tempDir(t)
	res := runTrace(t, "--linger", "0.2", "--", "sh", "-c", "sleep 60 & echo $! > "+d+"/pid")
	ex := checkStream(t, res)
	if ex.Code == nil || *ex.Code != 0 || ex.TimedOut {
		t.Errorf("exit %+v", ex)
	}
	found := false
	for _, r := range res.events {
		if w, ok := r.(*event.Warning); ok && strings.Contains(w.Msg, "still running") {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning about the process left behind")
	}
	b, _ := os.ReadFile(d + "/pid")
	if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid == 0 || testutil.Alive(pid) {
		t.Errorf("left-behind process %d still alive", pid)
	}
}

// TestStatusLine: a live status on a terminal's stderr, none with NO_COLOR
// (and none when stderr is not a terminal: every other test).
func TestStatusLine(t *testing.T) {
	requireUnotify(t)
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("no script(1) to give the trace a terminal")
	}
	run := func(env ...string) string {
		cmd := command(script, "-qec", lookBin(t, "sandlock-trace")+" -o /dev/null -- sleep 0.6", "/dev/null")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("script: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := run("TERM=xterm", "NO_COLOR="); !strings.Contains(out, "events,") || !strings.Contains(out, "processes") {
		t.Errorf("no status line on a terminal: %q", out)
	}
	if out := run("TERM=xterm", "NO_COLOR=1"); strings.Contains(out, "events,") {
		t.Errorf("status line despite NO_COLOR: %q", out)
	}
}

func TestChdirBetweenOpens(t *testing.T) {
	d := tempDir(t)
	os.Mkdir(d+"/one", 0o755)
	os.Mkdir(d+"/two", 0o755)
	touch(t, d+"/one/f")
	touch(t, d+"/two/f")
	res := runTrace(t, "--", "testop", "chdir-open", d+"/one", d+"/two", "f")
	checkStream(t, res)
	var got []string
	for _, f := range fsEvents(res, under(d)) {
		got = append(got, f.Path)
	}
	if want := []string{d + "/one/f", d + "/two/f"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestCwdCache: the tracer keeps each thread's working directory between
// relative opens. Every way it can change under it must show in the
// recorded paths: a process sharing it (clone CLONE_FS) moving it, a thread
// that took its own, a rename of the directory itself.
func TestCwdCache(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatalf("gcc is needed to build testdata/cwd.c: %v", err)
	}
	prog := filepath.Join(tempDir(t), "cwd")
	if out, err := exec.Command(gcc, "-O2", "-Wall", "-pthread", "-o", prog, "testdata/cwd.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		mode string
		want []string // relative to the test directory
	}{
		{"share", []string{"one/f", "two/f"}},
		{"unshare", []string{"one/f", "one/f", "two/f", "one/f"}},
		{"rename", []string{"one/f", "two/f"}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			d := tempDir(t)
			os.Mkdir(d+"/one", 0o755)
			touch(t, d+"/one/f")
			if tc.mode != "rename" {
				os.Mkdir(d+"/two", 0o755)
				touch(t, d+"/two/f")
			}
			res := runTrace(t, "--", prog, tc.mode, d+"/one", d+"/two", "f")
			if ex := checkStream(t, res); ex.Code == nil || *ex.Code != 0 {
				t.Fatalf("workload failed; stderr:\n%s", res.stderr)
			}
			var got []string
			for _, f := range fsEvents(res, func(f *event.FS) bool { return strings.HasSuffix(f.Path, "/f") && under(d)(f) }) {
				got = append(got, strings.TrimPrefix(f.Path, d+"/"))
				if !f.Existed {
					t.Errorf("%s recorded as missing", f.Path)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRenamedDirfd: a dirfd follows its directory through a rename, and so
// does the recorded path.
func TestRenamedDirfd(t *testing.T) {
	d := tempDir(t)
	os.Mkdir(d+"/a", 0o755)
	touch(t, d+"/a/f")
	res := runTrace(t, "--", "testop", "renamed-dirfd", d)
	checkStream(t, res)
	got := fsEvents(res, func(f *event.FS) bool { return f.Syscall == "openat" && strings.HasSuffix(f.Path, "/f") })
	if len(got) != 1 || got[0].Path != d+"/b/f" || !got[0].Existed {
		t.Errorf("events: %+v", got)
	}
}

// TestOwnFilter: a workload that stacks its own seccomp filter is still
// observed.
func TestOwnFilter(t *testing.T) {
	d := tempDir(t)
	touch(t, d+"/f")
	res := runTrace(t, "--", "testop", "own-filter", d+"/f")
	ex := checkStream(t, res)
	if ex.Code == nil || *ex.Code != 0 {
		t.Fatalf("exit %+v: %s", ex, res.stderr)
	}
	if got := fsEvents(res, under(d)); len(got) != 1 || got[0].Path != d+"/f" {
		t.Errorf("events: %+v", got)
	}
}
