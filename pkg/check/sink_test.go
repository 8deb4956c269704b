package check

import (
	"strings"
	"syscall"
	"testing"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

func observer(t *testing.T, allow ...string) (*Observer, *[]*event.Denial) {
	t.Helper()
	pol := &Policy{Net: mustRules(t, allow...), FS: grants([]string{"/usr/"}, []string{"/tmp/w/"})}
	var ds []*event.Denial
	o := &Observer{Session: NewSession(pol, func(d *event.Denial) { ds = append(ds, d) }), Marker: "/.armed", Main: 10}
	return o, &ds
}

func TestNetVerdict(t *testing.T) {
	o, _ := observer(t, "tcp://127.0.0.1:80", "udp://[::1]:53")
	cases := []struct {
		n    event.Net
		want syscall.Errno
	}{
		{event.Net{Op: "connect", Proto: "tcp", Addr: "127.0.0.1", Port: 80}, 0},
		{event.Net{Op: "connect", Proto: "tcp", Addr: "127.0.0.2", Port: 80}, syscall.ECONNREFUSED},
		{event.Net{Op: "connect", Proto: "tcp", Addr: "127.0.0.1", Port: 81}, syscall.ECONNREFUSED},
		{event.Net{Op: "send", Proto: "udp", Addr: "::1", Port: 53}, 0},
		{event.Net{Op: "send", Proto: "udp", Addr: "127.0.0.1", Port: 53}, syscall.ECONNREFUSED},
		{event.Net{Op: "bind", Proto: "tcp", Addr: "127.0.0.1", Port: 9}, 0},
		{event.Net{Op: "connect", Proto: "tcp", Addr: "garbage", Port: 80}, syscall.ECONNREFUSED},
	}
	for _, c := range cases {
		if got := o.NetVerdict(&c.n); got != c.want {
			t.Errorf("%+v: %v, want %v", c.n, got, c.want)
		}
	}
	// No destination policy: Landlock and the socket filter decide.
	empty, _ := observer(t)
	if got := empty.NetVerdict(&event.Net{Op: "connect", Proto: "tcp", Addr: "10.0.0.1", Port: 80}); got != 0 {
		t.Errorf("empty network.allow: %v, want 0", got)
	}
	star, _ := observer(t, "*")
	if got := star.NetVerdict(&event.Net{Op: "connect", Proto: "tcp", Addr: "10.0.0.1", Port: 80}); got != 0 {
		t.Errorf(`"*": %v, want 0`, got)
	}
	// A datagram socket: EPERM unless some rule names udp or icmp.
	sock := &event.Net{Op: "socket", Proto: "udp", Family: "inet"}
	for _, c := range []struct {
		allow []string
		want  syscall.Errno
	}{
		{nil, syscall.EPERM},
		{[]string{"tcp://127.0.0.1:80"}, syscall.EPERM},
		{[]string{"udp://127.0.0.1:53"}, 0},
		{[]string{"icmp://127.0.0.1"}, 0},
		{[]string{"127.0.0.1:53"}, 0}, // no scheme: tcp and udp
	} {
		o, _ := observer(t, c.allow...)
		if got := o.NetVerdict(sock); got != c.want {
			t.Errorf("udp socket under %q: %v, want %v", c.allow, got, c.want)
		}
	}
}

// A refused datagram socket is one denial line naming the protocol, and
// Decide answers it with EPERM.
func TestObserverSocket(t *testing.T) {
	o, ds := observer(t, "tcp://127.0.0.1:80")
	o.Emit(&event.FS{PID: 10, Op: event.OpRead, Path: "/.armed"})
	rec := &event.Net{PID: 10, Syscall: "socket", Op: "socket", Proto: "udp", Family: "inet", FD: -1}
	if e := o.Decide([]event.Record{rec}); e != syscall.EPERM {
		t.Fatalf("Decide: %v, want EPERM", e)
	}
	o.Emit(rec)
	o.Emit(rec) // a retry is not a second line
	if len(*ds) != 1 {
		t.Fatalf("denials %q, want one", denialLines(*ds))
	}
	if got := FormatDenial((*ds)[0]); !strings.HasPrefix(got, "denied: socket udp (pid 10") {
		t.Fatalf("denial line %q", got)
	}
}

// The helper's own start-up is not judged; the workload's is, from the
// marker on, and other processes always.
func TestObserverArming(t *testing.T) {
	o, ds := observer(t)
	o.Emit(&event.FS{PID: 10, Op: event.OpRead, Path: "/etc/passwd", Existed: true})
	if len(*ds) != 0 {
		t.Fatalf("judged the helper's start-up: %v", denialLines(*ds))
	}
	o.Emit(&event.FS{PID: 10, Op: event.OpRead, Path: "/.armed"})
	o.Emit(&event.Exec{PID: 10, Path: "/usr/bin/cat"})
	o.Emit(&event.FS{PID: 10, Op: event.OpRead, Path: "/etc/shadow", Existed: true})
	o.Emit(&event.FS{PID: 11, Op: event.OpWrite, Path: "/usr/x", Existed: true})
	got := denialLines(*ds)
	// pid 11's name comes from /proc: whatever runs there on this machine.
	if len(got) != 2 || got[0] != "denied: read /etc/shadow (pid 10 cat)" || !strings.HasPrefix(got[1], "denied: write /usr/x (pid 11") {
		t.Fatalf("denials %q", got)
	}
}

// A rename is judged as one operation: both halves and REFER.
func TestObserverPairs(t *testing.T) {
	o, ds := observer(t)
	o.Emit(&event.FS{PID: 11, Op: event.OpRenameFrom, Path: "/tmp/w/a", Existed: true})
	o.Emit(&event.FS{PID: 11, Op: event.OpRenameTo, Path: "/tmp/w/b"})
	if len(*ds) != 0 {
		t.Fatalf("rename inside a write grant denied: %v", denialLines(*ds))
	}
	o.Emit(&event.FS{PID: 11, Op: event.OpRenameFrom, Path: "/tmp/w/a", Existed: true})
	o.Emit(&event.FS{PID: 11, Op: event.OpRenameTo, Path: "/usr/b"})
	o.Close()
	if len(*ds) != 1 || (*ds)[0].Op != event.OpRenameTo || (*ds)[0].Path != "/usr/b" {
		t.Fatalf("rename out of the write grant: %v", denialLines(*ds))
	}
	// A half without its pair (the trace lost one) is still judged.
	o.Emit(&event.FS{PID: 11, Op: event.OpLinkFrom, Path: "/etc/x", Existed: true})
	o.Emit(&event.FS{PID: 11, Op: event.OpRemove, Path: "/usr/lib/y", Existed: true})
	o.Close()
	if len(*ds) != 2 || (*ds)[1].Op != event.OpRemove {
		t.Fatalf("denials %v", denialLines(*ds))
	}
}

// A write grant that only served reads is flagged: a read grant would do.
func TestUsageReadOnlyWrite(t *testing.T) {
	o, _ := observer(t)
	o.Emit(&event.FS{PID: 11, Op: event.OpRead, Path: "/tmp/w/a", Existed: true})
	u := o.Session.Usage()
	if len(u) != 2 || u[1].Ref != `filesystem.write "/tmp/w"` || u[1].Used != 1 || !u[1].ReadOnly {
		t.Fatalf("usage %+v, want the write grant used once, for reading only", u)
	}
	o.Emit(&event.FS{PID: 11, Op: event.OpCreate, Path: "/tmp/w/b"})
	if u := o.Session.Usage(); u[1].ReadOnly || u[1].Used != 2 {
		t.Fatalf("usage %+v after a create, want not read-only", u)
	}
}

func TestDecide(t *testing.T) {
	o, _ := observer(t, "tcp://127.0.0.1:80")
	bad := &event.Net{PID: 10, Op: "connect", Proto: "tcp", Addr: "127.0.0.2", Port: 80}
	if e := o.Decide([]event.Record{bad}); e != 0 {
		t.Fatalf("the helper's start-up refused: %v", e)
	}
	o.Emit(&event.FS{PID: 10, Op: event.OpRead, Path: "/.armed"})
	fsRec := &event.FS{PID: 10, Op: event.OpRead, Path: "/x", Existed: true}
	if e := o.Decide([]event.Record{fsRec, bad}); e != syscall.ECONNREFUSED {
		t.Fatalf("got %v, want ECONNREFUSED", e)
	}
	good := &event.Net{PID: 12, Op: "connect", Proto: "tcp", Addr: "127.0.0.1", Port: 80}
	if e := o.Decide([]event.Record{good, fsRec}); e != 0 {
		t.Fatalf("allowed connect refused: %v", e)
	}
}

func denialLines(ds []*event.Denial) []string {
	var out []string
	for _, d := range ds {
		out = append(out, FormatDenial(d))
	}
	return out
}
