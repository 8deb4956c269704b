package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestAsNobody re-runs this package's tests as uid/gid 65534: the collapser
// must decide the same from an unprivileged account (lstat answering EACCES
// under /root, temp trees it owns). As a non-root user the other tests
// already ran unprivileged.
func TestAsNobody(t *testing.T) {
	if os.Getenv("SANDLOCK_TEST_AS_NOBODY") != "" {
		t.Skip("this is the unprivileged re-run")
	}
	if os.Getuid() != 0 {
		t.Skipf("already unprivileged (uid %d): every other test ran as that user", os.Getuid())
	}
	dir, err := os.MkdirTemp("", "as-nobody")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	// The test binary lives in a 0700 go-build directory: copy it where
	// uid 65534 can execute it, and give it a temp dir it owns.
	bin := filepath.Join(dir, "pkg.test")
	if err := copyFile(bin, os.Args[0]); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, bin} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(tmp, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	// The scripts, where the re-run (cwd = work) finds them.
	work := filepath.Join(dir, "work")
	scripts, _ := filepath.Glob("testdata/script/*.txtar")
	if len(scripts) == 0 {
		t.Fatal("no scripts found")
	}
	if err := os.MkdirAll(filepath.Join(work, "testdata/script"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range scripts {
		if err := copyFile(filepath.Join(work, s), s); err != nil {
			t.Fatal(err)
		}
	}
	if err := filepath.Walk(work, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			err = os.Chmod(p, 0o755)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.count=1", "-test.run=.", "-test.bench=^$")
	cmd.Dir = work
	cmd.Env = []string{"SANDLOCK_TEST_AS_NOBODY=1", "TMPDIR=" + tmp, "HOME=" + tmp, "PATH=/usr/bin:/bin"}
	if testing.CoverMode() != "" {
		// A coverage build warns on stderr without somewhere to write.
		cmd.Env = append(cmd.Env, "GOCOVERDIR="+tmp)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: 65534, Gid: 65534},
		Pdeathsig:  syscall.SIGKILL,
		Setpgid:    true,
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("tests as uid 65534: %v\n%s", err, out)
	}
	t.Logf("as uid 65534:\n%s", out)
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
