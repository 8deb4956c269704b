package profile

import (
	"strings"
	"time"
)

// Merge returns the union of two profiles, for a workload that must work
// as both were learned (NEW is typically a new run of the same command).
// Merging never takes a grant away from either side:
//
//   - every list is the union of both: filesystem read/write/deny, network
//     allow/deny/allow_bind/deny_bind (ranges and strings kept as written),
//     http allow/deny, syscalls extra_allow/extra_deny; then a path below
//     another path of the same list is dropped, and so is a read covered by
//     a write (write grants read beneath it);
//   - limits take the larger value, byte sizes compared as sizes. A limit
//     that one side does not set is unlimited there (memory, open_files) or
//     sandlock's default of 64 (processes), and the larger value wins just
//     the same, so the result may not set it;
//   - program exec, args and cwd, and every key that is not learned, come
//     from BASE; NEW fills only what BASE does not set (args go with exec:
//     they come from the side whose exec is used).
//
// The result has no header; the caller writes one (MergeHeader).
func Merge(base, next *Profile) *Profile {
	m := &Profile{}
	// [program]: args are the arguments of exec, so both come from the side
	// whose exec is used (BASE's when it sets one).
	switch {
	case base.Program.Exec != "":
		m.Program.Exec, m.Program.Args = base.Program.Exec, clone(base.Program.Args)
	case next.Program.Exec != "":
		m.Program.Exec, m.Program.Args = next.Program.Exec, clone(next.Program.Args)
	case len(base.Program.Args) > 0:
		m.Program.Args = clone(base.Program.Args)
	default:
		m.Program.Args = clone(next.Program.Args)
	}
	m.Program.Cwd = first(base.Program.Cwd, next.Program.Cwd)

	m.Filesystem.Write = Minimize(union(base.Filesystem.Write, next.Filesystem.Write))
	m.Filesystem.Read = Uncovered(Minimize(union(base.Filesystem.Read, next.Filesystem.Read)), m.Filesystem.Write)
	m.Filesystem.Deny = Minimize(union(base.Filesystem.Deny, next.Filesystem.Deny))

	m.Network.Allow = union(base.Network.Allow, next.Network.Allow)
	m.Network.Deny = union(base.Network.Deny, next.Network.Deny)
	m.Network.AllowBind = SortPorts(append(clonePorts(base.Network.AllowBind), next.Network.AllowBind...))
	m.Network.DenyBind = SortPorts(append(clonePorts(base.Network.DenyBind), next.Network.DenyBind...))

	m.HTTP.Allow = union(base.HTTP.Allow, next.HTTP.Allow)
	m.HTTP.Deny = union(base.HTTP.Deny, next.HTTP.Deny)
	m.Syscalls.ExtraAllow = union(base.Syscalls.ExtraAllow, next.Syscalls.ExtraAllow)
	m.Syscalls.ExtraDeny = union(base.Syscalls.ExtraDeny, next.Syscalls.ExtraDeny)

	m.Limits.Memory = maxMemory(base.Limits.Memory, next.Limits.Memory)
	m.Limits.OpenFiles = maxLimit(base.Limits.OpenFiles, next.Limits.OpenFiles, 0)
	m.Limits.Processes = maxLimit(base.Limits.Processes, next.Limits.Processes, DefaultProcesses)

	for _, sec := range Sections() {
		b, n := base.kept(sec, false), next.kept(sec, false)
		if b == nil {
			continue // a section without kept keys
		}
		for _, src := range []Kept{*b, *n} {
			for k, v := range src {
				dst := m.kept(sec, true)
				if _, ok := (*dst)[k]; !ok {
					(*dst)[k] = v
				}
			}
		}
	}
	return m
}

// MergeHeader is the header of a merged profile: what was merged and when,
// then the command, merge, warning and partial-run lines of both headers
// (BASE's first, duplicates dropped), so that the profile still says which
// runs it was learned from and what they could not see.
func MergeHeader(baseName, nextName string, base, next *Profile, at time.Time) []string {
	out := []string{
		"sandlock profile merged by sandlock-merge",
		"merged " + baseName + " and " + nextName + " at " + at.UTC().Format(time.RFC3339),
	}
	seen := map[string]bool{out[1]: true}
	for _, h := range [][]string{base.Header, next.Header} {
		for _, line := range h {
			if seen[line] || !carried(line) {
				continue
			}
			seen[line] = true
			out = append(out, line)
		}
	}
	return out
}

// carriedPrefixes are the header lines that say where a profile came from
// and what its runs could not observe; a merge keeps them.
var carriedPrefixes = []string{"command: ", "merged ", "warning: ", "partial: ", "incomplete: ", "failed: "}

func carried(line string) bool {
	for _, p := range carriedPrefixes {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

// Covers reports whether a grant on dir covers path: the same path, or a
// path beneath it (Landlock rules apply to the whole hierarchy below a
// directory). Both must be canonical absolute paths.
func Covers(dir, path string) bool {
	if dir == path || dir == "/" {
		return true
	}
	return len(path) > len(dir) && strings.HasPrefix(path, dir) && path[len(dir)] == '/'
}

// Minimize returns the sorted, duplicate-free paths of list that no other
// path of list covers.
func Minimize(list []string) []string {
	sorted := SortedUnique(list)
	var out []string
	// In byte order a directory sorts before everything beneath it ('/' is
	// not the smallest byte, so "/a/b" may come after "/a-b", hence the
	// check against every kept path, not only the last one).
	for _, p := range sorted {
		if !coveredBy(p, out) {
			out = append(out, p)
		}
	}
	return out
}

// Uncovered returns the paths of list that no path of by covers.
func Uncovered(list, by []string) []string {
	var out []string
	for _, p := range list {
		if !coveredBy(p, by) {
			out = append(out, p)
		}
	}
	return out
}

func coveredBy(p string, dirs []string) bool {
	for _, d := range dirs {
		if Covers(d, p) {
			return true
		}
	}
	return false
}

func union(a, b []string) []string {
	return SortedUnique(append(clone(a), b...))
}

func clone(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s...)
}

func clonePorts(s []Port) []Port { return append([]Port(nil), s...) }

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// maxMemory is the larger of two memory limits; "" (no limit) is larger
// than any. Equal sizes keep BASE's spelling.
func maxMemory(a, b string) string {
	if a == "" || b == "" {
		return ""
	}
	na, errA := ParseSize(a)
	nb, errB := ParseSize(b)
	if errA != nil || errB != nil {
		// Not decoded profiles; keep the one that parses, else BASE.
		if errA != nil && errB == nil {
			return b
		}
		return a
	}
	if nb > na {
		return b
	}
	return a
}

// maxLimit is the larger of two integer limits where 0 means "not set",
// which stands for def (0 = unlimited). The result is 0 when an unset side
// holds the larger value.
func maxLimit(a, b, def int64) int64 {
	if def == 0 && (a == 0 || b == 0) {
		return 0
	}
	eff := func(n int64) int64 {
		if n == 0 {
			return def
		}
		return n
	}
	m := max(eff(a), eff(b))
	if (a == 0 && eff(a) == m) || (b == 0 && eff(b) == m) {
		return 0
	}
	return m
}
