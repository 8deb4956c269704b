//go:build !linux

package main

import (
	"os"

	"github.com/sandlock-learn/sandlock-learn/internal/cliutil"
)

// run explains that the tracer needs Linux (seccomp user notification).
func run(args []string, stdin, stdout, stderr *os.File) int {
	return cliutil.Report(name, cliutil.Fail(cliutil.ExitTool, "needs Linux (seccomp user notification)"), stderr, cliutil.ExitOK)
}
