//go:build linux

package check

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
)

// RunConfig is one confined run.
type RunConfig struct {
	Policy  *Policy
	Session *Session // receives what the run did; required
	Path    string   // the program, already resolved (exec.LookPath)
	Argv    []string
	Dir     string // working directory; "" = ours
	Env     []string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	// Self is the binary to re-execute as the helper; "" = /proc/self/exe.
	// Its main (or TestMain) must call MaybeHelper first.
	Self string
}

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
	data, err := json.Marshal(&plan)
	if err != nil {
		return exitToolFailure, err
	}
	planR, planW, err := os.Pipe()
	if err != nil {
		return exitToolFailure, err
	}
	defer planR.Close()
	defer planW.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return exitToolFailure, err
	}
	defer statusR.Close()
	defer statusW.Close()

	self := cfg.Self
	if self == "" {
		self = "/proc/self/exe"
	}
	env := cfg.Env
	if env == nil {
		env = os.Environ()
	}
	cmd := &exec.Cmd{
		Path:       self,
		Args:       []string{"sandlock-check-helper"},
		Env:        append(append([]string{}, env...), helperEnv+"=1"),
		Stdin:      cfg.Stdin,
		Stdout:     cfg.Stdout,
		Stderr:     cfg.Stderr,
		ExtraFiles: []*os.File{planR, statusW},
		// The workload must not outlive us: nothing would explain its
		// denials, and a test must not leave it behind.
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	// Forward the signals a terminal or a supervisor sends, so the workload
	// decides how to end and we still report its status.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return exitToolFailure, fmt.Errorf("starting the helper: %w", err)
	}
	planR.Close()
	statusW.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	// The helper may die before reading the plan; its status says why.
	_, werr := planW.Write(data)
	planW.Close()

	// EOF on the status pipe means the exec happened (close-on-exec) or the
	// helper died; a number means the exec failed with that errno.
	msg, _ := io.ReadAll(statusR)
	if n, err := strconv.Atoi(string(msg)); err == nil && syscall.Errno(n) == syscall.EACCES {
		path := cfg.Path
		if canon, err := filepath.EvalSymlinks(path); err == nil {
			path = canon
		}
		cfg.Session.Exec(cmd.Process.Pid, filepath.Base(cfg.Path), path)
	}
	err = cmd.Wait()
	status := exitStatus(cmd.ProcessState)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return exitToolFailure, err
	}
	if werr != nil && status == 0 {
		return exitToolFailure, fmt.Errorf("handing the plan to the helper: %w", werr)
	}
	return status, nil
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
