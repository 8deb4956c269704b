//go:build linux

package main

import (
	"bytes"
	"os"
	"path/filepath"
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

// TestCLIErrors pins the trace's own failures: the exact message, said
// once, the status, and no events. The workload's statuses (126, 127,
// 128+N) are TestExitStatus's.
func TestCLIErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing", "events.ndjson")
	for _, tt := range []struct {
		name    string
		args    []string
		unotify bool // needs the kernel to trace
		code    int
		stderr  string
		// also right: the same failure seen while the workload still
		// runs (when the first write happens is the scheduler's call)
		orStderr string
	}{
		{"no command", nil, false, 2,
			"missing CMD (usage: sandlock-trace [flags] -- CMD [ARGS...]) (see sandlock-trace --help)", ""},
		{"unknown flag", []string{"--bogus", "--", "true"}, false, 2,
			"flag provided but not defined: -bogus (see sandlock-trace --help)", ""},
		{"bad number", []string{"--timeout", "soon", "--", "true"}, false, 2,
			`invalid value "soon" for flag -timeout: parse error (see sandlock-trace --help)`, ""},
		{"negative linger", []string{"--linger", "-1", "--", "true"}, false, 2,
			"--timeout and --linger take a number of seconds >= 0 (see sandlock-trace --help)", ""},
		// urfave/cli's own status for this one, kept from before cliutil.
		{"help topic", []string{"-h", "nothing"}, false, 3,
			"No help topic for 'nothing'", ""},
		{"output not creatable", []string{"-o", missing, "--", "true"}, false, 125,
			"open " + missing + ": no such file or directory", ""},
		{"output full", []string{"-o", "/dev/full", "--", "true"}, true, 125,
			"cannot write events: write /dev/full: no space left on device",
			"cannot write events: write /dev/full: no space left on device; stopping the workload"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.unotify {
				requireUnotify(t)
			}
			cmd := command(append([]string{lookBin(t, "sandlock-trace")}, tt.args...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			code := exitCode(t, cmd.Run())
			if code != tt.code {
				t.Errorf("exit status %d, want %d", code, tt.code)
			}
			want := "sandlock-trace: " + tt.stderr + "\n"
			if got := stderr.String(); got != want && (tt.orStderr == "" || got != "sandlock-trace: "+tt.orStderr+"\n") {
				t.Errorf("stderr:\n got %q\nwant %q", got, want)
			}
			if stdout.Len() != 0 {
				t.Errorf("output on stdout: %.200q", stdout.String())
			}
		})
	}
}
