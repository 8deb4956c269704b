//go:build linux

package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sandlock-learn/sandlock-learn/internal/testutil"
)

// robustTests are the tests of this package that mean something without
// root (issue 3's, and the working-directory cache's); TestRobustAsNobody
// re-runs them as uid 65534.
const robustTests = "^(TestHostileConcurrency|TestAwkwardNames|TestExitMidRead|TestTimeoutStopsEverything|TestSignalsToTracer|TestCwdCache|TestChdirBetweenOpens)$"

// TestRobustAsNobody: the hostile-workload and fault tests pass as an
// unprivileged uid too (no_new_privs tracing, no root-only paths). As a
// non-root user the tests themselves are that proof.
func TestRobustAsNobody(t *testing.T) {
	requireUnotify(t)
	if os.Getuid() != 0 {
		t.Skip("not root: the tests already ran unprivileged")
	}
	if os.Getenv("SANDLOCK_ROBUST_NOBODY") != "" {
		t.Skip("already the uid 65534 run")
	}
	dir := testutil.TempDir(t, "sandlock-robust-nobody-", 0o777)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "trace.test")
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err == nil {
		_, err = io.Copy(out, in)
		out.Close()
	}
	in.Close()
	if err != nil {
		t.Fatal(err)
	}
	// TestCwdCache compiles testdata/cwd.c from the working directory.
	src, err := os.ReadFile("testdata/cwd.c")
	if err == nil {
		if err = os.Mkdir(filepath.Join(dir, "testdata"), 0o755); err == nil {
			err = os.WriteFile(filepath.Join(dir, "testdata", "cwd.c"), src, 0o644)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run="+robustTests, "-test.count=1", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+dir, "HOME="+dir, "SANDLOCK_ROBUST_NOBODY=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: 65534, Gid: 65534},
		Pdeathsig:  syscall.SIGKILL,
		Setpgid:    true,
	}
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("as uid 65534: %v\n%s", err, b)
	}
	for _, name := range strings.Split(strings.Trim(robustTests, "^()$"), "|") {
		if !strings.Contains(string(b), "--- PASS: "+name+" ") {
			t.Errorf("%s did not pass as uid 65534:\n%s", name, b)
		}
	}
}
