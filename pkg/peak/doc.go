// Package peak measures the resource peaks of a traced process tree in the
// quantities sandlock enforces (shared/design/profile.md, "How sandlock
// enforces [limits]"), for the `peak` record of sandlock-trace.
//
// The supervisor feeds a Tracker from its notification loop (calls made
// BEFORE it answers CONTINUE, while the calling thread is still stopped) and
// runs Run in the background; at the end Peak gives the record's values:
//
//	t := peak.New(childPID)
//	go t.Run(ctx)
//	... per notification: t.Seen(tgid); then t.Mmap / t.Munmap / t.Brk /
//	    t.Mremap / t.Fork / t.Exec / t.FD as the syscall says ...
//	rec := t.Peak()
//	t.Close()
//
// What each figure means and how it is measured:
//
//   - MemBytes is the peak of sandlock's anonymous-memory LEDGER summed over
//     the tree, never anything derived from RSS. Per process: mmap with
//     MAP_ANONYMOUS charges its length (PROT_NONE reservations included),
//     munmap credits its length, brk charges or credits the change from the
//     process's previous break, mremap charges growth and credits shrinking
//     (as sandlock's handler does); the process's charge is kept at least
//     its /proc/PID/statm data field (data + stack), read before every
//     charge and credit and by the sampler between calls; exec and exit give
//     the process's whole charge back. Credits never take one process below
//     zero, so a credit is never taken from another process's charge.
//
//     Small maps are not notified (for speed: the open storm's cat mapped
//     and unmapped a 128 KiB buffer per file, two of its three round trips).
//     pkg/seccomp's filter lets an anonymous mmap through unseen when it is
//     private, writable, not MAP_FIXED and shorter than 1 MiB, and a munmap
//     shorter than 1 MiB. The kernel counts exactly such mappings in statm
//     data (InData), so the floor sees them; to make that hold in a process
//     whose charge is far above its data (PROT_NONE reservations), the
//     charge has two parts: what statm data covers (private writable
//     mappings, brk, mremap growth), which is floored at data, and the rest
//     (reservations, read-only and shared mappings), counted on top. A
//     credit is split between the parts with PROCMAP_QUERY (an ioctl on
//     /proc/PID/maps, Linux 6.11: which part of the range is writable now);
//     an mprotect to writable (notified) of an anonymous PROT_NONE range
//     moves that much of the charge under the floor (once per range until
//     it is unmapped), so glibc's thread stacks and arenas are not counted
//     twice.
//     The trade-off, against sandlock's own ledger: (a) small maps that are
//     created and released between two floor readings (the sampler's 10 ms,
//     or the process's next notified memory call) are missed, as is any
//     mapping held only by a process that lives less than one interval:
//     sandlock would charge them for that moment; and a small read-write
//     map that the program makes PROT_NONE and then writable again moves
//     charge it never had (its size, once until it is unmapped); (b)
//     everything else can
//     only be counted higher: a small munmap is never credited (a trim of a
//     reservation, a partial unmap), memory that was made writable and then
//     PROT_NONE again stays counted, file-backed private writable mappings
//     (a library's .data) count through the floor, and without
//     PROCMAP_QUERY a credit is taken from the floored part first. The
//     glibc 8-thread case measures 576.4 MiB with and without this change.
//     A learned limit needs the collapser's headroom for (a).
//
//     The first break of an image is start_brk (from /proc/PID/stat) right
//     after an exec, where the heap is empty, and the parent's break at the
//     fork for a forked child (it inherits the heap, which must not be
//     charged twice). Otherwise it is read from /proc/PID/maps (the end of
//     the [heap] mapping, or start_brk when it has none). Sandlock takes the
//     first brk argument as its base, so ours can only be higher, the safe
//     side for a limit.
//
//   - Processes is the peak of live processes (threads excluded), true for
//     short bursts: Fork counts the child that is about to exist at once
//     (live + pending + 1), before it can run. Children are discovered from
//     /proc/PID/task/*/children by the sampler (and at the parent's next
//     Fork), or by Seen when they notify; each one gets a pidfd, polled so
//     the live count drops as soon as it exits (a zombie is not live). A
//     pending fork whose child cannot be found once the parent's fork has
//     returned is dropped: for a single-threaded parent at its next Fork, for
//     any parent at the first scan ForkGrace after the Fork. So a failed fork
//     or a child that lived and was reaped between two scans never inflates
//     the count for longer than that.
//
//   - FDMax is the highest fd number + 1 held by any single process (what
//     RLIMIT_NOFILE bounds), from scanning /proc/PID/fd in the sampler and
//     from FD calls. A process that holds an fd for less than one sampling
//     interval can escape the sampler.
//
//   - RSSBytes (summed statm resident) and Threads (summed task count) are
//     sampled peaks, for information only: a run shorter than one interval
//     may report RSSBytes 0, and Threads is never below Processes.
//
// The tracer's own pre-exec helper is not the workload: when the root
// process runs the same executable as the tracer itself (the usual re-exec
// hand-off), its memory calls are ignored and the sampler does not measure
// it until its first Exec (or until the sampler sees it run another image).
// It still counts as one live process.
//
// Sampling cost (2 cores shared with the workload): a pass re-reads, through
// handles kept open per process, its stat, statm, children list and fd
// directory, with no per-entry allocation (a multi-threaded process also has
// its task list and each task's children read by path). The default interval
// is 10 ms: short enough that a child living a few tens of milliseconds is
// seen with its memory and fds, long enough to stay cheap. Measured on this
// machine kind, where a timer wake-up alone costs about 0.2 ms of CPU: about
// 2% of one core for a one-process tree, 6.5% for 21 processes. A pass that
// gets expensive (hundreds of processes, huge fd tables) stretches the
// interval to ten times its own cost, so the sampler never takes more than
// about a tenth of one core; what it then misses is only fds held for less
// than the stretched interval, and RSS/thread samples. Memory is bounded by
// the live processes (five fds and a few words each) and the pending forks.
//
// The package does not decide limits (headroom is the collapser's job) and
// does not find processes outside the tree it is told about.
//
// The package is Linux-only (pidfds, /proc); elsewhere it is empty.
package peak
