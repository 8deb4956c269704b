//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/sandlock-learn/sandlock-learn/internal/cliutil"
	"github.com/sandlock-learn/sandlock-learn/pkg/event"
	"github.com/sandlock-learn/sandlock-learn/pkg/peak"
	"github.com/sandlock-learn/sandlock-learn/pkg/seccomp"
)

const tool = "sandlock-trace 0.1.0"

// Exit codes of the trace itself (pipeline.md) besides cliutil's 0, 2 and
// 125; any other code is the workload's own.
const (
	exitCannotExec = 126
	exitNotFound   = 127
)

// Grace periods: how long a stopped tree gets between SIGTERM and SIGKILL.
const (
	termGrace = 2 * time.Second
	killRetry = 100 * time.Millisecond
	// How long the workload gets to end after the first SIGINT/SIGTERM
	// passed on to it before the whole tree is stopped. Two signals sent
	// at once may reach us as one (the kernel and the runtime coalesce
	// them), so the second one cannot be relied on to end the run.
	signalGrace = 3 * time.Second
)

const usageText = `sandlock-trace [flags] -- CMD [ARGS...]

Runs CMD under a seccomp user-notification filter (no ptrace, no root needed)
and writes one NDJSON event per observed file, exec and socket operation,
then a "peak" record (resources) and an "exit" record. CMD runs exactly as it
would alone: every notified syscall is let through unchanged.

The peak record's mem_bytes follows sandlock's memory ledger (anonymous
mappings, PROT_NONE reservations included, not RSS). Read-write mappings
under 1 MiB are not traced one by one but counted through /proc/PID/statm,
so a burst of them that comes and goes within 10 ms can be missed; leave
headroom in the limit (sandlock-collapse does).

Events go to stdout, and CMD's own stdout is then sent to stderr so it cannot
corrupt the stream; with -o the events go to FILE and CMD keeps stdout.

Examples:
   sandlock-trace -- python3 build.py | sandlock-collapse | sandlock-emit > profile.toml
   sandlock-trace -o run.ndjson --timeout 600 -- make -j2
   jq -c 'select(.type == "fs" and .op == "write")' run.ndjson

When the trace ends: when CMD and every process it started have exited. Once
CMD itself has exited, processes it left behind get --linger seconds to
finish and are then stopped (SIGTERM, then SIGKILL), with a warning record.
--timeout stops the whole tree the same way at any time (exit record
"timed_out": true). SIGINT and SIGTERM sent to sandlock-trace are passed to
CMD; a second one, or CMD (or a process it started) still running 3 seconds
after the first, stops the whole tree. A signal during start-up, before CMD
runs, ends the trace at once.

Exit status: CMD's own (128+N when killed by signal N), 127 when CMD is not
found, 126 when it cannot be executed, 125 when the trace itself failed (no
seccomp user notification in this kernel, output not writable).`

// run parses the flags, traces the workload and returns the exit status:
// the workload's own, or one of the trace's (cliutil's, 126, 127).
func run(args []string, stdin, stdout, stderr *os.File) int {
	code := cliutil.ExitOK
	app := &cli.App{
		Name:            name,
		Usage:           "observe a program once and stream what it does as NDJSON events",
		UsageText:       usageText,
		HideHelpCommand: true,
		Writer:          stdout,
		ErrWriter:       stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write events to `FILE` instead of stdout"},
			&cli.Float64Flag{Name: "timeout", Usage: "stop the workload after `SECONDS` (0: no limit)"},
			&cli.Float64Flag{Name: "linger", Value: 5, Usage: "after CMD exits, let processes it left behind run `SECONDS` more before stopping them"},
			&cli.BoolFlag{Name: "syscalls", Usage: "emit a \"syscalls\" record counting notified syscalls, and also notify the syscalls sandlock always blocks"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cliutil.Fail(cliutil.ExitUsage, "missing CMD (usage: sandlock-trace [flags] -- CMD [ARGS...])")
			}
			if c.Float64("timeout") < 0 || c.Float64("linger") < 0 {
				return cliutil.Fail(cliutil.ExitUsage, "--timeout and --linger take a number of seconds >= 0")
			}
			t := &tracer{
				argv:    c.Args().Slice(),
				output:  c.String("output"),
				timeout: seconds(c.Float64("timeout")),
				linger:  seconds(c.Float64("linger")),
				counts:  c.Bool("syscalls"),
				stdin:   stdin, stdout: stdout, stderr: stderr,
			}
			code = t.run()
			return nil
		},
		ExitErrHandler: func(c *cli.Context, err error) {}, // run reports errors, once
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return &cliutil.Failure{Code: cliutil.ExitUsage, Err: err}
		},
	}
	err := app.Run(args) // sets code: read it only after
	return cliutil.Report(name, cliFailure(err), stderr, code)
}

// cliFailure keeps the statuses trace has always given urfave/cli's own
// errors, which cliutil.Report would call bad input (1): an ExitCoder keeps
// its code ("No help topic for 'x'" is 3), anything else is a usage error.
func cliFailure(err error) error {
	var f *cliutil.Failure
	if err == nil || errors.As(err, &f) {
		return err
	}
	code := cliutil.ExitUsage
	var coder cli.ExitCoder
	if errors.As(err, &coder) {
		code = coder.ExitCode()
	}
	return &cliutil.Failure{Code: code, Err: err}
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

type tracer struct {
	argv    []string
	output  string
	timeout time.Duration
	linger  time.Duration
	counts  bool
	stdin   *os.File
	stdout  *os.File
	stderr  *os.File

	sink   *sink
	status *status
}

// errorf prints a message while the trace goes on: a warning, or why the
// status will be 125 or the workload's.
func (t *tracer) errorf(format string, args ...any) {
	t.status.clear()
	fmt.Fprintf(t.stderr, "sandlock-trace: "+format+"\n", args...)
}

// fail ends the trace with a failure of its own (a cliutil status) when
// there is no workload status to give.
func (t *tracer) fail(code int, format string, args ...any) int {
	t.status.clear()
	return cliutil.Report(name, cliutil.Fail(code, format, args...), t.stderr, cliutil.ExitOK)
}

func (t *tracer) run() int {
	out := io.Writer(t.stdout)
	workOut := t.stderr
	if t.output != "" {
		f, err := os.Create(t.output)
		if err != nil {
			return t.fail(cliutil.ExitTool, "%v", err)
		}
		defer f.Close()
		out = f
		workOut = t.stdout
	}
	// A closed stdout must give EPIPE, not kill us: caught (not ignored,
	// which the workload would inherit).
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGPIPE)
	defer signal.Stop(sigs)

	// For profiling the tracer itself (issue 2): not a user interface.
	if p := os.Getenv("SANDLOCK_TRACE_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	t.status = newStatus(t.stderr)
	t.sink = newSink(out, t.stderr, t.status)
	defer t.sink.close()

	cwd, err := os.Getwd()
	if err != nil || cwd == "" || cwd[0] != '/' {
		// A removed working directory: the record needs an absolute path.
		cwd = "/"
		t.errorf("warning: cannot tell the working directory: %v", err)
	}
	start := &event.Start{
		Schema: event.Schema, Argv: t.argv, Cwd: cwd, Kernel: uname(true), Arch: uname(false),
		Time: time.Now().UTC().Format(time.RFC3339), UID: os.Getuid(), GID: os.Getgid(), Tool: tool,
	}
	began := time.Now()

	path, err := exec.LookPath(t.argv[0])
	if err != nil && !errors.Is(err, exec.ErrDot) {
		code := exitCannotExec
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			code = exitNotFound
		}
		t.errorf("%s: %s", t.argv[0], lookMessage(err, code))
		t.sink.Emit(start)
		return t.finish(exitRecord(code, 0, false, began), code)
	}

	acct := &acctProxy{}
	opts := seccomp.Options{
		Path: path, Argv: t.argv, Env: os.Environ(),
		Stdin: t.stdin, Stdout: workOut, Stderr: t.stderr,
		Sink: t.sink, Acct: acct,
	}
	if t.counts {
		opts.Extra = seccomp.SandlockBlocked
	}
	// A signal during start-up (the reaper starting, listener hand-off)
	// abandons it: there is no workload yet to pass it on to.
	startCtx, startCancel := context.WithCancel(context.Background())
	startDone, startSig := make(chan struct{}), make(chan os.Signal, 1)
	go func() {
		var got os.Signal
		for {
			select {
			case s := <-sigs:
				if s == syscall.SIGPIPE || got != nil {
					continue
				}
				got = s
				startCancel()
			case <-startDone:
				// A signal to the whole group can kill a helper and
				// fail the start-up before its copy to us is read
				// here: take it as what ended the start-up.
				for got == nil {
					select {
					case s := <-sigs:
						if s != syscall.SIGPIPE {
							got = s
						}
						continue
					default:
					}
					break
				}
				startSig <- got
				return
			}
		}
	}()
	sess, err := seccomp.StartContext(startCtx, opts)
	close(startDone)
	got := <-startSig
	startCancel()
	if got != nil && err == nil {
		// It came as start-up completed: the loop below passes it on.
		sigs <- got
	}
	var se *seccomp.SignaledError
	if err != nil && got == nil && errors.As(err, &se) {
		got = se.Sig
	}
	if err != nil && got != nil {
		sig := got.(syscall.Signal)
		t.errorf("interrupted by %s before the workload started", unix.SignalName(sig))
		t.sink.Emit(start)
		return t.finish(exitRecord(0, sig, false, began), 128+int(sig))
	}
	if err != nil {
		switch {
		case errors.Is(err, seccomp.ErrNested):
			return t.fail(cliutil.ExitTool, "cannot trace: %v", err)
		case errors.Is(err, seccomp.ErrUnsupported):
			return t.fail(cliutil.ExitTool, "cannot trace: this kernel does not offer seccomp user notification (Linux 5.0+, 5.8+ recommended): %v", err)
		default:
			return t.fail(cliutil.ExitTool, "cannot start the workload: %v", err)
		}
	}
	tracker := peak.New(sess.Pid())
	acct.t = tracker
	t.sink.Emit(start)

	ctx, cancel := context.WithCancel(context.Background())
	go tracker.Run(ctx)
	done := make(chan error, 1)
	go func() { done <- sess.Run() }()
	t.status.start(t.sink, tracker, began)

	var (
		mainStatus *syscall.WaitStatus
		execErr    *seccomp.ExecError
		timedOut   bool
		loopDone   bool
		loopErr    error
		fatal      bool
		signalled  int
		stopping   bool // SIGTERM sent to the tree
	)
	var timeoutC, lingerC, killC, hupC, signalC <-chan time.Time
	var killTick *time.Ticker
	if t.timeout > 0 {
		timeoutC = time.After(t.timeout)
	}
	stopTree := func() {
		if stopping {
			return
		}
		stopping = true
		sess.KillTree(syscall.SIGTERM)
		killC = time.After(termGrace)
	}
	killTree := func() {
		if killTick != nil {
			return
		}
		sess.KillTree(syscall.SIGKILL)
		killTick = time.NewTicker(killRetry)
		// If the tree is gone but the listener never hangs up (a task
		// outside our tree?), do not wait forever.
		hupC = time.After(5 * time.Second)
	}
	tick := func() <-chan time.Time {
		if killTick == nil {
			return nil
		}
		return killTick.C
	}
	execSeen := false
	onExecResult := func(err error) {
		execSeen = true
		var ee *seccomp.ExecError
		if errors.As(err, &ee) {
			execErr = ee
			msg := "not found"
			if ee.Code == exitCannotExec {
				msg = "cannot execute: " + ee.Err.Error()
			}
			t.errorf("%s: %s", t.argv[0], msg)
		} else if err != nil {
			t.errorf("%v", err)
		}
	}
	for !(loopDone && (mainStatus != nil || execErr != nil)) {
		select {
		case s := <-sigs:
			if s == syscall.SIGPIPE {
				continue
			}
			signalled++
			if signalled > 1 {
				stopTree()
				killTree()
				continue
			}
			signalC = time.After(signalGrace)
			if s == syscall.SIGINT || s == syscall.SIGQUIT {
				// A terminal already sent it to the whole foreground
				// group, the workload included: do not send it twice.
				if fromTerminal() {
					continue
				}
			}
			sess.Signal(s.(syscall.Signal))
		case <-signalC:
			if !stopping {
				t.errorf("the workload still runs %s after the signal: stopping it", signalGrace)
				stopTree()
			}
		case <-timeoutC:
			timedOut = true
			t.errorf("timeout after %s: stopping the workload", t.timeout)
			stopTree()
		case <-killC:
			killTree()
		case <-tick():
			sess.KillTree(syscall.SIGKILL)
		case <-hupC:
			t.sink.Emit(&event.Warning{Msg: "the filter did not report that every traced task was gone; stopped waiting"})
			loopDone = true
			if mainStatus == nil && execErr == nil {
				ws := syscall.WaitStatus(uint32(syscall.SIGKILL))
				mainStatus = &ws
			}
		case ws := <-sess.Exited():
			mainStatus = &ws
			if !loopDone && t.linger > 0 {
				lingerC = time.After(t.linger)
			} else if !loopDone {
				lingerC = time.After(0)
			}
		case err := <-sess.ExecResult():
			onExecResult(err)
		case <-lingerC:
			n := sess.KillTree(0)
			if n > 0 && !loopDone {
				msg := fmt.Sprintf("%d process(es) still running %s after the main process exited were stopped", n, t.linger)
				t.errorf("%s", msg)
				t.sink.Emit(&event.Warning{Msg: msg})
			}
			stopTree()
		case err := <-done:
			loopDone = true
			loopErr = err
			if mainStatus == nil && execErr == nil {
				// The main process is gone (it had the filter); its
				// status is on the way from the reaper.
				select {
				case ws := <-sess.Exited():
					mainStatus = &ws
				case <-time.After(5 * time.Second):
					ws := syscall.WaitStatus(uint32(syscall.SIGKILL))
					mainStatus = &ws
				}
			}
		case err := <-t.sink.failed:
			if !fatal {
				fatal = true
				t.errorf("cannot write events: %v; stopping the workload", err)
				stopTree()
				killTree()
			}
		}
	}
	if !execSeen {
		// The helper reports a failed exec just before it exits, so the
		// result and the exit status race: wait for the result (it is
		// already on its way) so that a 126 or 127 always says why.
		select {
		case err := <-sess.ExecResult():
			onExecResult(err)
		case <-time.After(2 * time.Second):
		}
	}
	if killTick != nil {
		killTick.Stop()
	}
	cancel()
	t.status.stop()
	if loopErr != nil {
		t.errorf("notification loop: %v", loopErr)
		fatal = true
	}
	var counts map[string]int64
	if t.counts {
		counts = sess.Counts()
	}
	sess.Close()
	pk := tracker.Peak()
	tracker.Close()
	if fatal {
		t.sink.close()
		return cliutil.ExitTool // why was said when it happened
	}
	if t.counts {
		t.sink.Emit(&event.Syscalls{Counts: counts})
	}
	t.sink.Emit(&pk)
	code := 0
	var ex *event.Exit
	switch {
	case execErr != nil:
		code = execErr.Code
		ex = exitRecord(code, 0, timedOut, began)
	case mainStatus.Signaled():
		sig := mainStatus.Signal()
		code = 128 + int(sig)
		ex = exitRecord(0, sig, timedOut, began)
	default:
		code = mainStatus.ExitStatus()
		ex = exitRecord(code, 0, timedOut, began)
	}
	return t.finish(ex, code)
}

// finish writes the exit record (last) and flushes; an output failure
// turns any result into 125.
func (t *tracer) finish(ex *event.Exit, code int) int {
	t.sink.finish(ex)
	if err := t.sink.close(); err != nil {
		return t.fail(cliutil.ExitTool, "cannot write events: %v", err)
	}
	return code
}

func exitRecord(code int, sig syscall.Signal, timedOut bool, began time.Time) *event.Exit {
	ex := &event.Exit{TimedOut: timedOut, DurationMS: time.Since(began).Milliseconds()}
	if sig != 0 {
		ex.Signal = unix.SignalName(sig)
		if ex.Signal == "" {
			ex.Signal = fmt.Sprintf("SIG%d", int(sig))
		}
	} else {
		c := code
		ex.Code = &c
	}
	return ex
}

func lookMessage(err error, code int) string {
	if code == exitNotFound {
		return "command not found"
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return "cannot execute: " + pe.Err.Error()
	}
	var ee *exec.Error
	if errors.As(err, &ee) {
		return "cannot execute: " + ee.Err.Error()
	}
	return "cannot execute: " + err.Error()
}

// fromTerminal says whether a terminal's interrupt already reached the
// workload: we are in the terminal's foreground process group.
func fromTerminal() bool {
	fd, err := unix.Open("/dev/tty", unix.O_RDONLY|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false // no controlling terminal
	}
	defer unix.Close(fd)
	pg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	return err == nil && pg == syscall.Getpgrp()
}

func uname(release bool) string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		if release {
			return "unknown"
		}
		return runtime.GOARCH
	}
	if release {
		return unix.ByteSliceToString(u.Release[:])
	}
	return unix.ByteSliceToString(u.Machine[:])
}

// acctProxy lets the peak tracker be created once the workload's pid is
// known (after Start, before Run).
type acctProxy struct{ t *peak.Tracker }

func (a *acctProxy) Mmap(tgid int, n, prot, flags uint64) {
	if a.t != nil {
		a.t.Mmap(tgid, n, prot, flags)
	}
}
func (a *acctProxy) Munmap(tgid int, addr, n uint64) {
	if a.t != nil {
		a.t.Munmap(tgid, addr, n)
	}
}
func (a *acctProxy) Mprotect(tgid int, addr, n, prot uint64) {
	if a.t != nil {
		a.t.Mprotect(tgid, addr, n, prot)
	}
}
func (a *acctProxy) Brk(tgid int, addr uint64) {
	if a.t != nil {
		a.t.Brk(tgid, addr)
	}
}
func (a *acctProxy) Mremap(tgid int, addr, o, n uint64) {
	if a.t != nil {
		a.t.Mremap(tgid, addr, o, n)
	}
}
func (a *acctProxy) Fork(tgid int) {
	if a.t != nil {
		a.t.Fork(tgid)
	}
}
func (a *acctProxy) Exec(tgid int) {
	if a.t != nil {
		a.t.Exec(tgid)
	}
}
func (a *acctProxy) FD(tgid, fd int) {
	if a.t != nil {
		a.t.FD(tgid, fd)
	}
}
func (a *acctProxy) Seen(tgid int) {
	if a.t != nil {
		a.t.Seen(tgid)
	}
}

// sink moves records from the receiver thread to the writer goroutine in
// batches, so encoding and output never delay an answer by more than an
// append, and the receiver wakes the writer once per batch, not per record.
// The channel applies backpressure rather than dropping events.
type sink struct {
	ch     chan []event.Record
	free   chan []event.Record
	w      *event.Writer
	stderr io.Writer
	status *status
	failed chan error
	wg     sync.WaitGroup

	mu     sync.Mutex // guards batch and closed (Emit is also called from run)
	batch  []event.Record
	closed bool

	errMu   sync.Mutex
	err     error
	written atomic.Int64 // for the status line
}

const batchSize = 256

func newSink(out io.Writer, stderr io.Writer, st *status) *sink {
	s := &sink{
		ch: make(chan []event.Record, 64), free: make(chan []event.Record, 66),
		w: event.NewWriter(out), stderr: stderr, status: st, failed: make(chan error, 1),
	}
	s.wg.Add(1)
	go s.loop()
	return s
}

func (s *sink) Emit(r event.Record) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.batch = append(s.batch, r)
	if len(s.batch) >= batchSize {
		s.handOffLocked()
	}
	s.mu.Unlock()
}

func (s *sink) Flush() {
	s.mu.Lock()
	if !s.closed && len(s.batch) > 0 {
		s.handOffLocked()
	}
	s.mu.Unlock()
}

func (s *sink) handOffLocked() {
	s.ch <- s.batch
	select {
	case b := <-s.free:
		s.batch = b[:0]
	default:
		s.batch = make([]event.Record, 0, batchSize)
	}
}

func (s *sink) loop() {
	defer s.wg.Done()
	var err error
	for batch := range s.ch {
		for i, r := range batch {
			batch[i] = nil
			if w, ok := r.(*event.Warning); ok && strings.HasPrefix(w.Msg, "io_uring") {
				s.status.clear()
				fmt.Fprintf(s.stderr, "sandlock-trace: warning: %s\n", w.Msg)
			}
			if err == nil {
				if err = s.w.Write(r); err == nil {
					s.written.Add(1)
				}
			}
		}
		if err == nil && len(s.ch) == 0 {
			err = s.w.Flush()
		}
		select {
		case s.free <- batch:
		default:
		}
		if err != nil {
			s.errMu.Lock()
			first := s.err == nil
			s.err = err
			s.errMu.Unlock()
			if first {
				s.failed <- err
			}
			// Keep draining: the receiver must never block for good.
		}
	}
	if err == nil {
		err = s.w.Flush()
		s.errMu.Lock()
		s.err = err
		s.errMu.Unlock()
	}
}

func (s *sink) count() int64 { return s.written.Load() }

// finish writes the exit record after everything else, with the count of
// records written before it.
func (s *sink) finish(ex *event.Exit) {
	s.closeCh()
	s.wg.Wait()
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.err != nil {
		return
	}
	ex.Events = s.w.Count()
	if err := s.w.Write(ex); err != nil {
		s.err = err
		return
	}
	s.err = s.w.Flush()
}

func (s *sink) closeCh() {
	s.mu.Lock()
	if !s.closed {
		if len(s.batch) > 0 {
			s.ch <- s.batch
			s.batch = nil
		}
		s.closed = true
		close(s.ch)
	}
	s.mu.Unlock()
}

func (s *sink) close() error {
	s.closeCh()
	s.wg.Wait()
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// status is the one-line live status on a terminal's stderr.
type status struct {
	w    io.Writer
	on   bool
	mu   sync.Mutex
	quit chan struct{}
	wg   sync.WaitGroup
	line bool
}

func newStatus(stderr *os.File) *status {
	on := isatty.IsTerminal(stderr.Fd()) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
	return &status{w: stderr, on: on}
}

func (st *status) start(s *sink, tr *peak.Tracker, began time.Time) {
	if !st.on {
		return
	}
	st.quit = make(chan struct{})
	st.wg.Add(1)
	go func() {
		defer st.wg.Done()
		tk := time.NewTicker(250 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-st.quit:
				return
			case <-tk.C:
			}
			st.mu.Lock()
			fmt.Fprintf(st.w, "\rsandlock-trace: %d events, %d processes, %.1fs\x1b[K", s.count(), tr.Live(), time.Since(began).Seconds())
			st.line = true
			st.mu.Unlock()
		}
	}()
}

func (st *status) clear() {
	if st == nil || !st.on {
		return
	}
	st.mu.Lock()
	if st.line {
		fmt.Fprint(st.w, "\r\x1b[K")
		st.line = false
	}
	st.mu.Unlock()
}

func (st *status) stop() {
	if st.quit != nil {
		close(st.quit)
		st.wg.Wait()
		st.quit = nil
	}
	st.clear()
}
