//go:build linux

package check

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// helperEnv marks the re-executed helper. It is removed from the
// environment before the workload runs.
const helperEnv = "SANDLOCK_CHECK_HELPER"

// The helper's inherited descriptors.
const (
	planFD   = 3 // the Plan as JSON, then EOF
	statusFD = 4 // close-on-exec: silent on a successful exec, else one errno
)

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
}

// MaybeHelper runs the enforcing helper and exits when the process was
// started as one; otherwise it returns at once. Call it first thing in main
// (and in TestMain of tests that run the check), before any goroutine work.
func MaybeHelper() {
	if os.Getenv(helperEnv) != "1" {
		return
	}
	os.Exit(helperMain())
}

func helperMain() int {
	// Landlock domains, seccomp filters and the exec all belong to one OS
	// thread; it is never unlocked, so the runtime can't move us off it.
	runtime.LockOSThread()
	status := os.NewFile(statusFD, "status")
	fail := func(code int, format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "sandlock-check: "+format+"\n", args...)
		return code
	}
	planFile := os.NewFile(planFD, "plan")
	data, err := io.ReadAll(planFile)
	planFile.Close()
	if err != nil {
		return fail(exitToolFailure, "helper: reading the plan: %v", err)
	}
	var plan Plan
	if err := json.Unmarshal(data, &plan); err != nil {
		return fail(exitToolFailure, "helper: decoding the plan: %v", err)
	}
	unix.CloseOnExec(statusFD)
	os.Unsetenv(helperEnv)

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
	filter, err := blockFilter(plan.Blocked, plan.BlockDgram)
	if err != nil {
		return fail(exitToolFailure, "%v", err)
	}
	if err := installFilter(filter); err != nil {
		return fail(exitToolFailure, "%v", err)
	}
	err = syscall.Exec(plan.Path, plan.Argv, os.Environ())
	// Still here: tell the parent why, so it can explain a Landlock refusal.
	errno, _ := err.(syscall.Errno)
	fmt.Fprintf(status, "%d", int(errno))
	status.Close()
	if errno == syscall.ENOENT {
		return fail(exitNotFound, "%s: %v", plan.Path, err)
	}
	return fail(exitCannotExec, "%s: %v", plan.Path, err)
}
