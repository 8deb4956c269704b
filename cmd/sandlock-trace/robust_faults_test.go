//go:build linux

package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sandlock-learn/sandlock-learn/internal/testutil"
)

// stubborn is a workload that ignores SIGTERM and SIGINT and leaves a
// daemon behind in a session of its own that ignores them too; it writes
// both pids to DIR/pid and DIR/daemon.
func stubborn(d string) []string {
	return []string{"sh", "-c", `trap '' TERM INT
setsid sh -c 'trap "" TERM INT; echo $$ > ` + d + `/daemon; while :; do sleep 1; done' &
echo $$ > ` + d + `/pid
while :; do sleep 1; done`}
}

// gone waits (bounded, not an assertion on speed) for pids to be dead or
// zombies, and fails naming the survivors.
func gone(t *testing.T, pids map[string]int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var alivePids []string
		for name, pid := range pids {
			if testutil.Alive(pid) {
				alivePids = append(alivePids, name)
			}
		}
		if len(alivePids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL) // leave nothing behind
			}
			t.Fatalf("survived the trace: %v", alivePids)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTimeoutStopsEverything: --timeout on a workload that ignores SIGTERM
// and forks a daemon that ignores it too: after the grace period both are
// gone, and the stream ends with exit timed_out.
func TestTimeoutStopsEverything(t *testing.T) {
	d := tempDir(t)
	res := runTrace(t, append([]string{"--timeout", "1", "--"}, stubborn(d)...)...)
	pids := map[string]int{"workload": testutil.WaitPID(t, d+"/pid"), "daemon": testutil.WaitPID(t, d+"/daemon")}
	gone(t, pids)
	ex := checkStream(t, res)
	if !ex.TimedOut || ex.Signal != "SIGKILL" || res.code != 137 {
		t.Errorf("exit record %+v, status %d: want timed_out, SIGKILL, 137", ex, res.code)
	}
	if !strings.Contains(res.stderr, "timeout after 1s") {
		t.Errorf("stderr does not say it timed out: %q", res.stderr)
	}
}

// TestSignalsToTracer: SIGTERM (and SIGINT) to sandlock-trace go to the
// workload, which stops, and the stream still ends with its exit record;
// a workload that ignores them is stopped, daemon included, by a second
// one.
func TestSignalsToTracer(t *testing.T) {
	t.Run("SIGTERM", func(t *testing.T) {
		d := tempDir(t)
		cmd, stdout, stderr := startTrace(t, "--", "sh", "-c", "echo $$ > "+d+"/pid; exec sleep 60")
		pid := testutil.WaitPID(t, d+"/pid")
		// The shell's exec of sleep must be done, or SIGTERM could hit
		// the shell first; wait for sleep's image (polling, no timing).
		for i := 0; i < 500; i++ {
			if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); strings.TrimSpace(string(b)) == "sleep" {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		code := exitCode(t, cmd.Wait())
		res := result{events: parseEvents(t, stdout.Bytes()), code: code, stderr: stderr.String()}
		ex := checkStream(t, res)
		if ex.Signal != "SIGTERM" || code != 143 || ex.TimedOut {
			t.Errorf("exit record %+v, status %d; want SIGTERM, 143", ex, code)
		}
		gone(t, map[string]int{"workload": pid})
	})
	// Two different signals: two of the same sent back to back may merge
	// into one pending signal before the tracer sees the first.
	for _, sigs := range [][2]syscall.Signal{{syscall.SIGTERM, syscall.SIGINT}, {syscall.SIGINT, syscall.SIGTERM}} {
		t.Run("ignored "+sigs[0].String(), func(t *testing.T) {
			d := tempDir(t)
			cmd, stdout, stderr := startTrace(t, append([]string{"--"}, stubborn(d)...)...)
			pids := map[string]int{"workload": testutil.WaitPID(t, d+"/pid"), "daemon": testutil.WaitPID(t, d+"/daemon")}
			cmd.Process.Signal(sigs[0])
			cmd.Process.Signal(sigs[1])
			code := exitCode(t, cmd.Wait())
			res := result{events: parseEvents(t, stdout.Bytes()), code: code, stderr: stderr.String()}
			ex := checkStream(t, res)
			if ex.Signal != "SIGKILL" || code != 137 {
				t.Errorf("exit record %+v, status %d; want SIGKILL, 137", ex, code)
			}
			gone(t, pids)
		})
	}
}
