// Command sandlock-trace runs a workload under a seccomp user-notification
// filter and streams what it does as NDJSON events (shared/design/pipeline.md).
package main

import (
	"os"

	"github.com/sandlock-learn/sandlock-learn/pkg/seccomp"
)

const name = "sandlock-trace"

func main() {
	// A re-executed copy of this binary is the helper that installs the
	// filter and execs the workload; it never returns from here.
	seccomp.MaybeRunHelper()
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
