//go:build linux

package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sandlock-learn/sandlock-learn/internal/testutil"
	"github.com/sandlock-learn/sandlock-learn/pkg/check"
)

// TestRoundTrip learns a profile for a workload with scripts/sandlock-learn
// (sandlock-trace | sandlock-collapse | sandlock-emit) and checks the same
// workload under it: every capability of the trace must round-trip with no
// denial, and a workload doing one thing more must be denied exactly that.
func TestRoundTrip(t *testing.T) {
	if _, err := check.KernelABI(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skip(err)
	}
	// The unprivileged re-run passes both in: it runs from a copy of
	// testdata, where ../.. is not the checkout.
	learn, bin := os.Getenv("ROUNDTRIP_LEARN"), os.Getenv("ROUNDTRIP_BIN")
	if learn == "" || bin == "" {
		root, err := filepath.Abs("../..")
		if err != nil {
			t.Fatal(err)
		}
		learn = filepath.Join(root, "scripts", "sandlock-learn")
		if _, err := os.Stat(learn); err != nil {
			t.Fatalf("no %s: %v", learn, err)
		}
		bin = buildStages(t, root, t.TempDir())
	}

	// Peers outside the sandbox, on loopback only.
	tcp4 := listenTCP(t, "tcp4", "127.0.0.1:0")
	tcp4b := listenTCP(t, "tcp4", "127.0.0.1:0")
	// The same port at another address, listening too: a connect there
	// fails only if the address check refuses it.
	listenTCP(t, "tcp4", net.JoinHostPort("127.0.0.2", strconv.Itoa(tcp4)))
	tcp6 := listenTCP(t, "tcp6", "[::1]:0")
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	probe, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bindPort := probe.Addr().(*net.TCPAddr).Port
	probe.Close()

	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/roundtrip",
		RequireExplicitExec: true,
		Cmds:                map[string]func(*testscript.TestScript, bool, []string){"status": testutil.CmdStatus},
		Setup: func(env *testscript.Env) error {
			env.Setenv("LEARN", learn)
			env.Setenv("SANDLOCK_LEARN_BIN", bin)
			env.Setenv("MERGE", filepath.Join(bin, "sandlock-merge"))
			env.Setenv("TCP4PORT", strconv.Itoa(tcp4))
			env.Setenv("TCP4PORT2", strconv.Itoa(tcp4b))
			env.Setenv("TCP6PORT", strconv.Itoa(tcp6))
			env.Setenv("UDPPORT", strconv.Itoa(udp.LocalAddr().(*net.UDPAddr).Port))
			env.Setenv("BINDPORT", strconv.Itoa(bindPort))
			return os.Chmod(env.WorkDir, 0o755)
		},
	})
}

// listenTCP accepts and closes connections until the test ends.
func listenTCP(t *testing.T, network, addr string) int {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// buildStages builds the pipeline's stages into dir for sandlock-learn.
func buildStages(t *testing.T, root, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build the pipeline's stages")
	}
	build := exec.Command(goTool, "build", "-o", dir+"/", "./cmd/sandlock-trace", "./cmd/sandlock-collapse", "./cmd/sandlock-emit", "./cmd/sandlock-merge")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the stages: %v\n%s", err, out)
	}
	return dir
}

// TestRoundTripUnprivileged re-runs TestRoundTrip as uid 65534: learning
// and checking need no privilege.
func TestRoundTripUnprivileged(t *testing.T) {
	if testutil.IsRerun() || os.Getuid() != 0 {
		t.Skip("not root: TestRoundTrip already ran unprivileged")
	}
	if _, err := check.KernelABI(); err != nil && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// Stages and script where uid 65534 can run them.
	bin := testutil.TempDir(t, "roundtrip-bin-", 0o755)
	buildStages(t, root, bin)
	script, err := os.ReadFile(filepath.Join(root, "scripts", "sandlock-learn"))
	if err != nil {
		t.Fatal(err)
	}
	learn := filepath.Join(bin, "sandlock-learn")
	if err := os.WriteFile(learn, script, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.RerunAsNobody(t, testutil.Rerun{
		Run:  "^TestRoundTrip$",
		Want: "--- PASS: TestRoundTrip/",
		Env:  []string{"ROUNDTRIP_BIN=" + bin, "ROUNDTRIP_LEARN=" + learn},
	})
}
