//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWorkloadHoldsNoTracerFD: the workload inherits none of the tracer's
// sockets or the listener. A leaked end of the control socket kept its
// peer from ever reading EOF when the reaper died, and gave the workload a
// channel into the tracer.
func TestWorkloadHoldsNoTracerFD(t *testing.T) {
	d := tempDir(t)
	res := runTrace(t, "-o", d+"/ev", "--", "sh", "-c", `for f in /proc/$$/fd/*; do echo "$f $(readlink $f)"; done`)
	if res.code != 0 {
		t.Fatalf("status %d, stderr %q", res.code, res.stderr)
	}
	if !strings.Contains(res.stdout, "/fd/0 ") {
		t.Fatalf("the workload listed no descriptors: %q", res.stdout)
	}
	for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		if strings.Contains(line, "socket:") || strings.Contains(line, "anon_inode:") {
			t.Errorf("the workload inherited %s", line)
		}
	}
}

// groupGone waits (within the test's own deadline, not a timed assertion)
// until process group pgid is empty, and fails if it never is.
func groupGone(t *testing.T, pgid int) {
	t.Helper()
	deadline, ok := t.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Minute)
	}
	for time.Now().Before(deadline.Add(-5 * time.Second)) {
		if syscall.Kill(-pgid, 0) == syscall.ESRCH {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("processes of the trace's group %d outlived it", pgid)
}

// TestSignalDuringStartup sends SIGTERM (once, or twice) to the trace's
// whole process group, as a terminal or a service manager does, at moments
// spread over start-up: helpers starting, the listener hand-off, the
// go-ahead, the workload running. Every run must end, with the signal's
// status (143) rather than a tool failure, and leave no process behind.
func TestSignalDuringStartup(t *testing.T) {
	requireUnotify(t)
	bin := lookBin(t, "sandlock-trace")
	d := tempDir(t)
	for i := 0; i < 40; i++ {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			cmd := command(bin, "-o", d+"/ev", "--", "sh", "-c", "sleep 60")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pgid := cmd.Process.Pid
			t.Cleanup(func() { syscall.Kill(-pgid, syscall.SIGKILL) })
			// Spread the signal over start-up (a delay, not an assertion).
			time.Sleep(time.Duration(i%20) * 500 * time.Microsecond)
			syscall.Kill(-pgid, syscall.SIGTERM)
			if i%2 == 1 {
				syscall.Kill(-pgid, syscall.SIGTERM)
			}
			err := cmd.Wait()
			var ee *exec.ExitError
			switch {
			case err == nil:
				t.Errorf("status 0, stderr %q", stderr.String())
			case errors.As(err, &ee) && ee.ProcessState.Sys().(syscall.WaitStatus).Signaled():
				// Killed before it could catch signals: also prompt.
				if s := ee.ProcessState.Sys().(syscall.WaitStatus).Signal(); s != syscall.SIGTERM {
					t.Errorf("killed by %v", s)
				}
			default:
				// 137: the second signal may kill the tree first.
				if code := exitCode(t, err); code != 143 && !(code == 137 && i%2 == 1) {
					t.Errorf("status %d, want 143; stderr %q", code, stderr.String())
				}
			}
			groupGone(t, pgid)
		})
	}
}

// TestWorkloadCPUInRusage: the workload's CPU time reaches the tracer's
// wait status (time(1), getrusage), which needs the reaper to reap the
// tree and the tracer to reap the reaper. The shell reports its own CPU
// time; the tracer's (its own plus its reaped descendants') includes it.
func TestWorkloadCPUInRusage(t *testing.T) {
	d := tempDir(t)
	cmd := command(lookBin(t, "sandlock-trace"), "-o", d+"/ev", "--", "sh", "-c",
		"i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; times")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	requireUnotify(t)
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v, stderr %q", err, stderr.String())
	}
	// dash: "0m0.340000s 0m0.010000s" (user, system of the shell).
	var um, sm int
	var us, ss float64
	if _, err := fmt.Sscanf(stdout.String(), "%dm%fs %dm%fs", &um, &us, &sm, &ss); err != nil {
		t.Fatalf("times output %q: %v", stdout.String(), err)
	}
	work := time.Duration((float64(um*60+sm*60) + us + ss) * float64(time.Second))
	if work <= 0 {
		t.Fatalf("the workload reports no CPU time: %q", stdout.String())
	}
	got := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if got < work {
		t.Errorf("the trace's rusage has %v of CPU, the workload alone used %v", got, work)
	}
}
