//go:build linux

package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sandlock-learn/sandlock-learn/pkg/seccomp"
)

// TestMain serves three roles of the one test binary: the tracer's
// re-executed helpers (seccomp.MaybeRunHelper), the small workloads the
// tests trace (the testop command, see ops_test.go), and the sandlock-trace
// command itself (on $PATH for testscript and for the Go tests).
func TestMain(m *testing.M) {
	seccomp.MaybeRunHelper()
	// Under -race every process of the test binary (tracer, helpers,
	// workloads) would sleep a second at exit.
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	testscript.Main(m, map[string]func(){
		"sandlock-trace": func() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) },
		"testop": func() {
			if len(os.Args) < 2 {
				os.Exit(2)
			}
			os.Exit(testOp(os.Args[1], os.Args[2:]))
		},
	})
}

func TestScript(t *testing.T) {
	requireUnotify(t)
	testscript.Run(t, testscript.Params{Dir: "testdata/script"})
}
