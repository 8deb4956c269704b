//go:build !(linux && amd64)

package seccomp

import "syscall"

// BaseSyscalls and SandlockBlocked exist for callers; nothing is notified here.
var BaseSyscalls, SandlockBlocked []string

// MaybeRunHelper does nothing where the tracer cannot run.
func MaybeRunHelper() {}

// Session is unavailable on this system.
type Session struct{}

// Start reports ErrUnsupported: the supervisor needs Linux on x86-64.
func Start(Options) (*Session, error) { return nil, ErrUnsupported }

func (*Session) Pid() int                          { return 0 }
func (*Session) ReaperPid() int                    { return 0 }
func (*Session) Exited() <-chan syscall.WaitStatus { return nil }
func (*Session) ExecResult() <-chan error          { return nil }
func (*Session) Run() error                        { return ErrUnsupported }
func (*Session) Counts() map[string]int64          { return nil }
func (*Session) Signal(syscall.Signal) error       { return ErrUnsupported }
func (*Session) KillTree(syscall.Signal) int       { return 0 }
func (*Session) Close() error                      { return nil }
func KillTree(int, syscall.Signal) int             { return 0 }
