//go:build linux

package main

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"unsafe"

	"github.com/rogpeppe/go-internal/testscript"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/sandlock-learn/sandlock-learn/internal/testutil"

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
	if _, err := check.KernelABI(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skip(err)
	}
	testutil.Scripts(t, testscript.Params{
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

// TestScriptUnprivileged re-runs TestScript as uid 65534: Landlock and the
// notifier need no privilege, and the scripts must not assume any.
func TestScriptUnprivileged(t *testing.T) {
	testutil.RerunAsNobody(t, testutil.Rerun{Run: "^TestScript$", Want: "--- PASS: TestScript/"})
}
