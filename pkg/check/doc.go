// Package check runs a workload confined by a sandlock profile the way
// `sandlock run -p PROFILE` confines it, and explains what the profile did
// not allow.
//
// # Enforcement: the kernel's
//
// A re-executed helper of the calling binary (MaybeHelper) applies, on the
// thread that then execs the workload:
//   - RLIMIT_NOFILE from [limits].open_files;
//   - a Landlock ruleset as sandlock 0.8 builds it: every filesystem right
//     up to IOCTL_DEV handled; `read` paths get EXECUTE|READ_FILE|READ_DIR,
//     `write` paths read plus every right that changes a file or directory
//     (REFER and IOCTL_DEV included), both masked to the file rights on a
//     path that is not a directory; TCP connect allowed to the ports of the
//     TCP rules of [network].allow and bind to [network].allow_bind, each
//     left unhandled when a rule allows every port; the abstract-socket and
//     signal scopes from ABI 6;
//   - a static seccomp filter refusing with EPERM what sandlock always
//     refuses: its syscall blocklist, raw sockets, and UDP/ICMP sockets when
//     no rule names udp or icmp.
//
// # Explanation: ours
//
// With RunConfig.Supervise, the helper is started through pkg/seccomp's
// workload helper, so the notification filter is in place before Landlock
// and the workload's every path and socket operation reaches an Observer.
// The Observer ignores the helper's own start-up (until the helper opens a
// marker path no one else can know) and feeds the rest to a Session, which
// evaluates each operation with the same semantics as Landlock (Needs,
// CheckFS: the rights an operation needs on which inode, unioned over the
// rules on the path and its ancestors), reports each denial once, and
// counts per grant the operations it covered (for --unused). Exec failures
// inside the kernel (a script's interpreter, an ELF's loader) are found
// from the files, as no supervisor sees them.
//
// # Address checks and the errno
//
// sandlock refuses a connect or send to an IP destination that no
// network.allow rule permits with ECONNREFUSED: its supervisor's verdict
// (multikernel/sandlock crates/sandlock-core/src/network/verdict.rs,
// destination_verdict and layered_destination_verdict, used by
// network/connect.rs for connect and by the sendto/sendmsg handlers) fails
// closed with ECONNREFUSED, and handles every IP connect when network.allow
// is not empty. A UDP or ICMP socket without a rule naming them fails at
// socket() with EPERM (seccomp_plan.rs, arg_filters). NetVerdict and Decide
// compute that answer; enforcing it needs a supervisor that can fail a
// notified syscall with an errno, which pkg/seccomp does not offer yet, so
// AddressEnforced is false: such connects are reported, not refused, and
// Landlock alone refuses a wrong TCP port with EACCES.
//
// What sandlock enforces and this package cannot (memory and process
// limits, [http] rules, /etc/hosts rewriting...) is listed by
// Policy.Unenforced, so the caller says so instead of pretending.
package check
