//go:build linux

package check

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/sandlock-learn/sandlock-learn/pkg/seccomp"
)

// RunConfig is one confined run.
type RunConfig struct {
	Policy  *Policy
	Session *Session // receives what the run did; required
	Path    string   // the program, already resolved (exec.LookPath)
	Argv    []string
	Dir     string   // working directory; "" = ours
	Env     []string // nil = ours
	Stdin   *os.File // nil = /dev/null
	Stdout  *os.File // nil = /dev/null
	Stderr  *os.File // nil = /dev/null
	// Supervise watches the workload with pkg/seccomp's notifier so every
	// operation is evaluated (denials explained, grants counted). Without
	// it only Landlock runs, and only a refused exec is explained.
	Supervise bool
	// Warn receives the supervisor's warnings (what it could not observe).
	Warn func(string)
}

// ErrNoSupervisor means the kernel has no seccomp user notification: the
// run can be enforced but not explained. Nothing was run.
var ErrNoSupervisor = errors.New("seccomp user notification is not available: denials cannot be explained")

// Run enforces cfg.Policy on the workload and waits for it. The status is
// the workload's: its exit code, 128+N when signal N killed it, 126 when it
// could not be executed, 125 when the helper failed before running it.
func Run(cfg RunConfig) (int, error) {
	pol := cfg.Policy
	plan := Plan{
		Path:       cfg.Path,
		Argv:       cfg.Argv,
		Dir:        cfg.Dir,
		Ruleset:    pol.Ruleset(),
		NoFile:     pol.OpenFiles,
		BlockDgram: !pol.Net.DatagramAllowed(),
	}
	for _, name := range pol.Blocked {
		if nr := syscallNumber(name); nr >= 0 {
			plan.Blocked = append(plan.Blocked, uint32(nr))
		}
	}
	env := cfg.Env
	if env == nil {
		env = os.Environ()
	}
	env = helperEnviron(env)
	if cfg.Supervise {
		return runSupervised(cfg, plan, env)
	}
	return runPlain(cfg, plan, env)
}

// helperEnviron is env for the helper: marked as such, and with async
// preemption off (see helperMain), the workload's own GODEBUG kept aside.
func helperEnviron(env []string) []string {
	out := make([]string, 0, len(env)+3)
	gd := "-"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			gd = "=" + v
			continue
		}
		out = append(out, kv)
	}
	return append(out, helperEnv+"=1", godebugEnv+"="+gd, "GODEBUG=asyncpreemptoff=1")
}

// planEnvVar is the environment entry that hands plan to the helper, and a
// cleanup to run once the helper has started the workload.
func planEnvVar(plan *Plan) (string, func(), error) {
	data, err := json.Marshal(plan)
	if err != nil {
		return "", nil, err
	}
	if len(data) <= maxPlan {
		return planEnv + "=" + string(data), func() {}, nil
	}
	// Readable by us alone; the helper runs as us.
	f, err := os.CreateTemp("", "sandlock-check-plan-*.json")
	if err != nil {
		return "", nil, fmt.Errorf("a temporary file for a large plan: %w", err)
	}
	name := f.Name()
	_, werr := f.Write(data)
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr != nil {
		os.Remove(name)
		return "", nil, fmt.Errorf("writing the plan: %w", werr)
	}
	return planFile + "=" + name, func() { os.Remove(name) }, nil
}

// forwardSignals passes the signals a terminal or a supervisor sends on to
// the workload, which decides how to end; we still report its status.
func forwardSignals(send func(os.Signal)) (stop func()) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				send(s)
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}

func runPlain(cfg RunConfig, plan Plan, env []string) (int, error) {
	pv, cleanup, err := planEnvVar(&plan)
	if err != nil {
		return exitToolFailure, err
	}
	defer cleanup()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return exitToolFailure, err
	}
	defer statusR.Close()
	defer statusW.Close()
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{"sandlock-check-helper"},
		Env:        append(env, pv, statusEnv+"=3"),
		ExtraFiles: []*os.File{statusW},
		// The workload must not outlive us, nor a failing test.
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	// exec.Cmd wants nil, not a typed nil, for "no file".
	if cfg.Stdin != nil {
		cmd.Stdin = cfg.Stdin
	}
	if cfg.Stdout != nil {
		cmd.Stdout = cfg.Stdout
	}
	if cfg.Stderr != nil {
		cmd.Stderr = cfg.Stderr
	}
	if err := cmd.Start(); err != nil {
		return exitToolFailure, fmt.Errorf("starting the helper: %w", err)
	}
	statusW.Close()
	stop := forwardSignals(func(s os.Signal) { cmd.Process.Signal(s) })
	defer stop()

	// EOF on the status pipe means the exec happened (close-on-exec) or the
	// helper died; a number means the exec failed with that errno.
	msg, _ := io.ReadAll(statusR)
	if n, err := strconv.Atoi(string(msg)); err == nil && syscall.Errno(n) == syscall.EACCES {
		cfg.Session.ExecFailed(cmd.Process.Pid, cfg.Path)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return exitToolFailure, err
	}
	return exitStatus(cmd.ProcessState), nil
}

func runSupervised(cfg RunConfig, plan Plan, env []string) (int, error) {
	nonce := make([]byte, 12)
	if _, err := rand.Read(nonce); err != nil {
		return exitToolFailure, err
	}
	// A name no one has: it does not exist (so opening it fails before
	// Landlock looks), and a workload cannot guess it to confuse us.
	plan.Marker = "/.sandlock-check-armed-" + hex.EncodeToString(nonce)
	// A datagram socket sandlock refuses is refused by the supervisor
	// instead of the static filter, whose EPERM would win over the
	// notification and leave the refusal unexplained: the same errno,
	// and a denial line.
	var extra []string
	if plan.BlockDgram {
		plan.BlockDgram = false
		extra = []string{"socket"}
	}
	pv, cleanup, err := planEnvVar(&plan)
	if err != nil {
		return exitToolFailure, err
	}
	defer cleanup()
	obs := &Observer{Session: cfg.Session, Marker: plan.Marker, Warn: cfg.Warn, Program: cfg.Path}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return exitToolFailure, err
	}
	defer null.Close()
	orNull := func(f *os.File) *os.File {
		if f == nil {
			return null
		}
		return f
	}
	s, err := seccomp.Start(seccomp.Options{
		// The supervisor's reaper starts us again, as our helper:
		// Landlock must be applied after its filter is in place and
		// before the workload, in the process that becomes it.
		Path:   "/proc/self/exe",
		Argv:   []string{"sandlock-check-helper"},
		Env:    append(env, pv),
		Dir:    cfg.Dir,
		Stdin:  orNull(cfg.Stdin),
		Stdout: orNull(cfg.Stdout),
		Stderr: orNull(cfg.Stderr),
		Sink:   obs,
		Extra:  extra,
		// A connect or send to an address no rule allows fails with
		// sandlock's ECONNREFUSED; Landlock sees ports only.
		Decide: obs.Decide,
	})
	if err != nil {
		if errors.Is(err, seccomp.ErrUnsupported) {
			return exitToolFailure, fmt.Errorf("%w (%v)", ErrNoSupervisor, err)
		}
		return exitToolFailure, fmt.Errorf("starting the supervisor: %w", err)
	}
	obs.Main = s.Pid()
	stop := forwardSignals(func(sig os.Signal) { s.Signal(sig.(syscall.Signal)) })
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run() }()

	var ws syscall.WaitStatus
	select {
	case ws = <-s.Exited():
	case err := <-runErr:
		// The listener hung up: every task is gone; the status follows.
		ws = <-s.Exited()
		runErr <- err
	}
	// sandlock ends the sandbox with its first process; so do we, so that
	// a daemon left behind neither keeps us waiting nor runs on unwatched.
	for i := 0; i < 100 && s.KillTree(syscall.SIGKILL) > 0; i++ {
	}
	err = <-runErr
	obs.Close()
	s.Close()
	if execErr := execResult(s); execErr != nil {
		return exitToolFailure, fmt.Errorf("running the helper: %w", execErr)
	}
	if err != nil {
		return exitToolFailure, fmt.Errorf("supervisor: %w", err)
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	if ws.ExitStatus() == exitCannotExec && !obs.execRan() {
		// Our helper could not exec the workload; Landlock refused the
		// program or an interpreter the kernel loads for it.
		cfg.Session.ExecFailed(obs.Main, cfg.Path)
	}
	return ws.ExitStatus(), nil
}

func execResult(s *seccomp.Session) error {
	select {
	case err := <-s.ExecResult():
		return err
	default:
		return nil
	}
}

func exitStatus(ps *os.ProcessState) int {
	if ps == nil {
		return exitToolFailure
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
