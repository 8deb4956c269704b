//go:build !linux

package check

import (
	"errors"
	"os"
)

// ErrNoLandlock: Landlock is Linux's.
var ErrNoLandlock = errors.New("Landlock exists on Linux only; nothing can be enforced here")

// ErrNoSupervisor: seccomp user notification is Linux's.
var ErrNoSupervisor = errors.New("seccomp user notification is not available: denials cannot be explained")

// MinSandlockABI is the oldest Landlock ABI sandlock 0.8 runs on.
const MinSandlockABI = 6

// MaybeHelper does nothing where no helper can run.
func MaybeHelper() {}

// KernelABI reports ErrNoLandlock.
func KernelABI() (int, error) { return 0, ErrNoLandlock }

// RunConfig is one confined run (see the Linux version).
type RunConfig struct {
	Policy    *Policy
	Session   *Session
	Path      string
	Argv      []string
	Dir       string
	Env       []string
	Stdin     *os.File
	Stdout    *os.File
	Stderr    *os.File
	Supervise bool
	Warn      func(string)
}

// Run reports ErrNoLandlock.
func Run(RunConfig) (int, error) { return 125, ErrNoLandlock }

func syscallNumber(string) int { return -1 }
