package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sandlock-learn/sandlock-learn/internal/testutil"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		name: func() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScript runs the end-to-end scripts in testdata/script.
func TestScript(t *testing.T) {
	testutil.Scripts(t, testscript.Params{})
}

// TestScriptUnprivileged re-runs TestScript as uid 65534, so the scripts
// are proven to pass without root (no root-only path, no permission
// assumption).
func TestScriptUnprivileged(t *testing.T) {
	testutil.RerunAsNobody(t, testutil.Rerun{Run: "^TestScript$", Want: "--- PASS: TestScript/"})
}
