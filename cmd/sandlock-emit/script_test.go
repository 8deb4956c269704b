package main

import (
	"os"
	"strconv"
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
	if want := os.Getenv("SANDLOCK_TEST_UID"); want != "" && strconv.Itoa(os.Getuid()) != want {
		t.Fatalf("running as uid %d, want %s", os.Getuid(), want)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		// UPDATE_GOLDEN=1 go test rewrites the cmp files in the scripts;
		// review the diff before committing it.
		UpdateScripts: os.Getenv("UPDATE_GOLDEN") != "",
		Cmds:          map[string]func(*testscript.TestScript, bool, []string){"status": testutil.CmdStatus},
	})
}

// TestScriptUnprivileged re-runs TestScript as uid 65534, so the scripts
// are proven to pass without root (no root-only path, no permission
// assumption).
func TestScriptUnprivileged(t *testing.T) {
	testutil.RerunAsNobody(t, testutil.Rerun{Run: "^TestScript$", Want: "--- PASS: TestScript/"})
}
