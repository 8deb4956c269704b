package testutil

import (
	"net"
	"testing"
)

// TCPArrivedBefore connects to l from the test (a sentinel) and accepts
// until the sentinel comes: it reports whether another connection was
// queued before it. A workload's connect that got through completed its
// handshake before the workload exited, so it is queued ahead of the
// sentinel; no clock is involved.
func TCPArrivedBefore(t *testing.T, l net.Listener) (other bool) {
	t.Helper()
	c, err := net.Dial(l.Addr().Network(), l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for {
		a, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		from := a.RemoteAddr().String()
		a.Close()
		if from == c.LocalAddr().String() {
			return other
		}
		other = true
	}
}

// UDPArrivedBefore is TCPArrivedBefore for a datagram: the test sends one
// to pc and reads until it comes.
func UDPArrivedBefore(t *testing.T, pc net.PacketConn) (other bool) {
	t.Helper()
	c, err := net.Dial(pc.LocalAddr().Network(), pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("sentinel")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if from.String() == c.LocalAddr().String() && string(buf[:n]) == "sentinel" {
			return other
		}
		other = true
	}
}
