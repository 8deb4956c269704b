//go:build linux

package check

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sandlock-learn/sandlock-learn/internal/testutil"
	"github.com/sandlock-learn/sandlock-learn/pkg/event"
	"github.com/sandlock-learn/sandlock-learn/pkg/profile"
)

// The test binary is its own workload: under envWorkload it does one
// operation and reports the result as its exit status, so a test needs
// nothing but the binary itself inside the sandbox.
const envWorkload = "CHECK_TEST_WORKLOAD"

// Workload exit statuses.
const (
	wlOK           = 0
	wlEACCES       = 3
	wlECONNREFUSED = 4
	wlEPERM        = 5
	wlOther        = 6
)

func TestMain(m *testing.M) {
	MaybeHelper()
	if w := os.Getenv(envWorkload); w != "" {
		os.Exit(workload(strings.Fields(w)))
	}
	os.Exit(m.Run())
}

func workload(args []string) int {
	result := func(err error) int {
		switch {
		case err == nil:
			return wlOK
		case errors.Is(err, syscall.EACCES):
			return wlEACCES
		case errors.Is(err, syscall.ECONNREFUSED):
			return wlECONNREFUSED
		case errors.Is(err, syscall.EPERM):
			return wlEPERM
		}
		fmt.Fprintln(os.Stderr, "workload:", err)
		return wlOther
	}
	switch args[0] {
	case "read":
		_, err := os.ReadFile(args[1])
		return result(err)
	case "write":
		return result(os.WriteFile(args[1], []byte("x"), 0o644))
	case "connect": // connect NETWORK ADDR:PORT, raw so Go's dialer adds nothing
		ap := netip.MustParseAddrPort(args[2])
		fam := syscall.AF_INET6
		var sa syscall.Sockaddr = &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
		if ap.Addr().Is4() {
			fam = syscall.AF_INET
			sa = &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
		}
		typ := syscall.SOCK_STREAM
		if args[1] == "udp" {
			typ = syscall.SOCK_DGRAM
		}
		fd, err := syscall.Socket(fam, typ, 0)
		if err != nil {
			return result(err)
		}
		if args[1] == "udp" {
			return result(syscall.Sendto(fd, []byte("x"), 0, sa))
		}
		return result(syscall.Connect(fd, sa))
	case "bind":
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err != nil {
			return result(err)
		}
		port, _ := strconv.Atoi(args[1])
		return result(syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}))
	case "nofile":
		var lim syscall.Rlimit
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
		fmt.Printf("%d %d", lim.Cur, lim.Max)
		return wlOK
	case "unshare":
		return result(syscall.Unshare(syscall.CLONE_NEWUTS))
	case "exit":
		n, _ := strconv.Atoi(args[1])
		return n
	case "env":
		fmt.Println()
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
		return wlOK
	case "wait": // say we run, then wait for a signal
		if err := os.WriteFile(args[1], nil, 0o644); err != nil {
			return result(err)
		}
		select {}
	case "kill":
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
	return wlOther
}

// requireLandlock skips without Landlock, but fails under CI=true: there
// the kernel must have it.
func requireLandlock(t *testing.T) int {
	t.Helper()
	abi, err := KernelABI()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skip(err)
	}
	return abi
}

// self is the test binary, readable and executable by every uid.
func self(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe, err = filepath.EvalSymlinks(exe)
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

type runResult struct {
	status  int
	stdout  string
	stderr  string
	denials []*event.Denial
	session *Session
}

// supervise runs the workloads under pkg/seccomp's notifier, so that
// denials are explained; the plain Landlock path is tested on its own.
var supervise = true

// outFile is a file to capture a workload's output in.
func outFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readBack(t *testing.T, f *os.File) string {
	t.Helper()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// runWorkload enforces prof on the test binary doing args.
func runWorkload(t *testing.T, prof *profile.Profile, args ...string) runResult {
	t.Helper()
	abi := requireLandlock(t)
	exe := self(t)
	// The workload is the test binary: it must be allowed to run itself,
	// with its dynamic loader and libc when cgo linked it.
	// The Go runtime reads a few /proc and /sys files at start-up.
	prof.Filesystem.Read = append(prof.Filesystem.Read, exe, "/usr", "/proc", "/sys")
	for _, p := range []string{"/etc/ld.so.cache"} {
		if _, err := os.Stat(p); err == nil {
			prof.Filesystem.Read = append(prof.Filesystem.Read, p)
		}
	}
	pol, err := NewPolicy(prof, abi, nil)
	if err != nil {
		t.Fatal(err)
	}
	var res runResult
	res.session = NewSession(pol, func(d *event.Denial) { res.denials = append(res.denials, d) })
	stdout, stderr := outFile(t), outFile(t)
	env := append(os.Environ(), envWorkload+"="+strings.Join(args, " "))
	status, err := Run(RunConfig{
		Policy: pol, Session: res.session, Path: exe, Argv: []string{exe}, Env: env,
		Stdout: stdout, Stderr: stderr, Supervise: supervise,
	})
	if err != nil {
		t.Fatal(err)
	}
	res.status, res.stdout, res.stderr = status, readBack(t, stdout), readBack(t, stderr)
	return res
}

func tempFile(t *testing.T, name, content string) string {
	t.Helper()
	dir := t.TempDir()
	// uid 65534 runs these tests too: let it in.
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunReadGrantedAndNot(t *testing.T) {
	ok := tempFile(t, "ok.txt", "ok")
	no := tempFile(t, "no.txt", "secret")
	prof := &profile.Profile{Filesystem: profile.Filesystem{Read: []string{ok}}}
	if r := runWorkload(t, prof, "read", ok); r.status != wlOK {
		t.Fatalf("read of a granted file: status %d, stderr %q", r.status, r.stderr)
	}
	prof = &profile.Profile{Filesystem: profile.Filesystem{Read: []string{ok}}}
	if r := runWorkload(t, prof, "read", no); r.status != wlEACCES {
		t.Fatalf("read of a file outside the profile: status %d, want EACCES (%d); stderr %q", r.status, wlEACCES, r.stderr)
	}
}

func TestRunWriteNeedsWriteGrant(t *testing.T) {
	f := tempFile(t, "f.txt", "")
	prof := &profile.Profile{Filesystem: profile.Filesystem{Read: []string{f}}}
	if r := runWorkload(t, prof, "write", f); r.status != wlEACCES {
		t.Fatalf("write under a read grant: status %d, want EACCES", r.status)
	}
	prof = &profile.Profile{Filesystem: profile.Filesystem{Write: []string{f}}}
	if r := runWorkload(t, prof, "write", f); r.status != wlOK {
		t.Fatalf("write under a write grant: status %d, stderr %q", r.status, r.stderr)
	}
	// A file grant does not cover its siblings: creating one needs the
	// directory.
	sib := filepath.Join(filepath.Dir(f), "new.txt")
	if r := runWorkload(t, prof, "write", sib); r.status != wlEACCES {
		t.Fatalf("create next to a file grant: status %d, want EACCES", r.status)
	}
	prof = &profile.Profile{Filesystem: profile.Filesystem{Write: []string{filepath.Dir(f)}}}
	if r := runWorkload(t, prof, "write", sib); r.status != wlOK {
		t.Fatalf("create under a directory write grant: status %d, stderr %q", r.status, r.stderr)
	}
}

// listen opens a TCP listener on loopback and returns its port.
func listen(t *testing.T, network, addr string) int {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func TestRunTCPPorts(t *testing.T) {
	if abi := requireLandlock(t); abi < 4 {
		t.Skipf("Landlock ABI %d cannot restrict TCP", abi)
	}
	allowed := listen(t, "tcp4", "127.0.0.1:0")
	other := listen(t, "tcp4", "127.0.0.1:0")
	prof := func() *profile.Profile {
		return &profile.Profile{Network: profile.Network{Allow: []string{fmt.Sprintf("tcp://127.0.0.1:%d", allowed)}}}
	}
	if r := runWorkload(t, prof(), "connect", "tcp", fmt.Sprintf("127.0.0.1:%d", allowed)); r.status != wlOK {
		t.Fatalf("connect to the allowed port: status %d, stderr %q", r.status, r.stderr)
	}
	// Supervised, the address check answers first, with sandlock's
	// ECONNREFUSED; Landlock alone (no supervisor) refuses the port with
	// EACCES, which is what stands when the supervisor is unavailable.
	if r := runWorkload(t, prof(), "connect", "tcp", fmt.Sprintf("127.0.0.1:%d", other)); r.status != wlECONNREFUSED {
		t.Fatalf("connect to another port: status %d, want ECONNREFUSED from the address check", r.status)
	}
	supervise = false
	defer func() { supervise = true }()
	if r := runWorkload(t, prof(), "connect", "tcp", fmt.Sprintf("127.0.0.1:%d", other)); r.status != wlEACCES {
		t.Fatalf("connect to another port without the supervisor: status %d, want EACCES from Landlock", r.status)
	}
	if r := runWorkload(t, prof(), "connect", "tcp", fmt.Sprintf("127.0.0.1:%d", allowed)); r.status != wlOK {
		t.Fatalf("connect to the allowed port without the supervisor: status %d, stderr %q", r.status, r.stderr)
	}
}

func TestRunBind(t *testing.T) {
	if abi := requireLandlock(t); abi < 4 {
		t.Skipf("Landlock ABI %d cannot restrict TCP", abi)
	}
	// Find two free ports: close the probes before the workload binds.
	probe := func() int {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	a, b := probe(), probe()
	prof := func() *profile.Profile {
		return &profile.Profile{Network: profile.Network{AllowBind: []profile.Port{profile.PortNum(a)}}}
	}
	if r := runWorkload(t, prof(), "bind", strconv.Itoa(a)); r.status != wlOK {
		t.Fatalf("bind to allow_bind port: status %d, stderr %q", r.status, r.stderr)
	}
	if r := runWorkload(t, prof(), "bind", strconv.Itoa(b)); r.status != wlEACCES {
		t.Fatalf("bind to another port: status %d, want EACCES", r.status)
	}
}

func TestRunUDPNeedsARule(t *testing.T) {
	requireLandlock(t)
	// With a TCP rule only, and with none at all: EPERM at socket(), as
	// sandlock, explained by one denial line.
	for _, allow := range [][]string{nil, {"tcp://127.0.0.1:9"}} {
		r := runWorkload(t, &profile.Profile{Network: profile.Network{Allow: allow}}, "connect", "udp", "127.0.0.1:9")
		if r.status != wlEPERM {
			t.Fatalf("allow %q: UDP socket without a UDP rule: status %d, want EPERM as sandlock", allow, r.status)
		}
		wantOneDenial(t, r, "socket", "udp")
	}
	r := runWorkload(t, &profile.Profile{Network: profile.Network{Allow: []string{"udp://127.0.0.1:9"}}}, "connect", "udp", "127.0.0.1:9")
	if r.status != wlOK || len(r.denials) != 0 {
		t.Fatalf("UDP send allowed by a rule: status %d, denials %q, stderr %q", r.status, denialLines(r.denials), r.stderr)
	}
	// Without the supervisor the static filter refuses it (unexplained).
	supervise = false
	defer func() { supervise = true }()
	if r := runWorkload(t, &profile.Profile{}, "connect", "udp", "127.0.0.1:9"); r.status != wlEPERM {
		t.Fatalf("UDP socket without a UDP rule, unsupervised: status %d, want EPERM", r.status)
	}
}

func TestRunBlockedSyscall(t *testing.T) {
	requireLandlock(t)
	if r := runWorkload(t, &profile.Profile{}, "unshare"); r.status != wlEPERM {
		t.Fatalf("unshare: status %d, want EPERM (sandlock always blocks it)", r.status)
	}
}

func TestRunOpenFiles(t *testing.T) {
	requireLandlock(t)
	prof := &profile.Profile{Limits: profile.Limits{OpenFiles: 77}}
	r := runWorkload(t, prof, "nofile")
	if r.status != wlOK || r.stdout != "77 77" {
		t.Fatalf("RLIMIT_NOFILE: status %d, stdout %q, want \"77 77\"", r.status, r.stdout)
	}
}

func TestRunExitStatus(t *testing.T) {
	requireLandlock(t)
	if r := runWorkload(t, &profile.Profile{}, "exit", "7"); r.status != 7 {
		t.Fatalf("status %d, want the workload's 7", r.status)
	}
	if r := runWorkload(t, &profile.Profile{}, "kill"); r.status != 128+9 {
		t.Fatalf("status %d, want 128+SIGKILL", r.status)
	}
}

// Executing a program the profile does not grant fails with 126, and the
// denial names the program.
func TestRunExecDenied(t *testing.T) {
	abi := requireLandlock(t)
	exe := self(t)
	pol, err := NewPolicy(&profile.Profile{}, abi, nil)
	if err != nil {
		t.Fatal(err)
	}
	var denials []*event.Denial
	sess := NewSession(pol, func(d *event.Denial) { denials = append(denials, d) })
	status, err := Run(RunConfig{Policy: pol, Session: sess, Path: exe, Argv: []string{exe}})
	if err != nil {
		t.Fatal(err)
	}
	if status != 126 {
		t.Fatalf("status %d, want 126", status)
	}
	if len(denials) != 1 || denials[0].Op != "exec" || denials[0].Path != exe {
		t.Fatalf("denials %+v, want one exec of %s", denials, exe)
	}
	if got := FormatDenial(denials[0]); !strings.HasPrefix(got, "denied: exec "+exe+" (pid ") {
		t.Fatalf("denial line %q", got)
	}
}

// Everything above again as uid 65534: Landlock needs no privilege, and the
// helper must not depend on any.
func TestRunUnprivileged(t *testing.T) {
	requireLandlock(t)
	if os.Getuid() != 0 {
		t.Skip("already unprivileged: the other tests ran as this uid")
	}
	if os.Getenv("CHECK_TEST_UNPRIVILEGED") != "" {
		t.Skip("the re-run itself")
	}
	// uid 65534 needs a copy of the test binary it can read and run.
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	exe := filepath.Join(dir, "check.test")
	data, err := os.ReadFile(self(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^(TestRun|TestDenial)", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "CHECK_TEST_UNPRIVILEGED=1", "TMPDIR="+tmp)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: 65534, Gid: 65534},
		Pdeathsig:  syscall.SIGKILL,
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("as uid 65534: %v\n%s", err, out)
	}
	for _, name := range []string{"TestRunReadGrantedAndNot", "TestRunUDPNeedsARule", "TestDenialAddress", "TestDenialUDPAddress"} {
		if !strings.Contains(string(out), "--- PASS: "+name) {
			t.Fatalf("as uid 65534 %s did not pass:\n%s", name, out)
		}
	}
}

// wantOneDenial checks that the run reported exactly one denial, with this
// op and this object, in the one-line form users read.
func wantOneDenial(t *testing.T, r runResult, op, what string) {
	t.Helper()
	if len(r.denials) != 1 {
		t.Fatalf("denials %q, want exactly one %s %s", denialLines(r.denials), op, what)
	}
	want := "denied: " + op + " " + what + " (pid "
	if got := FormatDenial(r.denials[0]); !strings.HasPrefix(got, want) || !strings.HasSuffix(got, " check.test)") {
		t.Fatalf("denial line %q, want %q...check.test)", got, want)
	}
}

func TestDenialNamesThePath(t *testing.T) {
	ok := tempFile(t, "ok.txt", "ok")
	no := tempFile(t, "no.txt", "secret")
	r := runWorkload(t, &profile.Profile{Filesystem: profile.Filesystem{Read: []string{ok}}}, "read", ok)
	if r.status != wlOK || len(r.denials) != 0 {
		t.Fatalf("a granted read: status %d, denials %q", r.status, denialLines(r.denials))
	}
	r = runWorkload(t, &profile.Profile{Filesystem: profile.Filesystem{Read: []string{ok}}}, "read", no)
	if r.status != wlEACCES {
		t.Fatalf("status %d, want EACCES", r.status)
	}
	wantOneDenial(t, r, "read", no)
	// Creating a file under a read grant: the denial names the file, the
	// reason the directory that lacks make_reg.
	dir := filepath.Dir(no)
	newFile := filepath.Join(dir, "new.txt")
	r = runWorkload(t, &profile.Profile{Filesystem: profile.Filesystem{Read: []string{dir}}}, "write", newFile)
	if r.status != wlEACCES {
		t.Fatalf("create under a read grant: status %d, want EACCES", r.status)
	}
	wantOneDenial(t, r, "create", newFile)
	if !strings.Contains(r.denials[0].Reason, "make_reg on "+dir) {
		t.Fatalf("reason %q does not name make_reg on %s", r.denials[0].Reason, dir)
	}
}

func TestDenialTCPPort(t *testing.T) {
	if abi := requireLandlock(t); abi < 4 {
		t.Skipf("Landlock ABI %d cannot restrict TCP", abi)
	}
	for _, fam := range []struct{ network, host string }{{"tcp4", "127.0.0.1"}, {"tcp6", "::1"}} {
		allowed := listen(t, fam.network, net.JoinHostPort(fam.host, "0"))
		other := listen(t, fam.network, net.JoinHostPort(fam.host, "0"))
		rule := fmt.Sprintf("tcp://%s", net.JoinHostPort(fam.host, strconv.Itoa(allowed)))
		if fam.host == "::1" {
			rule = fmt.Sprintf("tcp://[::1]:%d", allowed)
		}
		prof := func() *profile.Profile { return &profile.Profile{Network: profile.Network{Allow: []string{rule}}} }
		r := runWorkload(t, prof(), "connect", "tcp", net.JoinHostPort(fam.host, strconv.Itoa(allowed)))
		if r.status != wlOK || len(r.denials) != 0 {
			t.Fatalf("%s: allowed connect: status %d, denials %q", rule, r.status, denialLines(r.denials))
		}
		target := net.JoinHostPort(fam.host, strconv.Itoa(other))
		r = runWorkload(t, prof(), "connect", "tcp", target)
		// Landlock refuses the port with EACCES; sandlock's supervisor,
		// which connects on the workload's behalf when network.allow is
		// not empty, refuses it first, with ECONNREFUSED.
		want := wlEACCES
		if AddressEnforced {
			want = wlECONNREFUSED
		}
		if r.status != want {
			t.Fatalf("%s: connect to %s: status %d, want %d", rule, target, r.status, want)
		}
		wantOneDenial(t, r, "connect", "tcp "+target)
	}
}

func TestDenialAddress(t *testing.T) {
	if abi := requireLandlock(t); abi < 4 {
		t.Skipf("Landlock ABI %d cannot restrict TCP", abi)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	// The port is allowed, to another address: Landlock lets the connect
	// through (it knows ports only); the address check must catch it.
	prof := &profile.Profile{Network: profile.Network{Allow: []string{fmt.Sprintf("tcp://127.0.0.2:%d", port)}}}
	target := fmt.Sprintf("127.0.0.1:%d", port)
	r := runWorkload(t, prof, "connect", "tcp", target)
	wantOneDenial(t, r, "connect", "tcp "+target)
	want := wlECONNREFUSED
	if !AddressEnforced {
		want = wlOK
	}
	if r.status != want {
		t.Fatalf("connect to an address no rule allows: status %d, want %d (AddressEnforced=%v)", r.status, want, AddressEnforced)
	}
	if AddressEnforced && testutil.TCPArrivedBefore(t, l) {
		t.Fatal("the refused connect reached the server")
	}
	// Control: the rule for this very address lets it through.
	prof = &profile.Profile{Network: profile.Network{Allow: []string{"tcp://" + target}}}
	if r := runWorkload(t, prof, "connect", "tcp", target); r.status != wlOK || len(r.denials) != 0 {
		t.Fatalf("allowed address: status %d, denials %q", r.status, denialLines(r.denials))
	}
	if !testutil.TCPArrivedBefore(t, l) {
		t.Fatal("the allowed connect did not reach the server")
	}
}

// A UDP send to an address no rule allows fails with ECONNREFUSED (the
// socket itself is allowed: a UDP rule exists), nothing is sent, and the
// denial names the address.
func TestDenialUDPAddress(t *testing.T) {
	requireLandlock(t)
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := pc.LocalAddr().(*net.UDPAddr).Port
	target := fmt.Sprintf("127.0.0.1:%d", port)
	prof := &profile.Profile{Network: profile.Network{Allow: []string{fmt.Sprintf("udp://127.0.0.2:%d", port)}}}
	r := runWorkload(t, prof, "connect", "udp", target)
	if r.status != wlECONNREFUSED {
		t.Fatalf("send to an address no rule allows: status %d, want ECONNREFUSED; stderr %q", r.status, r.stderr)
	}
	wantOneDenial(t, r, "send", "udp "+target)
	if testutil.UDPArrivedBefore(t, pc) {
		t.Fatal("the refused datagram was sent")
	}
	prof = &profile.Profile{Network: profile.Network{Allow: []string{"udp://" + target}}}
	if r := runWorkload(t, prof, "connect", "udp", target); r.status != wlOK || len(r.denials) != 0 {
		t.Fatalf("allowed send: status %d, denials %q, stderr %q", r.status, denialLines(r.denials), r.stderr)
	}
	if !testutil.UDPArrivedBefore(t, pc) {
		t.Fatal("the allowed datagram did not arrive")
	}
}

func TestDenialBind(t *testing.T) {
	if abi := requireLandlock(t); abi < 4 {
		t.Skipf("Landlock ABI %d cannot restrict TCP", abi)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	prof := &profile.Profile{Network: profile.Network{AllowBind: []profile.Port{profile.PortNum(port + 1)}}}
	r := runWorkload(t, prof, "bind", strconv.Itoa(port))
	if r.status != wlEACCES {
		t.Fatalf("bind: status %d, want EACCES", r.status)
	}
	wantOneDenial(t, r, "bind", fmt.Sprintf("tcp port %d", port))
}

// --unused names the one grant nothing needed, and only it.
func TestUnusedGrant(t *testing.T) {
	ok := tempFile(t, "ok.txt", "ok")
	extra := t.TempDir()
	prof := &profile.Profile{Filesystem: profile.Filesystem{Read: []string{ok}, Write: []string{extra}}}
	r := runWorkload(t, prof, "read", ok)
	if r.status != wlOK {
		t.Fatalf("status %d", r.status)
	}
	var unused []string
	for _, u := range r.session.Usage() {
		if u.Used == 0 {
			unused = append(unused, u.Ref)
		}
	}
	want := []string{fmt.Sprintf("filesystem.write %q", extra)}
	if strings.Join(unused, "\n") != strings.Join(want, "\n") {
		t.Fatalf("unused %q, want %q", unused, want)
	}
}

// Without the supervisor Landlock still enforces; nothing is explained.
func TestRunPlainLandlock(t *testing.T) {
	supervise = false
	defer func() { supervise = true }()
	ok := tempFile(t, "ok.txt", "ok")
	no := tempFile(t, "no.txt", "secret")
	if r := runWorkload(t, &profile.Profile{Filesystem: profile.Filesystem{Read: []string{ok}}}, "read", ok); r.status != wlOK {
		t.Fatalf("granted read: status %d, stderr %q", r.status, r.stderr)
	}
	r := runWorkload(t, &profile.Profile{Filesystem: profile.Filesystem{Read: []string{ok}}}, "read", no)
	if r.status != wlEACCES || len(r.denials) != 0 {
		t.Fatalf("read outside: status %d (want EACCES), denials %q (want none: nothing watches)", r.status, denialLines(r.denials))
	}
}

// A SIGTERM sent to us (a terminal, a supervisor) goes to the workload, and
// its death by it is the status we report.
func TestRunForwardsSignals(t *testing.T) {
	requireLandlock(t)
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	done := make(chan runResult, 1)
	go func() {
		done <- runWorkload(t, &profile.Profile{Filesystem: profile.Filesystem{Write: []string{dir}}}, "wait", ready)
	}()
	// runWorkload may t.Fatal in its goroutine (that ends only the
	// goroutine): never wait for it unbounded.
	for i := 0; ; i++ {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if i == 6000 {
			t.Fatal("the workload did not start within a minute")
		}
		select {
		case r := <-done:
			t.Fatalf("the workload ended before the signal: status %d, stderr %q", r.status, r.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.status != 128+int(syscall.SIGTERM) {
		t.Fatalf("status %d, want 128+SIGTERM", r.status)
	}
}

// A profile too large for the environment reaches the helper through a
// file; the workload runs under it all the same.
func TestRunLargePlan(t *testing.T) {
	ok := tempFile(t, "ok.txt", "ok")
	dir := filepath.Dir(ok)
	read := []string{ok}
	for i := 0; i < 3000; i++ {
		name := filepath.Join(dir, fmt.Sprintf("padding-file-with-a-rather-long-name-%04d", i))
		if err := os.WriteFile(name, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		read = append(read, name)
	}
	r := runWorkload(t, &profile.Profile{Filesystem: profile.Filesystem{Read: read}}, "read", ok)
	if r.status != wlOK || len(r.denials) != 0 {
		t.Fatalf("status %d, denials %q, stderr %q", r.status, denialLines(r.denials), r.stderr)
	}
	if r := runWorkload(t, &profile.Profile{Filesystem: profile.Filesystem{Read: read[1:]}}, "read", ok); r.status != wlEACCES {
		t.Fatalf("without the grant: status %d, want EACCES", r.status)
	}
}

// The workload gets its own environment: none of ours, its GODEBUG back.
func TestRunEnvironment(t *testing.T) {
	t.Setenv("GODEBUG", "madvdontneed=1")
	r := runWorkload(t, &profile.Profile{}, "env")
	if r.status != wlOK {
		t.Fatalf("status %d, stderr %q", r.status, r.stderr)
	}
	if strings.Contains(r.stdout, "SANDLOCK_") {
		t.Errorf("our variables leaked into the workload:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "\nGODEBUG=madvdontneed=1\n") {
		t.Errorf("the workload's GODEBUG is not its own:\n%s", r.stdout)
	}
}

// Without a GODEBUG of its own, the workload has none.
func TestRunEnvironmentNoGodebug(t *testing.T) {
	t.Setenv("GODEBUG", "") // restored after the test
	os.Unsetenv("GODEBUG")
	r := runWorkload(t, &profile.Profile{}, "env")
	if r.status != wlOK || strings.Contains(r.stdout, "GODEBUG") {
		t.Fatalf("status %d, environment:\n%s", r.status, r.stdout)
	}
}
