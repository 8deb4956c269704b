//go:build linux

package check

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sandlock-learn/sandlock-learn/pkg/seccomp"
)

// The helper's environment; it removes these before the workload runs.
const (
	helperEnv  = "SANDLOCK_CHECK_HELPER"    // "1" marks the helper
	planEnv    = "SANDLOCK_CHECK_PLAN"      // the Plan as JSON
	planFile   = "SANDLOCK_CHECK_PLAN_FILE" // or a file holding it, for a plan too large for the environment
	statusEnv  = "SANDLOCK_CHECK_STATUS"    // a close-on-exec fd: silent on a successful exec, else one errno
	godebugEnv = "SANDLOCK_CHECK_GODEBUG"   // the workload's GODEBUG: "-" (unset) or "=VALUE"
)

// The environment is the one channel that reaches the helper through
// pkg/seccomp's reaper too; execve refuses one string above 128 KiB, so a
// larger plan goes through a file named there.
const maxPlan = 120 << 10

// Exit codes of the helper itself.
const (
	exitToolFailure = 125
	exitCannotExec  = 126
	exitNotFound    = 127
)

// Plan is what the helper enforces and runs, computed by the parent.
type Plan struct {
	Path       string   `json:"path"` // the program, resolved
	Argv       []string `json:"argv"`
	Dir        string   `json:"dir,omitempty"`
	Ruleset    Ruleset  `json:"ruleset"`
	NoFile     uint64   `json:"nofile,omitempty"`
	Blocked    []uint32 `json:"blocked,omitempty"`
	BlockDgram bool     `json:"block_dgram,omitempty"`
	// Marker is a path that does not exist, opened right before the exec:
	// a supervisor watching the helper knows that what follows is the
	// workload's and no longer the helper's own start-up.
	Marker string `json:"marker,omitempty"`
}

// MaybeHelper runs the enforcing helper and exits when the process was
// started as one; otherwise it returns at once. Call it first thing in main
// (and in TestMain of tests that run the check), before any goroutine work.
//
// It also runs pkg/seccomp's reaper (MaybeRunHelper), which supervised runs
// go through on their way to ours.
func MaybeHelper() {
	seccomp.MaybeRunHelper()
	if os.Getenv(helperEnv) != "1" {
		return
	}
	os.Exit(helperMain())
}

func helperMain() int {
	// Landlock domains, seccomp filters and the exec all belong to one OS
	// thread; it is never unlocked, so the runtime can't move us off it.
	runtime.LockOSThread()
	fail := func(code int, format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "sandlock-check: "+format+"\n", args...)
		return code
	}
	var status *os.File
	if fd, err := strconv.Atoi(os.Getenv(statusEnv)); err == nil {
		unix.CloseOnExec(fd)
		status = os.NewFile(uintptr(fd), "status")
	}
	data := []byte(os.Getenv(planEnv))
	if f := os.Getenv(planFile); f != "" {
		var err error
		if data, err = os.ReadFile(f); err != nil {
			return fail(exitToolFailure, "helper: reading the plan: %v", err)
		}
	}
	var plan Plan
	if err := json.Unmarshal(data, &plan); err != nil {
		return fail(exitToolFailure, "helper: decoding the plan: %v", err)
	}
	// The helper ran with asyncpreemptoff=1: a preemption signal landing
	// in its notified execve would have it restarted over and over. The
	// workload gets its own GODEBUG back.
	if gd := os.Getenv(godebugEnv); strings.HasPrefix(gd, "=") {
		os.Setenv("GODEBUG", gd[1:])
	} else if gd == "-" {
		os.Unsetenv("GODEBUG")
	}
	for _, k := range []string{helperEnv, planEnv, planFile, statusEnv, godebugEnv} {
		os.Unsetenv(k)
	}

	if plan.Dir != "" {
		if err := os.Chdir(plan.Dir); err != nil {
			return fail(exitToolFailure, "program.cwd: %v", err)
		}
	}
	if plan.NoFile > 0 {
		// syscall.Setrlimit, not unix.Setrlimit: it also tells the runtime
		// not to restore its saved limit in syscall.Exec.
		lim := syscall.Rlimit{Cur: plan.NoFile, Max: plan.NoFile}
		var cur syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &cur); err == nil && lim.Max > cur.Max {
			// An unprivileged process cannot raise its hard limit;
			// sandlock can't either.
			lim.Max = cur.Max
			if lim.Cur > lim.Max {
				lim.Cur = lim.Max
			}
		}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fail(exitToolFailure, "limits.open_files: setrlimit: %v", err)
		}
	}
	if err := restrictSelf(plan.Ruleset); err != nil {
		return fail(exitToolFailure, "%v", err)
	}
	if auditArch != 0 {
		// Without a syscall table (other architectures) the blocklist is
		// reported as not enforced instead (Policy.Unenforced).
		filter, err := blockFilter(plan.Blocked, plan.BlockDgram)
		if err != nil {
			return fail(exitToolFailure, "%v", err)
		}
		if err := installFilter(filter); err != nil {
			return fail(exitToolFailure, "%v", err)
		}
	}
	if plan.Marker != "" {
		if fd, err := unix.Open(plan.Marker, unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
			unix.Close(fd)
		}
	}
	err := syscall.Exec(plan.Path, plan.Argv, os.Environ())
	// Still here: tell the parent why, so it can explain a Landlock refusal.
	errno, _ := err.(syscall.Errno)
	if status != nil {
		fmt.Fprintf(status, "%d", int(errno))
		status.Close()
	}
	if errno == syscall.ENOENT {
		return fail(exitNotFound, "%s: %v", plan.Path, err)
	}
	return fail(exitCannotExec, "%s: %v", plan.Path, err)
}
