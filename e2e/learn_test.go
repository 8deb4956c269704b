// Package e2e runs scripts/sandlock-learn, the whole pipeline, on real
// workloads under the real kernel, and checks the profiles it writes.
package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/sandlock-learn/sandlock-learn/internal/testutil"
)

var (
	repoRoot string
	binDir   string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Dir(filepath.Dir(file))
	dir, err := os.MkdirTemp("", "sandlock-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// uid 65534 must be able to run the binaries.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The tag scripts/sandlock-learn builds with: test what ships.
	build := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-o", dir+"/", "./cmd/...")
	build.Dir = repoRoot
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the binaries:", err)
		return 1
	}
	script, err := os.ReadFile(filepath.Join(repoRoot, "scripts", "sandlock-learn"))
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "sandlock-learn"), script, 0o755)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binDir = dir
	return m.Run()
}

// learned is the part of a profile these tests look at.
type learned struct {
	Program struct {
		Exec string   `toml:"exec"`
		Args []string `toml:"args"`
		Cwd  string   `toml:"cwd"`
	} `toml:"program"`
	Filesystem struct {
		Read  []string `toml:"read"`
		Write []string `toml:"write"`
	} `toml:"filesystem"`
	Network struct {
		Allow     []string `toml:"allow"`
		AllowBind []any    `toml:"allow_bind"`
	} `toml:"network"`
	Limits struct {
		Memory    string `toml:"memory"`
		Processes int    `toml:"processes"`
		OpenFiles int    `toml:"open_files"`
	} `toml:"limits"`
}

type result struct {
	code    int
	stdout  string
	stderr  string
	profile *learned
	text    string
}

// learn runs sandlock-learn with args in dir; when out is set the profile
// is read from that file.
func learn(t *testing.T, dir string, cred *syscall.Credential, args ...string) result {
	t.Helper()
	// The script is copied beside the binaries: the checkout may not be
	// readable by the unprivileged uid some tests run as.
	cmd := exec.Command(filepath.Join(binDir, "sandlock-learn"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SANDLOCK_LEARN_BIN="+binDir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true, Credential: cred}
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running sandlock-learn: %v", err)
	}
	return r
}

func decode(t *testing.T, text string) *learned {
	t.Helper()
	var p learned
	md, err := toml.Decode(text, &p)
	if err != nil {
		t.Fatalf("profile does not decode: %v\n%s", err, text)
	}
	_ = md
	return &p
}

func mustLearn(t *testing.T, dir string, args ...string) (*learned, string) {
	t.Helper()
	return mustLearnAs(t, dir, nil, args...)
}

// mustLearnAs is mustLearn as cred (nil: this user), with the profile
// written where that user may write.
func mustLearnAs(t *testing.T, dir string, cred *syscall.Credential, args ...string) (*learned, string) {
	t.Helper()
	outDir := t.TempDir()
	if cred != nil {
		outDir = testutil.TempDir(t, "sandlock-e2e-out-", 0o777)
	}
	out := filepath.Join(outDir, "profile.toml")
	r := learn(t, dir, cred, append([]string{"-o", out}, args...)...)
	if r.code != 0 {
		t.Fatalf("sandlock-learn exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	strictCheck(t, out)
	return decode(t, string(data)), string(data)
}

// covers reports whether list grants p: p itself or an ancestor directory.
func covers(list []string, p string) bool {
	for _, g := range list {
		if g == p || strings.HasPrefix(p, g+"/") {
			return true
		}
	}
	return false
}

func canon(t *testing.T, p string) string {
	t.Helper()
	c, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func noRoot(t *testing.T, p *learned) {
	t.Helper()
	for _, g := range append(slices.Clone(p.Filesystem.Read), p.Filesystem.Write...) {
		if g == "/" {
			t.Errorf("profile grants /")
		}
		if strings.HasPrefix(g, "/proc/self") || strings.HasPrefix(g, "/dev/pts") {
			t.Errorf("profile grants session- or pid-specific %s", g)
		}
	}
}

func TestLearnPythonImports(t *testing.T) {
	p, text := mustLearn(t, t.TempDir(), "--", "/usr/bin/python3", "-c", "import json, sqlite3, email")
	noRoot(t, p)
	lib := canon(t, "/usr/lib/python3.11/json/__init__.py")
	if !covers(p.Filesystem.Read, lib) && !covers(p.Filesystem.Write, lib) {
		t.Errorf("profile does not grant %s:\n%s", lib, text)
	}
	if len(p.Filesystem.Write) != 0 {
		t.Errorf("an import-only program got write grants %v", p.Filesystem.Write)
	}
	if len(p.Network.Allow) != 0 {
		t.Errorf("an import-only program got network grants %v", p.Network.Allow)
	}
	if p.Program.Exec == "" || !slices.Equal(p.Program.Args, []string{"-c", "import json, sqlite3, email"}) {
		t.Errorf("program = %q %q", p.Program.Exec, p.Program.Args)
	}
	if p.Limits.Memory == "" || p.Limits.Processes < 4 || p.Limits.OpenFiles < 64 {
		t.Errorf("limits = %+v", p.Limits)
	}
}

func TestLearnShellPipelineWritingAFile(t *testing.T) {
	dir := canon(t, t.TempDir())
	os.Mkdir(filepath.Join(dir, "out"), 0o755)
	os.WriteFile(filepath.Join(dir, "in.txt"), []byte("hello\n"), 0o644)
	p, text := mustLearn(t, dir, "--", "/bin/sh", "-c", "cat in.txt | tr a-z A-Z > out/res.txt")
	noRoot(t, p)
	got, _ := os.ReadFile(filepath.Join(dir, "out", "res.txt"))
	if string(got) != "HELLO\n" {
		t.Fatalf("workload output %q", got)
	}
	if !covers(p.Filesystem.Write, filepath.Join(dir, "out", "res.txt")) {
		t.Errorf("no write grant covers out/res.txt:\n%s", text)
	}
	if covers(p.Filesystem.Write, filepath.Join(dir, "in.txt")) {
		t.Errorf("in.txt, only read, is writable:\n%s", text)
	}
	if !covers(p.Filesystem.Read, filepath.Join(dir, "in.txt")) {
		t.Errorf("no read grant covers in.txt:\n%s", text)
	}
}

func TestLearnCreateRenameDelete(t *testing.T) {
	dir := canon(t, t.TempDir())
	work := filepath.Join(dir, "work")
	os.Mkdir(work, 0o755)
	p, text := mustLearn(t, dir, "--", "/bin/sh", "-c", "echo x > work/a && mv work/a work/b && rm work/b && mkdir work/d && rmdir work/d")
	noRoot(t, p)
	if !slices.Contains(p.Filesystem.Write, work) {
		t.Errorf("want a write grant on %s (files created and removed in it):\n%s", work, text)
	}
	for _, w := range p.Filesystem.Write {
		if strings.HasPrefix(w, work+"/") {
			t.Errorf("grant %s names a file that no longer exists", w)
		}
	}
}

func TestLearnTCPClient(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "tcp6" {
				addr = "[::1]:0"
			}
			ln, err := net.Listen(network, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
			a := ln.Addr().(*net.TCPAddr)
			script := fmt.Sprintf("import socket; s = socket.create_connection((%q, %d)); s.close()", a.IP.String(), a.Port)
			p, text := mustLearn(t, t.TempDir(), "--", "/usr/bin/python3", "-c", script)
			want := fmt.Sprintf("tcp://%s:%d", a.IP.String(), a.Port)
			if network == "tcp6" {
				want = fmt.Sprintf("tcp://[%s]:%d", a.IP.String(), a.Port)
			}
			if !slices.Equal(p.Network.Allow, []string{want}) {
				t.Errorf("network.allow = %q, want [%q]\n%s", p.Network.Allow, want, text)
			}
		})
	}
}

func TestLearnFailedWorkloadWritesNothing(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "profile.toml")
	r := learn(t, dir, nil, "-o", out, "--", "/bin/sh", "-c", "exit 3")
	if r.code != 3 {
		t.Errorf("exit %d, want the workload's 3; stderr:\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a profile was written for a failed workload")
	}
	if !strings.Contains(r.stderr, "--allow-failure") {
		t.Errorf("stderr does not say how to override:\n%s", r.stderr)
	}
}

func TestLearnRefusesSensitivePrefixBeforeRunning(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	r := learn(t, dir, nil, "--collapse-prefix", "/etc", "--", "/bin/sh", "-c", "touch "+marker)
	if r.code != 1 {
		t.Errorf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("the workload ran although the request was refused")
	}
	if !strings.Contains(r.stderr, "/etc") || !strings.Contains(r.stderr, "--force-sensitive-collapse") {
		t.Errorf("refusal does not name the path and the override:\n%s", r.stderr)
	}
}

func TestLearnUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"--bogus", "--", "true"}, {"true"}, {"--collapse", "x", "--", "true"}} {
		r := learn(t, t.TempDir(), nil, args...)
		if r.code != 2 {
			t.Errorf("sandlock-learn %q: exit %d, want 2", args, r.code)
		}
		if r.stdout != "" {
			t.Errorf("sandlock-learn %q wrote to stdout: %q", args, r.stdout)
		}
	}
}

func TestLearnToStdoutKeepsWorkloadOutputOff(t *testing.T) {
	// The output is computed so that it is not also in the profile's args.
	r := learn(t, t.TempDir(), nil, "--", "/bin/sh", "-c", "echo WORKLOAD-OUT-$((40+2))")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, "WORKLOAD-OUT-42") {
		t.Errorf("workload output mixed into the profile:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "WORKLOAD-OUT-42") {
		t.Errorf("workload output lost")
	}
	decode(t, r.stdout)
}

func TestLearnMergeWidens(t *testing.T) {
	dir := canon(t, t.TempDir())
	for _, n := range []string{"a", "b"} {
		os.WriteFile(filepath.Join(dir, n+".txt"), []byte(n), 0o644)
	}
	prof := filepath.Join(dir, "p.toml")
	for _, n := range []string{"a", "b"} {
		r := learn(t, dir, nil, "--merge", prof, "--collapse", "0", "--", "/bin/cat", n+".txt")
		if r.code != 0 {
			t.Fatalf("learn %s: exit %d\n%s", n, r.code, r.stderr)
		}
	}
	data, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	strictCheck(t, prof)
	p := decode(t, string(data))
	for _, n := range []string{"a", "b"} {
		if !covers(p.Filesystem.Read, filepath.Join(dir, n+".txt")) {
			t.Errorf("merged profile lacks %s.txt:\n%s", n, data)
		}
	}
}

func TestLearnUnprivileged(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("already unprivileged: every other test covers it")
	}
	dir := testutil.TempDir(t, "sandlock-e2e-nobody-", 0o777)
	out := filepath.Join(dir, "profile.toml")
	r := learn(t, dir, &syscall.Credential{Uid: 65534, Gid: 65534}, "-o", out, "--", "/bin/sh", "-c", "cat /etc/hostname >/dev/null; echo hi > "+filepath.Join(dir, "f"))
	if r.code != 0 {
		t.Fatalf("unprivileged learn: exit %d\n%s", r.code, r.stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	p := decode(t, string(data))
	if !covers(p.Filesystem.Read, "/etc/hostname") {
		t.Errorf("unprivileged profile lacks /etc/hostname:\n%s", data)
	}
}
