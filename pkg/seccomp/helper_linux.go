//go:build linux && amd64

package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Environment of the re-executed helper. The workload never sees these:
// workloadEnv removes them.
const (
	envHelper   = "SANDLOCK_TRACE_HELPER"   // "reaper"
	envSyscalls = "SANDLOCK_TRACE_SYSCALLS" // comma-separated names to notify
	envSaved    = "SANDLOCK_TRACE_SAVED_"   // + NAME: "-" (unset) or "=VALUE": the workload's own NAME (helperEnv)
)

// Inherited descriptors of the reaper.
const (
	fdWorkSock = 3 // start-up: listener, workload start result
	fdCtlSock  = 4 // lifeline: exit status, tracer death
)

// MaybeRunHelper turns the process into the reaper helper when it was
// started as one, and never returns then. Call it first thing in main.
func MaybeRunHelper() {
	if os.Getenv(envHelper) == "reaper" {
		runReaper()
	}
}

// runReaper sits between the tracer and the workload. It is the
// subreaper of the workload tree, so every orphan is re-parented to it, and
// when the tracer dies (its control socket reads EOF) it kills the whole
// tree: a workload never runs on unobserved. It also starts the workload,
// from one thread that carries the filter (spawn).
func runReaper() {
	// Keep the main goroutine on the main thread: the thread that carries
	// the filter must be another one, one that can exit (spawn).
	runtime.LockOSThread()
	ctl := os.NewFile(fdCtlSock, "ctl")
	work := os.NewFile(fdWorkSock, "work")
	fail := func(format string, args ...any) {
		work.Write([]byte("F" + fmt.Sprintf(format, args...)))
		os.Exit(125)
	}
	if len(os.Args) < 3 {
		fail("reaper: no workload")
	}
	// Terminal signals go to the whole foreground group; the reaper must
	// outlive them (its death would kill the workload). Caught, not
	// ignored, so the workload starts with default dispositions.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	go func() {
		for range sigs {
		}
	}()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fail("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	// Both sockets are ours alone: inherited by the workload they would
	// let the tracer's ends never read EOF when we die, and let the
	// workload talk on our channels.
	unix.CloseOnExec(fdCtlSock)
	unix.CloseOnExec(fdWorkSock)

	started := make(chan spawned, 1)
	mainDone := make(chan struct{})
	go spawn(work, started, mainDone)
	sp := <-started
	main := sp.pid
	// GOGC=off is for the start-up (helperEnv); the reaper lives as long
	// as the trace.
	debug.SetGCPercent(100)
	// The workload has its stdio; ours would only hold pipes open (and a
	// reader waiting for EOF) past the end of the trace.
	if null, err := unix.Open("/dev/null", unix.O_RDWR, 0); err == nil {
		for fd := 0; fd <= 2; fd++ {
			unix.Dup2(null, fd)
		}
		unix.Close(null)
	}

	var childless atomic.Bool // every child reaped, the main one included
	reaped := make(chan struct{})
	go func() {
		buf := make([]byte, 64)
		for {
			n, err := ctl.Read(buf)
			if n == 0 || err != nil {
				break
			}
		}
		// The tracer is gone or done: nothing may run on unobserved.
		// Kill until every child is reaped, not until one walk of /proc
		// finds nobody: a walk can miss a process whose parent died
		// while it read (the orphan comes to us a moment later), and a
		// survivor would hold the workload's stdout open. Exiting only
		// once the tree is reaped also carries the workload's CPU time
		// into our wait status, hence the tracer's rusage. Bounded: a
		// task stuck in the kernel must not keep us.
		give := time.After(2 * time.Second)
		for !childless.Load() {
			KillTree(os.Getpid(), syscall.SIGKILL)
			select {
			case <-reaped:
			case <-give:
				os.Exit(0)
			case <-time.After(10 * time.Millisecond):
			}
		}
		os.Exit(0)
	}()
	if main < 0 {
		// No workload. The tracer has the reason; the main process's
		// status is what a shell gives a command it cannot run.
		if sp.code != 0 {
			ctl.Write([]byte("X" + strconv.FormatUint(uint64(sp.code)<<8, 10)))
		}
		childless.Store(true)
		close(reaped)
		select {}
	}
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			// No child left; wait for the tracer to hang up.
			childless.Store(true)
			close(reaped)
			select {}
		}
		if pid == main {
			ctl.Write([]byte("X" + strconv.FormatUint(uint64(ws), 10)))
			close(mainDone)
		}
	}
}

// spawn installs the filter on its own locked thread, hands the listener
// to the tracer and starts the workload from that thread: the child
// inherits the filter (a filter belongs to the thread that installed it
// and to what it forks), and Go forks with vfork, so no Go runtime starts
// between the reaper and the workload's exec (a second re-executed helper
// cost about 3 ms of every trace). The rest of the reaper stays unfiltered:
// the runtime never creates threads from a locked one.
//
// The thread lives until the main process has exited: PR_SET_PDEATHSIG
// fires when the thread that forked a process dies. Then the goroutine
// returns without unlocking, which ends the thread, so that the listener
// hangs up once the workload's last task is gone.
func spawn(work *os.File, started chan<- spawned, mainDone <-chan struct{}) {
	runtime.LockOSThread()
	report := func(msg string) {
		work.Write([]byte(msg))
		started <- spawned{pid: -1}
	}
	tid := unix.Gettid()
	if tid == unix.Getpid() {
		report("Freaper: the filter thread is the main thread")
		return
	}
	path, argv := os.Args[1], os.Args[2:]
	env := workloadEnv(os.Environ())
	var names []string
	if s := os.Getenv(envSyscalls); s != "" {
		names = strings.Split(s, ",")
	}
	filter, err := buildFilter(names)
	if err != nil {
		report("Fbuild filter: " + err.Error())
		return
	}
	// no_new_privs is per thread too: only this one (and what it forks)
	// gets it.
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		report("FPR_SET_NO_NEW_PRIVS: " + err.Error())
		return
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}

	// Everything the hand-off needs is prepared before the filter is in
	// place: from then on, an allocation that maps memory would wait for
	// a supervisor that does not have the listener yet. The message
	// carries this thread's id: the tracer answers its calls (the fork,
	// the runtime's mmaps) without recording them.
	oob := make([]byte, unix.CmsgSpace(4))
	hdr := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	hdr.Level = unix.SOL_SOCKET
	hdr.Type = unix.SCM_RIGHTS
	hdr.SetLen(unix.CmsgLen(4))
	data := oob[unix.CmsgLen(0):]
	payload := []byte("L" + strconv.Itoa(tid))
	iov := unix.Iovec{Base: &payload[0]}
	iov.SetLen(len(payload))
	msg := unix.Msghdr{Iov: &iov, Iovlen: 1, Control: &oob[0]}
	msg.SetControllen(len(oob))
	attr := &os.ProcAttr{
		Env:   env,
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}

	// No GC (it may shrink the stack) and a stack grown in advance, so
	// the critical section cannot need fresh memory from the kernel.
	debug.SetGCPercent(-1)
	growStack(64)
	if errno := installFilter(&prog, data, &msg); errno != 0 {
		report("Fseccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER): " + errno.Error())
		return
	}
	// From here on the tracer answers this thread's calls.
	p, err := os.StartProcess(path, argv, attr)
	if err != nil {
		var en syscall.Errno
		errors.As(err, &en)
		work.Write([]byte("E" + strconv.Itoa(int(en))))
		started <- spawned{pid: -1, code: execFailCode(en)}
		return // the thread ends: it forked nothing that lives
	}
	work.Write([]byte("S"))
	started <- spawned{pid: p.Pid}
	<-mainDone
}

// spawned is the outcome of spawn: the workload's pid, or -1 and, when
// its exec failed, the exit status a shell would give (execFailCode).
type spawned struct{ pid, code int }

// execFailCode is a shell's exit status for a command that cannot run:
// 127 when it is not there, 126 otherwise.
func execFailCode(e syscall.Errno) int {
	if e == syscall.ENOENT {
		return 127
	}
	return 126
}

// installFilter is the critical section: only raw syscalls, no allocation.
// It installs the filter on the calling thread and sends the listener.
func installFilter(prog *unix.SockFprog, data []byte, msg *unix.Msghdr) syscall.Errno {
	flags := uintptr(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
	fd, _, errno := syscall.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(prog)))
	if errno == syscall.EINVAL {
		// Before Linux 5.19: no WAIT_KILLABLE_RECV.
		fd, _, errno = syscall.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
			unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, uintptr(unsafe.Pointer(prog)))
	}
	if errno != 0 {
		return errno
	}
	binary.LittleEndian.PutUint32(data, uint32(fd))
	_, _, e := syscall.RawSyscall(unix.SYS_SENDMSG, uintptr(fdWorkSock)|handoffMagic<<32, uintptr(unsafe.Pointer(msg)), 0)
	syscall.RawSyscall(unix.SYS_CLOSE, fd, 0, 0)
	if e != 0 {
		// The tracer went away before the hand-off.
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, 125, 0, 0)
	}
	return 0
}

// helperEnv are the Go runtime settings the reaper starts with, each
// replaced by the workload's own value (or absence) at its exec:
// asynchronous preemption signals could interrupt its notified calls
// over and over; one P and no GC make it start faster. It turns its GC
// back on once the workload runs.
var helperEnv = [][2]string{{"GODEBUG", "asyncpreemptoff=1"}, {"GOMAXPROCS", "1"}, {"GOGC", "off"}}

// forHelpers returns env with helperEnv set and the values it replaces
// kept aside for workloadEnv.
func forHelpers(env []string) []string {
	for _, kv := range helperEnv {
		saved := "-"
		for _, e := range env {
			if v, ok := strings.CutPrefix(e, kv[0]+"="); ok {
				saved = "=" + v
			}
		}
		env = setEnv(env, envSaved+kv[0], saved)
		env = setEnv(env, kv[0], kv[1])
	}
	return env
}

// workloadEnv is env without ours: the reaper's settings undone, the
// workload's own back.
func workloadEnv(env []string) []string {
	out := env[:0:0]
	saved := map[string]string{}
	for _, kv := range env {
		if rest, ok := strings.CutPrefix(kv, envSaved); ok {
			if name, v, ok := strings.Cut(rest, "="); ok {
				saved[name] = v
			}
		}
	}
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if _, ours := saved[name]; ours || strings.HasPrefix(kv, "SANDLOCK_TRACE_") {
			continue
		}
		out = append(out, kv)
	}
	for _, kv := range helperEnv {
		if v := saved[kv[0]]; strings.HasPrefix(v, "=") {
			out = append(out, kv[0]+v)
		}
	}
	return out
}

func setEnv(env []string, key, val string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+val)
}

// growStack touches about n KiB of stack so the goroutine's stack is large
// before the filter is installed.
//
//go:noinline
func growStack(n int) byte {
	var pad [1024]byte
	pad[n%1024] = byte(n)
	if n > 0 {
		return growStack(n-1) + pad[0]
	}
	return pad[0]
}
