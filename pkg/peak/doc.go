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
//     (as sandlock's handler does); before every charge the process's charge
//     is raised to at least its /proc/PID/statm data field (data + stack),
//     and the sampler applies the same floor between calls; exec and exit
//     give the process's whole charge back. Credits never take one process
//     below zero, so a credit is never taken from another process's charge.
//     The first break of a process image is read from /proc (the end of its
//     [heap] mapping, or start_brk when it has none), so a forked child's
//     inherited heap is not charged twice; sandlock takes the first brk
//     argument as its base, so ours can only be higher, the safe side for a
//     limit.
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
//   - FDMax is the highest fd number + 1 held by any single process (what
//     RLIMIT_NOFILE bounds), from scanning /proc/PID/fd in the sampler and
//     from FD calls. A process that holds an fd for less than one sampling
//     interval can escape the sampler.
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
