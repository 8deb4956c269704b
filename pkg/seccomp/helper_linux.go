//go:build linux && amd64

package seccomp

import (
	"encoding/binary"
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

// Environment of the re-executed helpers. The workload never sees these:
// the workload helper removes them before exec.
const (
	envHelper   = "SANDLOCK_TRACE_HELPER"   // "reaper" or "workload"
	envSyscalls = "SANDLOCK_TRACE_SYSCALLS" // comma-separated names to notify
	envSaved    = "SANDLOCK_TRACE_SAVED_"   // + NAME: "-" (unset) or "=VALUE": the workload's own NAME (helperEnv)
)

// Inherited descriptors of the helpers.
const (
	fdWorkSock = 3 // reaper and workload helper: socket to the tracer (listener, go-ahead, exec result)
	fdCtlSock  = 4 // reaper only: control socket (pids, exit status, tracer death)
)

// MaybeRunHelper turns the process into one of the helpers when it was
// started as one, and never returns then. Call it first thing in main.
func MaybeRunHelper() {
	switch os.Getenv(envHelper) {
	case "reaper":
		runReaper()
	case "workload":
		runWorkload()
	}
}

// runReaper sits between the tracer and the workload. It is the
// subreaper of the workload tree, so every orphan is re-parented to it, and
// when the tracer dies (its control socket reads EOF) it kills the whole
// tree: a workload never runs on unobserved.
func runReaper() {
	// GOGC=off is for the short-lived workload helper (helperEnv); the
	// reaper lives as long as the trace.
	debug.SetGCPercent(100)
	ctl := os.NewFile(fdCtlSock, "ctl")
	work := os.NewFile(fdWorkSock, "work")
	fail := func(format string, args ...any) {
		ctl.Write([]byte("F" + fmt.Sprintf(format, args...)))
		os.Exit(125)
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
	// The control socket is the tracer's lifeline to us alone: inherited
	// by the workload helper (and through its exec by every workload
	// process) it would let the tracer's end never read EOF when we die,
	// and let the workload talk on our channel.
	unix.CloseOnExec(fdCtlSock)
	env := setEnv(os.Environ(), envHelper, "workload")
	p, err := os.StartProcess("/proc/self/exe", os.Args, &os.ProcAttr{
		Env:   env,
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr, work},
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		fail("start workload helper: %v", err)
	}
	work.Close()
	// The workload has its stdio; ours would only hold pipes open (and a
	// reader waiting for EOF) past the end of the trace.
	if null, err := unix.Open("/dev/null", unix.O_RDWR, 0); err == nil {
		for fd := 0; fd <= 2; fd++ {
			unix.Dup2(null, fd)
		}
		unix.Close(null)
	}
	main := p.Pid
	ctl.Write([]byte("P" + strconv.Itoa(main)))

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
		}
	}
}

// runWorkload installs the filter on its own (locked) thread, hands the
// listener to the tracer, waits for the go-ahead and execs the workload.
func runWorkload() {
	runtime.LockOSThread()
	if len(os.Args) < 3 {
		os.Exit(125)
	}
	path, argv := os.Args[1], os.Args[2:]
	env := workloadEnv(os.Environ())
	var names []string
	if s := os.Getenv(envSyscalls); s != "" {
		names = strings.Split(s, ",")
	}
	report := func(msg string, code int) {
		unix.Write(fdWorkSock, []byte(msg))
		os.Exit(code)
	}
	filter, err := buildFilter(names)
	if err != nil {
		report("Fbuild filter: "+err.Error(), 125)
	}
	unix.CloseOnExec(fdWorkSock)
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		report("FPR_SET_NO_NEW_PRIVS: "+err.Error(), 125)
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}

	// Everything the hand-off needs is prepared before the filter is in
	// place: from then on, an allocation that maps memory would wait for
	// a supervisor that does not have the listener yet.
	oob := make([]byte, unix.CmsgSpace(4))
	hdr := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	hdr.Level = unix.SOL_SOCKET
	hdr.Type = unix.SCM_RIGHTS
	hdr.SetLen(unix.CmsgLen(4))
	data := oob[unix.CmsgLen(0):]
	one := []byte{'L'}
	iov := unix.Iovec{Base: &one[0]}
	iov.SetLen(1)
	msg := unix.Msghdr{Iov: &iov, Iovlen: 1, Control: &oob[0]}
	msg.SetControllen(len(oob))
	goAhead := make([]byte, 8)
	errMsg := make([]byte, 0, 64)

	// No GC (it may shrink the stack) and a stack grown in advance, so
	// the critical section cannot need fresh memory from the kernel.
	debug.SetGCPercent(-1)
	growStack(64)
	lfd, errno := installFilter(&prog, data, &msg, goAhead)
	if errno != 0 {
		errMsg = append(errMsg, 'F')
		errMsg = append(errMsg, "seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER): "...)
		errMsg = append(errMsg, errno.Error()...)
		report(string(errMsg), 125)
	}
	_ = lfd
	err = syscall.Exec(path, argv, env)
	code := 126
	if err == syscall.ENOENT {
		code = 127
	}
	en, _ := err.(syscall.Errno)
	report("E"+strconv.Itoa(int(en)), code)
}

// installFilter is the critical section: only raw syscalls, no allocation.
func installFilter(prog *unix.SockFprog, data []byte, msg *unix.Msghdr, goAhead []byte) (int, syscall.Errno) {
	flags := uintptr(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
	fd, _, errno := syscall.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(prog)))
	if errno == syscall.EINVAL {
		// Before Linux 5.19: no WAIT_KILLABLE_RECV.
		fd, _, errno = syscall.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
			unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, uintptr(unsafe.Pointer(prog)))
	}
	if errno != 0 {
		return -1, errno
	}
	binary.LittleEndian.PutUint32(data, uint32(fd))
	_, _, e := syscall.RawSyscall(unix.SYS_SENDMSG, uintptr(fdWorkSock)|handoffMagic<<32, uintptr(unsafe.Pointer(msg)), 0)
	if e != 0 {
		return -1, e
	}
	syscall.RawSyscall(unix.SYS_CLOSE, fd, 0, 0)
	for {
		n, _, e := syscall.RawSyscall(unix.SYS_READ, fdWorkSock, uintptr(unsafe.Pointer(&goAhead[0])), uintptr(len(goAhead)))
		if e == syscall.EINTR {
			continue
		}
		if e != 0 || n == 0 || goAhead[0] != 'G' {
			// The tracer went away before the go-ahead.
			syscall.RawSyscall(unix.SYS_EXIT_GROUP, 125, 0, 0)
		}
		return int(fd), 0
	}
}

// workloadEnv is the helper's environment without the helper's own
// variables, and with the workload's GODEBUG back.
// helperEnv are the Go runtime settings the helpers run with, each
// replaced by the workload's own value (or absence) at its exec:
// asynchronous preemption signals could interrupt the helper's notified
// execve over and over; one P and no GC make each helper start and exec
// faster (fewer threads for execve to kill): about 1 ms of every trace.
// The reaper turns its GC back on.
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

// workloadEnv is env without ours: the helpers' settings undone, the
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
