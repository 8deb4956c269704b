// Package testutil holds what the command tests share: the testscript
// "status" command, and re-running a test binary as an unprivileged user so
// that every package proves it needs no root.
//
// It is imported only by _test.go files.
package testutil

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Nobody is the uid and gid the unprivileged re-runs use.
const Nobody = 65534

// rerunEnv marks a process as the unprivileged re-run of a test binary.
const rerunEnv = "SANDLOCK_TEST_AS_NOBODY"

// IsRerun reports whether this test binary is the unprivileged re-run.
func IsRerun() bool { return os.Getenv(rerunEnv) != "" }

// CmdStatus is the testscript command "status N CMD ARGS...": run CMD and
// require exit status N, which "! exec" (any non-zero status) cannot tell
// apart.
func CmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("status: %q is not a number", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("status: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// Rerun says how to re-run the current test binary as uid 65534.
type Rerun struct {
	// Run is the -test.run pattern.
	Run string
	// Tests, instead of Run, names the tests to re-run; each must pass.
	Tests []string
	// Want must appear in the re-run's output (e.g. "--- PASS: TestScript/"),
	// so that a re-run that ran nothing cannot pass; default "PASS".
	Want string
	// CleanEnv starts from an empty environment (PATH=/usr/bin:/bin) instead
	// of this process's.
	CleanEnv bool
	// Env is added last.
	Env []string
}

// TempDir is a new temporary directory with mode perm, removed when t
// ends. Unlike t.TempDir's (whose parent is 0700), uid 65534 can reach it.
func TempDir(t testing.TB, prefix string, perm os.FileMode) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, perm); err != nil {
		t.Fatal(err)
	}
	return dir
}

// RerunAsNobody re-runs the current test binary as uid/gid 65534 and fails
// t unless it passes. The binary and the package's testdata are copied where
// that user can read them (the go-build directory and the checkout may be
// 0700), and the run gets a temp and home directory of its own, as cwd a copy
// of the package directory's testdata parent. It returns the output. Root
// only: as any other user, the tests already ran unprivileged.
func RerunAsNobody(t *testing.T, r Rerun) string {
	t.Helper()
	if IsRerun() {
		t.Skip("this is the unprivileged re-run")
	}
	if os.Getuid() != 0 {
		t.Skipf("already unprivileged (uid %d): every other test ran as that user", os.Getuid())
	}
	dir := TempDir(t, "as-nobody-", 0o755)
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, Nobody, Nobody); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "pkg.test")
	if err := copyFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("testdata"); err == nil {
		if err := copyTree(filepath.Join(work, "testdata"), "testdata"); err != nil {
			t.Fatal(err)
		}
	}

	run := r.Run
	if len(r.Tests) > 0 {
		run = "^(" + strings.Join(r.Tests, "|") + ")$"
	}
	if run == "" {
		run = "."
	}
	cmd := exec.Command(bin, "-test.count=1", "-test.v", "-test.run="+run, "-test.bench=^$")
	cmd.Dir = work
	env := os.Environ()
	if r.CleanEnv {
		env = []string{"PATH=/usr/bin:/bin"}
	}
	cmd.Env = append(env, rerunEnv+"=1", "SANDLOCK_TEST_UID="+strconv.Itoa(Nobody),
		"HOME="+tmp, "TMPDIR="+tmp, "GOCOVERDIR="+tmp, "UPDATE_GOLDEN=")
	cmd.Env = append(cmd.Env, r.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: Nobody, Gid: Nobody},
		Pdeathsig:  syscall.SIGKILL,
		Setpgid:    true,
	}
	out, err := cmd.CombinedOutput()
	want := r.Want
	if want == "" {
		want = "PASS"
	}
	if err != nil || !strings.Contains(string(out), want) {
		t.Fatalf("tests as uid %d: %v (want %q in the output)\n%s", Nobody, err, want, out)
	}
	for _, name := range r.Tests {
		if !strings.Contains(string(out), "--- PASS: "+name+" ") {
			t.Errorf("%s did not pass as uid %d:\n%s", name, Nobody, out)
		}
	}
	return string(out)
}

func copyTree(dst, src string) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case fi.IsDir():
			return os.MkdirAll(target, 0o755)
		case fi.Mode().IsRegular():
			return copyFile(target, p, fi.Mode().Perm()|0o444)
		}
		return nil // fuzz caches, sockets: not needed by a re-run
	})
}

func copyFile(dst, src string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// WaitPID waits (bounded, about 10 s) for a workload to write its pid and a
// newline to the file p, and returns the pid.
func WaitPID(t *testing.T, p string) int {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if b, err := os.ReadFile(p); err == nil && strings.HasSuffix(string(b), "\n") {
			n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never written", p)
	return 0
}

// Alive reports whether pid is a live process (a zombie is not).
func Alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the state follows the comm, which may hold ')'
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z'
}

// FIFO makes a named pipe at p with its read end already open and
// non-blocking, so that a command opening it for writing does not wait and
// a failing test cannot hang. read returns what has been written so far.
func FIFO(t *testing.T, p string) (read func() []byte) {
	t.Helper()
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	rfd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(rfd) })
	return func() []byte {
		buf := make([]byte, 1<<16)
		n, _ := syscall.Read(rfd, buf)
		return buf[:max(n, 0)]
	}
}

// Scripts runs a command's testscript files with the settings every command
// shares: scripts in testdata/script unless p.Dir says otherwise, commands
// run only through an explicit exec, the "status N" command, and
// UPDATE_GOLDEN=1 to rewrite the cmp files (review the diff before
// committing it). In the unprivileged re-run it first checks that it really
// runs as the uid the re-run asked for.
func Scripts(t *testing.T, p testscript.Params) {
	t.Helper()
	if want := os.Getenv("SANDLOCK_TEST_UID"); want != "" && strconv.Itoa(os.Getuid()) != want {
		t.Fatalf("running as uid %d, want %s", os.Getuid(), want)
	}
	if p.Dir == "" {
		p.Dir = "testdata/script"
	}
	p.RequireExplicitExec = true
	p.UpdateScripts = os.Getenv("UPDATE_GOLDEN") != ""
	cmds := map[string]func(*testscript.TestScript, bool, []string){"status": CmdStatus}
	for k, v := range p.Cmds {
		cmds[k] = v
	}
	p.Cmds = cmds
	testscript.Run(t, p)
}
