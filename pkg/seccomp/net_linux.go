//go:build linux && amd64

package seccomp

import (
	"encoding/binary"
	"net/netip"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
	"golang.org/x/sys/unix"
)

// sock records one socket address argument: AF_INET and AF_INET6 as net
// events, named AF_UNIX sockets as fs events; abstract and unnamed AF_UNIX
// addresses (no file involved) and other families are ignored.
func (sup *supervisor) sock(t *thread, sys, op string, fd int, addr, alen uint64, proto int) int {
	if addr == 0 || alen < 2 {
		return proto
	}
	if alen > uint64(len(sup.sockBuf)) {
		alen = uint64(len(sup.sockBuf))
	}
	buf := sup.sockBuf[:alen]
	sup.read = true
	if err := sup.mem.read(t.tid, addr, buf); err != nil {
		sup.warnRead(t, sys, err)
		return proto
	}
	switch binary.LittleEndian.Uint16(buf) {
	case unix.AF_UNSPEC:
		// udp_sendmsg takes an AF_UNSPEC destination on an AF_INET socket
		// as an IPv4 one (sin_port, sin_addr): the datagram goes there.
		// Elsewhere it names nothing (UDPv6 sends to the connected peer,
		// connect disconnects, ping and TCP refuse it), so the socket is
		// asked first; this path is rare enough for the extra dup.
		if op != "send" || len(buf) < 16 { // udp_sendmsg: EINVAL below sizeof(sockaddr_in)
			return proto
		}
		if p := sup.unspecUDP(t, fd); p >= 0 {
			ip := netip.AddrFrom4([4]byte(buf[4:8]))
			sup.netEvent(t, sys, op, "inet", ip, binary.BigEndian.Uint16(buf[2:4]), fd, p)
		}
	case unix.AF_UNIX:
		path := buf[2:]
		if len(path) == 0 || path[0] == 0 {
			return proto // unnamed or abstract
		}
		for i, c := range path {
			if c == 0 {
				path = path[:i]
				break
			}
		}
		raw := string(path)
		fsop, follow := event.OpConnectUnix, true
		if op == "bind" {
			fsop, follow = event.OpBindUnix, false
		}
		full := raw
		if raw[0] != '/' {
			base, ok := sup.procLink(t, "cwd")
			if !ok {
				return proto
			}
			full = join(base, raw)
		}
		sup.fsEvent(t, sys, fsop, raw, sup.res.resolve(t.p.root, full, follow, t.p.tgid, t.tid), nil)
	case unix.AF_INET:
		if len(buf) < 8 {
			return proto
		}
		if proto < 0 {
			proto = sup.proto(t, fd)
		}
		ip := netip.AddrFrom4([4]byte(buf[4:8]))
		sup.netEvent(t, sys, op, "inet", ip, binary.BigEndian.Uint16(buf[2:4]), fd, proto)
	case unix.AF_INET6:
		if len(buf) < 24 {
			return proto
		}
		if proto < 0 {
			proto = sup.proto(t, fd)
		}
		ip := netip.AddrFrom16([16]byte(buf[8:24]))
		sup.netEvent(t, sys, op, "inet6", ip, binary.BigEndian.Uint16(buf[2:4]), fd, proto)
	}
	return proto
}

func (sup *supervisor) netEvent(t *thread, sys, op, family string, ip netip.Addr, port uint16, fd, proto int) {
	name := protoName(proto)
	if name == "" {
		sup.out = append(sup.out, &event.Warning{Msg: sys + ": socket protocol of fd " + itoa(fd) + " unknown (" + itoa(proto) + "), address " + ip.String() + " not recorded", PID: t.p.tgid})
		return
	}
	sup.out = append(sup.out, &event.Net{PID: t.p.tgid, Syscall: sys, Op: op, Proto: name, Family: family, Addr: ip.String(), Port: int(port), FD: fd})
}

func protoName(p int) string {
	switch p {
	case unix.IPPROTO_TCP, unix.IPPROTO_MPTCP:
		return "tcp"
	case unix.IPPROTO_UDP, unix.IPPROTO_UDPLITE:
		return "udp"
	case unix.IPPROTO_ICMP, unix.IPPROTO_ICMPV6:
		return "icmp"
	}
	return ""
}

// proto asks the socket itself: a duplicate taken with pidfd_getfd answers
// getsockopt(SO_PROTOCOL). /proc/net tables do not list a socket before
// it is bound or connected, which is exactly when we look.
func (sup *supervisor) proto(t *thread, fd int) int {
	dup := sup.dupFD(t, fd)
	if dup < 0 {
		return -1
	}
	defer unix.Close(dup)
	proto, err := unix.GetsockoptInt(dup, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if err != nil {
		return -1
	}
	if proto == 0 {
		typ, _ := unix.GetsockoptInt(dup, unix.SOL_SOCKET, unix.SO_TYPE)
		switch typ {
		case unix.SOCK_STREAM:
			return unix.IPPROTO_TCP
		case unix.SOCK_DGRAM:
			return unix.IPPROTO_UDP
		}
	}
	return proto
}

// dupFD duplicates the tracee's fd into our process (pidfd_getfd), or
// returns -1.
func (sup *supervisor) dupFD(t *thread, fd int) int {
	p := t.p
	if p.pidfd < 0 {
		pfd, err := unix.PidfdOpen(p.tgid, 0)
		if err != nil {
			return -1
		}
		p.pidfd = pfd
	}
	dup, err := unix.PidfdGetfd(p.pidfd, fd, 0)
	if err != nil {
		return -1
	}
	return dup
}

// unspecUDP returns the protocol of fd when it is an AF_INET UDP (or
// UDP-Lite) socket, the one kind that sends to an AF_UNSPEC address, and
// -1 otherwise.
func (sup *supervisor) unspecUDP(t *thread, fd int) int {
	dup := sup.dupFD(t, fd)
	if dup < 0 {
		return -1
	}
	defer unix.Close(dup)
	if d, err := unix.GetsockoptInt(dup, unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil || d != unix.AF_INET {
		return -1
	}
	p, err := unix.GetsockoptInt(dup, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if err != nil || (p != unix.IPPROTO_UDP && p != unix.IPPROTO_UDPLITE) {
		return -1
	}
	return p
}

// socketCall records the creation of an AF_INET or AF_INET6 datagram
// socket (UDP or ICMP), which sandlock refuses without a rule naming
// those protocols, as a net record with op "socket" and no address.
// socket() is notified only on request (Options.Extra), so a trace never
// sees these records; sandlock-check refuses and explains with them.
func (sup *supervisor) socketCall(t *thread, domain, typ, proto uint64) {
	fam := ""
	switch int32(domain) {
	case unix.AF_INET:
		fam = "inet"
	case unix.AF_INET6:
		fam = "inet6"
	default:
		return
	}
	if int32(typ)&sockTypeMask != unix.SOCK_DGRAM {
		return
	}
	p := int(int32(proto))
	if p == 0 {
		p = unix.IPPROTO_UDP // the kernel's default for a datagram socket
	}
	name := protoName(p)
	if name == "" {
		return
	}
	sup.out = append(sup.out, &event.Net{PID: t.p.tgid, Syscall: "socket", Op: "socket", Proto: name, Family: fam, FD: -1})
}

// sockTypeMask is SOCK_TYPE_MASK: the type without SOCK_NONBLOCK and
// SOCK_CLOEXEC.
const sockTypeMask = 0xf

// sendmsg records the destination of one message, if it names one.
func (sup *supervisor) sendmsg(t *thread, fd int, msgAddr uint64) {
	var hdr [16]byte
	sup.read = true
	if err := sup.mem.read(t.tid, msgAddr, hdr[:]); err != nil {
		sup.warnRead(t, "sendmsg", err)
		return
	}
	name, nlen := u64(hdr[0:8]), u32(hdr[8:12])
	if name == 0 || nlen == 0 {
		sup.peerSend(t, "sendmsg", fd)
		return
	}
	sup.sock(t, "sendmsg", "send", fd, name, uint64(nlen), -1)
}

// peerSend records a message sent without a destination on a connected
// datagram socket (UDP or ICMP): glibc's resolver connects a UDP socket to
// the nameserver and then calls sendmmsg with no address, and the
// connect's own record does not show that traffic went there. The socket
// is asked directly (pidfd_getfd, its family and protocol, getpeername);
// stream and AF_UNIX sockets and unconnected ones record nothing. Not
// cached per fd: close and dup2 are not notified, so an fd number can name
// another socket at the next call without the supervisor knowing.
func (sup *supervisor) peerSend(t *thread, sys string, fd int) {
	dup := sup.dupFD(t, fd)
	if dup < 0 {
		return
	}
	defer unix.Close(dup)
	dom, err := unix.GetsockoptInt(dup, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil || (dom != unix.AF_INET && dom != unix.AF_INET6) {
		return
	}
	if typ, err := unix.GetsockoptInt(dup, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || typ != unix.SOCK_DGRAM {
		return
	}
	proto, err := unix.GetsockoptInt(dup, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if err != nil {
		return
	}
	if proto == 0 {
		proto = unix.IPPROTO_UDP
	}
	sa, err := unix.Getpeername(dup)
	if err != nil {
		return // not connected: the send fails with EDESTADDRREQ
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		sup.netEvent(t, sys, "send", "inet", netip.AddrFrom4(a.Addr), uint16(a.Port), fd, proto)
	case *unix.SockaddrInet6:
		sup.netEvent(t, sys, "send", "inet6", netip.AddrFrom16(a.Addr), uint16(a.Port), fd, proto)
	}
}

// sendmmsg records the destination of every message (struct mmsghdr is 64
// bytes: a msghdr and the sent length).
func (sup *supervisor) sendmmsg(t *thread, fd int, vec, vlen uint64) {
	if vlen > uioMaxIOV {
		vlen = uioMaxIOV // the kernel sends at most that many
	}
	if vlen == 0 {
		return
	}
	need := int(vlen) * 64
	if cap(sup.bigBuf) < need {
		sup.bigBuf = make([]byte, need)
	}
	buf := sup.bigBuf[:need]
	sup.read = true
	if err := sup.mem.read(t.tid, vec, buf); err != nil {
		sup.warnRead(t, "sendmmsg", err)
		return
	}
	proto := -1
	peer := false
	for i := 0; i < int(vlen); i++ {
		m := buf[i*64:]
		name, nlen := u64(m[0:8]), u32(m[8:12])
		if name == 0 || nlen == 0 {
			peer = true // one record for all the messages to the peer
			continue
		}
		proto = sup.sock(t, "sendmmsg", "send", fd, name, uint64(nlen), proto)
	}
	if peer {
		sup.peerSend(t, "sendmmsg", fd)
	}
}

// uioMaxIOV is UIO_MAXIOV, the most messages one sendmmsg sends.
const uioMaxIOV = 1024
