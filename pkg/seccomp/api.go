package seccomp

import (
	"errors"
	"os"
	"syscall"
	"time"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// Sink receives the records the supervisor observes, on its receiver
// thread, after the syscall was answered. Emit should only queue the record
// (it may block for backpressure, holding the workload back rather than
// losing events); Flush hands the queue on. The supervisor calls Flush at
// least every FlushInterval while records are queued, and when it stops, so
// a sink can batch and spare a cross-thread wake-up per record.
type Sink interface {
	Emit(event.Record)
	Flush()
}

// FlushInterval bounds how long a record waits in a Sink's queue.
const FlushInterval = 20 * time.Millisecond

// Accounting receives the calls that sandlock's resource limits count
// (pkg/peak implements it). Each is called on the receiver thread before
// the syscall is answered, so implementations must be quick.
type Accounting interface {
	// Mmap gets mmap's length, prot and flags arguments of an anonymous
	// mapping. Small private writable ones are not notified (see the
	// package doc: statm data counts them).
	Mmap(tgid int, length, prot, flags uint64)
	// Munmap is called only for lengths of at least SmallMap.
	Munmap(tgid int, addr, length uint64)
	// Mprotect is called only when prot includes PROT_WRITE.
	Mprotect(tgid int, addr, length, prot uint64)
	Brk(tgid int, addr uint64)
	Mremap(tgid int, addr, oldLen, newLen uint64)
	Fork(tgid int)
	Exec(tgid int)
	Seen(tgid int)
}

// FDAccounting is optionally implemented by an Accounting: it learns file
// descriptor numbers seen in arguments (sockets, dirfds, mapped files).
type FDAccounting interface {
	FD(tgid, fd int)
}

// Options describe the workload and what to observe.
type Options struct {
	Path   string   // resolved executable (exec.LookPath already done)
	Argv   []string // argv, argv[0] included
	Env    []string
	Dir    string
	Stdin  *os.File
	Stdout *os.File
	Stderr *os.File
	// Extra syscalls to notify and count (e.g. SandlockBlocked).
	Extra []string
	Sink  Sink
	Acct  Accounting // may be nil
	// Decide, when set, is called on the receiver thread with the records
	// of one notification (only when it produced some), after its
	// arguments were read and the notification was found still pending,
	// and before it is answered. A non-zero errno fails the syscall with
	// it (seccomp_notif_resp{error: -errno, flags: 0}) instead of letting
	// it run; the records are still emitted. It must be quick and must not
	// keep recs. Zero lets the call run (CONTINUE): the kernel then reads
	// the tracee's arguments again, so a multi-threaded tracee can change
	// them between our read and the kernel's (see the package doc).
	Decide func(recs []event.Record) syscall.Errno
}

// ErrUnsupported means the kernel offers no seccomp user notification.
var ErrUnsupported = errors.New("seccomp user notification is not available")

// ErrNested means the workload would run under another seccomp
// user-notification supervisor already (a trace inside a trace, or inside
// sandlock): the kernel allows one listener per filter chain.
var ErrNested = errors.New("this process is already under a seccomp user-notification supervisor (a trace cannot run inside another trace or inside sandlock)")

// ExecError is a workload that could not be executed; Code is 126 or 127.
type ExecError struct {
	Path string
	Err  error
	Code int
}

func (e *ExecError) Error() string { return e.Path + ": " + e.Err.Error() }

// SignaledError is a start-up that failed because a helper was killed by
// a signal (sent to the whole process group before the helper caught
// signals): the caller was most likely interrupted by the same signal.
type SignaledError struct {
	Sig syscall.Signal
	Err error
}

func (e *SignaledError) Error() string {
	return e.Err.Error() + " (killed by " + e.Sig.String() + ")"
}

func (e *SignaledError) Unwrap() error { return e.Err }
