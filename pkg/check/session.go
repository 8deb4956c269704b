package check

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// Session evaluates the operations of one run against a Policy: it reports
// each one the policy does not allow and counts, per grant, the operations
// each one covered. It is safe for concurrent use.
type Session struct {
	pol      *Policy
	onDenial func(*event.Denial)

	mu       sync.Mutex
	fsUse    []int64
	fsWrote  []bool // the grant provided a right beyond reading
	allowUse []int64
	bindUse  []int64
	denials  int
	fixed    int // denials no profile can allow (Unlearnable paths)
	seenDeny map[string]bool
}

// NewSession starts counting for pol; onDenial (may be nil) is called for
// each distinct denial, in the order they happen.
func NewSession(pol *Policy, onDenial func(*event.Denial)) *Session {
	return &Session{
		pol:      pol,
		onDenial: onDenial,
		fsUse:    make([]int64, len(pol.FS)),
		fsWrote:  make([]bool, len(pol.FS)),
		allowUse: make([]int64, len(pol.Net.Allow)),
		bindUse:  make([]int64, len(pol.Net.Bind)),
		seenDeny: map[string]bool{},
	}
}

// Denials is the number of distinct denials reported so far, and how many
// of them no profile can allow (see Unlearnable).
func (s *Session) Denials() (all, unlearnable int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.denials, s.fixed
}

// deny reports d once: a workload that retries one refused open in a loop
// gets one line, not thousands.
func (s *Session) deny(d *event.Denial) {
	key := d.Kind + "\x00" + d.Op + "\x00" + d.Path + "\x00" + d.Proto + "\x00" + d.Addr + "\x00" + strconv.Itoa(d.Port)
	if s.seenDeny[key] {
		return
	}
	s.seenDeny[key] = true
	s.denials++
	if d.Kind == "fs" && Unlearnable(d.Path) {
		s.fixed++
		d.Reason += "; " + unlearnableReason
	}
	if s.onDenial != nil {
		s.onDenial(d)
	}
}

// FS evaluates one filesystem operation of process pid (comm its name) and
// reports whether the policy allows it.
func (s *Session) FS(pid int, comm string, op FSOp) bool {
	return s.fsNeeds(pid, comm, op, Needs(op))
}

// FSPair evaluates a rename or link as one operation: the two halves, plus
// REFER when the parents differ.
func (s *Session) FSPair(pid int, comm string, from, to FSOp) bool {
	v := CheckFS(s.pol.FS, PairNeeds(from, to))
	if v.Allowed || !v.Checked {
		s.mu.Lock()
		s.credit(v)
		s.mu.Unlock()
		return true
	}
	// Name the half whose parent lacked the right.
	op := to
	if v.Missing.Path == parentDir(from.Path) && v.Missing.Path != parentDir(to.Path) {
		op = from
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deny(fsDenial(pid, comm, op, v.Missing))
	return false
}

func (s *Session) fsNeeds(pid int, comm string, op FSOp, needs []Need) bool {
	v := CheckFS(s.pol.FS, needs)
	s.mu.Lock()
	defer s.mu.Unlock()
	if v.Allowed {
		s.credit(v)
		return true
	}
	s.deny(fsDenial(pid, comm, op, v.Missing))
	return false
}

func (s *Session) credit(v FSVerdict) {
	for _, i := range v.By {
		s.fsUse[i]++
	}
	for _, i := range v.ByWrite {
		s.fsWrote[i] = true
	}
}

func fsDenial(pid int, comm string, op FSOp, missing Need) *event.Denial {
	reason := fmt.Sprintf("no grant gives %s on %s", missing.Access, missing.Path)
	return &event.Denial{PID: pid, Comm: comm, Kind: "fs", Op: op.Op, Path: op.Path, Reason: reason}
}

// Net ops of a denial.
const (
	NetConnect = "connect"
	NetSend    = "send"
	NetBind    = "bind"
	NetSocket  = "socket"
)

// Connect evaluates a connect (op NetConnect) or a send with a destination
// (op NetSend) to addr:port over proto (tcp, udp, icmp).
func (s *Session) Connect(pid int, comm, op, proto string, addr netip.Addr, port int) bool {
	// A rule for every host and port (Unrestricted) matches here too.
	by := s.pol.Net.CheckConnect(proto, addr, port)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(by) > 0 {
		for _, i := range by {
			s.allowUse[i]++
		}
		return true
	}
	reason := fmt.Sprintf("no network.allow rule allows %s to %s", proto, netip.AddrPortFrom(addr, uint16(port)))
	if len(s.pol.Net.Allow) == 0 {
		reason = "network.allow is empty: all outbound traffic is denied"
	}
	s.deny(&event.Denial{PID: pid, Comm: comm, Kind: "net", Op: op, Proto: proto, Addr: addr.String(), Port: port, Reason: reason})
	return false
}

// Bind evaluates a bind of a TCP socket to port; Landlock (and so sandlock)
// restricts only TCP binds.
func (s *Session) Bind(pid int, comm string, addr netip.Addr, port int) bool {
	by := s.pol.Net.CheckBind(port)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(by) > 0 {
		for _, i := range by {
			s.bindUse[i]++
		}
		return true
	}
	if _, handled := s.pol.Net.BindPorts(); !handled {
		return true
	}
	a := ""
	if addr.IsValid() {
		a = addr.String()
	}
	s.deny(&event.Denial{PID: pid, Comm: comm, Kind: "net", Op: NetBind, Proto: ProtoTCP, Addr: a, Port: port,
		Reason: fmt.Sprintf("port %d is not in network.allow_bind", port)})
	return false
}

// Socket evaluates creating a socket of proto (udp or icmp are the ones
// sandlock refuses, without a rule naming them).
func (s *Session) Socket(pid int, comm, proto string) bool {
	if proto == ProtoTCP || s.pol.Net.DatagramAllowed() {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deny(&event.Denial{PID: pid, Comm: comm, Kind: "net", Op: NetSocket, Proto: proto,
		Reason: "no network.allow rule names udp or icmp, so datagram sockets are refused"})
	return false
}

// GrantUse is how many operations of the run one grant covered.
type GrantUse struct {
	Ref  string // e.g. filesystem.read "/usr"
	Used int64
	// ReadOnly is set on a filesystem.write grant that was used, but only
	// for reading: a read grant would have done.
	ReadOnly bool
}

// Usage lists every grant of the profile in profile order (filesystem.read,
// filesystem.write, network.allow, network.allow_bind) with its count.
func (s *Session) Usage() []GrantUse {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []GrantUse
	for _, key := range []string{KeyRead, KeyWrite} {
		for i := range s.pol.FS {
			if s.pol.FS[i].Key == key {
				out = append(out, GrantUse{Ref: s.pol.FS[i].Ref(), Used: s.fsUse[i],
					ReadOnly: key == KeyWrite && s.fsUse[i] > 0 && !s.fsWrote[i]})
			}
		}
	}
	for i := range s.pol.Net.Allow {
		out = append(out, GrantUse{Ref: s.pol.Net.Allow[i].Ref(), Used: s.allowUse[i]})
	}
	for i := range s.pol.Net.Bind {
		out = append(out, GrantUse{Ref: s.pol.Net.Bind[i].Ref(), Used: s.bindUse[i]})
	}
	return out
}

// unlearnableReason is said of a denial that no learned profile would fix.
const unlearnableReason = "sandlock-learn never grants this pid- or session-specific path"

// Unlearnable reports whether p is a path sandlock-learn never grants
// (profile.md): a rule on /proc/self or /proc/<pid> would bind the inode
// of one process, a rule on /dev/tty or /dev/pts/N one session's
// terminal, and / everything.
func Unlearnable(p string) bool {
	if p == "/" || p == "/dev/tty" || p == "/dev/pts" || strings.HasPrefix(p, "/dev/pts/") {
		return true
	}
	rest, ok := strings.CutPrefix(p, "/proc/")
	if !ok {
		return false
	}
	first, _, _ := strings.Cut(rest, "/")
	if first == "self" || first == "thread-self" {
		return true
	}
	_, err := strconv.Atoi(first)
	return err == nil
}

// FormatDenial is the one-line text form: `denied: read /etc/foo (pid 42 cat)`.
func FormatDenial(d *event.Denial) string {
	what := d.Path
	if d.Kind == "net" {
		switch {
		case d.Op == NetSocket:
			what = d.Proto
		case d.Op == NetBind:
			what = fmt.Sprintf("%s port %d", d.Proto, d.Port)
		default:
			what = d.Proto + " " + netip.AddrPortFrom(netip.MustParseAddr(orUnspec(d.Addr)), uint16(d.Port)).String()
		}
	}
	who := fmt.Sprintf("pid %d", d.PID)
	if d.Comm != "" {
		who += " " + d.Comm
	}
	line := fmt.Sprintf("denied: %s %s (%s)", d.Op, what, who)
	if d.Kind == "fs" && Unlearnable(d.Path) {
		line += " [never granted: pid- or session-specific]"
	}
	return line
}

func orUnspec(a string) string {
	if _, err := netip.ParseAddr(a); err != nil {
		return "0.0.0.0"
	}
	return a
}
