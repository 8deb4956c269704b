package collapse

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

type pidFD struct {
	run, pid, fd int
}

type netDest struct {
	rule string
	ok   bool
}

// netAgg is one network grant being built.
type netAgg struct {
	key      string // allow or allow_bind
	rule     string
	port     int64
	observed int64
	ops      map[string]int64 // e.g. "TCP connect" -> 3
}

func (c *Collapser) addNet(r *event.Net) error {
	addr, err := netip.ParseAddr(r.Addr)
	if err != nil {
		return fmt.Errorf("net record: addr %q is not an IP address", r.Addr)
	}
	if (r.Family == "inet") != addr.Is4() {
		return fmt.Errorf("net record: addr %s does not belong to family %s", r.Addr, r.Family)
	}
	if addr.Zone() != "" {
		// A rule has no room for a zone; the address alone is still the
		// destination the workload used.
		c.addTraceWarning(fmt.Sprintf("IPv6 zone dropped from %s in the network rule", r.Addr))
		addr = addr.WithZone("")
	}
	host := addr.String()
	if addr.Is6() {
		host = "[" + host + "]"
	}
	withPort := func(proto string) string {
		return proto + "://" + host + ":" + strconv.Itoa(r.Port)
	}
	run := len(c.runs)
	switch r.Proto {
	case "tcp":
		switch r.Op {
		case "connect", "send":
			if r.Port != 0 {
				c.netGrant("allow", withPort("tcp"), 0, "TCP "+r.Op)
			}
		case "bind":
			if r.Port != 0 {
				c.netGrant("allow_bind", "", int64(r.Port), "TCP bind")
			}
		}
	case "udp":
		k := pidFD{run, r.PID, r.FD}
		switch r.Op {
		case "connect":
			// Not traffic yet: glibc's getaddrinfo connects a UDP socket
			// to each candidate address only to learn the source address.
			if r.Port != 0 {
				c.udpConn[k] = netDest{rule: withPort("udp"), ok: true}
				if _, seen := c.udpProbes[withPort("udp")]; !seen && len(c.udpProbes) < maxProbes {
					c.udpProbes[withPort("udp")] = true
				}
			} else {
				delete(c.udpConn, k)
			}
		case "send":
			if r.Port != 0 {
				c.netGrant("allow", withPort("udp"), 0, "UDP send")
			}
			if d, ok := c.udpConn[k]; ok && d.rule != withPort("udp") {
				c.netGrant("allow", d.rule, 0, "UDP send on connected socket")
			}
		}
	case "icmp":
		if r.Op != "bind" {
			c.netGrant("allow", "icmp://"+addr.String(), 0, "ICMP "+r.Op)
		}
	}
	return nil
}

// maxProbes bounds the UDP destinations remembered for the probe warning.
const maxProbes = 1024

func (c *Collapser) netGrant(key, rule string, port int64, what string) {
	id := key + " " + rule + " " + strconv.FormatInt(port, 10)
	a := c.net[id]
	if a == nil {
		a = &netAgg{key: key, rule: rule, port: port, ops: map[string]int64{}}
		c.net[id] = a
		c.netOrder = append(c.netOrder, id)
	}
	a.observed++
	a.ops[what]++
}
