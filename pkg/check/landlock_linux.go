//go:build linux

package check

import (
	"errors"
	"fmt"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// ErrNoLandlock means the kernel cannot enforce a profile at all.
var ErrNoLandlock = errors.New("this kernel has no Landlock (it needs Linux 5.13+ with landlock in the lsm= list); nothing can be enforced")

// KernelABI is the Landlock ABI version of the running kernel, or
// ErrNoLandlock.
func KernelABI() (int, error) {
	v, err := ll.LandlockGetABIVersion()
	if err != nil || v < 1 {
		return 0, ErrNoLandlock
	}
	return v, nil
}

// MinSandlockABI is the oldest Landlock ABI sandlock 0.8 runs on: it refuses
// to start below it.
const MinSandlockABI = 6

// Ruleset is the Landlock part of a Plan: plain data, so the parent can
// compute it and hand it to the helper that enforces it.
type Ruleset struct {
	HandledFS  uint64     `json:"handled_fs"`
	HandledNet uint64     `json:"handled_net"`
	Scoped     uint64     `json:"scoped"`
	Paths      []PathRule `json:"paths"`
	Connect    []uint16   `json:"connect"` // TCP ports, when CONNECT_TCP is handled
	Bind       []uint16   `json:"bind"`    // TCP ports, when BIND_TCP is handled
}

// PathRule is one path-beneath rule.
type PathRule struct {
	Path   string `json:"path"`
	Access uint64 `json:"access"`
}

// Ruleset builds the Landlock ruleset sandlock would build from pol: every
// filesystem right up to the ABI handled, read and write rules with
// sandlock's masks (file rules masked), TCP connect by the ports of the TCP
// rules and bind by allow_bind (each left unhandled when a rule allows every
// port), and the abstract-socket and signal scopes from ABI 6.
func (pol *Policy) Ruleset() Ruleset {
	rs := Ruleset{HandledFS: uint64(HandledAccess(pol.ABI))}
	for _, g := range pol.FS {
		rs.Paths = append(rs.Paths, PathRule{Path: g.Path, Access: uint64(g.Access)})
	}
	if pol.ABI >= 4 {
		if ports, handled := pol.Net.ConnectPorts(); handled {
			rs.HandledNet |= ll.AccessNetConnectTCP
			rs.Connect = ports
		}
		if ports, handled := pol.Net.BindPorts(); handled {
			rs.HandledNet |= ll.AccessNetBindTCP
			rs.Bind = ports
		}
	}
	if pol.ABI >= 6 {
		rs.Scoped = ll.ScopeAbstractUnixSocket | ll.ScopeSignal
	}
	return rs
}

// restrictSelf enforces rs on the calling OS thread, which the caller has
// locked and will exec from: Landlock domains are per thread and survive
// execve, so the workload inherits exactly this one.
func restrictSelf(rs Ruleset) error {
	cfg := landlock.Config{
		HandledAccessFS:  landlock.AccessFSSet(rs.HandledFS),
		HandledAccessNet: landlock.AccessNetSet(rs.HandledNet),
		Scoped:           landlock.ScopedSet(rs.Scoped),
	}
	var rules []landlock.Rule
	for _, p := range rs.Paths {
		rules = append(rules, landlock.PathAccess(landlock.AccessFSSet(p.Access), p.Path))
	}
	for _, p := range rs.Connect {
		rules = append(rules, landlock.ConnectTCP(p))
	}
	for _, p := range rs.Bind {
		rules = append(rules, landlock.BindTCP(p))
	}
	fd, flags, err := cfg.NewRulesetFD(rules...)
	if err != nil {
		return fmt.Errorf("building the Landlock ruleset: %w", err)
	}
	if fd < 0 {
		return ErrNoLandlock
	}
	defer unix.Close(fd)
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	if err := ll.LandlockRestrictSelf(fd, flags); err != nil {
		return fmt.Errorf("landlock_restrict_self: %w", err)
	}
	return nil
}
