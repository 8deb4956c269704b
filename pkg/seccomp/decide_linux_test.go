//go:build linux && amd64

package seccomp

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"github.com/sandlock-learn/sandlock-learn/internal/testutil"
	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// As argv[0], these make the test binary a workload that does one network
// call to argv[1] (ADDR:PORT) and exits with its errno (0: done). They are
// checked in init, before TestMain: the workload needs no helper, and the
// helpers' own argv[0] is never one of them.
const (
	argvConnect = "seccomp-test-connect" // TCP connect over IPv4
	// sendto over an IPv4 UDP socket with an AF_UNSPEC address, which
	// udp_sendmsg takes as an IPv4 destination.
	argvUnspec4 = "seccomp-test-unspec4"
	// connect an IPv6 UDP socket to argv[1], then sendto with an AF_UNSPEC
	// address whose bytes would read as 10.9.8.7:9 if taken for IPv4:
	// UDPv6 sends to the connected peer instead.
	argvUnspec6 = "seccomp-test-unspec6"
	// create a socket of argv[1]'s kind: udp4, udp6 or tcp4.
	argvSocket = "seccomp-test-socket"
)

func init() {
	if len(os.Args) != 2 {
		return
	}
	var err error
	switch os.Args[0] {
	case argvConnect:
		ap := netip.MustParseAddrPort(os.Args[1])
		var fd int
		fd, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err == nil {
			err = syscall.Connect(fd, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()})
		}
	case argvUnspec4:
		ap := netip.MustParseAddrPort(os.Args[1])
		var fd int
		fd, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
		if err == nil {
			err = sendtoUnspec(fd, ap.Port(), ap.Addr().As4())
		}
	case argvUnspec6:
		ap := netip.MustParseAddrPort(os.Args[1])
		var fd int
		fd, err = syscall.Socket(syscall.AF_INET6, syscall.SOCK_DGRAM, 0)
		if err == nil {
			err = syscall.Connect(fd, &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()})
		}
		if err == nil {
			err = sendtoUnspec(fd, 9, [4]byte{10, 9, 8, 7})
		}
	case argvSocket:
		dom, typ := syscall.AF_INET, syscall.SOCK_DGRAM
		switch os.Args[1] {
		case "udp6":
			dom = syscall.AF_INET6
		case "tcp4":
			typ = syscall.SOCK_STREAM
		}
		_, err = syscall.Socket(dom, typ|syscall.SOCK_CLOEXEC, 0)
	default:
		return
	}
	if e, ok := err.(syscall.Errno); ok {
		os.Exit(int(e))
	} else if err != nil {
		os.Exit(255)
	}
	os.Exit(0)
}

// sendtoUnspec sends "x" with a 16-byte sockaddr of family AF_UNSPEC that
// otherwise reads as a sockaddr_in; Go's syscall package cannot build one.
func sendtoUnspec(fd int, port uint16, ip [4]byte) error {
	var sa [16]byte // family 0
	sa[2], sa[3] = byte(port>>8), byte(port)
	copy(sa[4:8], ip[:])
	msg := []byte("x")
	_, _, e := syscall.Syscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&msg[0])), 1, 0,
		uintptr(unsafe.Pointer(&sa[0])), uintptr(len(sa)))
	if e != 0 {
		return e
	}
	return nil
}

// connectUnder runs the connect workload to target under decide and
// returns its status (the errno connect gave it) and the records.
func connectUnder(t *testing.T, target string, decide func([]event.Record) syscall.Errno) (int, *memSink) {
	t.Helper()
	return netUnder(t, argvConnect, target, decide, nil)
}

// netUnder runs the workload argv0 (one of the argv constants) to target.
func netUnder(t *testing.T, argv0, target string, decide func([]event.Record) syscall.Errno, extra []string) (int, *memSink) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	s, err := Start(Options{
		Path: self, Argv: []string{argv0, target}, Env: os.Environ(),
		Stdin: os.Stdin, Stdout: os.Stderr, Stderr: os.Stderr, Sink: sink, Decide: decide, Extra: extra,
	})
	requireUnotify(t, err)
	defer s.Close()
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
	ws := <-s.Exited()
	if err := <-s.ExecResult(); err != nil {
		t.Fatal(err)
	}
	if !ws.Exited() {
		t.Fatalf("workload status %v", ws)
	}
	return ws.ExitStatus(), sink
}

// TestDecideRefusesConnect: a connect answered with ECONNREFUSED fails in
// the workload with exactly that errno, reaches no server, and is still
// recorded; the same connect with Decide answering 0 goes through (so the
// test can tell the two apart).
func TestDecideRefusesConnect(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	target := l.Addr().String()
	port := l.Addr().(*net.TCPAddr).Port

	var mu sync.Mutex
	var asked []event.Record
	refuse := func(recs []event.Record) syscall.Errno {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range recs {
			if n, ok := r.(*event.Net); ok && n.Op == "connect" && n.Port == port {
				asked = append(asked, r)
				return syscall.ECONNREFUSED
			}
		}
		return 0
	}
	status, sink := connectUnder(t, target, refuse)
	if status != int(syscall.ECONNREFUSED) {
		t.Fatalf("refused connect: the workload got errno %d, want ECONNREFUSED (%d)", status, syscall.ECONNREFUSED)
	}
	if len(asked) != 1 {
		t.Fatalf("Decide saw %d connects to port %d, want 1", len(asked), port)
	}
	if testutil.TCPArrivedBefore(t, l) {
		t.Fatal("a refused connect reached the server")
	}
	found := false
	for _, r := range sink.recs {
		if n, ok := r.(*event.Net); ok && n.Op == "connect" && n.Addr == "127.0.0.1" && n.Port == port && n.Proto == "tcp" {
			found = true
		}
	}
	if !found {
		t.Fatalf("the refused connect to %s was not emitted: %v", target, sink.recs)
	}

	// Control: the same workload, Decide answering 0.
	status, _ = connectUnder(t, target, func([]event.Record) syscall.Errno { return 0 })
	if status != 0 {
		t.Fatalf("allowed connect: the workload got errno %d (%s)", status, syscall.Errno(status))
	}
	if !testutil.TCPArrivedBefore(t, l) {
		t.Fatal("an allowed connect did not reach the server")
	}
}

// TestDecideOtherErrno: the errno is the caller's, not a fixed one.
func TestDecideOtherErrno(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	status, _ := connectUnder(t, l.Addr().String(), func(recs []event.Record) syscall.Errno {
		for _, r := range recs {
			if _, ok := r.(*event.Net); ok {
				return syscall.ENETUNREACH
			}
		}
		return 0
	})
	if status != int(syscall.ENETUNREACH) {
		t.Fatalf("workload got errno %d, want ENETUNREACH (%d)", status, syscall.ENETUNREACH)
	}
	if testutil.TCPArrivedBefore(t, l) {
		t.Fatal("a refused connect reached the server")
	}
}

// unprivilegedTests run again as uid 65534 (TestUnprivileged): a Decide
// answer needs no privilege beyond owning the listener, and neither do
// synchronous wake-up, the filter's argument tests or reading
// /proc/TID/syscall of the workload; file permissions refuse more.
var unprivilegedTests = []string{
	"TestDecideRefusesConnect", "TestDecideOtherErrno", "TestSendtoUnspec", "TestSocketRecords",
	"TestWakeSync", "TestBrkQueryNotNotified", "TestQuietRenamer",
	"TestRefusedByPermissions", "TestRefusedNotJudgedAfterSetgroups", "TestRefusedJudgedAfterSameIDs",
	"TestPathSpellings",
}

func TestUnprivileged(t *testing.T) {
	testutil.RerunAsNobody(t, testutil.Rerun{Tests: unprivilegedTests})
}

// TestSendtoUnspec: an AF_UNSPEC destination on an IPv4 UDP socket is a
// real destination for the kernel (udp_sendmsg), so it is recorded as one
// and Decide can refuse it; on an IPv6 UDP socket it names nothing and is
// not recorded.
func TestSendtoUnspec(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := pc.LocalAddr().(*net.UDPAddr).Port
	isDest := func(r event.Record) bool {
		n, ok := r.(*event.Net)
		return ok && n.Op == "send" && n.Proto == "udp" && n.Family == "inet" && n.Addr == "127.0.0.1" && n.Port == port
	}
	status, sink := netUnder(t, argvUnspec4, pc.LocalAddr().String(), nil, nil)
	if status != 0 {
		t.Fatalf("AF_UNSPEC sendto: errno %d (%s)", status, syscall.Errno(status))
	}
	if !testutil.UDPArrivedBefore(t, pc) {
		t.Fatal("the AF_UNSPEC datagram did not arrive: the kernel did not take it as IPv4 here")
	}
	found := false
	for _, r := range sink.recs {
		found = found || isDest(r)
	}
	if !found {
		t.Fatalf("the AF_UNSPEC sendto to 127.0.0.1:%d was not recorded: %v", port, sink.recs)
	}

	status, _ = netUnder(t, argvUnspec4, pc.LocalAddr().String(), func(recs []event.Record) syscall.Errno {
		for _, r := range recs {
			if isDest(r) {
				return syscall.ECONNREFUSED
			}
		}
		return 0
	}, nil)
	if status != int(syscall.ECONNREFUSED) {
		t.Fatalf("refused AF_UNSPEC sendto: errno %d, want ECONNREFUSED", status)
	}
	if testutil.UDPArrivedBefore(t, pc) {
		t.Fatal("the refused AF_UNSPEC datagram was sent")
	}

	pc6, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc6.Close()
	status, sink = netUnder(t, argvUnspec6, pc6.LocalAddr().String(), nil, nil)
	if status != 0 {
		t.Fatalf("AF_UNSPEC sendto on a connected IPv6 socket: errno %d (%s)", status, syscall.Errno(status))
	}
	if !testutil.UDPArrivedBefore(t, pc6) {
		t.Fatal("the datagram did not reach the IPv6 peer")
	}
	for _, r := range sink.recs {
		if n, ok := r.(*event.Net); ok && n.Op == "send" {
			t.Fatalf("an AF_UNSPEC send on an IPv6 socket was recorded as a destination: %+v", n)
		}
	}
}

// TestSocketRecords: with "socket" in Options.Extra, creating an IPv4 or
// IPv6 datagram socket is a net record with op socket, which Decide can
// refuse (sandlock-check answers EPERM, as sandlock without a UDP rule); a
// TCP socket is not recorded.
func TestSocketRecords(t *testing.T) {
	isSocket := func(r event.Record, fam string) bool {
		n, ok := r.(*event.Net)
		return ok && n.Op == "socket" && n.Syscall == "socket" && n.Proto == "udp" && n.Family == fam && n.Addr == ""
	}
	for _, c := range []struct{ kind, fam string }{{"udp4", "inet"}, {"udp6", "inet6"}} {
		status, sink := netUnder(t, argvSocket, c.kind, nil, []string{"socket"})
		if status != 0 {
			t.Fatalf("%s socket: errno %d (%s)", c.kind, status, syscall.Errno(status))
		}
		n := 0
		for _, r := range sink.recs {
			if isSocket(r, c.fam) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%s socket: %d socket records, want 1", c.kind, n)
		}
		status, _ = netUnder(t, argvSocket, c.kind, func(recs []event.Record) syscall.Errno {
			for _, r := range recs {
				if isSocket(r, c.fam) {
					return syscall.EPERM
				}
			}
			return 0
		}, []string{"socket"})
		if status != int(syscall.EPERM) {
			t.Fatalf("refused %s socket: errno %d, want EPERM", c.kind, status)
		}
	}
	status, sink := netUnder(t, argvSocket, "tcp4", nil, []string{"socket"})
	if status != 0 {
		t.Fatalf("tcp socket: errno %d", status)
	}
	for _, r := range sink.recs {
		if n, ok := r.(*event.Net); ok && n.Op == "socket" {
			t.Fatalf("a TCP socket was recorded: %+v", n)
		}
	}
	// Without the request socket() is not notified at all.
	_, sink = netUnder(t, argvSocket, "udp4", nil, nil)
	for _, r := range sink.recs {
		if n, ok := r.(*event.Net); ok && n.Op == "socket" {
			t.Fatalf("socket() recorded without being asked for: %+v", n)
		}
	}
}
