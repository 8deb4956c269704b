//go:build linux && amd64

package seccomp

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sandlock-learn/sandlock-learn/internal/procfs"
	"github.com/sandlock-learn/sandlock-learn/pkg/event"
	"golang.org/x/sys/unix"
)

const atFDCWD = -100

// proc is what the supervisor knows about one process (thread group).
type proc struct {
	tgid         int
	dir          string // "/proc/TGID/"
	root         string // host path of the tracee's root; "" for the host root
	rootVolatile bool   // it called chroot: re-read the root every time
	pidfd        int    // for pidfd_getfd, opened on first need; -1
	threads      int
	pending      *pendingExec
	images       map[string]bool // exec-mapped paths of the current image
}

// thread maps a notifying TID to its process. Thread ids are reused
// quickly (pid_max is often 32768): each entry holds a pidfd watched by
// epoll and is dropped the moment the thread exits, so a reused id is
// always looked up afresh.
type thread struct {
	tid   int
	dir   string // "/proc/TID/"
	p     *proc
	pidfd int
	// The working directory as last read, valid while cwdAt equals
	// supervisor.cwdEpoch (see supervisor.cwd).
	cwd   string
	cwdAt uint64
}

// pendingExec is an execve whose outcome is not known yet: the result of a
// notified syscall is invisible to the supervisor. It is settled at the
// process's next notification (or a periodic check) by comparing the
// image's fingerprint.
type pendingExec struct {
	tid  int
	sys  string
	path string
	fp   fingerprint
}

// fingerprint identifies a process image by the layout exec gives it:
// /proc/PID/stat's code, stack, data, heap, argument and environment
// addresses (fields 26-28 and 45-51). With address-space randomization the
// stack start alone differs between any two images; without it, a different
// binary differs in its code and data ends, and the same one re-executed
// with other arguments or environment in their bounds. One /proc read: the
// executable's inode (a stat of /proc/PID/exe) added nothing these do not
// already tell apart, and cost a path lookup per exec and per settle.
type fingerprint struct {
	layout string
	comm   string // not compared: the fallback once the image is gone
	// The argument area of the image (fields 48 and 49), for its argv.
	argStart, argEnd uint64
}

type supervisor struct {
	s     *Session
	fd    int
	epfd  int
	sink  Sink
	acct  Accounting
	fda   FDAccounting // nil when acct does not count fds
	mem   mem
	res   *resolver
	tids  map[int]*thread
	procs map[int]*proc
	// Processes with an exec in flight.
	pending map[int]*proc
	// Threads with a rename or rmdir in flight: the directory cache is
	// suspended until each has made its next call (or exited).
	inflight   map[int]inflightCall
	staleCheck time.Time // last look for calls that ended quietly
	staleDone  int       // calls found ended that way (tests)
	// Bumped whenever a cached working directory may have changed.
	cwdEpoch uint64

	// Synchronous wake-up, see wakeSync: the flag's state in the kernel,
	// and whether the kernel has it (Linux 6.6).
	syncOn, syncGone bool
	syncOns          int // times it was switched on (tests)

	// Our own credentials, which the workload has too until one of its
	// processes changes its own (credsDiverged); see refused.
	euid, egid    uint32
	groups        map[uint32]bool
	credsDiverged bool

	// Roots: a process starts in its parent's, and only chroot,
	// pivot_root and setns change one. Until any process of the trace
	// makes one of those calls, every process has the first one's root
	// (baseRoot) and /proc/PID/root need not be read per process.
	rootsMoved bool
	baseRoot   string
	rootKnown  bool
	// uid and gid are our real, effective and saved ids when each triple
	// is one value (uidOne, gidOne): then a set*id call that names only
	// that value (or -1, "unchanged") changes nothing, see credsKept.
	uid, gid       uint32
	uidOne, gidOne bool

	nrName    map[int]string
	flagNames map[uint64][]string // openFlags's
	counts    [1024]int64

	n          notif
	first      *notif // handled before the loop waits (Session.first)
	resp       notifResp
	out        []event.Record // this notification's records (dropped if its id died)
	pre        []event.Record // records due before them (a confirmed exec), kept regardless
	queued     bool           // records were emitted since the last Flush
	flushed    time.Time      // last Flush
	sinceClock int            // notifications since the clock was read
	read       bool           // this notification read tracee memory
	warnedIO   bool
	sockBuf    [128]byte
	linkBuf    [4096]byte
	bigBuf     []byte
	procBuf    []byte // readProc's
}

type nopAcct struct{}

func (nopAcct) Mmap(int, uint64, uint64, uint64)     {}
func (nopAcct) Munmap(int, uint64, uint64)           {}
func (nopAcct) Mprotect(int, uint64, uint64, uint64) {}
func (nopAcct) Brk(int, uint64)                      {}
func (nopAcct) Mremap(int, uint64, uint64, uint64)   {}
func (nopAcct) Fork(int)                             {}
func (nopAcct) Exec(int)                             {}
func (nopAcct) Seen(int)                             {}

func newSupervisor(s *Session, names []string) *supervisor {
	sup := &supervisor{
		s: s, fd: s.listener, sink: s.opts.Sink, acct: s.opts.Acct,
		res: newResolver(), tids: map[int]*thread{}, procs: map[int]*proc{},
		pending: map[int]*proc{}, inflight: map[int]inflightCall{}, nrName: map[int]string{},
		flagNames: map[uint64][]string{},
		epfd:      -1, cwdEpoch: 1,
	}
	if sup.acct == nil {
		sup.acct = nopAcct{}
	}
	sup.euid, sup.egid = uint32(unix.Geteuid()), uint32(unix.Getegid())
	if r, e, sv := unix.Getresuid(); r == e && e == sv {
		sup.uid, sup.uidOne = uint32(r), true
	}
	if r, e, sv := unix.Getresgid(); r == e && e == sv {
		sup.gid, sup.gidOne = uint32(r), true
	}
	sup.groups = map[uint32]bool{}
	if gs, err := unix.Getgroups(); err == nil {
		for _, g := range gs {
			sup.groups[uint32(g)] = true
		}
	} else {
		sup.credsDiverged = true // cannot tell: check nothing
	}
	sup.fda, _ = sup.acct.(FDAccounting)
	for _, n := range names {
		sup.nrName[sysNums[n]] = n
	}
	if fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC); err == nil {
		sup.epfd = fd
	}
	return sup
}

func (sup *supervisor) close() {
	for _, t := range sup.tids {
		if t.pidfd >= 0 {
			unix.Close(t.pidfd)
		}
	}
	for _, p := range sup.procs {
		if p.pidfd >= 0 {
			unix.Close(p.pidfd)
		}
	}
	sup.tids, sup.procs = map[int]*thread{}, map[int]*proc{}
	sup.res.drop() // its directory descriptors
	if sup.epfd >= 0 {
		unix.Close(sup.epfd)
		sup.epfd = -1
	}
}

func (sup *supervisor) countsByName() map[string]int64 {
	m := map[string]int64{}
	for nr, c := range sup.counts {
		if c > 0 {
			name := sup.nrName[nr]
			if name == "" {
				name = "nr" + strconv.Itoa(nr)
			}
			m[name] = c
		}
	}
	return m
}

// loop is the receiver: one locked thread that polls, receives, reads,
// answers and only then hands the records on. A single receiver (rather
// than several threads blocked in RECV) cannot hang when the filter dies.
func (sup *supervisor) loop() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pfds := []unix.PollFd{{Fd: int32(sup.fd), Events: unix.POLLIN}}
	if sup.epfd >= 0 {
		pfds = append(pfds, unix.PollFd{Fd: int32(sup.epfd), Events: unix.POLLIN})
	}
	defer sup.sink.Flush()
	// With a P to spare for the other goroutines, poll and RECV bypass the
	// runtime's syscall bookkeeping: a thread that blocks in a syscall
	// thousands of times a second keeps sysmon waking every 20 us to
	// retake its P (4% of the tracer's CPU in the import storm, and a
	// context switch each on a 2-core machine). Holding the P is safe:
	// the wait is capped at rawIdle, so a stop-the-world never waits
	// longer than that even without preemption signals.
	raw := runtime.GOMAXPROCS(0) >= 2
	if sup.first != nil {
		sup.handle(sup.first)
		sup.first = nil
	}
	for {
		timeout := -1
		if len(sup.pending) > 0 {
			timeout = 10
		} else if sup.queued {
			timeout = int(FlushInterval / time.Millisecond)
		}
		pfds[0].Revents = 0
		if len(pfds) > 1 {
			pfds[1].Revents = 0
		}
		var n int
		var err error
		// Synchronous wake-up while waiting, not while answering (see
		// wakeSync).
		sup.wakeSync(true)
		if raw {
			if timeout < 0 || timeout > rawIdle {
				timeout = rawIdle
			}
			n, err = rawPoll(pfds, timeout)
		} else {
			n, err = unix.Poll(pfds, timeout)
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			sup.checkPending()
			sup.flush()
			continue
		}
		// Thread exits first: a reused thread id must not be looked up
		// in a stale entry.
		if len(pfds) > 1 && pfds[1].Revents != 0 {
			sup.reapThreads()
		}
		re := pfds[0].Revents
		if re&unix.POLLIN != 0 {
			sup.wakeSync(false)
			switch e := recvNotif(sup.fd, &sup.n, raw); e {
			case 0:
				sup.handle(&sup.n)
			case unix.ENOENT, unix.EINTR:
				// The task died or the syscall was interrupted; it is
				// notified again with a new id if it is restarted.
			default:
				return e
			}
			continue
		}
		if re&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
			// No task is left under the filter.
			sup.checkPending()
			return nil
		}
	}
}

// wakeSync switches SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP. The flag acts
// twice: a notifying task wakes the waiting receiver on its own CPU (and
// yields that CPU to it), and the answer wakes the task on the receiver's
// CPU. The first is what makes a serial workload's round trip cheap. The
// second is wrong for a task that notified from the other CPU while the
// receiver was busy: it is pulled over, and under make -j2 both compilers
// piled onto one core while the other idled. So the loop turns the flag on
// before it waits and off before it answers. Measured with a minimal C
// supervisor (medians of 5-7 runs; native 1.55 s and 0.07 s):
//
//	                                  make -j2   open storm (5,000 files)
//	flag always on                     2.79 s     0.107 s
//	flag always off                    1.81 s     0.320 s
//	on while waiting, off to answer    1.86 s     0.104 s
//
// In sandlock-trace's bench: build 1.66x -> 1.20-1.27x of native, the open
// storm unchanged within noise. Two ioctls per notification (about 0.3 us
// each) buy both.
func (sup *supervisor) wakeSync(on bool) {
	if sup.syncOn == on || sup.syncGone {
		return
	}
	var v uintptr
	if on {
		v = unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
	}
	// The ioctl takes the flag value itself, not a pointer.
	if _, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(sup.fd), unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS, v); e != 0 {
		sup.syncGone = true // older kernel: plain wake-ups throughout
		return
	}
	sup.syncOn = on
	if on {
		sup.syncOns++
	}
}

func (sup *supervisor) reapThreads() {
	var evs [64]unix.EpollEvent
	for {
		n, err := unix.EpollWait(sup.epfd, evs[:], 0)
		if err == unix.EINTR {
			continue
		}
		if n <= 0 {
			return
		}
		for _, ev := range evs[:n] {
			tid := int(ev.Fd)
			t := sup.tids[tid]
			if t == nil || t.pidfd != int(ev.Pad) {
				continue // not ours any more (closed fds leave epoll by themselves)
			}
			sup.dropThread(t)
		}
		if n < len(evs) {
			return
		}
	}
}

func (sup *supervisor) dropThread(t *thread) {
	if t.pidfd >= 0 {
		unix.EpollCtl(sup.epfd, unix.EPOLL_CTL_DEL, t.pidfd, nil)
		unix.Close(t.pidfd)
	}
	delete(sup.tids, t.tid)
	if _, ok := sup.inflight[t.tid]; ok {
		sup.settleInflight(t.tid)
	}
	p := t.p
	p.threads--
	if p.threads <= 0 && sup.procs[p.tgid] == p {
		if p.pending != nil {
			sup.settle(p, -1)
		}
		delete(sup.procs, p.tgid)
		delete(sup.pending, p.tgid)
		if p.pidfd >= 0 {
			unix.Close(p.pidfd)
		}
	}
}

// thread looks up (or learns) the notifying thread.
func (sup *supervisor) thread(tid int) *thread {
	if t := sup.tids[tid]; t != nil {
		return t
	}
	dir := "/proc/" + strconv.Itoa(tid) + "/"
	// A process pidfd opens only for a thread-group leader: then the
	// thread is its own process (the common case) and /proc/TID/status
	// need not be read. Its pid cannot be reused while the group lives,
	// so the pidfd's readiness at the group's exit is the right moment to
	// forget it.
	tgid, pidfd := -1, -1
	if fd, err := unix.PidfdOpen(tid, 0); err == nil {
		tgid, pidfd = tid, fd
	} else {
		tgid = sup.readTgid(dir + "status")
		if tgid <= 0 {
			return nil
		}
		if fd, err := unix.PidfdOpen(tid, unix.PIDFD_THREAD); err == nil {
			pidfd = fd
		}
	}
	p := sup.procs[tgid]
	if p == nil {
		p = &proc{tgid: tgid, dir: "/proc/" + strconv.Itoa(tgid) + "/", pidfd: -1}
		if sup.rootKnown && !sup.rootsMoved {
			p.root = sup.baseRoot
		} else {
			p.root = sup.readRoot(p)
			if !sup.rootsMoved {
				sup.baseRoot, sup.rootKnown = p.root, true
			}
		}
		sup.procs[tgid] = p
	}
	t := &thread{tid: tid, dir: dir, p: p, pidfd: -1}
	if pidfd >= 0 {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(tid), Pad: int32(pidfd)}
		if sup.epfd >= 0 && unix.EpollCtl(sup.epfd, unix.EPOLL_CTL_ADD, pidfd, &ev) == nil {
			t.pidfd = pidfd
		} else {
			unix.Close(pidfd)
		}
	}
	p.threads++
	sup.tids[tid] = t
	return t
}

func (sup *supervisor) readTgid(path string) int {
	b, err := sup.readProc(path)
	if err != nil {
		return -1
	}
	i := bytes.Index(b, []byte("\nTgid:"))
	if i < 0 {
		return -1
	}
	rest := b[i+6:]
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(rest)))
	if err != nil {
		return -1
	}
	return n
}

func (sup *supervisor) readRoot(p *proc) string {
	n, err := unix.Readlink(p.dir+"root", sup.linkBuf[:])
	if err != nil || n == 0 {
		return ""
	}
	r := string(sup.linkBuf[:n])
	if r == "/" {
		return ""
	}
	return r
}

func (sup *supervisor) handle(n *notif) {
	id := n.id
	if sup.s.answerReaper(n, &sup.resp) {
		return
	}
	nr := int(n.nr)
	a := n.args
	if nr >= 0 && nr < len(sup.counts) {
		sup.counts[nr]++
	}
	t := sup.thread(int(n.pid))
	if t == nil {
		sendContinue(sup.fd, &sup.resp, id)
		return
	}
	p := t.p
	sup.out = sup.out[:0]
	sup.pre = sup.pre[:0]
	sup.read = false
	if len(sup.inflight) > 0 {
		if _, ok := sup.inflight[t.tid]; ok {
			sup.settleInflight(t.tid)
		}
		sup.settleQuiet()
	}
	if p.rootVolatile {
		p.root = sup.readRoot(p)
	}
	sup.acct.Seen(p.tgid)
	if p.pending != nil {
		sup.settle(p, t.tid)
	}

	switch nr {
	case unix.SYS_OPEN:
		sup.open(t, "open", atFDCWD, a[0], a[1])
	case unix.SYS_OPENAT:
		sup.open(t, "openat", int32(a[0]), a[1], a[2])
	case unix.SYS_OPENAT2:
		// struct open_how {flags, mode, resolve u64}: a smaller size is
		// EINVAL in the kernel, so nothing is opened.
		var how [24]byte
		if a[3] < uint64(len(how)) {
			break
		}
		sup.read = true
		if err := sup.mem.read(t.tid, a[2], how[:]); err != nil {
			sup.warnRead(t, "openat2", err)
			break
		}
		if rf := u64(how[16:]); rf&(resolveNoXdev|resolveNoMagiclinks|resolveNoSymlinks|resolveBeneath|resolveInRoot) != 0 {
			sup.openHow(t, int32(a[0]), a[1], u64(how[:]), rf)
			break
		}
		sup.open(t, "openat2", int32(a[0]), a[1], u64(how[:]))
	case unix.SYS_CREAT:
		sup.open(t, "creat", atFDCWD, a[0], oCREAT|oWRONLY|oTRUNC)
	case unix.SYS_EXECVE:
		sup.exec(t, "execve", atFDCWD, a[0], 0)
	case unix.SYS_EXECVEAT:
		sup.exec(t, "execveat", int32(a[0]), a[1], a[4])
	case unix.SYS_MKDIR:
		sup.pathOp(t, "mkdir", event.OpMkdir, atFDCWD, a[0], false, 0)
	case unix.SYS_MKDIRAT:
		sup.pathOp(t, "mkdirat", event.OpMkdir, int32(a[0]), a[1], false, 0)
	case unix.SYS_MKNOD:
		sup.pathOp(t, "mknod", event.OpMknod, atFDCWD, a[0], false, 0)
	case unix.SYS_MKNODAT:
		sup.pathOp(t, "mknodat", event.OpMknod, int32(a[0]), a[1], false, 0)
	case unix.SYS_UNLINK:
		sup.remove(t, "unlink", atFDCWD, a[0], false)
	case unix.SYS_UNLINKAT:
		sup.remove(t, "unlinkat", int32(a[0]), a[1], a[2]&unix.AT_REMOVEDIR != 0)
	case unix.SYS_RMDIR:
		sup.remove(t, "rmdir", atFDCWD, a[0], true)
	case unix.SYS_RENAME:
		sup.rename(t, "rename", atFDCWD, a[0], atFDCWD, a[1])
	case unix.SYS_RENAMEAT, unix.SYS_RENAMEAT2:
		sup.rename(t, sup.nrName[nr], int32(a[0]), a[1], int32(a[2]), a[3])
	case unix.SYS_LINK:
		sup.link(t, "link", atFDCWD, a[0], atFDCWD, a[1], 0)
	case unix.SYS_LINKAT:
		sup.link(t, "linkat", int32(a[0]), a[1], int32(a[2]), a[3], a[4])
	case unix.SYS_SYMLINK:
		sup.pathOp(t, "symlink", event.OpSymlink, atFDCWD, a[1], false, 0)
	case unix.SYS_SYMLINKAT:
		sup.pathOp(t, "symlinkat", event.OpSymlink, int32(a[1]), a[2], false, 0)
	case unix.SYS_TRUNCATE:
		sup.pathOp(t, "truncate", event.OpTruncate, atFDCWD, a[0], true, 0)
	case unix.SYS_CONNECT:
		sup.noteFD(t, int(int32(a[0])))
		sup.sock(t, "connect", "connect", int(int32(a[0])), a[1], a[2], -1)
	case unix.SYS_BIND:
		sup.noteFD(t, int(int32(a[0])))
		sup.sock(t, "bind", "bind", int(int32(a[0])), a[1], a[2], -1)
	case unix.SYS_SENDTO:
		sup.noteFD(t, int(int32(a[0])))
		sup.sock(t, "sendto", "send", int(int32(a[0])), a[4], a[5], -1)
	case unix.SYS_SENDMSG:
		sup.noteFD(t, int(int32(a[0])))
		sup.sendmsg(t, int(int32(a[0])), a[1])
	case unix.SYS_SENDMMSG:
		sup.noteFD(t, int(int32(a[0])))
		sup.sendmmsg(t, int(int32(a[0])), a[1], a[2])
	case unix.SYS_SOCKET: // notified only on request (Options.Extra)
		sup.socketCall(t, a[0], a[1], a[2])
	case unix.SYS_MMAP:
		if a[3]&unix.MAP_ANONYMOUS != 0 {
			sup.acct.Mmap(p.tgid, a[1], a[2], a[3])
		} else if a[2]&unix.PROT_EXEC != 0 {
			sup.execMap(t, int(int32(a[4])))
		}
	case unix.SYS_MUNMAP:
		sup.acct.Munmap(p.tgid, a[0], a[1])
	case unix.SYS_MPROTECT:
		sup.acct.Mprotect(p.tgid, a[0], a[1], a[2])
	case unix.SYS_BRK:
		sup.acct.Brk(p.tgid, a[0])
	case unix.SYS_MREMAP:
		sup.acct.Mremap(p.tgid, a[0], a[1], a[2])
	case unix.SYS_CLONE, unix.SYS_FORK, unix.SYS_VFORK:
		if nr == unix.SYS_CLONE && a[0]&unix.CLONE_NEWUSER != 0 {
			sup.credsDiverged = true
		}
		sup.acct.Fork(p.tgid)
	case unix.SYS_CLONE3:
		var fl [8]byte
		sup.read = true
		err := sup.mem.read(t.tid, a[0], fl[:])
		if err != nil || u64(fl[:])&unix.CLONE_NEWUSER != 0 {
			sup.credsDiverged = true
		}
		if err == nil && u64(fl[:])&unix.CLONE_THREAD == 0 {
			sup.acct.Fork(p.tgid)
		}
	case unix.SYS_SETUID, unix.SYS_SETGID, unix.SYS_SETREUID, unix.SYS_SETREGID,
		unix.SYS_SETRESUID, unix.SYS_SETRESGID, unix.SYS_SETFSUID, unix.SYS_SETFSGID,
		unix.SYS_SETGROUPS, unix.SYS_CAPSET:
		// Whether or not it succeeds, the workload's credentials may no
		// longer be ours: file permissions are not judged from here on,
		// unless the call cannot change them.
		if !sup.credsKept(nr, a) {
			sup.credsDiverged = true
		}
	case unix.SYS_UNSHARE:
		if a[0]&unix.CLONE_NEWUSER != 0 {
			sup.credsDiverged = true
		}
	case unix.SYS_CHROOT:
		// Paths after a chroot resolve in the new root; the call's
		// outcome is unknown here, so the root is re-read from now on.
		p.rootVolatile = true
		sup.rootsMoved = true
		sup.invalidate(t.tid)
	case unix.SYS_CHDIR, unix.SYS_FCHDIR, unix.SYS_SETNS, unix.SYS_PIVOT_ROOT:
		if nr == unix.SYS_SETNS {
			sup.credsDiverged = true // a user namespace, perhaps
		}
		if nr == unix.SYS_SETNS || nr == unix.SYS_PIVOT_ROOT {
			sup.rootsMoved = true // roots of new processes are read again
		}
		// The working directory may change (setns into a mount
		// namespace and pivot_root move it too), for every process
		// sharing it: cached ones are dropped, and not cached again
		// until this call is over.
		sup.invalidate(t.tid)
	case unix.SYS_IO_URING_SETUP:
		sup.out = append(sup.out, &event.Warning{
			Msg: "io_uring was set up: file and socket operations submitted through io_uring are invisible to the trace",
			PID: p.tgid,
		})
	}
	// If the task died or the call was interrupted, what we read may not
	// be what the kernel will use (a restarted call comes back with a new
	// id). A Decide hook must judge only what was read from the live task,
	// so it gets an explicit check; otherwise the answer itself tells (a
	// CONTINUE for a gone id fails with ENOENT), one ioctl less per call.
	if sup.read && sup.s.opts.Decide != nil && !idValid(sup.fd, &id) {
		sup.out = sup.out[:0]
	}
	if d := sup.s.opts.Decide; d != nil && len(sup.out) > 0 {
		if e := d(sup.out); e != 0 {
			sendErrno(sup.fd, &sup.resp, id, e)
		} else {
			sendContinue(sup.fd, &sup.resp, id)
		}
	} else if sendContinue(sup.fd, &sup.resp, id) == unix.ENOENT && sup.read {
		sup.out = sup.out[:0]
	}
	if len(sup.out) > 0 || len(sup.pre) > 0 {
		for _, r := range sup.pre {
			sup.sink.Emit(r)
		}
		for _, r := range sup.out {
			sup.sink.Emit(r)
		}
		// Reading the clock costs more than it should in a VM: look at
		// it every 64 notifications only (an idle loop flushes on its
		// poll timeout anyway).
		if !sup.queued {
			sup.queued = true
			sup.flushed = time.Now()
			sup.sinceClock = 0
		} else if sup.sinceClock++; sup.sinceClock >= 64 {
			sup.sinceClock = 0
			if time.Since(sup.flushed) >= FlushInterval {
				sup.flush()
			}
		}
	}
}

func (sup *supervisor) flush() {
	if sup.queued {
		sup.sink.Flush()
		sup.queued = false
	}
}

func (sup *supervisor) warnRead(t *thread, sys string, err error) {
	sup.out = append(sup.out, &event.Warning{Msg: "cannot read the arguments of " + sys + ": " + err.Error(), PID: t.p.tgid})
}

// readPath reads a path argument and resolves it like the kernel would
// for thread t: relative to dirfd (AT_FDCWD: the cwd) and in the
// tracee's root.
func (sup *supervisor) readPath(t *thread, sys string, dirfd int32, addr uint64, follow, emptyPath bool) (string, resolved, bool) {
	raw, ok := sup.readPathArg(t, sys, addr)
	if !ok {
		return "", resolved{}, false
	}
	if raw == "" {
		if !emptyPath {
			return "", resolved{}, false // ENOENT in the tracee
		}
		p, ok := sup.fdPath(t, dirfd)
		if !ok {
			return "", resolved{}, false
		}
		return raw, sup.res.resolve(t.p.root, p, follow, t.p.tgid, t.tid), true
	}
	full := raw
	if raw[0] != '/' {
		base, ok := sup.dirBase(t, dirfd)
		if !ok {
			return "", resolved{}, false
		}
		if base == "/" {
			full = "/" + raw
		} else {
			full = base + "/" + raw
		}
	}
	return raw, sup.res.resolve(t.p.root, full, follow, t.p.tgid, t.tid), true
}

// readPathArg reads the path argument at addr ("" for an empty one); a
// path the kernel would refuse as too long is not read, and a fault is
// reported as a warning.
func (sup *supervisor) readPathArg(t *thread, sys string, addr uint64) (string, bool) {
	sup.read = true
	raw, err := sup.mem.readString(t.tid, addr, 4096)
	if err != nil {
		if err != syscall.ENAMETOOLONG {
			sup.warnRead(t, sys, err)
		}
		return "", false
	}
	return raw, true
}

// dirBase is the directory a relative path of t starts from: its working
// directory for AT_FDCWD, else what dirfd names; ok is false when that is
// not a directory path (a pipe, a socket, a closed fd).
func (sup *supervisor) dirBase(t *thread, dirfd int32) (string, bool) {
	var base string
	var ok bool
	if dirfd == atFDCWD {
		base, ok = sup.cwd(t)
	} else {
		base, ok = sup.fdPath(t, dirfd)
	}
	return base, ok && base != "" && base[0] == '/'
}

// followFinal says whether an open with these flags follows a symlink in
// the final component (not with O_NOFOLLOW, nor with O_CREAT|O_EXCL).
func followFinal(flags uint64) bool {
	return flags&oNOFOLLOW == 0 && !(flags&oCREAT != 0 && flags&oEXCL != 0)
}

// link reads /proc/TID/NAME (a magic link) as a path in the tracee's root.
func (sup *supervisor) procLink(t *thread, name string) (string, bool) {
	n, err := unix.Readlink(t.dir+name, sup.linkBuf[:])
	if err != nil || n == 0 {
		return "", false
	}
	s := string(sup.linkBuf[:n])
	if root := t.p.root; root != "" && s[0] == '/' {
		if s == root {
			return "/", true
		}
		if strings.HasPrefix(s, root+"/") {
			s = s[len(root):]
		}
	}
	return s, true
}

// cwd is the thread's working directory. Reading /proc/TID/cwd was a
// sixth of the receiver's time in the open storm (relative opens), so the
// answer is kept per thread (a thread can have its own after
// unshare(CLONE_FS)) until anything that could change it: chdir, fchdir,
// chroot, setns and pivot_root by any process (processes can share a
// working directory through clone(CLONE_FS)), and rename and rmdir, which
// can change its name. Each of these bumps cwdEpoch, and while one is in
// flight nothing is cached (see invalidate).
func (sup *supervisor) cwd(t *thread) (string, bool) {
	if t.cwdAt == sup.cwdEpoch {
		return t.cwd, true
	}
	s, ok := sup.procLink(t, "cwd")
	if ok && len(sup.inflight) == 0 && !t.p.rootVolatile {
		t.cwd, t.cwdAt = s, sup.cwdEpoch
	}
	return s, ok
}

func (sup *supervisor) noteFD(t *thread, fd int) {
	if sup.fda != nil && fd >= 0 {
		sup.fda.FD(t.p.tgid, fd)
	}
}

func (sup *supervisor) fdPath(t *thread, fd int32) (string, bool) {
	sup.noteFD(t, int(fd))
	return sup.procLink(t, "fd/"+strconv.Itoa(int(fd)))
}

func (sup *supervisor) fsEvent(t *thread, sys, op, raw string, r resolved, flags []string) {
	ev := &event.FS{PID: t.p.tgid, Syscall: sys, Op: op, Path: r.path, Flags: flags, Existed: r.exists, Dir: r.dir}
	if raw != r.path {
		ev.Raw = raw
	}
	sup.out = append(sup.out, ev)
}

func (sup *supervisor) open(t *thread, sys string, dirfd int32, addr, flags uint64) {
	if flags&oPATH != 0 {
		// O_PATH opens neither read nor write nor list: Landlock asks
		// no right for them (openat2 gets here; the filter keeps the
		// others away).
		return
	}
	raw, r, ok := sup.readPath(t, sys, dirfd, addr, followFinal(flags), false)
	if !ok {
		return
	}
	sup.openEvent(t, sys, raw, r, flags)
}

// openHow is openat2 with RESOLVE_* bits that change the lookup
// (resolver.resolveHow): a lookup they refuse records nothing.
func (sup *supervisor) openHow(t *thread, dirfd int32, addr, flags, how uint64) {
	if flags&oPATH != 0 {
		return // as in open
	}
	raw, ok := sup.readPathArg(t, "openat2", addr)
	if !ok || raw == "" {
		return // unreadable, or ENOENT in the tracee
	}
	base := "/"
	if raw[0] != '/' || how&(resolveBeneath|resolveInRoot) != 0 {
		if base, ok = sup.dirBase(t, dirfd); !ok {
			return
		}
	}
	r, ok := sup.res.resolveHow(t.p.root, base, raw, followFinal(flags), how, t.p.tgid, t.tid)
	if !ok {
		return
	}
	sup.openEvent(t, "openat2", raw, r, flags)
}

// openEvent records an open of r with open flags; a final symlink the
// call does not follow fails it (ELOOP for O_NOFOLLOW, EEXIST for
// O_CREAT|O_EXCL), so it records nothing.
func (sup *supervisor) openEvent(t *thread, sys, raw string, r resolved, flags uint64) {
	if r.link {
		return
	}
	if flags&oCREAT != 0 && flags&oTMPFILE != oTMPFILE && (r.dir || !endsInName(raw)) {
		// O_CREAT on a directory, or on a path ending in "/", "." or
		// "..", creates and opens nothing (EISDIR, or ENOENT for a
		// missing parent): recording it as a create would grant
		// writing into the parent.
		return
	}
	var op string
	switch {
	case flags&oTMPFILE == oTMPFILE:
		op = event.OpCreate // an unnamed file in the directory
	case flags&oCREAT != 0 && !r.exists:
		op = event.OpCreate
	case flags&oACCMODE != 0:
		op = event.OpWrite
	case flags&oDIRECTORY != 0 || r.dir:
		op = event.OpReaddir
	default:
		op = event.OpRead
	}
	if op != event.OpCreate {
		need := uint32(unix.R_OK)
		switch flags & oACCMODE {
		case unix.O_WRONLY:
			need = unix.W_OK
		case unix.O_RDWR:
			need = unix.R_OK | unix.W_OK
		}
		if sup.refused(t, r, need) {
			return
		}
	}
	sup.fsEvent(t, sys, op, raw, r, sup.openFlags(flags))
}

// endsInName says whether path ends in a name: not in "/", and its last
// component is neither "." nor "..".
func endsInName(path string) bool {
	if path == "" || path[len(path)-1] == '/' {
		return false
	}
	last := path[strings.LastIndexByte(path, '/')+1:]
	return last != "." && last != ".."
}

// openFlags is OpenFlags, one shared slice per flags value (a workload
// uses a handful): records must not modify their Flags. Its capacity is
// its length, so an append copies.
func (sup *supervisor) openFlags(f uint64) []string {
	if s, ok := sup.flagNames[f]; ok {
		return s
	}
	s := OpenFlags(f)
	s = s[:len(s):len(s)]
	if len(sup.flagNames) < 256 {
		sup.flagNames[f] = s
	}
	return s
}

// setidCalls are the set*id calls credsKept judges: how many ids they take
// and whether those are group ids.
var setidCalls = map[int]struct {
	ids int
	gid bool
}{
	unix.SYS_SETUID: {1, false}, unix.SYS_SETFSUID: {1, false},
	unix.SYS_SETREUID: {2, false}, unix.SYS_SETRESUID: {3, false},
	unix.SYS_SETGID: {1, true}, unix.SYS_SETFSGID: {1, true},
	unix.SYS_SETREGID: {2, true}, unix.SYS_SETRESGID: {3, true},
}

// credsKept says whether set*id call nr with arguments a leaves the
// workload's credentials as they are, while they are still ours: every id
// it names is the one value our real, effective and saved ids (and so the
// filesystem id) already have, or -1 ("unchanged"). GNU make's
// posix_spawn makes such a call in every child (setresuid(-1, getuid(),
// -1) and the same for gids, POSIX_SPAWN_RESETIDS); taking it for a change
// stopped every later permission check of an unprivileged build. Groups
// and capabilities are not compared: setgroups and capset always count.
func (sup *supervisor) credsKept(nr int, a [6]uint64) bool {
	c, ok := setidCalls[nr]
	if !ok || sup.credsDiverged {
		return false
	}
	id, one := sup.uid, sup.uidOne
	if c.gid {
		id, one = sup.gid, sup.gidOne
	}
	if !one {
		return false
	}
	for _, v := range a[:c.ids] {
		// The kernel takes a 32-bit id; -1 leaves that id alone (for
		// setuid, an invalid id: EINVAL, nothing changes).
		if u := uint32(v); u != id && u != ^uint32(0) {
			return false
		}
	}
	return true
}

// refused says whether the file permissions of the existing file r refuse
// the access need (R_OK, W_OK, X_OK bits) to the workload: then the kernel
// fails the call with EACCES, the workload gets nothing, and the profile
// must not grant it either (a program probing /etc/shadow would otherwise
// get a read rule for it). The workload's credentials are ours until one
// of its processes changes its own (credsDiverged); from then on, and as
// root (which file permissions do not stop), nothing is refused here and
// every attempt is recorded, as before. Only a refusal that
// faccessat2(AT_EACCESS) confirms counts (ACLs, capabilities, LSMs); the
// mode bits only spare that syscall when they allow.
func (sup *supervisor) refused(t *thread, r resolved, need uint32) bool {
	if sup.credsDiverged || sup.euid == 0 || !r.exists {
		return false
	}
	if r.stOK {
		bits := r.mode & 7
		switch {
		case r.ownerUID == sup.euid:
			bits = r.mode >> 6 & 7
		case r.gid == sup.egid || sup.groups[r.gid]:
			bits = r.mode >> 3 & 7
		}
		if bits&need == need {
			return false
		}
	}
	return unix.Faccessat2(unix.AT_FDCWD, t.p.root+r.path, need, unix.AT_EACCESS) == unix.EACCES
}

func (sup *supervisor) pathOp(t *thread, sys, op string, dirfd int32, addr uint64, follow bool, _ int) {
	raw, r, ok := sup.readPath(t, sys, dirfd, addr, follow, false)
	if ok {
		sup.fsEvent(t, sys, op, raw, r, nil)
	}
}

func (sup *supervisor) remove(t *thread, sys string, dirfd int32, addr uint64, isDir bool) {
	op := event.OpRemove
	if isDir {
		op = event.OpRmdir
	}
	raw, r, ok := sup.readPath(t, sys, dirfd, addr, false, false)
	if !ok {
		return
	}
	if isDir || r.link {
		// A removed directory or symlink may be part of cached paths.
		sup.invalidate(t.tid)
	}
	sup.fsEvent(t, sys, op, raw, r, nil)
}

func (sup *supervisor) rename(t *thread, sys string, ofd int32, oaddr uint64, nfd int32, naddr uint64) {
	raw, r, ok := sup.readPath(t, sys, ofd, oaddr, false, false)
	if !ok {
		return
	}
	sup.invalidate(t.tid)
	raw2, r2, ok := sup.readPath(t, sys, nfd, naddr, false, false)
	if !ok {
		return
	}
	sup.fsEvent(t, sys, event.OpRenameFrom, raw, r, nil)
	sup.fsEvent(t, sys, event.OpRenameTo, raw2, r2, nil)
}

func (sup *supervisor) link(t *thread, sys string, ofd int32, oaddr uint64, nfd int32, naddr uint64, flags uint64) {
	raw, r, ok := sup.readPath(t, sys, ofd, oaddr, flags&unix.AT_SYMLINK_FOLLOW != 0, flags&unix.AT_EMPTY_PATH != 0)
	if !ok {
		return
	}
	raw2, r2, ok := sup.readPath(t, sys, nfd, naddr, false, false)
	if !ok {
		return
	}
	sup.fsEvent(t, sys, event.OpLinkFrom, raw, r, nil)
	sup.fsEvent(t, sys, event.OpLinkTo, raw2, r2, nil)
}

// invalidate drops the directory cache and the cached working directories
// and keeps them off until the thread has finished the call (its next
// notification or its exit): a lookup in between could cache what is
// about to change.
func (sup *supervisor) invalidate(tid int) {
	sup.res.drop()
	sup.res.off = true
	sup.inflight[tid] = inflightCall{nr: int(sup.n.nr), at: time.Now()}
	sup.cwdEpoch++
}

// inflightCall is a notified rename, rmdir, chdir (...) let through: the
// caches stay off until it is over.
type inflightCall struct {
	nr int
	at time.Time
}

// quietAfter is how long a call may be in flight before the receiver
// looks whether its thread is still in it.
const quietAfter = 20 * time.Millisecond

// settleQuiet ends the in-flight calls whose thread has left them without
// making another notified call: a shell that runs cd and then only waits
// for its children, a program that renames a file and then computes.
// Waiting for their next call or their exit would keep every cache off
// meanwhile, for the whole tree. A thread still blocked in the same
// syscall (/proc/TID/syscall) keeps its call in flight; one that shows
// "running" 20 ms later is taken to have finished it (these calls do not
// compute for that long).
func (sup *supervisor) settleQuiet() {
	now := time.Now()
	if now.Sub(sup.staleCheck) < quietAfter/2 {
		return
	}
	sup.staleCheck = now
	for tid, c := range sup.inflight {
		if now.Sub(c.at) < quietAfter {
			continue
		}
		if nr, ok := blockedIn(tid); ok && nr == c.nr {
			continue
		}
		sup.staleDone++
		sup.settleInflight(tid)
	}
}

// blockedIn reads the syscall a thread is blocked in: its number, -1 when
// it is running or blocked outside a syscall, ok false when it is gone.
func blockedIn(tid int) (int, bool) {
	var buf [128]byte
	f, err := procfs.ReadFile("/proc/"+strconv.Itoa(tid)+"/syscall", buf[:0])
	if err != nil || len(f) == 0 {
		return -1, false
	}
	if i := bytes.IndexByte(f, ' '); i >= 0 {
		f = f[:i]
	}
	nr, err := strconv.Atoi(string(bytes.TrimSpace(f)))
	if err != nil {
		return -1, true // "running"
	}
	return nr, true
}

func (sup *supervisor) settleInflight(tid int) {
	delete(sup.inflight, tid)
	sup.res.drop()
	sup.cwdEpoch++
	if len(sup.inflight) == 0 {
		sup.res.off = false
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
