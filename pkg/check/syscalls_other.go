//go:build !(linux && amd64)

package check

// syscallNumbers is empty where we carry no table: the syscall blocklist is
// then reported as not enforced rather than guessed.
var syscallNumbers = map[string]uint32{}

const auditArch = 0
