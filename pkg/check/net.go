package check

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// Protocols a [network].allow rule can name.
const (
	ProtoTCP  = "tcp"
	ProtoUDP  = "udp"
	ProtoICMP = "icmp"
)

// NetRule is one entry of [network].allow, parsed with sandlock's grammar:
// `host:port[,port...]` (TCP and UDP), `tcp://...`, `udp://...`,
// `icmp://host`; the target is a hostname, an IP, a CIDR or `*`; IPv6 is
// bracketed before a port; a target without a port means all ports.
type NetRule struct {
	Index    int
	Given    string
	Protos   []string // tcp and udp for a rule without a scheme
	AnyIP    bool
	Prefix   netip.Prefix // valid for an IP or CIDR target
	Host     string       // a hostname target, resolved once at start
	Addrs    []netip.Addr // the hostname's addresses
	Ports    []uint16
	AllPorts bool
}

// Ref names the rule the way a user finds it in the profile.
func (r *NetRule) Ref() string { return fmt.Sprintf("network.allow %q", r.Given) }

// ParseNetRule parses one [network].allow entry.
func ParseNetRule(s string) (NetRule, error) {
	r := NetRule{Given: s}
	rest := s
	scheme := ""
	if i := strings.Index(s, "://"); i >= 0 {
		scheme, rest = s[:i], s[i+3:]
		switch scheme {
		case ProtoTCP, ProtoUDP, ProtoICMP:
		default:
			return r, fmt.Errorf("unknown scheme %q in %q (want tcp, udp or icmp)", scheme+"://", s)
		}
	}
	if scheme == ProtoICMP {
		r.Protos = []string{ProtoICMP}
		r.AllPorts = true
		if rest == "" {
			return r, fmt.Errorf("icmp rule %q needs a host, an IP or *", s)
		}
		if _, err := parsePrefix(rest); err != nil && rest != "*" && strings.Contains(rest, ":") {
			return r, fmt.Errorf("icmp rule %q takes no port", s)
		}
		return r, r.setTarget(rest)
	}
	if scheme == "" {
		r.Protos = []string{ProtoTCP, ProtoUDP}
	} else {
		r.Protos = []string{scheme}
	}
	switch {
	case strings.HasPrefix(rest, "["):
		i := strings.LastIndex(rest, "]:")
		if i < 0 {
			return r, fmt.Errorf("malformed bracketed address in %q (want [addr]:port)", s)
		}
		p, err := parsePrefix(rest[1:i])
		if err != nil {
			return r, fmt.Errorf("%q: %v", s, err)
		}
		r.Prefix = p
		return r, r.setPorts(rest[i+2:])
	case rest == "":
		return r, fmt.Errorf("empty rule %q (use * for any host)", s)
	}
	if p, err := parsePrefix(rest); err == nil {
		// A whole IP or CIDR, IPv6 ones included: every port.
		r.Prefix, r.AllPorts = p, true
		return r, nil
	}
	host, ports, hasPort := rest, "", false
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		host, ports, hasPort = rest[:i], rest[i+1:], true
	}
	if err := r.setTarget(host); err != nil {
		return r, err
	}
	if !hasPort {
		r.AllPorts = true
		return r, nil
	}
	return r, r.setPorts(ports)
}

func (r *NetRule) setTarget(t string) error {
	switch {
	case t == "" || t == "*":
		r.AnyIP = true
	case strings.Contains(t, "/"):
		p, err := parsePrefix(t)
		if err != nil {
			return fmt.Errorf("%q: %v", r.Given, err)
		}
		r.Prefix = p
	default:
		if p, err := parsePrefix(t); err == nil {
			r.Prefix = p
		} else {
			r.Host = t
		}
	}
	return nil
}

func (r *NetRule) setPorts(s string) error {
	wild := false
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "*" {
			wild = true
			continue
		}
		n, err := strconv.ParseUint(f, 10, 16)
		if err != nil {
			return fmt.Errorf("invalid port %q in %q", f, r.Given)
		}
		if n == 0 {
			return fmt.Errorf("port 0 is not valid in %q", r.Given)
		}
		r.Ports = append(r.Ports, uint16(n))
	}
	if wild && len(r.Ports) > 0 {
		return fmt.Errorf("cannot mix * with ports in %q", r.Given)
	}
	if !wild && len(r.Ports) == 0 {
		return fmt.Errorf("no port in %q", r.Given)
	}
	r.AllPorts = wild
	return nil
}

// parsePrefix reads an IP (a host prefix) or a CIDR.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("invalid CIDR %q", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address", s)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q: zoned addresses are not supported", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// hasProto reports whether the rule applies to proto.
func (r *NetRule) hasProto(proto string) bool {
	for _, p := range r.Protos {
		if p == proto {
			return true
		}
	}
	return false
}

// Matches reports whether the rule allows proto traffic to addr:port. An
// IPv4-mapped IPv6 address is matched as the IPv4 address it reaches.
func (r *NetRule) Matches(proto string, addr netip.Addr, port int) bool {
	if !r.hasProto(proto) {
		return false
	}
	addr = addr.Unmap()
	switch {
	case r.AnyIP:
	case r.Prefix.IsValid():
		if !r.Prefix.Contains(addr) {
			return false
		}
	default:
		found := false
		for _, a := range r.Addrs {
			if a.Unmap() == addr {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if r.AllPorts || proto == ProtoICMP {
		return true
	}
	for _, p := range r.Ports {
		if int(p) == port {
			return true
		}
	}
	return false
}

// BindGrant is one entry of [network].allow_bind: a port, or a string of
// ports and ranges ("9000-9005", "80,443"), or "*" (any port).
type BindGrant struct {
	Index  int
	Given  string // as TOML writes it: 8080 or "9000-9005"
	Ranges []PortRange
	Any    bool
}

// PortRange is an inclusive range of ports.
type PortRange struct{ Lo, Hi int }

// Ref names the entry the way a user finds it in the profile.
func (b *BindGrant) Ref() string { return fmt.Sprintf("network.allow_bind %s", b.Given) }

func (b *BindGrant) has(port int) bool {
	if b.Any {
		return true
	}
	for _, r := range b.Ranges {
		if port >= r.Lo && port <= r.Hi {
			return true
		}
	}
	return false
}

// NetPolicy is the [network] part of a profile.
type NetPolicy struct {
	Allow []NetRule
	Bind  []BindGrant
}

// Unrestricted reports whether proto traffic needs no address check: a rule
// for it allows every host and every port.
func (n *NetPolicy) Unrestricted(proto string) bool {
	for i := range n.Allow {
		r := &n.Allow[i]
		if r.hasProto(proto) && r.AnyIP && r.AllPorts {
			return true
		}
	}
	return false
}

// hasAddressRules reports whether some rule names particular hosts, so that
// an address check matters beyond ports.
func (n *NetPolicy) hasAddressRules() bool {
	for i := range n.Allow {
		if !n.Allow[i].AnyIP {
			return true
		}
	}
	return false
}

// DatagramAllowed reports whether the workload may create UDP or ICMP
// (ping) sockets at all: sandlock refuses SOCK_DGRAM on AF_INET and
// AF_INET6 with EPERM unless some rule names UDP or ICMP.
func (n *NetPolicy) DatagramAllowed() bool {
	for i := range n.Allow {
		if n.Allow[i].hasProto(ProtoUDP) || n.Allow[i].hasProto(ProtoICMP) {
			return true
		}
	}
	return false
}

// CheckConnect evaluates a connect or a send to addr:port over proto. It
// returns the indexes of the rules that allow it (all of them, so --unused
// credits each), or none when it is denied.
func (n *NetPolicy) CheckConnect(proto string, addr netip.Addr, port int) []int {
	var by []int
	for i := range n.Allow {
		if n.Allow[i].Matches(proto, addr, port) {
			by = append(by, i)
		}
	}
	return by
}

// CheckBind evaluates a TCP bind to port. Landlock restricts TCP binds only.
func (n *NetPolicy) CheckBind(port int) []int {
	var by []int
	for i := range n.Bind {
		if n.Bind[i].has(port) {
			by = append(by, i)
		}
	}
	return by
}

// ConnectPorts is what Landlock gets for TCP connect, as sandlock builds it:
// the union of the ports of every TCP rule. handled is false when a TCP rule
// allows all ports, because Landlock cannot say "every port" short of 65536
// rules; the address check is then the only one, as in sandlock.
func (n *NetPolicy) ConnectPorts() (ports []uint16, handled bool) {
	set := map[uint16]bool{}
	for i := range n.Allow {
		r := &n.Allow[i]
		if !r.hasProto(ProtoTCP) {
			continue
		}
		if r.AllPorts {
			return nil, false
		}
		for _, p := range r.Ports {
			set[p] = true
		}
	}
	return sortedPorts(set), true
}

// BindPorts is what Landlock gets for TCP bind; handled is false with "*".
func (n *NetPolicy) BindPorts() (ports []uint16, handled bool) {
	set := map[uint16]bool{}
	for i := range n.Bind {
		b := &n.Bind[i]
		if b.Any {
			return nil, false
		}
		for _, r := range b.Ranges {
			for p := r.Lo; p <= r.Hi; p++ {
				set[uint16(p)] = true
			}
		}
	}
	return sortedPorts(set), true
}

func sortedPorts(set map[uint16]bool) []uint16 {
	out := make([]uint16, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
