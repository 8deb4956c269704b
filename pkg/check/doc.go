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
//     no rule names udp or icmp (in a supervised run the supervisor refuses
//     those sockets instead, with the same EPERM, so that the refusal is
//     explained: a filter's EPERM would win over the notification).
//
// # Explanation: ours
//
// With RunConfig.Supervise, the helper is started by pkg/seccomp's reaper,
// from its filtered thread, so the notification filter is in place before Landlock
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
// socket() with EPERM (seccomp_plan.rs, arg_filters).
//
// We do the same: the supervisor calls Observer.Decide with the records of
// each notified connect, sendto, sendmsg and sendmmsg (seccomp.Options.
// Decide) before answering it, and NetVerdict's ECONNREFUSED fails the call
// in the workload (AddressEnforced). The check runs first, so a TCP port
// outside the rules also gets ECONNREFUSED, as under sandlock, rather than
// Landlock's EACCES; without a supervisor (no seccomp user notification)
// only Landlock's port rules remain, and the caller must say so.
//
// # Limits of the address check (TOCTOU)
//
// The supervisor reads the sockaddr from the workload's memory, decides,
// and answers. A refusal is final: the kernel never runs the call, so what
// the memory holds afterwards does not matter. An allowed call is answered
// CONTINUE, and the kernel then reads the socket descriptor's target and
// the sockaddr (or a sendmsg's msghdr) again: another thread of a hostile
// workload can rewrite the address, or dup2 another socket onto the fd, in
// between, and reach a destination the profile does not allow (Landlock
// still checks a TCP port; a UDP destination and any address have no
// second check). sandlock does not have this hole: for an IP connect,
// sendto, sendmsg and sendmmsg under a destination policy it duplicates
// the workload's socket (pidfd_getfd), checks its own copy of the address
// and performs the call itself on the duplicate, answering with the result
// (crates/sandlock-core/src/network/connect.rs connect_on_behalf, send.rs
// sendto_on_behalf and sendmsg_on_behalf). sandlock-check does not perform
// calls on the workload's behalf: it proves that a cooperative program
// works under a profile and explains what the profile lacks; it is not a
// containment boundary for addresses against code written to race it.
//
// Where sandlock also fails closed and we let the call run (each rare for
// a cooperative program): a sockaddr that cannot be read (sandlock: EIO;
// we warn, and the kernel then fails the call with EFAULT itself), a
// socket whose protocol cannot be named, e.g. SCTP (sandlock:
// ECONNREFUSED; we warn), and a send to an AF_UNSPEC address on an IPv4
// UDP socket, which udp_sendmsg takes as an IPv4 destination: we check it
// as that address (refused with ECONNREFUSED when no rule allows it),
// where sandlock, whose parser knows AF_INET and AF_INET6 only, refuses it
// even to an allowed address (EAFNOSUPPORT).
// A sendmmsg with one refused destination is refused whole here, where
// sandlock judges and sends message by message. io_uring, which seccomp
// cannot see into, is refused by sandlock's blocklist here too.
//
// What sandlock enforces and this package cannot (memory and process
// limits, [http] rules, /etc/hosts rewriting...) is listed by
// Policy.Unenforced, so the caller says so instead of pretending.
package check
