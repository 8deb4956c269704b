// Package check runs a workload confined by a sandlock profile the way
// `sandlock run -p PROFILE` confines it, and explains what the profile did
// not allow.
//
// The enforcement is the kernel's: a re-executed helper of the calling binary
// (see MaybeHelper) applies a Landlock ruleset built from the profile's
// [filesystem] and [network] sections with sandlock's access masks, sets
// RLIMIT_NOFILE from [limits].open_files, and executes the workload.
//
// The explanation is ours: Evaluator decides, with the same semantics as
// Landlock, whether one operation on one canonical path (or one socket
// address) is allowed and which grant covers it. It is pure, so it can be
// tested without a kernel, and the supervisor only feeds it observed
// operations; it never decides a filesystem access by itself.
//
// What sandlock enforces and this package cannot (memory and process limits,
// [http] rules, /etc/hosts rewriting) is listed by Policy.Unenforced, so the
// caller can say so instead of pretending.
package check
