// Package seccomp is the supervisor of sandlock-trace: it starts a workload
// under a seccomp user-notification filter, receives every notified syscall,
// reads the arguments from the tracee's memory, resolves paths as the tracee
// sees them and reports what happened as event records. Every notification
// is answered with CONTINUE, so the workload runs exactly as it would alone.
//
// The package observes; it decides no policy (that is pkg/collapse). It is
// Linux only: on other systems Start reports ErrUnsupported.
//
// Process shape (no user code may run between fork and exec in Go, so the
// filter is installed by a re-executed copy of the binary):
//
//	tracer ──> reaper helper (subreaper, kills the tree if the tracer dies)
//	               └──> workload helper: no_new_privs, filter, hands the
//	                    listener to the tracer, waits, execs the workload
//
// A binary that uses this package must call MaybeRunHelper first thing in
// main (and in TestMain), so its re-executed copies become the helpers.
package seccomp
