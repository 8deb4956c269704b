//go:build !linux

package main

import (
	"fmt"
	"os"
)

// run explains that the tracer needs Linux (seccomp user notification).
func run(args []string, stdin, stdout, stderr *os.File) int {
	fmt.Fprintln(stderr, "sandlock-trace: needs Linux (seccomp user notification)")
	return 125
}
