// Package seccomp is the supervisor of sandlock-trace: it starts a workload
// under a seccomp user-notification filter, receives every notified syscall,
// reads the arguments from the tracee's memory, resolves paths as the tracee
// sees them and reports what happened as event records. Every notification
// is answered with CONTINUE, so the workload runs exactly as it would alone,
// unless Options.Decide (sandlock-check's address check) fails it with an
// errno. A CONTINUE lets the kernel read the arguments again: a tracee
// thread can change them after we read them (the usual seccomp
// user-notification TOCTOU), so what we record and allow is what the
// arguments held when we looked, and a refusal is the only answer the
// tracee cannot race.
//
// The package observes; it decides no policy (that is pkg/collapse). It is
// Linux on x86-64 only: elsewhere Start reports ErrUnsupported.
//
// # Process shape
//
// Go runs no user code between fork and exec, so the filter is installed
// by a re-executed copy of the binary, on one thread of it:
//
//	tracer ──> reaper helper (subreaper; kills the tree if the tracer dies)
//	             thread with no_new_privs and the filter: listener to the
//	             tracer (SCM_RIGHTS), then forks (vfork) and execs the
//	             workload with PR_SET_PDEATHSIG
//
// A seccomp filter belongs to the thread that installs it and to what that
// thread forks; the Go runtime never creates threads from a locked one, so
// the rest of the reaper stays unfiltered. The thread's own calls (its
// fork, the runtime's mmaps) reach the listener too and are answered
// without being recorded. The workload's first call, its execve, names the
// main process; Start holds it pending until Run. The thread lives until
// the main process has exited (a parent-death signal follows the forking
// thread), then ends, so that the listener hangs up with the workload's
// last task. An earlier design exec'd a second helper that installed the
// filter on itself and then exec'd the workload: one more Go start-up,
// about 3 ms of every trace.
//
// A binary that uses this package must call MaybeRunHelper first thing in
// main (and in TestMain), so its re-executed copy becomes the reaper.
//
// The reaper is the subreaper of the whole workload tree, so orphans and
// daemons stay its descendants; when the tracer's control socket hangs up
// (the tracer exited or was SIGKILLed) it SIGKILLs every descendant: a
// workload never runs on unobserved. It catches SIGINT/SIGTERM/SIGHUP (a
// terminal's Ctrl-C must reach the workload, not kill the reaper). It
// exits only once the killed tree is reaped, and Close waits for it: the
// workload's CPU time reaches the tracer's rusage only that way.
//
// Every read of the start-up protocol ends when its peer dies: each
// socket end lives only in the one process that uses it (both are
// close-on-exec in the reaper, so no workload process holds them).
// StartContext also gives up when its context is done (a signal to the
// tracer during start-up), and a reaper or workload killed by a
// group-wide signal is reported as SignaledError.
//
// # Decisions
//
//   - Notified: the path and socket calls of the profile, executable mmap
//     and anonymous mmap except small private writable ones (under
//     SmallMap, 1 MiB, not MAP_FIXED: statm data counts them, see
//     pkg/peak), munmap of at least SmallMap, mprotect to writable, brk,
//     mremap,
//     clone without CLONE_THREAD (tested in the filter), clone3, fork,
//     vfork, chroot and io_uring_setup; with Options.Extra also the
//     syscalls sandlock always blocks, so they can be counted.
//   - O_PATH opens are not recorded: they read, write and list nothing, and
//     Landlock asks no right for them. The filter lets open/openat with
//     O_PATH through; openat2 is checked here.
//   - openat2's RESOLVE_* bits are applied as the kernel does
//     (resolver.resolveHow): RESOLVE_IN_ROOT resolves in the dirfd as
//     root, and an open that RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS,
//     RESOLVE_NO_MAGICLINKS or RESOLVE_NO_XDEV (mount ids from statx;
//     unchecked before Linux 5.8) refuses (EXDEV, ELOOP) records nothing,
//     as does any open whose final component is a symlink it does not
//     follow (O_NOFOLLOW, O_CREAT|O_EXCL): a call the kernel refuses by
//     its own path rules must not widen the profile.
//   - sendto with a NULL address (send on a connected socket) is not
//     notified: the connect was recorded already. sendmsg/sendmmsg are
//     notified and every message that names a destination is recorded.
//     A message without one on a connected UDP or ICMP socket (glibc's
//     resolver: connect, then sendmmsg with no address) is recorded as a
//     send to the socket's peer (getpeername on the pidfd_getfd duplicate;
//     one record per call). Not cached per fd, since close and dup2 are
//     not notified. Limit: send(), sendto(NULL), write() and writev() on a
//     connected UDP socket stay unobserved (notifying them would cost a
//     round trip per datagram); only its connect shows the destination.
//   - An AF_UNSPEC destination of a send is recorded as the IPv4 address
//     its bytes hold when the socket is an AF_INET UDP one: udp_sendmsg
//     sends there. On other sockets it names no destination.
//   - socket() is notified only when Options.Extra names it: an AF_INET or
//     AF_INET6 datagram socket (UDP, ICMP) is then a net record with op
//     "socket" and no address (sandlock-check refuses and explains those
//     sandlock refuses). A trace does not ask for it.
//   - The protocol of a socket comes from the socket itself: pidfd_getfd
//     and getsockopt(SO_PROTOCOL) on the duplicate.
//   - Named AF_UNIX bind/connect (and sendto/sendmsg to a named socket) are
//     fs events (bind_unix, connect_unix); abstract and unnamed addresses
//     are ignored.
//   - exec: the attempted file is an fs "exec" event at once (existed tells
//     whether it was there); the exec record waits for the new image, seen
//     by a changed fingerprint (executable inode, code and stack start) at
//     the process's next notification or a 10 ms check. A failed attempt
//     (execvp walking $PATH) records nothing more, and never the reaper's
//     image that the workload's process had before its first exec. The interpreter and the executable file mappings of the new
//     image come from /proc/PID/maps; later ones (dlopen) from executable
//     mmap notifications. Limit: an image that makes no notified call and
//     ends within 10 ms is reported by a warning instead.
//   - Signals: the reaper runs with GODEBUG=asyncpreemptoff=1, so Go sends
//     no SIGURG that could interrupt its notified fork over and over (and
//     with GOMAXPROCS=1 and GOGC=off until the workload runs); the
//     workload gets its own GODEBUG, GOMAXPROCS and GOGC and an unchanged
//     signal mask.
//   - Paths are canonical in the tracee's root (re-read after it calls
//     chroot), against its cwd or dirfd; /proc/self and /proc/thread-self
//     mean the tracee. For remove, rmdir, rename, link targets, symlink,
//     mkdir and mknod only the parent is canonical. Directories are cached
//     (and, from their second use, held open, so that a path's final
//     component is looked up in its directory's descriptor, not from /);
//     a rename, rmdir or unlink of a symlink drops the cache and suspends it
//     until that call is over. Limit: a directory replaced by a process
//     outside the workload, or covered by a mount, stays the one cached
//     until the workload renames or removes something.
//   - Thread ids map to processes through /proc/TID/status, cached with a
//     pidfd per thread watched by epoll, so a reused id is never misread.
package seccomp
