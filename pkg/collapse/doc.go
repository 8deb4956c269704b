// Package collapse turns the event stream of one or more traced runs into the
// grant stream: every policy decision of the pipeline lives here (which
// Landlock grant an operation needs, directory collapsing, path tiers,
// network rules, resource limits). It does no I/O beyond lstat, readlink and
// readdir of the real filesystem, which it needs to grant only paths that
// exist now, canonically, and to list what a guarded write grant opens up.
//
// Use: c, err := New(opts); c.Add(rec) for every record in order;
// res := c.Result(). Memory grows with distinct paths, not with events: each
// event is folded into the node of its path as it arrives.
//
// # Operations and the grant they need
//
//	read, readdir, exec, link_from        read on the path
//	write, truncate, connect_unix         write on the path (the file itself)
//	create, mkdir, mknod, remove, rmdir,  write on the PARENT directory
//	rename_from, rename_to, link_to,
//	symlink, bind_unix
//
// An operation that the kernel fails before any Landlock check needs no
// grant and is dropped: a read, write, truncate, connect_unix, remove, rmdir,
// rename_from or link_from of a path that did not exist (ENOENT), and a
// create, mkdir, mknod, symlink, link_to or bind_unix of one that did
// (EEXIST). An open with O_PATH (in the record's flags) needs no grant
// either, whatever its op: the kernel ignores the other open flags and skips
// the LSM file_open hook for O_PATH, and such a descriptor cannot read or
// write.
//
// connect_unix: Landlock up to ABI 7 has no right for connecting to a
// pathname AF_UNIX socket (ABI 6 scopes only abstract sockets), so sandlock
// 0.8 gates it itself, in its seccomp supervisor, on the fs WRITE grants (the
// socket's real inode must lie under a write grant). A connect therefore
// needs write on the socket file; if the socket is gone at collapse time it
// is treated like any other write of a vanished file.
//
// # Existence, canonical paths, write collapse
//
// A Landlock rule needs an inode when the sandbox starts, so only paths that
// exist now are granted, in canonical form (symlinks resolved). A write need
// on a path that is gone (created and deleted, or a new file) goes to the
// nearest existing ancestor directory: that is a write collapse, and so is
// every write on a parent directory, since a directory grant covers all
// beneath it. Reads of paths that are gone are dropped (with a warning unless
// a write grant covers where they were).
//
// A path that is not valid UTF-8 cannot be written in a TOML profile; it is
// replaced by its nearest UTF-8 ancestor directory (same kind of grant, with
// a warning), subject to the same tier rules as a write collapse.
//
// # Tiers
//
//	protected: /, /root, any path ending in /.ssh /.aws /.kube /.gnupg, and
//	           (our choice, to be safe) everything beneath those four
//	guarded:   /etc /proc /sys /dev /boot /run/secrets and $HOME (not /root)
//
// The threshold never collapses into a protected or guarded directory (nor
// into / or below a protected one). A write collapse into / or a protected
// directory is skipped and reported as an error; into a guarded one it is
// emitted with a warning listing the entries the workload never touched but
// may now write. A --collapse-prefix on a protected or guarded path is
// refused unless ForceSensitive; on / it is always refused. Never granted:
// / itself, /proc/self, /proc/thread-self, /proc/<pid>, /dev/pts and
// /dev/tty (and everything beneath them).
//
// # Threshold and prefixes
//
// After each need has found its target, a directory becomes a read grant
// when Threshold or more distinct entries directly under it are targets
// (read or write), and a write grant when Threshold or more are write
// targets; a directory so granted counts as one entry of its own parent, so
// the rule climbs as far as it keeps holding. A target at or under a
// --collapse-prefix P is replaced by P (write if any of them is a write).
// Finally entries covered by another are removed: anything under a write
// grant, and reads under a read grant.
//
// # Network
//
// TCP connect (and a TCP send with an address, as TCP Fast Open does) gives
// tcp://ADDR:PORT; UDP gives udp://ADDR:PORT only for data actually sent: a
// send record's own address, and the address a socket was connected to once
// any send record follows on the same pid and fd in the same run. A UDP
// connect with no send after it is glibc's getaddrinfo probing source
// addresses (RFC 6724 sorting), not traffic. ICMP connect or send gives
// icmp://ADDR. A TCP bind gives allow_bind PORT (port 0, an ephemeral port,
// is ignored); UDP and ICMP binds need no rule (allow_bind is TCP only).
// IPv6 addresses are bracketed when a port follows.
//
// # Limits
//
// From the final peak record of each run (the largest periodic sample if a
// run has no final one), the maximum over runs, never RSS: memory is
// mem_bytes x Headroom rounded up to whole M (G when exact), at least 16M;
// processes is processes x Headroom rounded up, at least 4; open_files is
// fd_max x Headroom rounded up, at least 64.
package collapse
