package main

import (
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	os.Exit(testscript.RunMain(m, map[string]func() int{
		"sandlock-collapse": func() int { return run(os.Args, os.Stdin, os.Stdout, os.Stderr, os.Getenv) },
	}))
}

// TestScript runs testdata/script/*.txtar. Event streams name real paths
// under $WORK (the collapser grants only what exists), and testscript does
// not expand variables inside files, so scripts write templates and call
// `expand` on them.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"expand": expand, "mkrawfile": mkrawfile, "exits": exits,
		},
		UpdateScripts: os.Getenv("UPDATE_SCRIPTS") == "1",
	})
}

// expand IN OUT: copy IN to OUT with $VAR and ${VAR} replaced from the
// script's environment (only names that are set; `$` alone stays).
func expand(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: expand IN OUT")
	}
	in := ts.ReadFile(args[0])
	out := os.Expand(in, func(name string) string {
		if v := ts.Getenv(name); v != "" {
			return v
		}
		return "$" + name
	})
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(out), 0o644))
}

// mkrawfile VAR PATH: create the file PATH (relative to $WORK, Go escapes
// such as \xe9 allowed, so the name may be any bytes) and set VAR to the
// base64 of its absolute path, for a path_b64 field.
func mkrawfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mkrawfile VAR PATH")
	}
	rel, err := strconv.Unquote(`"` + args[1] + `"`)
	ts.Check(err)
	p := ts.MkAbs(rel)
	ts.Check(os.MkdirAll(filepath.Dir(p), 0o755))
	ts.Check(os.WriteFile(p, nil, 0o644))
	ts.Setenv(args[0], base64.StdEncoding.EncodeToString([]byte(p)))
}

// exits N PROG ARGS...: run PROG like exec and require exit status N
// (`! exec` accepts any failure; the exit codes are part of the contract).
func exits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits N PROG ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}
