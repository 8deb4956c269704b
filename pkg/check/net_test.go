package check

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseNetRule(t *testing.T) {
	cases := []struct {
		in       string
		protos   []string
		anyIP    bool
		prefix   string
		host     string
		ports    []uint16
		allPorts bool
	}{
		{"127.0.0.1:8080", []string{"tcp", "udp"}, false, "127.0.0.1/32", "", []uint16{8080}, false},
		{"tcp://127.0.0.1:80,443", []string{"tcp"}, false, "127.0.0.1/32", "", []uint16{80, 443}, false},
		{"udp://[::1]:53", []string{"udp"}, false, "::1/128", "", []uint16{53}, false},
		{"tcp://[::1]:*", []string{"tcp"}, false, "::1/128", "", nil, true},
		{"::1", []string{"tcp", "udp"}, false, "::1/128", "", nil, true},
		{"10.0.0.0/8", []string{"tcp", "udp"}, false, "10.0.0.0/8", "", nil, true},
		{"10.1.2.3/8:22", []string{"tcp", "udp"}, false, "10.0.0.0/8", "", []uint16{22}, false},
		{"example.com:443", []string{"tcp", "udp"}, false, "", "example.com", []uint16{443}, false},
		{"example.com", []string{"tcp", "udp"}, false, "", "example.com", nil, true},
		{"*:443", []string{"tcp", "udp"}, true, "", "", []uint16{443}, false},
		{":443", []string{"tcp", "udp"}, true, "", "", []uint16{443}, false},
		{"*", []string{"tcp", "udp"}, true, "", "", nil, true},
		{"tcp://*:*", []string{"tcp"}, true, "", "", nil, true},
		{"icmp://10.0.0.1", []string{"icmp"}, false, "10.0.0.1/32", "", nil, true},
		{"icmp://*", []string{"icmp"}, true, "", "", nil, true},
	}
	for _, c := range cases {
		r, err := ParseNetRule(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		prefix := ""
		if r.Prefix.IsValid() {
			prefix = r.Prefix.String()
		}
		if !reflect.DeepEqual(r.Protos, c.protos) || r.AnyIP != c.anyIP || prefix != c.prefix || r.Host != c.host ||
			!reflect.DeepEqual(r.Ports, c.ports) || r.AllPorts != c.allPorts {
			t.Errorf("%q: got %+v", c.in, r)
		}
	}
	bad := map[string]string{
		"":                "empty rule",
		"http://x:80":     "unknown scheme",
		"x:0":             "port 0",
		"x:70000":         "invalid port",
		"x:80,*":          "cannot mix",
		"x:":              "invalid port",
		"[::1:80":         "malformed bracketed",
		"[nothost]:80":    "not an IP",
		"icmp://":         "needs a host",
		"icmp://1.2.3.4:": "takes no port",
		"10.0.0.0/33":     "invalid CIDR",
	}
	for in, want := range bad {
		if _, err := ParseNetRule(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want one with %q", in, err, want)
		}
	}
}

func mustRules(t *testing.T, specs ...string) NetPolicy {
	t.Helper()
	var n NetPolicy
	for i, s := range specs {
		r, err := ParseNetRule(s)
		if err != nil {
			t.Fatal(err)
		}
		r.Index = i
		n.Allow = append(n.Allow, r)
	}
	return n
}

func TestNetMatch(t *testing.T) {
	n := mustRules(t, "tcp://127.0.0.1:8080", "udp://[::1]:53", "10.0.0.0/8:22", "localhost:9000")
	n.Allow[3].Addrs = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}
	a4 := netip.MustParseAddr("127.0.0.1")
	a6 := netip.MustParseAddr("::1")
	cases := []struct {
		proto string
		addr  netip.Addr
		port  int
		by    []int
	}{
		{"tcp", a4, 8080, []int{0}},
		{"udp", a4, 8080, nil}, // tcp:// only
		{"tcp", a4, 8081, nil},
		{"tcp", netip.MustParseAddr("127.0.0.2"), 8080, nil},
		{"tcp", netip.MustParseAddr("::ffff:127.0.0.1"), 8080, []int{0}}, // v4-mapped reaches 127.0.0.1
		{"udp", a6, 53, []int{1}},
		{"tcp", a6, 53, nil},
		{"tcp", netip.MustParseAddr("10.200.1.1"), 22, []int{2}},
		{"udp", netip.MustParseAddr("10.200.1.1"), 22, []int{2}},
		{"tcp", netip.MustParseAddr("11.0.0.1"), 22, nil},
		{"tcp", a6, 9000, []int{3}},
		{"tcp", a4, 9000, []int{3}},
	}
	for _, c := range cases {
		if got := n.CheckConnect(c.proto, c.addr, c.port); !reflect.DeepEqual(got, c.by) {
			t.Errorf("%s %v:%d: by %v, want %v", c.proto, c.addr, c.port, got, c.by)
		}
	}
	if n.Unrestricted("tcp") || !n.DatagramAllowed() {
		t.Errorf("Unrestricted/DatagramAllowed wrong for %v", n.Allow)
	}
	ports, handled := n.ConnectPorts()
	if !handled || !reflect.DeepEqual(ports, []uint16{22, 8080, 9000}) {
		t.Errorf("ConnectPorts = %v %v", ports, handled)
	}
}

func TestNetPolicyShapes(t *testing.T) {
	empty := NetPolicy{}
	if ports, handled := empty.ConnectPorts(); !handled || len(ports) != 0 {
		t.Errorf("no rule must deny every TCP connect: %v %v", ports, handled)
	}
	if empty.DatagramAllowed() {
		t.Error("no rule must refuse UDP sockets")
	}
	all := mustRules(t, "tcp://10.0.0.1")
	if _, handled := all.ConnectPorts(); handled {
		t.Error("an all-ports TCP rule leaves CONNECT_TCP unhandled, as in sandlock")
	}
	if all.DatagramAllowed() {
		t.Error("a tcp:// rule allows no UDP")
	}
	star := mustRules(t, "*")
	if !star.Unrestricted("udp") {
		t.Error(`"*" is unrestricted for udp`)
	}
	ping := mustRules(t, "icmp://*")
	if !ping.DatagramAllowed() {
		t.Error("an icmp rule allows ping sockets")
	}
}

func TestBind(t *testing.T) {
	n := NetPolicy{Bind: []BindGrant{
		{Index: 0, Given: "8080", Ranges: []PortRange{{8080, 8080}}},
		{Index: 1, Given: `"9000-9005"`, Ranges: []PortRange{{9000, 9005}}},
	}}
	for port, want := range map[int][]int{8080: {0}, 9003: {1}, 9006: nil, 0: nil} {
		if got := n.CheckBind(port); !reflect.DeepEqual(got, want) {
			t.Errorf("bind %d: %v, want %v", port, got, want)
		}
	}
	ports, handled := n.BindPorts()
	if !handled || len(ports) != 7 {
		t.Errorf("BindPorts = %v %v", ports, handled)
	}
	n.Bind = append(n.Bind, BindGrant{Index: 2, Given: `"*"`, Any: true})
	if _, handled := n.BindPorts(); handled {
		t.Error(`"*" leaves BIND_TCP unhandled`)
	}
}

func FuzzParseNetRule(f *testing.F) {
	for _, s := range []string{"127.0.0.1:80", "tcp://[::1]:1,2", "udp://*:*", "icmp://h", "10.0.0.0/8", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseNetRule(s)
		if err != nil {
			return
		}
		if len(r.Protos) == 0 {
			t.Fatalf("%q: no protocol", s)
		}
		if !r.AllPorts && len(r.Ports) == 0 {
			t.Fatalf("%q: neither ports nor all ports", s)
		}
		targets := 0
		if r.AnyIP {
			targets++
		}
		if r.Prefix.IsValid() {
			targets++
		}
		if r.Host != "" {
			targets++
		}
		if targets != 1 {
			t.Fatalf("%q: %d targets in %+v", s, targets, r)
		}
	})
}
