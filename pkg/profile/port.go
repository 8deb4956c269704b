package profile

import (
	"fmt"
	"strconv"
	"strings"
)

// Port is one entry of [network] allow_bind or deny_bind. sandlock takes a
// TOML integer (8080) or a string holding a comma list of ports and lo-hi
// ranges ("9000-9005", "80,443") or "*" for any port; Port keeps which one
// was written so that a profile round-trips unchanged.
type Port struct {
	Num  int    // the port, when Spec is ""
	Spec string // a port-spec string; Num is 0 then
}

// PortNum is the integer entry n.
func PortNum(n int) Port { return Port{Num: n} }

// PortSpec is the string entry s.
func PortSpec(s string) Port { return Port{Spec: s} }

// String is the entry as TOML writes it: 8080 or "9000-9005".
func (p Port) String() string {
	if p.Spec != "" {
		return strconv.Quote(p.Spec)
	}
	return strconv.Itoa(p.Num)
}

// Range is an inclusive range of TCP ports.
type Range struct{ Lo, Hi int }

// Ranges is the set of ports the entry covers; "*" is 1-65535.
func (p Port) Ranges() ([]Range, error) {
	if p.Spec == "" {
		if p.Num < 1 || p.Num > 65535 {
			return nil, fmt.Errorf("port %d out of range 1-65535", p.Num)
		}
		return []Range{{p.Num, p.Num}}, nil
	}
	return ParsePortSpec(p.Spec)
}

// ParsePortSpec parses a port-spec string: "*", or a comma list of ports
// and lo-hi ranges, each port 1-65535, no spaces.
func ParsePortSpec(s string) ([]Range, error) {
	if s == "*" {
		return []Range{{1, 65535}}, nil
	}
	if s == "" {
		return nil, fmt.Errorf("empty port spec")
	}
	var out []Range
	for _, item := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(item, "-")
		a, err := parsePort(lo)
		if err != nil {
			return nil, fmt.Errorf("port spec %q: %v", s, err)
		}
		b := a
		if isRange {
			if b, err = parsePort(hi); err != nil {
				return nil, fmt.Errorf("port spec %q: %v", s, err)
			}
			if b < a {
				return nil, fmt.Errorf("port spec %q: range %d-%d is backwards", s, a, b)
			}
		}
		out = append(out, Range{a, b})
	}
	return out, nil
}

func parsePort(s string) (int, error) {
	if s == "" || len(s) > 5 {
		return 0, fmt.Errorf("%q is not a port (want 1-65535)", s)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a port (want 1-65535)", s)
		}
		n = n*10 + int(s[i]-'0')
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %d out of range 1-65535", n)
	}
	return n, nil
}

// CheckNetRule says what is wrong with one [network] allow or deny rule, or
// returns nil. It checks the shape profile.md gives (optional tcp://, udp://
// or icmp:// scheme; a target; for tcp and udp an optional :port list with
// ports 1-65535 or *; IPv6 bracketed before a port), not whether a hostname
// resolves, which sandlock does once at start.
func CheckNetRule(rule string) error {
	if rule == "" {
		return fmt.Errorf("empty rule")
	}
	if strings.ContainsAny(rule, " \t\r\n") {
		return fmt.Errorf("rule %q contains white space", rule)
	}
	rest, scheme := rule, ""
	if i := strings.Index(rule, "://"); i >= 0 {
		scheme, rest = rule[:i], rule[i+3:]
		switch scheme {
		case "tcp", "udp", "icmp":
		default:
			return fmt.Errorf("rule %q: unknown scheme %q (want tcp://, udp:// or icmp://)", rule, scheme)
		}
	}
	target, ports := rest, ""
	switch {
	case strings.HasPrefix(rest, "["):
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return fmt.Errorf("rule %q: unclosed [", rule)
		}
		target = rest[1:end]
		after := rest[end+1:]
		if after != "" {
			if after[0] != ':' {
				return fmt.Errorf("rule %q: junk after ]", rule)
			}
			ports = after[1:]
			if ports == "" {
				return fmt.Errorf("rule %q: empty port list", rule)
			}
		}
	case strings.Count(rest, ":") == 1:
		target, ports, _ = strings.Cut(rest, ":")
		if ports == "" {
			return fmt.Errorf("rule %q: empty port list", rule)
		}
	}
	// More than one colon without brackets is a bare IPv6 address or CIDR,
	// which cannot carry a port.
	if target == "" {
		return fmt.Errorf("rule %q: empty target", rule)
	}
	if ports != "" && scheme == "icmp" {
		return fmt.Errorf("rule %q: icmp rules take no port", rule)
	}
	if ports == "" || ports == "*" {
		return nil
	}
	for _, p := range strings.Split(ports, ",") {
		if p == "*" {
			continue
		}
		if _, err := parsePort(p); err != nil {
			return fmt.Errorf("rule %q: %v", rule, err)
		}
	}
	return nil
}
