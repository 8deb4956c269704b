//go:build linux

package main

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
	"unsafe"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/sandlock-learn/sandlock-learn/pkg/check"
)

func TestMain(m *testing.M) {
	// Re-executed copies of this test binary are the enforcing helpers.
	check.MaybeHelper()
	testscript.Main(m, map[string]func(){
		name:         func() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) },
		"nolandlock": noLandlock,
	})
}

// TestScript runs the end-to-end scripts in testdata/script: real
// workloads under real Landlock, watched by the real notifier.
func TestScript(t *testing.T) {
	if want := os.Getenv("SANDLOCK_TEST_UID"); want != "" && strconv.Itoa(os.Getuid()) != want {
		t.Fatalf("running as uid %d, want %s", os.Getuid(), want)
	}
	if _, err := check.KernelABI(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skip(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Cmds:                map[string]func(*testscript.TestScript, bool, []string){"status": cmdStatus},
		Setup: func(env *testscript.Env) error {
			// The sandbox must reach the work directory: uid 65534 too.
			return os.Chmod(env.WorkDir, 0o755)
		},
	})
}

// noLandlock is "nolandlock CMD ARGS...": it runs CMD as on a kernel
// without Landlock. A seccomp filter answers landlock_create_ruleset with
// ENOSYS, which is exactly what such a kernel answers.
func noLandlock() {
	if len(os.Args) < 2 {
		os.Exit(2)
	}
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 0, Size: 4}, // seccomp_data.nr
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_LANDLOCK_CREATE_RULESET, SkipFalse: 1},
		bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		bpf.RetConstant{Val: unix.SECCOMP_RET_ALLOW},
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		panic(err)
	}
	ins := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		ins[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(ins)), Filter: &ins[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		panic(err)
	}
	// TSYNC: every thread of this Go process, so the exec inherits it
	// whichever thread runs it.
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog))); e != 0 {
		panic(e)
	}
	path, err := exec.LookPath(os.Args[1])
	if err != nil {
		panic(err)
	}
	panic(syscall.Exec(path, os.Args[1:], os.Environ()))
}

// cmdStatus is "status N CMD ARGS...": run CMD and require exit status N,
// which testscript's "! exec" (any non-zero status) cannot tell apart.
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
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

// TestScriptUnprivileged re-runs TestScript as uid 65534: Landlock and the
// notifier need no privilege, and the scripts must not assume any.
func TestScriptUnprivileged(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("not root: TestScript already ran unprivileged")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "test.bin")
	if err := copyFile(bin, self); err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestScript$", "-test.count=1", "-test.v")
	cmd.Dir = wd
	cmd.Env = append(os.Environ(), "SANDLOCK_TEST_UID=65534", "HOME="+tmp, "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: 65534, Gid: 65534},
		Pdeathsig:  syscall.SIGKILL,
		Setpgid:    true,
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("TestScript as uid 65534: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestScript/") {
		t.Fatalf("TestScript as uid 65534 ran no script:\n%s", out)
	}
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
