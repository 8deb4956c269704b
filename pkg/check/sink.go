package check

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// Observer turns the records of a supervisor (pkg/seccomp's event stream of
// the workload) into Session evaluations. The first process is our helper
// until it opens Marker: its own start-up is not the workload's and is not
// judged.
type Observer struct {
	Session *Session
	Marker  string
	Main    int          // pid of the helper that becomes the workload
	Warn    func(string) // the supervisor's warnings, once armed; may be nil
	Program string       // the workload's program, to name the helper before its exec

	mu      sync.Mutex
	armed   bool
	execRun bool // the workload's exec succeeded (an exec record after arming)
	comm    map[int]string
	held    *event.FS // the first half of a rename or link
}

// Emit implements seccomp.Sink.
func (o *Observer) Emit(r event.Record) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.comm == nil {
		o.comm = map[int]string{}
	}
	switch v := r.(type) {
	case *event.Exec:
		o.comm[v.PID] = filepath.Base(v.Path)
		if o.armed && v.PID == o.Main {
			o.execRun = true
		}
	case *event.FS:
		if !o.ready(v.PID) {
			if v.Path == o.Marker {
				o.armed = true
				// Until its exec, the helper stands for the program.
				if o.Program != "" {
					o.comm[v.PID] = filepath.Base(o.Program)
				}
			}
			return
		}
		o.fs(v)
	case *event.Net:
		if !o.ready(v.PID) {
			return
		}
		o.flushHeld()
		comm := o.name(v.PID)
		if v.Op == NetSocket {
			o.Session.Socket(v.PID, comm, v.Proto)
			return
		}
		addr, err := netip.ParseAddr(v.Addr)
		if err != nil {
			return
		}
		switch v.Op {
		case NetBind:
			if v.Proto == ProtoTCP {
				o.Session.Bind(v.PID, comm, addr, v.Port)
			}
		case NetConnect, NetSend:
			o.Session.Connect(v.PID, comm, v.Op, v.Proto, addr, v.Port)
		}
	case *event.Warning:
		// The trace's doubts about its own exec records do not concern a
		// check, which knows how the exec went.
		if strings.HasPrefix(v.Msg, "exec of ") {
			return
		}
		if o.ready(v.PID) && o.Warn != nil {
			o.Warn(v.Msg)
		}
	}
}

// NetVerdict is the errno sandlock answers a connect or send with: for an
// IP destination that no network.allow rule permits, ECONNREFUSED, the
// answer of its supervisor's destination check (crates/sandlock-core/src/
// network/verdict.rs: destination_verdict), which handles every IP connect
// and send when network.allow is not empty. With an empty network.allow
// there is no destination check: Landlock refuses TCP with EACCES and UDP
// sockets cannot be created (EPERM), so the answer is 0 (let the kernel
// decide), as it is for anything allowed and for binds (Landlock's).
// The creation of a UDP or ICMP socket (op socket, notified only when the
// static filter leaves it to us) gets sandlock's EPERM unless a rule names
// udp or icmp.
//
// Decide sends it; see AddressEnforced.
func (o *Observer) NetVerdict(n *event.Net) syscall.Errno {
	pol := o.Session.pol
	if n.Op == NetSocket {
		// sandlock's filter refuses an AF_INET/AF_INET6 datagram socket
		// with EPERM unless some rule names udp or icmp.
		if n.Proto == ProtoTCP || pol.Net.DatagramAllowed() {
			return 0
		}
		return syscall.EPERM
	}
	if n.Op != NetConnect && n.Op != NetSend {
		return 0
	}
	if len(pol.Net.Allow) == 0 || pol.Net.Unrestricted(n.Proto) {
		return 0
	}
	addr, err := netip.ParseAddr(n.Addr)
	if err != nil {
		// sandlock fails closed on what it cannot parse.
		return syscall.ECONNREFUSED
	}
	if len(pol.Net.CheckConnect(n.Proto, addr, n.Port)) > 0 {
		return 0
	}
	return syscall.ECONNREFUSED
}

// Decide is the answer for one notification, given the records read from
// it, for a supervisor that can fail a syscall with an errno instead of
// letting it run: sandlock's ECONNREFUSED for a connect or send to a
// destination no rule allows (NetVerdict), 0 (run it) otherwise. The
// helper's own start-up is never refused. Emit still judges and reports.
func (o *Observer) Decide(recs []event.Record) syscall.Errno {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range recs {
		if n, ok := r.(*event.Net); ok && o.ready(n.PID) {
			if e := o.NetVerdict(n); e != 0 {
				return e
			}
		}
	}
	return 0
}

// Flush implements seccomp.Sink: Emit judges each record as it comes (the
// supervisor calls it after answering, so this costs the workload nothing).
func (o *Observer) Flush() {}

// Close evaluates a half-pair still held.
func (o *Observer) Close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flushHeld()
}

// execRan reports whether the workload's program started.
func (o *Observer) execRan() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.execRun
}

// ready reports whether records of pid belong to the workload: every
// process but the helper is the workload's (the helper forks nothing).
func (o *Observer) ready(pid int) bool { return o.armed || pid != o.Main }

func (o *Observer) fs(v *event.FS) {
	op := FSOp{Op: v.Op, Path: v.Path, Dir: v.Dir, Existed: v.Existed}
	switch v.Op {
	case event.OpRenameFrom, event.OpLinkFrom:
		o.flushHeld()
		o.held = v
		return
	case event.OpRenameTo, event.OpLinkTo:
		if h := o.held; h != nil && h.PID == v.PID {
			o.held = nil
			from := FSOp{Op: h.Op, Path: h.Path, Dir: h.Dir, Existed: h.Existed}
			if v.Op == event.OpRenameTo {
				// The moved inode keeps its kind.
				op.Dir = from.Dir
			}
			o.Session.FSPair(v.PID, o.name(v.PID), from, op)
			return
		}
	}
	o.flushHeld()
	if o.Session.FS(v.PID, o.name(v.PID), op) && v.Op == event.OpExec && v.Existed && v.Syscall != "mmap" {
		o.Session.CheckInterpreters(v.PID, o.name(v.PID), v.Path)
	}
}

func (o *Observer) flushHeld() {
	if h := o.held; h != nil {
		o.held = nil
		o.Session.FS(h.PID, o.name(h.PID), FSOp{Op: h.Op, Path: h.Path, Dir: h.Dir, Existed: h.Existed})
	}
}

// name is the process's command name: the program it last executed, or
// what /proc says (a forked child that did not exec).
func (o *Observer) name(pid int) string {
	if c, ok := o.comm[pid]; ok {
		return c
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	c := strings.TrimSpace(string(b))
	o.comm[pid] = c
	return c
}
