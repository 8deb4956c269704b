//go:build linux && amd64

package seccomp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sandlock-learn/sandlock-learn/internal/procfs"
	"golang.org/x/sys/unix"
)

// Session is one traced workload.
type Session struct {
	opts     Options
	helper   *exec.Cmd
	ctl      *os.File // control socket to the reaper
	work     *os.File // start-up socket to the reaper
	listener int
	reaper   int
	// The reaper's thread that carries the filter and forks the
	// workload: its calls are answered, never recorded.
	reaperTid   int
	reaperCalls int // its calls answered (tests)
	main        int
	first       *notif // the workload's first call, held for Run

	exitCh  chan syscall.WaitStatus
	execErr chan error

	sup *supervisor
}

// Start launches the reaper, takes the listener and waits for the
// workload's first notified call, its execve, which is held until Run.
func Start(o Options) (*Session, error) { return StartContext(context.Background(), o) }

// StartContext is Start that gives up when ctx is done (a signal to the
// tracer during start-up): the reaper is killed and reaped, and the
// error wraps ctx.Err(). Start-up never outlives the reaper either: every
// read in the hand-off ends with EOF when the peer dies.
func StartContext(ctx context.Context, o Options) (*Session, error) {
	if o.Sink == nil {
		return nil, errors.New("seccomp: Options.Sink is nil")
	}
	names := append(append([]string(nil), BaseSyscalls...), o.Extra...)
	if _, err := buildFilter(names); err != nil {
		return nil, err
	}
	work, err := socketpair()
	if err != nil {
		return nil, err
	}
	ctl, err := socketpair()
	if err != nil {
		work[0].Close()
		work[1].Close()
		return nil, err
	}
	env := setEnv(o.Env, envHelper, "reaper")
	env = setEnv(env, envSyscalls, strings.Join(names, ","))
	env = forHelpers(env)

	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       append([]string{o.Path}, o.Argv...),
		Env:        env,
		Dir:        o.Dir,
		Stdin:      o.Stdin,
		Stdout:     o.Stdout,
		Stderr:     o.Stderr,
		ExtraFiles: []*os.File{work[1], ctl[1]},
	}
	cmd.Args = append([]string{"sandlock-trace-helper"}, cmd.Args...)
	err = cmd.Start()
	work[1].Close()
	ctl[1].Close()
	if err != nil {
		work[0].Close()
		ctl[0].Close()
		return nil, fmt.Errorf("start helper: %w", err)
	}
	s := &Session{
		opts: o, helper: cmd, ctl: ctl[0], work: work[0], listener: -1,
		reaper:  cmd.Process.Pid,
		exitCh:  make(chan syscall.WaitStatus, 1),
		execErr: make(chan error, 1),
	}
	// A cancelled start-up unblocks the reads below through their
	// deadlines (the files go through the poller); Close from another
	// goroutine would race with fail's.
	stop, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-ctx.Done():
			past := time.Unix(1, 0)
			s.ctl.SetReadDeadline(past)
			s.work.SetReadDeadline(past)
		case <-stop:
		}
	}()
	var once sync.Once
	endWatch := func() { once.Do(func() { close(stop); <-watched }) }
	var helperSig syscall.Signal // a start-up death by signal, if reported
	fail := func(err error) (*Session, error) {
		endWatch()
		if ctx.Err() != nil {
			err = fmt.Errorf("start-up interrupted: %w", ctx.Err())
		}
		s.ctl.Close()
		s.work.Close()
		if s.listener >= 0 {
			unix.Close(s.listener)
		}
		// The workload has not exec'd yet, so the reaper and the
		// workload's process held in its execve (Pdeathsig) are the
		// whole tree: killing the reaper bounds the wait even if it is
		// stuck.
		cmd.Process.Kill()
		cmd.Wait()
		// A signal to the whole process group (a terminal, a service
		// manager) can kill the reaper before it catches signals: say so,
		// so that the caller can tell it from a tool failure.
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() != syscall.SIGKILL {
			helperSig = ws.Signal()
		}
		if helperSig != 0 && ctx.Err() == nil {
			err = &SignaledError{Sig: helperSig, Err: err}
		}
		return nil, err
	}
	lfd, msg, err := recvFD(s.work)
	if err != nil {
		if ctx.Err() == nil {
			helperSig = s.reaperSignal()
		}
		return fail(fmt.Errorf("helper: %w", err))
	}
	if lfd < 0 {
		if strings.HasPrefix(msg, "F") {
			if strings.HasSuffix(msg, unix.EBUSY.Error()) {
				return fail(ErrNested)
			}
			if strings.Contains(msg, "NEW_LISTENER") {
				return fail(fmt.Errorf("%w: %s", ErrUnsupported, msg[1:]))
			}
			return fail(errors.New(msg[1:]))
		}
		return fail(fmt.Errorf("helper: unexpected message %q", msg))
	}
	s.listener = lfd
	tid, err := strconv.Atoi(strings.TrimPrefix(msg, "L"))
	if err != nil || !strings.HasPrefix(msg, "L") {
		return fail(fmt.Errorf("helper: unexpected hand-off %q", msg))
	}
	s.reaperTid = tid
	if err := s.awaitWorkload(ctx); err != nil {
		if ctx.Err() == nil {
			helperSig = s.reaperSignal()
		}
		return fail(err)
	}
	endWatch()
	if ctx.Err() != nil {
		return fail(ctx.Err())
	}
	go s.watchReaper()
	s.sup = newSupervisor(s, names)
	s.sup.first = s.first
	return s, nil
}

// reaperSignal is the signal that killed the workload's main process or
// the reaper during start-up, as the reaper reports it (0: none or
// SIGKILL). Bounded by a deadline, in case the reaper is stuck.
func (s *Session) reaperSignal() syscall.Signal {
	s.ctl.SetReadDeadline(time.Now().Add(time.Second))
	for {
		m, err := readMsg(s.ctl)
		if err != nil {
			return 0
		}
		if strings.HasPrefix(m, "X") {
			v, _ := strconv.ParseUint(m[1:], 10, 32)
			if ws := syscall.WaitStatus(v); ws.Signaled() && ws.Signal() != syscall.SIGKILL {
				return ws.Signal()
			}
			return 0
		}
	}
}

// awaitWorkload serves the listener until the workload's first call: the
// reaper's thread forks it with the filter, and its first notified call
// (the execve) names it. That call stays pending for Run, so that the
// caller knows the main process (Pid) before anything of the workload
// runs. The reaper thread's own calls are answered here and never
// recorded.
func (s *Session) awaitWorkload(ctx context.Context) error {
	rc, err := s.work.SyscallConn()
	if err != nil {
		return err
	}
	wfd := -1
	rc.Control(func(fd uintptr) { wfd = int(fd) })
	pfds := []unix.PollFd{{Fd: int32(s.listener), Events: unix.POLLIN}, {Fd: int32(wfd), Events: unix.POLLIN}}
	var resp notifResp
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		pfds[0].Revents, pfds[1].Revents = 0, 0
		// The timeout only bounds how late a cancelled ctx is seen.
		if _, err := unix.Poll(pfds, 50); err != nil && err != unix.EINTR {
			return err
		}
		if pfds[0].Revents&unix.POLLIN != 0 {
			n := new(notif)
			switch e := recvNotif(s.listener, n, false); e {
			case 0:
			case unix.ENOENT, unix.EINTR:
				continue
			default:
				return fmt.Errorf("seccomp notification: %w", e)
			}
			if s.answerReaper(n, &resp) {
				continue
			}
			if ppid := readPPid(int(n.pid)); ppid != s.reaper {
				return fmt.Errorf("helper: first notification from pid %d (parent %d), not the workload", n.pid, ppid)
			}
			s.main, s.first = int(n.pid), n
			return nil
		}
		if pfds[1].Revents != 0 {
			// Before any call of the workload: it could not be started
			// (fork failed), or the reaper died.
			msg, err := readMsg(s.work)
			if err != nil {
				return fmt.Errorf("helper: %w", err)
			}
			if rest, ok := strings.CutPrefix(msg, "E"); ok {
				n, _ := strconv.Atoi(rest)
				return fmt.Errorf("start %s: %w", s.opts.Path, syscall.Errno(n))
			}
			if rest, ok := strings.CutPrefix(msg, "F"); ok {
				return errors.New(rest)
			}
			return fmt.Errorf("helper: unexpected message %q", msg)
		}
		if pfds[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
			return errors.New("helper: the filter's thread ended before the workload started")
		}
	}
}

// answerReaper lets a call of the reaper's filtered thread through (the
// runtime's own calls, nothing of the workload) and says whether n was
// one.
func (s *Session) answerReaper(n *notif, resp *notifResp) bool {
	if int(n.pid) != s.reaperTid {
		return false
	}
	s.reaperCalls++
	sendContinue(s.listener, resp, n.id)
	return true
}

// readPPid is the parent of process pid (/proc/PID/stat field 4), or -1.
func readPPid(pid int) int {
	b, err := procfs.ReadFile("/proc/"+strconv.Itoa(pid)+"/stat", nil)
	if err != nil {
		return -1
	}
	return int(procfs.StatField(procfs.StatFields(b), 4))
}

// Pid is the workload's main process.
func (s *Session) Pid() int { return s.main }

// ReaperPid is the helper every process of the workload descends from.
func (s *Session) ReaperPid() int { return s.reaper }

// Exited delivers the main process's wait status once.
func (s *Session) Exited() <-chan syscall.WaitStatus { return s.exitCh }

// ExecResult delivers nil once the workload's exec succeeded, or an
// *ExecError.
func (s *Session) ExecResult() <-chan error { return s.execErr }

func (s *Session) watchReaper() {
	for {
		msg, err := readMsg(s.ctl)
		if err != nil {
			return
		}
		if strings.HasPrefix(msg, "X") {
			v, _ := strconv.ParseUint(msg[1:], 10, 32)
			s.exitCh <- syscall.WaitStatus(v)
		}
	}
}

func (s *Session) watchExec() {
	msg, err := readMsg(s.work)
	if err != nil || msg == "" || msg == "S" {
		// Started (EOF: the reaper is gone, and with it the workload).
		s.execErr <- nil
		return
	}
	if strings.HasPrefix(msg, "E") {
		n, _ := strconv.Atoi(msg[1:])
		e := syscall.Errno(n)
		s.execErr <- &ExecError{Path: s.opts.Path, Err: e, Code: execFailCode(e)}
		return
	}
	s.execErr <- fmt.Errorf("helper: unexpected message %q", msg)
}

// Run lets the workload's first call (its execve) through and serves
// notifications until no task of the workload is left (the listener hangs
// up). Call it once, in its own goroutine; it locks its OS thread.
func (s *Session) Run() error {
	go s.watchExec()
	return s.sup.loop()
}

// Counts are the notified syscalls by name; valid after Run returned.
func (s *Session) Counts() map[string]int64 { return s.sup.countsByName() }

// Signal sends sig to the workload's main process.
func (s *Session) Signal(sig syscall.Signal) error { return syscall.Kill(s.main, sig) }

// KillTree sends sig to every process of the workload.
func (s *Session) KillTree(sig syscall.Signal) int { return KillTree(s.reaper, sig) }

// Close releases the helper, which kills and reaps whatever is left of the
// tree and exits; Close waits for that (at most closeGrace, then kills it).
func (s *Session) Close() error {
	s.ctl.Close()
	s.work.Close()
	if s.listener >= 0 {
		unix.Close(s.listener)
		s.listener = -1
	}
	s.sup.close()
	// The reaper exits on the hang-up, killing and reaping whatever is
	// left of the tree first. We wait for it: only its wait status carries
	// the workload's CPU time into ours (time(1), getrusage). A stuck
	// reaper is killed, so the wait stays bounded.
	waited := make(chan struct{})
	go func() { s.helper.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(closeGrace):
		s.helper.Process.Kill()
		<-waited
	}
	return nil
}

// closeGrace bounds how long Close waits for the reaper to kill and reap
// what is left of the tree before killing it.
const closeGrace = 5 * time.Second

// KillTree sends sig to every descendant of root (not root itself) and
// returns how many it signalled. It walks /proc, so a process forked
// during the walk may be missed: callers repeat it with SIGKILL until it
// returns 0.
func KillTree(root int, sig syscall.Signal) int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	parent := map[int]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp := readPPid(pid); pp >= 0 {
			parent[pid] = pp
		}
	}
	n := 0
	for pid := range parent {
		for p, hops := parent[pid], 0; p > 1 && hops < 4096; p, hops = parent[p], hops+1 {
			if p == root {
				if syscall.Kill(pid, sig) == nil {
					n++
				}
				break
			}
		}
	}
	return n
}

func socketpair() ([2]*os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return [2]*os.File{}, fmt.Errorf("socketpair: %w", err)
	}
	// Our end is non-blocking so that it goes through the poller and a
	// Close interrupts a goroutine blocked reading it; the helper's end
	// is a separate open file and stays blocking.
	unix.SetNonblock(fds[0], true)
	return [2]*os.File{os.NewFile(uintptr(fds[0]), "sock"), os.NewFile(uintptr(fds[1]), "sock")}, nil
}

func readMsg(f *os.File) (string, error) {
	buf := make([]byte, 512)
	n, err := f.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// recvFD receives a text message, with or without a descriptor
// (SCM_RIGHTS; -1 without).
func recvFD(f *os.File) (int, string, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, "", err
	}
	buf := make([]byte, 512)
	oob := make([]byte, unix.CmsgSpace(4*4))
	var n, oobn int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
		return rerr != unix.EAGAIN
	})
	if err != nil {
		return -1, "", err
	}
	if rerr != nil {
		return -1, "", rerr
	}
	if n == 0 && oobn == 0 {
		return -1, "", errors.New("helper exited before handing over the listener")
	}
	if oobn > 0 {
		cms, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err == nil {
			for _, cm := range cms {
				fds, err := unix.ParseUnixRights(&cm)
				if err == nil && len(fds) > 0 {
					for _, extra := range fds[1:] {
						unix.Close(extra)
					}
					return fds[0], string(buf[:n]), nil
				}
			}
		}
	}
	return -1, string(buf[:n]), nil
}
