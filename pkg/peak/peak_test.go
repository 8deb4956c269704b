//go:build linux

package peak

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The tests drive a Tracker with real processes the way the supervisor
// does: the workload (testdata/memctl.c, compiled with gcc) performs one
// syscall per command, and the test makes the matching Tracker call just
// before sending the command, while the workload is blocked reading stdin,
// exactly as a notified thread waits for CONTINUE.

const (
	kib = 1 << 10
	mib = 1 << 20
)

func TestMain(m *testing.M) {
	// Helper mode: stand in for the tracer's pre-exec helper (this very
	// executable), then exec the workload named on stdin.
	if os.Getenv("PEAK_TEST_HELPER") == "exec" {
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		path := strings.TrimSpace(line)
		fmt.Println("ok") // before exec, so no later command is read here
		err := syscall.Exec(path, []string{path}, os.Environ())
		fmt.Fprintln(os.Stderr, "exec:", err)
		os.Exit(3)
	}
	code := m.Run()
	if helperDir != "" {
		os.RemoveAll(helperDir)
	}
	os.Exit(code)
}

var (
	helperOnce sync.Once
	helperDir  string
	helperErr  error
)

// memctl compiles testdata/memctl.c once into a directory any uid can read.
func memctl(t testing.TB) string {
	t.Helper()
	helperOnce.Do(func() {
		gcc, err := exec.LookPath("gcc")
		if err != nil {
			helperErr = fmt.Errorf("gcc not found: %v", err)
			return
		}
		dir, err := os.MkdirTemp("", "peak-helpers-")
		if err != nil {
			helperErr = err
			return
		}
		helperDir = dir
		os.Chmod(dir, 0o755)
		src, _ := filepath.Abs("testdata/memctl.c")
		out, err := exec.Command(gcc, "-O2", "-Wall", "-pthread", "-o", filepath.Join(dir, "memctl"), src).CombinedOutput()
		if err != nil {
			helperErr = fmt.Errorf("gcc: %v\n%s", err, out)
		}
	})
	if helperErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(helperErr)
		}
		t.Skip(helperErr)
	}
	return filepath.Join(helperDir, "memctl")
}

// ctl is one running memctl (or pre-exec helper) driven over pipes.
type ctl struct {
	t   testing.TB
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
	pid int
}

func start(t testing.TB, path string, env ...string) *ctl {
	t.Helper()
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	// Own process group so the cleanup also kills the children memctl
	// forks; SIGKILL if the test process dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &ctl{t: t, cmd: cmd, in: in, out: bufio.NewReader(out), pid: cmd.Process.Pid}
	t.Cleanup(func() {
		syscall.Kill(-c.pid, syscall.SIGKILL)
		c.cmd.Wait()
	})
	return c
}

func startMemctl(t testing.TB) *ctl {
	c := start(t, memctl(t))
	c.do("brk") // running main: its leaked fds are closed
	return c
}

// do sends one command and returns the workload's answer.
func (c *ctl) do(format string, args ...any) string {
	c.t.Helper()
	line := fmt.Sprintf(format, args...)
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		c.t.Fatalf("%q: %v", line, err)
	}
	type answer struct {
		s   string
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		s, err := c.out.ReadString('\n')
		ch <- answer{s, err}
	}()
	select {
	case a := <-ch:
		if a.err != nil {
			c.t.Fatalf("%q: workload answered nothing: %v", line, a.err)
		}
		return strings.TrimSpace(a.s)
	case <-time.After(time.Minute):
		// A safety valve against a hung test, not a speed assertion.
		syscall.Kill(-c.pid, syscall.SIGKILL)
		c.t.Fatalf("%q: no answer within a minute", line)
		return ""
	}
}

// send writes a command that has no answer (exec, exit).
func (c *ctl) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		c.t.Fatalf("%q: %v", line, err)
	}
}

// exit ends the workload and waits until it is reaped.
func (c *ctl) exit() {
	c.t.Helper()
	c.send("exit")
	if err := c.cmd.Wait(); err != nil {
		c.t.Fatalf("workload exit: %v", err)
	}
}

// statmData reads statm field 6 the test's own way (not the package's).
func statmData(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		t.Fatal(err)
	}
	var size, res, shared, text, lib, data int64
	if _, err := fmt.Sscan(string(b), &size, &res, &shared, &text, &lib, &data); err != nil {
		t.Fatalf("statm %q: %v", b, err)
	}
	return data * int64(os.Getpagesize())
}

// ledger is the tracker's current sandbox-wide charge.
func (t *Tracker) ledger() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}

// current is what Fork would count before adding its own child.
func (t *Tracker) current() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reapLocked()
	return len(t.procs) + t.pending
}

func newTracker(t testing.TB, pid int) *Tracker {
	tr := New(pid)
	t.Cleanup(tr.Close)
	return tr
}

func TestStatmFloorBeforeCharge(t *testing.T) {
	c := startMemctl(t)
	// 64 MiB read-write but untouched, mapped before the trace knew: only
	// the statm floor can know about it, and RSS stays small.
	c.do("mmaprw %d", 64*mib)
	tr := newTracker(t, c.pid)

	data := statmData(t, c.pid)
	if data < 64*mib {
		t.Fatalf("statm data %d < 64 MiB: the helper did not map what it should", data)
	}
	tr.Mmap(c.pid, 4*kib, 0, privAnon)
	c.do("mmap %d", 4*kib)
	if got, want := tr.Peak().MemBytes, data+4*kib; got != want {
		t.Fatalf("mem_bytes = %d, want statm data %d + 4 KiB = %d", got, data, want)
	}
	tr.Sample()
	p := tr.Peak()
	if p.RSSBytes <= 0 || p.RSSBytes >= 64*mib {
		t.Fatalf("rss_bytes = %d, want a small positive figure (the 64 MiB are untouched)", p.RSSBytes)
	}
	if p.MemBytes < 64*mib {
		t.Fatalf("mem_bytes = %d after a sample, below the statm floor", p.MemBytes)
	}
}

func TestSamplerTakesStatmFloor(t *testing.T) {
	c := startMemctl(t)
	tr := newTracker(t, c.pid)
	c.do("mmaprw %d", 32*mib) // never reported: no notification for it
	tr.Sample()
	if got, want := tr.Peak().MemBytes, statmData(t, c.pid); got != want {
		t.Fatalf("mem_bytes = %d, want the sampled statm data %d", got, want)
	}
}

func TestReservationChargedNotRSS(t *testing.T) {
	c := startMemctl(t)
	tr := newTracker(t, c.pid)
	data := statmData(t, c.pid)
	tr.Mmap(c.pid, 512*mib, 0, privAnon)
	addr := hexAddr(t, c.do("mmap %d", 512*mib))
	c.do("touch %d", 1*mib)
	tr.Sample()
	p := tr.Peak()
	if p.MemBytes < 512*mib+data {
		t.Fatalf("mem_bytes = %d, want >= 512 MiB + statm data %d", p.MemBytes, data)
	}
	if p.RSSBytes >= 64*mib {
		t.Fatalf("rss_bytes = %d: 1 MiB touched should not look like 64 MiB", p.RSSBytes)
	}

	// munmap gives the reservation back; the peak stays.
	before := tr.ledger()
	tr.Munmap(c.pid, addr, 512*mib)
	c.do("munmap")
	if got := tr.ledger(); got != before-512*mib {
		t.Fatalf("ledger after munmap = %d, want %d - 512 MiB", got, before)
	}
	if tr.Peak().MemBytes != p.MemBytes {
		t.Fatalf("peak changed by a credit: %d -> %d", p.MemBytes, tr.Peak().MemBytes)
	}
}

func TestExitGivesChargeBack(t *testing.T) {
	a, b := startMemctl(t), startMemctl(t)
	tr := newTracker(t, a.pid)
	tr.Seen(b.pid) // a second process of the tree, found by notification

	tr.Mmap(a.pid, 256*mib, 0, privAnon)
	a.do("mmap %d", 256*mib)
	peakA := tr.Peak().MemBytes
	if peakA < 256*mib {
		t.Fatalf("mem_bytes = %d after 256 MiB", peakA)
	}
	a.exit()
	if n := tr.Live(); n != 1 {
		t.Fatalf("live = %d after the root exited, want 1 (b)", n)
	}
	if got := tr.ledger(); got >= 256*mib {
		t.Fatalf("ledger = %d: the exited process kept its charge", got)
	}
	tr.Mmap(b.pid, 256*mib, 0, privAnon)
	b.do("mmap %d", 256*mib)
	// Had a's charge stayed, the sum would be over 512 MiB.
	if got := tr.Peak().MemBytes; got >= 512*mib {
		t.Fatalf("mem_bytes = %d: a's charge was not given back at exit", got)
	}
}

func TestExecGivesChargeBack(t *testing.T) {
	path := memctl(t)
	c := start(t, path)
	tr := newTracker(t, c.pid)
	tr.Mmap(c.pid, 256*mib, 0, privAnon)
	c.do("mmap %d", 256*mib)
	first := tr.Peak().MemBytes

	c.do("exec %s", path)
	c.do("brk") // answered by the new image
	tr.Exec(c.pid)
	if got := tr.ledger(); got != 0 {
		t.Fatalf("ledger = %d right after exec, want 0", got)
	}
	data := statmData(t, c.pid)
	tr.Mmap(c.pid, 4*kib, 0, privAnon)
	c.do("mmap %d", 4*kib)
	if got, want := tr.ledger(), data+4*kib; got != want {
		t.Fatalf("ledger = %d after exec + mmap, want %d (the old 256 MiB gone)", got, want)
	}
	if got := tr.Peak().MemBytes; got != first {
		t.Fatalf("peak = %d, want the pre-exec peak %d", got, first)
	}
}

func TestBrkChargesChangeFromPreviousBreak(t *testing.T) {
	c := startMemctl(t)
	tr := newTracker(t, c.pid)
	b0, err := strconv.ParseUint(c.do("brk"), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	tr.Brk(c.pid, 0) // a query changes nothing
	if got := tr.ledger(); got != 0 {
		t.Fatalf("ledger = %d after brk(0)", got)
	}

	data := statmData(t, c.pid)
	up := b0 + 1*mib
	tr.Brk(c.pid, up)
	if got := c.do("setbrk %x", up); got != strconv.FormatUint(up, 16) {
		t.Fatalf("brk moved to %s, want %x", got, up)
	}
	// The baseline is the break the process really had (read from /proc),
	// not the first brk argument.
	if got, want := tr.ledger(), data+1*mib; got != want {
		t.Fatalf("ledger = %d after growing the break by 1 MiB, want statm data %d + 1 MiB", got, data)
	}

	tr.Brk(c.pid, b0+256*kib)
	c.do("setbrk %x", b0+256*kib)
	if got, want := tr.ledger(), data+256*kib; got != want {
		t.Fatalf("ledger = %d after shrinking the break, want %d", got, want)
	}
	if got, want := tr.Peak().MemBytes, data+1*mib; got != want {
		t.Fatalf("peak = %d, want %d", got, want)
	}
}

func TestMremapChargesGrowthCreditsShrink(t *testing.T) {
	c := startMemctl(t)
	tr := newTracker(t, c.pid)
	tr.Mmap(c.pid, 1*mib, 0, privAnon)
	addr := hexAddr(t, c.do("mmap %d", 1*mib))
	before := tr.ledger()
	data := statmData(t, c.pid)
	tr.Mremap(c.pid, addr, 1*mib, 8*mib)
	addr = hexAddr(t, c.do("mremap %d", 8*mib))
	if got, want := tr.ledger(), max(before, data)+7*mib; got != want {
		t.Fatalf("ledger = %d after growing 1 -> 8 MiB, want %d", got, want)
	}
	grown := tr.ledger()
	tr.Mremap(c.pid, addr, 8*mib, 2*mib)
	c.do("mremap %d", 2*mib)
	if got := tr.ledger(); got != grown-6*mib {
		t.Fatalf("ledger = %d after shrinking 8 -> 2 MiB, want %d", got, grown-6*mib)
	}
}

func TestCreditNeverGoesBelowZero(t *testing.T) {
	a, b := startMemctl(t), startMemctl(t)
	tr := newTracker(t, a.pid)
	tr.Mmap(b.pid, 64*mib, 0, privAnon)
	b.do("mmap %d", 64*mib)
	before := tr.ledger()
	// a unmaps something the ledger never charged to it (mapped before
	// the trace): that must not eat b's charge.
	addr := hexAddr(t, a.do("mmaprw %d", 16*mib))
	tr.Munmap(a.pid, addr, 16*mib)
	a.do("munmap")
	if got := tr.ledger(); got < before {
		t.Fatalf("ledger = %d < %d: a credit reached another process's charge", got, before)
	}
}

func TestBurstOfChildrenCountedAtFork(t *testing.T) {
	c := startMemctl(t)
	tr := newTracker(t, c.pid)
	// No sampler runs: the count must come from Fork alone, as for
	// children too short-lived for any sampler.
	for i := 0; i < 20; i++ {
		tr.Fork(c.pid)
		c.do("fork")
	}
	if got := tr.Peak().Processes; got != 21 {
		t.Fatalf("processes = %d with 20 children alive at once, want 21", got)
	}
	if got := tr.Live(); got != 20 {
		// Every earlier child was found at the parent's next Fork; the
		// last one is still pending until a scan finds it.
		t.Fatalf("live = %d, want 20 (root + 19 found, 1 pending)", got)
	}
	tr.Sample()
	if got := tr.Live(); got != 21 {
		t.Fatalf("live = %d after a scan, want 21", got)
	}
	c.do("release")
	if got := tr.current(); got != 1 {
		t.Fatalf("count = %d after the children exited, want 1: pidfds did not report the exits", got)
	}
	if got := tr.Peak().Processes; got != 21 {
		t.Fatalf("processes = %d, want 21", got)
	}
}

func TestShortChildrenDoNotInflateTheCount(t *testing.T) {
	c := startMemctl(t)
	tr := newTracker(t, c.pid)
	for i := 0; i < 50; i++ {
		tr.Fork(c.pid)
		c.do("forkexit") // the child is gone (reaped) before any scan
	}
	if got := tr.Peak().Processes; got != 2 {
		t.Fatalf("processes = %d for 50 children one after another, want 2", got)
	}
}

func TestMultiThreadedParentShortChildren(t *testing.T) {
	c := startMemctl(t)
	c.do("thread")
	tr := newTracker(t, c.pid)
	// Another thread of the parent might still be inside fork, so an
	// earlier fork only counts as returned ForkGrace after it began.
	for i := 0; i < 5; i++ {
		tr.Fork(c.pid)
		c.do("forkexit")
		time.Sleep(ForkGrace) // waits out the grace; asserts nothing about time
	}
	if got := tr.Peak().Processes; got != 2 {
		t.Fatalf("processes = %d for 5 children one after another, want 2", got)
	}
}

func TestUnfoundForkExpires(t *testing.T) {
	c := startMemctl(t)
	tr := newTracker(t, c.pid)
	tr.Fork(c.pid) // a fork that fails: no child ever appears
	if got := tr.current(); got != 2 {
		t.Fatalf("count = %d right after Fork, want 2", got)
	}
	time.Sleep(ForkGrace) // waits out the grace; asserts nothing about time
	tr.Sample()
	if got := tr.current(); got != 1 {
		t.Fatalf("count = %d after a scan past ForkGrace, want 1", got)
	}
}

func TestSamplerFindsChildrenAndTheirExits(t *testing.T) {
	c := startMemctl(t)
	tr := newTracker(t, c.pid)
	var kids []int
	for i := 0; i < 3; i++ {
		pid, err := strconv.Atoi(c.do("fork")) // no Fork call: found by scan
		if err != nil {
			t.Fatal(err)
		}
		kids = append(kids, pid)
	}
	tr.Sample() // finds them
	tr.Sample() // measures them
	if got := tr.Live(); got != 4 {
		t.Fatalf("live = %d, want 4 (root + 3 children %v)", got, kids)
	}
	if got := tr.Peak().Processes; got != 4 {
		t.Fatalf("processes = %d, want 4", got)
	}
	if got := tr.Peak().Threads; got != 4 {
		t.Fatalf("threads = %d, want 4 single-threaded processes", got)
	}
	c.do("release")
	if got := tr.Live(); got != 1 {
		t.Fatalf("live = %d after the children were reaped, want 1", got)
	}
}

func TestSeenChildConsumesPendingFork(t *testing.T) {
	c := startMemctl(t)
	tr := newTracker(t, c.pid)
	tr.Fork(c.pid)
	kid, err := strconv.Atoi(c.do("fork"))
	if err != nil {
		t.Fatal(err)
	}
	tr.Seen(kid) // the child notifies before any scan
	if got := tr.current(); got != 2 {
		t.Fatalf("count = %d, want 2: the child was counted twice (pending + live)", got)
	}
}

func TestFDScanFindsHighFD(t *testing.T) {
	c := startMemctl(t)
	tr := newTracker(t, c.pid)
	tr.Sample()
	if got := tr.Peak().FDMax; got != 3 {
		t.Fatalf("fd_max = %d before dup, want 3 (stdio only)", got)
	}
	c.do("dup 200")
	tr.Sample()
	if got := tr.Peak().FDMax; got != 201 {
		t.Fatalf("fd_max = %d with fd 200 open, want 201", got)
	}
	tr.FD(c.pid, 4095)
	if got := tr.Peak().FDMax; got != 4096 {
		t.Fatalf("fd_max = %d after FD(4095), want 4096", got)
	}
}

func TestPreExecHelperIsNotCharged(t *testing.T) {
	path := memctl(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, reported := range []bool{true, false} {
		t.Run(fmt.Sprintf("exec_reported=%v", reported), func(t *testing.T) {
			c := start(t, self, "PEAK_TEST_HELPER=exec")
			tr := newTracker(t, c.pid)
			// The helper runs this test binary: a Go runtime with tens of
			// MiB of statm data that is the tracer's, not the workload's.
			tr.Mmap(c.pid, 1<<30, 0, privAnon)
			tr.Sample()
			if p := tr.Peak(); p.MemBytes != 0 || p.RSSBytes != 0 || p.Threads != 1 || p.Processes != 1 {
				t.Fatalf("pre-exec helper measured: %+v, want only processes=1 (threads=1 as its floor)", p)
			}
			c.do("%s", path)
			c.do("brk") // the workload image answers
			if reported {
				tr.Exec(c.pid)
			} else {
				tr.Sample() // sees it running another image
			}
			data := statmData(t, c.pid)
			tr.Mmap(c.pid, 4*kib, 0, privAnon)
			c.do("mmap %d", 4*kib)
			if got, want := tr.Peak().MemBytes, data+4*kib; got != want {
				t.Fatalf("mem_bytes = %d after exec, want %d", got, want)
			}
		})
	}
}

func TestOutOfFDsStillCountsAndSeesExits(t *testing.T) {
	c := startMemctl(t)
	tr := newTracker(t, c.pid)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// Leave this process no free fd at all while the children are found,
	// as in a tree too big for the tracer's fd limit.
	var hi int
	if f, err := os.Open("/dev/null"); err == nil {
		hi = int(f.Fd())
		f.Close()
	}
	low := lim
	low.Cur = uint64(hi)
	for i := 0; i < 3; i++ {
		c.do("fork")
	}
	// The root's handles are opened at the first pass that sees it (in a
	// run, right after the start), with fds to spare.
	tr.mu.Lock()
	for _, h := range []uint8{hStatm, hKids, hFD} {
		tr.handleLocked(tr.procs[c.pid], h)
	}
	tr.mu.Unlock()
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	tr.Sample() // finds the children with no fd to spare
	live := tr.Live()
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if live != 4 {
		t.Fatalf("live = %d with no fds to spare, want 4", live)
	}
	tr.mu.Lock()
	noFD := 0
	for _, p := range tr.procs {
		if p.pidfd < 0 && p.stat == nil {
			noFD++
		}
	}
	tr.mu.Unlock()
	if noFD != 3 {
		t.Fatalf("%d children were registered without fds, want 3 (the limit did not bite?)", noFD)
	}
	// With fds again, children without handles are measured by path.
	tr.Sample()
	var pids []int
	tr.mu.Lock()
	for pid := range tr.procs {
		pids = append(pids, pid)
	}
	tr.mu.Unlock()
	var want int64
	for _, pid := range pids {
		want += statmData(t, pid)
	}
	if got := tr.ledger(); got != want {
		t.Fatalf("ledger = %d, want the 4 statm floors %d", got, want)
	}
	c.do("release")
	tr.Sample() // no pidfd: the exits are seen in /proc
	if got := tr.Live(); got != 1 {
		t.Fatalf("live = %d after the children exited, want 1", got)
	}
}

// TestHandlesOpenedWhenNeeded: registering a process (its first notified
// call) opens its pidfd and stat only; statm is opened by the first memory
// call, the children and fd handles by the first pass that sees it, and
// all are closed when it exits.
func TestHandlesOpenedWhenNeeded(t *testing.T) {
	a, b := startMemctl(t), startMemctl(t)
	tr := newTracker(t, a.pid)
	tr.Seen(b.pid)
	handles := func() (stat, statm, kids, fd bool) {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		p := tr.procs[b.pid]
		if p == nil {
			t.Fatal("process not registered")
		}
		return p.stat != nil, p.statm != nil, p.kids != nil, p.fdDir != nil
	}
	if stat, statm, kids, fd := handles(); !stat || statm || kids || fd {
		t.Fatalf("after the first call: stat %v statm %v children %v fd %v, want only stat", stat, statm, kids, fd)
	}
	tr.Mmap(b.pid, 1<<20, unix.PROT_READ|unix.PROT_WRITE, privAnon)
	if _, statm, kids, fd := handles(); !statm || kids || fd {
		t.Fatalf("after mmap: statm %v children %v fd %v, want statm only", statm, kids, fd)
	}
	tr.Sample()
	if _, _, kids, fd := handles(); !kids || !fd {
		t.Fatalf("after a pass: children %v fd %v, want both", kids, fd)
	}
	open := func() int {
		n := 0
		ents, _ := os.ReadDir("/proc/self/fd")
		for _, e := range ents {
			if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "/proc/"+strconv.Itoa(b.pid)+"/") {
				n++
			}
		}
		return n
	}
	if n := open(); n != 4 {
		t.Fatalf("%d handles on /proc/%d open, want 4", n, b.pid)
	}
	b.exit()
	tr.Sample()
	if n := open(); n != 0 {
		t.Fatalf("%d handles on /proc/%d still open after its exit", n, b.pid)
	}
}

func TestGoneProcessIsIgnored(t *testing.T) {
	a, b := startMemctl(t), startMemctl(t)
	tr := newTracker(t, a.pid)
	bpid := b.pid
	b.exit()
	tr.Mmap(bpid, 1<<30, 0, privAnon) // a late call for a reaped process
	tr.Fork(bpid)
	if got := tr.Peak(); got.MemBytes >= 1<<30 || got.Processes != 1 {
		t.Fatalf("a reaped pid was charged or counted: %+v", got)
	}
}

func TestConcurrentUseWithSampler(t *testing.T) {
	var cs []*ctl
	for i := 0; i < 3; i++ {
		cs = append(cs, startMemctl(t))
	}
	tr := newTracker(t, cs[0].pid)
	tr.SetInterval(time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tr.Run(ctx); close(done) }()

	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func(c *ctl) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				tr.Seen(c.pid)
				tr.Mmap(c.pid, 1*mib, 0, privAnon)
				c.do("mmap %d", 1*mib)
				tr.FD(c.pid, 10)
				_ = tr.Peak()
			}
		}(c)
	}
	wg.Wait()
	cancel()
	<-done
	p := tr.Peak()
	// 20 MiB per process were charged and never credited.
	if p.MemBytes < 60*mib {
		t.Fatalf("mem_bytes = %d, want >= 60 MiB", p.MemBytes)
	}
	if p.Processes != 3 || p.FDMax < 11 {
		t.Fatalf("peak = %+v, want processes 3 and fd_max >= 11", p)
	}
}

// TestUnprivileged runs this package's tests again as uid 65534: nothing in
// the tracker may need root.
func TestUnprivileged(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("already unprivileged")
	}
	if os.Getenv("PEAK_TEST_UNPRIV") != "" {
		t.Fatal("recursion")
	}
	memctl(t) // compile first so a missing gcc is reported here
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary's own directory is private to root: copy it where
	// uid 65534 may execute it.
	dir, err := os.MkdirTemp("", "peak-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "peak.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	// It reads testdata/ relative to its working directory.
	if err := os.Mkdir(filepath.Join(dir, "testdata"), 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("testdata/memctl.c")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "testdata", "memctl.c"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run", "^Test[^U]", "-test.count=1", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PEAK_TEST_UNPRIV=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: 65534, Gid: 65534},
		Pdeathsig:  syscall.SIGKILL,
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tests as uid 65534: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "--- SKIP") || !strings.Contains(string(out), "PASS") {
		t.Fatalf("not every test ran and passed as uid 65534:\n%s", out)
	}
}

func BenchmarkSample(b *testing.B) {
	c := startMemctl(b)
	// A shell-sized tree: 20 single-threaded children, a few fds each.
	for i := 0; i < 20; i++ {
		c.do("fork")
	}
	tr := newTracker(b, c.pid)
	tr.Sample()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr.Sample()
	}
}

func BenchmarkMmapCall(b *testing.B) {
	c := startMemctl(b)
	tr := newTracker(b, c.pid)
	for i := 0; i < b.N; i++ {
		tr.Mmap(c.pid, 4096, 0, privAnon)
	}
}

// privAnon are the mmap flags of an ordinary anonymous mapping.
const privAnon = unix.MAP_PRIVATE | unix.MAP_ANONYMOUS

// Small private writable mappings are not notified (pkg/seccomp's filter):
// statm data counts them. In a process whose charge is far above its data
// (a PROT_NONE reservation), a floor of max(charge, data) would lose them;
// the floor applies only to the part of the charge data covers.
func TestUnnotifiedSmallMapsCountOnTopOfReservation(t *testing.T) {
	c := startMemctl(t)
	tr := newTracker(t, c.pid)
	tr.Mmap(c.pid, 512*mib, 0, privAnon)
	c.do("mmap %d", 512*mib)
	for range 40 {
		c.do("mmaprw %d", 256*kib) // 10 MiB, never reported
	}
	tr.Sample()
	data := statmData(t, c.pid)
	if data < 10*mib {
		t.Fatalf("statm data %d < 10 MiB: the helper did not map what it should", data)
	}
	if got, want := tr.Peak().MemBytes, 512*mib+data; got < want {
		t.Fatalf("mem_bytes = %d, want >= 512 MiB reservation + statm data %d = %d", got, data, want)
	}
	if !InData(unix.PROT_READ|unix.PROT_WRITE, privAnon) || InData(0, privAnon) ||
		InData(unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS) {
		t.Fatal("InData: want true only for private writable mappings")
	}
}

// A large munmap of a range made of unnotified mappings (adjacent small
// ones merge into one) must be credited from what counted them, not from
// a reservation that is still mapped.
func TestMunmapOfUnnotifiedRangeKeepsReservation(t *testing.T) {
	c := startMemctl(t)
	tr := newTracker(t, c.pid)
	tr.Mmap(c.pid, 256*mib, 0, privAnon)
	c.do("mmap %d", 256*mib)
	addr := hexAddr(t, c.do("mmaprw %d", 4*mib)) // not reported
	tr.Munmap(c.pid, addr, 4*mib)
	c.do("munmap")
	if got := tr.ledger(); got < 256*mib {
		t.Fatalf("ledger = %d after unmapping 4 MiB never charged: the 256 MiB reservation lost its charge", got)
	}
}

func hexAddr(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		t.Fatalf("want an address from memctl, got %q", s)
	}
	return v
}

// A reservation made writable (glibc's thread stacks and arena growth)
// enters statm data: its charge must move under the floor, not count
// twice.
func TestMprotectWritableMovesReservationUnderFloor(t *testing.T) {
	c := startMemctl(t)
	tr := newTracker(t, c.pid)
	addr := hexAddr(t, c.do("mmap %d", 64*mib))
	tr.Mmap(c.pid, 64*mib, 0, privAnon)
	tr.Mprotect(c.pid, addr, 64*mib, unix.PROT_READ|unix.PROT_WRITE)
	c.do("touch %d", 64*mib)
	tr.Sample()
	data := statmData(t, c.pid)
	if data < 64*mib {
		t.Fatalf("statm data %d < 64 MiB after mprotect RW", data)
	}
	if got := tr.ledger(); got != data {
		t.Fatalf("ledger = %d, want statm data %d (the 64 MiB once, not twice)", got, data)
	}
	// Back to PROT_NONE is not notified: it stays counted (over, never under).
	tr.Mprotect(c.pid, addr, 64*mib, unix.PROT_READ)
	if got := tr.ledger(); got != data {
		t.Fatalf("ledger = %d after a read-only mprotect, want unchanged %d", got, data)
	}
}

// The first brk of an image is on the answer path: right after an exec it
// costs one stat read, elsewhere a maps read.
func BenchmarkFirstBrk(b *testing.B) {
	c := startMemctl(b)
	tr := newTracker(b, c.pid)
	tr.Exec(c.pid)
	b.Run("after_exec", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			tr.Exec(c.pid)
			tr.Brk(c.pid, 0)
		}
	})
	b.Run("maps", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			tr.mu.Lock()
			tr.procs[c.pid].brk = 0
			tr.mu.Unlock()
			tr.Brk(c.pid, 0)
		}
	})
}

// Fork is on the answer path of every process creation.
func BenchmarkForkCall(b *testing.B) {
	c := startMemctl(b)
	tr := newTracker(b, c.pid)
	tr.Exec(c.pid)
	for i := 0; i < b.N; i++ {
		tr.Fork(c.pid)
	}
}

// A mapping that was never charged (a small read-write one, not notified)
// made read-only and then writable again must not take the charge of a
// reservation that is still in place (a JIT toggling its code pages).
func TestMprotectOfUnchargedMappingKeepsReservation(t *testing.T) {
	c := startMemctl(t)
	tr := newTracker(t, c.pid)
	tr.Mmap(c.pid, 256*mib, 0, privAnon)
	c.do("mmap %d", 256*mib)
	addr := hexAddr(t, c.do("mmaprw %d", 512*kib)) // not reported
	for range 3 {
		c.do("ro %d", 512*kib)
		tr.Mprotect(c.pid, addr, 512*kib, unix.PROT_READ|unix.PROT_WRITE)
		c.do("touch %d", 512*kib)
	}
	tr.Sample()
	if got, want := tr.ledger(), 256*mib+statmData(t, c.pid); got < want {
		t.Fatalf("ledger = %d, want >= 256 MiB reservation + statm data = %d", got, want)
	}
}

func TestSpans(t *testing.T) {
	var ss spans
	ss = ss.add(10, 20)
	ss = ss.add(30, 40)
	ss = ss.add(20, 30) // adjacent on both sides: one span
	if len(ss) != 1 || ss[0] != (span{10, 40}) {
		t.Fatalf("add: %v", ss)
	}
	var got []span
	ss.uncovered(0, 50, func(s, e uint64) { got = append(got, span{s, e}) })
	if len(got) != 2 || got[0] != (span{0, 10}) || got[1] != (span{40, 50}) {
		t.Fatalf("uncovered: %v", got)
	}
	ss = ss.remove(15, 25)
	if len(ss) != 2 || ss[0] != (span{10, 15}) || ss[1] != (span{25, 40}) {
		t.Fatalf("remove: %v", ss)
	}
	got = nil
	ss.uncovered(12, 30, func(s, e uint64) { got = append(got, span{s, e}) })
	if len(got) != 1 || got[0] != (span{15, 25}) {
		t.Fatalf("uncovered after remove: %v", got)
	}
}
