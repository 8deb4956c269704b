// Command sandlock-check runs a command confined by a sandlock profile, with
// the Landlock rules `sandlock run -p` applies, and explains every operation
// the profile does not allow.
package main

import (
	"os"

	"github.com/sandlock-learn/sandlock-learn/pkg/check"
)

func main() {
	// A re-executed copy of this binary is the helper that enforces the
	// profile and execs the workload; it never returns from here.
	check.MaybeHelper()
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
