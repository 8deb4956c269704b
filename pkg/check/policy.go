package check

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sandlock-learn/sandlock-learn/pkg/profile"
)

// Policy is what a profile asks the kernel to enforce, resolved on this
// machine: canonical paths with their masks, parsed network rules, limits.
type Policy struct {
	ABI       int // the Landlock ABI the masks were computed for
	FS        []FSGrant
	Net       NetPolicy
	OpenFiles uint64 // RLIMIT_NOFILE; 0 = inherited
	// Blocked are the syscalls refused with EPERM, as sandlock refuses them.
	Blocked []string
	// Unenforced lists what the profile asks for that sandlock enforces and
	// this package does not, one short phrase each.
	Unenforced []string
}

// AddressEnforced tells whether a connect or send to an address no rule
// allows is refused (ECONNREFUSED, as sandlock) rather than only reported.
// It is: the supervisor fails such a notified call (seccomp.Options.Decide
// answered by Observer.Decide). Only a supervised run checks addresses; a
// run without seccomp user notification enforces ports alone (Landlock).
const AddressEnforced = true

// Resolver looks hostnames up; net.DefaultResolver fits.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// NewPolicy resolves p for a kernel with Landlock ABI abi. Every path of
// [filesystem] read and write must exist, as `sandlock run` requires: a
// Landlock rule is attached to an inode that exists when the sandbox starts.
// Hostnames in [network].allow are looked up once, here, with res (nil: no
// lookups, such rules match nothing).
func NewPolicy(p *profile.Profile, abi int, res Resolver) (*Policy, error) {
	pol := &Policy{ABI: abi}
	var errs []error
	for _, key := range []string{KeyRead, KeyWrite} {
		paths := p.Filesystem.Read
		if key == KeyWrite {
			paths = p.Filesystem.Write
		}
		for i, given := range paths {
			g, err := resolveGrant(key, i, given, abi)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			pol.FS = append(pol.FS, g)
		}
	}
	hostnames := false
	for i, s := range p.Network.Allow {
		r, err := ParseNetRule(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("network.allow: %v", err))
			continue
		}
		r.Index = i
		if r.Host != "" {
			hostnames = true
			r.Addrs = lookup(res, r.Host)
		}
		pol.Net.Allow = append(pol.Net.Allow, r)
	}
	for i, port := range p.Network.AllowBind {
		b := BindGrant{Index: i, Given: port.String()}
		if port.Spec == "*" {
			b.Any = true
		} else {
			rs, err := port.Ranges()
			if err != nil {
				errs = append(errs, fmt.Errorf("network.allow_bind: %v", err))
				continue
			}
			for _, r := range rs {
				b.Ranges = append(b.Ranges, PortRange{r.Lo, r.Hi})
			}
		}
		pol.Net.Bind = append(pol.Net.Bind, b)
	}
	if p.Limits.OpenFiles > 0 {
		pol.OpenFiles = uint64(p.Limits.OpenFiles)
	}
	pol.Blocked, pol.Unenforced = blocklist(p)
	if len(syscallNumbers) == 0 {
		pol.Unenforced = append(pol.Unenforced,
			"sandlock's syscall blocklist and its refusal of UDP and raw sockets (no syscall table for this architecture)")
	}
	if !AddressEnforced && pol.Net.hasAddressRules() {
		pol.Unenforced = append(pol.Unenforced,
			"the addresses of network.allow rules (Landlock enforces the ports, refusing others with EACCES where sandlock answers ECONNREFUSED; a connect or send to another address is reported, not refused)")
	}
	if hostnames {
		pol.Unenforced = append(pol.Unenforced,
			"hostname rules in network.allow (looked up once here; sandlock also serves its own /etc/hosts)")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return pol, nil
}

func resolveGrant(key string, i int, given string, abi int) (FSGrant, error) {
	g := FSGrant{Key: key, Index: i, Given: given}
	if !filepath.IsAbs(given) {
		return g, fmt.Errorf("filesystem.%s: %q is not an absolute path", key, given)
	}
	// Landlock opens the path, following symlinks, and attaches the rule to
	// the inode it finds; the evaluator compares canonical paths for that.
	canon, err := filepath.EvalSymlinks(given)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return g, fmt.Errorf("filesystem.%s: %s does not exist (sandlock run refuses a profile naming a missing path)", key, given)
		}
		return g, fmt.Errorf("filesystem.%s: %v", key, err)
	}
	fi, err := os.Stat(canon)
	if err != nil {
		return g, fmt.Errorf("filesystem.%s: %v", key, err)
	}
	g.Path = canon
	g.Dir = fi.IsDir()
	g.Access = GrantAccess(key, g.Dir, abi)
	return g, nil
}

func lookup(res Resolver, host string) []netip.Addr {
	if res == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := res.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	return addrs
}

// DefaultResolver is the system resolver (/etc/hosts, then DNS).
var DefaultResolver Resolver = net.DefaultResolver

// alwaysBlocked are the syscalls sandlock 0.8.6 refuses in every sandbox
// (profile.md); sysvIPC those it refuses unless [syscalls] extra_allow has
// "sysv_ipc".
var (
	alwaysBlocked = []string{
		"mount", "umount2", "pivot_root", "swapon", "swapoff", "reboot",
		"sethostname", "setdomainname", "kexec_load", "init_module",
		"finit_module", "delete_module", "unshare", "setns",
		"perf_event_open", "bpf", "userfaultfd", "keyctl", "add_key",
		"request_key", "ptrace", "process_vm_readv", "process_vm_writev",
		"open_by_handle_at", "name_to_handle_at", "ioperm", "iopl",
		"quotactl", "acct", "lookup_dcookie", "nfsservctl", "io_uring_setup",
		"io_uring_enter", "io_uring_register", "personality",
	}
	sysvIPC = []string{
		"shmget", "shmat", "shmdt", "shmctl", "msgget", "msgsnd", "msgrcv",
		"msgctl", "semget", "semop", "semctl", "semtimedop",
	}
)

// blocklist is the list of syscalls to refuse, and what of the profile's
// other sections sandlock enforces and we do not.
func blocklist(p *profile.Profile) (blocked, unenforced []string) {
	blocked = append(blocked, alwaysBlocked...)
	sysv := false
	for _, g := range p.Syscalls.ExtraAllow {
		if g == "sysv_ipc" {
			sysv = true
		}
	}
	if !sysv {
		blocked = append(blocked, sysvIPC...)
	}
	var unknown []string
	for _, name := range p.Syscalls.ExtraDeny {
		switch {
		case name == "sysv_ipc":
			blocked = append(blocked, sysvIPC...)
		case syscallNumber(name) >= 0:
			blocked = append(blocked, name)
		default:
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		unenforced = append(unenforced, "syscalls.extra_deny "+strings.Join(unknown, ", "))
	}
	for _, k := range []string{"env", "clean_env", "uid", "gid", "no_coredump", "no_huge_pages"} {
		if _, ok := p.Program.Kept[k]; ok {
			unenforced = append(unenforced, "program."+k)
		}
	}
	if p.Limits.Memory != "" {
		unenforced = append(unenforced, "limits.memory "+p.Limits.Memory)
	}
	if p.Limits.Processes > 0 {
		unenforced = append(unenforced, fmt.Sprintf("limits.processes %d", p.Limits.Processes))
	} else {
		unenforced = append(unenforced, fmt.Sprintf("sandlock's default limit of %d processes", profile.DefaultProcesses))
	}
	if len(p.HTTP.Allow)+len(p.HTTP.Deny)+len(p.HTTP.Kept) > 0 {
		unenforced = append(unenforced, "[http] rules")
	}
	if len(p.Filesystem.Deny) > 0 {
		unenforced = append(unenforced, "filesystem.deny")
	}
	if len(p.Network.Deny)+len(p.Network.DenyBind) > 0 {
		unenforced = append(unenforced, "network.deny and deny_bind")
	}
	for _, k := range []string{"chroot", "mount"} {
		if _, ok := p.Filesystem.Kept[k]; ok {
			unenforced = append(unenforced, "filesystem."+k)
		}
	}
	for _, k := range []string{"cpu", "disk", "gpu_devices", "cpu_cores", "num_cpus"} {
		if _, ok := p.Limits.Kept[k]; ok {
			unenforced = append(unenforced, "limits."+k)
		}
	}
	if len(p.Determinism) > 0 {
		unenforced = append(unenforced, "[determinism]")
	}
	return blocked, unenforced
}
