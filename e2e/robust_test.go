package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sandlock-learn/sandlock-learn/internal/testutil"
)

// lastRecord is the last line of an event stream, decoded.
func lastRecord(t *testing.T, p string) map[string]any {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var last string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		last = sc.Text()
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(last), &m); err != nil {
		t.Fatalf("last line of %s: %v: %q", p, err, last)
	}
	return m
}

// eachUser runs f as a subtest as this user and, when that is root, again
// as uid 65534 in a directory that user may use (t.TempDir's parent is
// 0700): what sandlock-learn promises under stress it promises to
// everyone.
func eachUser(t *testing.T, f func(t *testing.T, cred *syscall.Credential, dir string)) {
	t.Run("self", func(t *testing.T) { f(t, nil, canon(t, t.TempDir())) })
	if os.Getuid() != 0 {
		return
	}
	t.Run("uid65534", func(t *testing.T) {
		dir := testutil.TempDir(t, "sandlock-e2e-nobody-", 0o777)
		f(t, &syscall.Credential{Uid: 65534, Gid: 65534}, canon(t, dir))
	})
}

// TestLearnSignals: SIGINT or SIGTERM to sandlock-learn stops the
// workload (a second one stops one that ignores the first, and its
// daemon), the event stream still ends with its exit record, and no
// profile is written; the status is the workload's.
func TestLearnSignals(t *testing.T) {
	for _, tt := range []struct {
		name     string
		sigs     []syscall.Signal
		script   string
		status   int
		stubborn bool
	}{
		{"SIGTERM", []syscall.Signal{syscall.SIGTERM}, "echo $$ > pid; exec sleep 60", 143, false},
		{"SIGINT", []syscall.Signal{syscall.SIGINT}, "echo $$ > pid; exec sleep 60", 130, false},
		{"ignored", []syscall.Signal{syscall.SIGTERM, syscall.SIGINT},
			`trap '' TERM INT; setsid sh -c 'trap "" TERM INT; echo $$ > daemon; while :; do sleep 1; done' & echo $$ > pid; while :; do sleep 1; done`, 137, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			eachUser(t, func(t *testing.T, cred *syscall.Credential, dir string) {
				out := filepath.Join(dir, "profile.toml")
				log := filepath.Join(dir, "events.ndjson")
				cmd := exec.Command(filepath.Join(binDir, "sandlock-learn"), "-o", out, "--debug-log", log, "--", "/bin/sh", "-c", tt.script)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "SANDLOCK_LEARN_BIN="+binDir)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true, Credential: cred}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
				pids := []int{testutil.WaitPID(t, filepath.Join(dir, "pid"))}
				if tt.stubborn {
					pids = append(pids, testutil.WaitPID(t, filepath.Join(dir, "daemon")))
				} else {
					// Signal only once sleep has replaced the shell.
					for i := 0; i < 500; i++ {
						if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pids[0]) + "/comm"); strings.TrimSpace(string(b)) == "sleep" {
							break
						}
						time.Sleep(10 * time.Millisecond)
					}
				}
				// Only the script is signalled (not its process group): the
				// script must pass the signal on itself.
				for _, s := range tt.sigs {
					cmd.Process.Signal(s)
				}
				err := cmd.Wait()
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				} else if err != nil {
					t.Fatal(err)
				}
				if code != tt.status {
					t.Errorf("exit status %d, want %d; stderr:\n%s", code, tt.status, stderr.String())
				}
				if _, err := os.Stat(out); !os.IsNotExist(err) {
					t.Errorf("a profile was written for an interrupted run")
				}
				if ents, _ := filepath.Glob(filepath.Join(dir, ".profile.toml*")); len(ents) != 0 {
					t.Errorf("temporary files left: %v", ents)
				}
				if last := lastRecord(t, log); last["type"] != "exit" {
					t.Errorf("the event stream does not end with exit: %v", last)
				}
				for i := 0; i < 500; i++ {
					if !testutil.Alive(pids[0]) && (len(pids) == 1 || !testutil.Alive(pids[1])) {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				for _, p := range pids {
					if testutil.Alive(p) {
						syscall.Kill(p, syscall.SIGKILL)
						t.Errorf("process %d survived", p)
					}
				}
			})
		})
	}
}

// TestLearnIOUringWarning: a workload that sets up io_uring (whose file
// operations seccomp cannot see) gets the warning on stderr, in the event
// stream, and in the profile's header.
func TestLearnIOUringWarning(t *testing.T) { eachUser(t, testIOUringWarning) }

func testIOUringWarning(t *testing.T, cred *syscall.Credential, dir string) {
	if b, _ := os.ReadFile("/proc/sys/kernel/io_uring_disabled"); cred != nil && strings.TrimSpace(string(b)) != "0" {
		t.Skipf("kernel.io_uring_disabled = %s: io_uring is not for every user here", strings.TrimSpace(string(b)))
	}
	log := filepath.Join(dir, "events.ndjson")
	_, text := mustLearnAs(t, dir, cred, "--debug-log", log, "--", "/usr/bin/python3", "-c",
		"import ctypes; libc = ctypes.CDLL(None); p = ctypes.create_string_buffer(120); assert libc.syscall(425, 4, p) >= 0")
	header := ""
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, "#") {
			break
		}
		header += l + "\n"
	}
	if !strings.Contains(header, "# warning: io_uring was set up") || !strings.Contains(header, "invisible") {
		t.Errorf("profile header lacks the io_uring warning:\n%s", text)
	}
	ev, _ := os.ReadFile(log)
	if !bytes.Contains(ev, []byte(`{"type":"warning","msg":"io_uring was set up`)) {
		t.Errorf("no io_uring warning record in the stream")
	}
}

// TestLearnTimeoutPartial: --timeout on a workload that never ends writes a
// profile marked partial, and nothing of the workload is left.
func TestLearnTimeoutPartial(t *testing.T) { eachUser(t, testTimeoutPartial) }

func testTimeoutPartial(t *testing.T, cred *syscall.Credential, dir string) {
	os.WriteFile(filepath.Join(dir, "in.txt"), []byte("x"), 0o644)
	p, data := mustLearnAs(t, dir, cred, "--timeout", "1", "--", "/bin/sh", "-c",
		"trap '' TERM; cat in.txt >/dev/null; echo $$ > pid; while :; do sleep 1; done")
	if !strings.Contains(data, "# partial: timed out after") {
		t.Errorf("profile not marked partial:\n%s", data)
	}
	if !covers(p.Filesystem.Read, filepath.Join(dir, "in.txt")) && !covers(p.Filesystem.Write, filepath.Join(dir, "in.txt")) {
		t.Errorf("what ran before the timeout is not in the profile:\n%s", data)
	}
	if pid := testutil.WaitPID(t, filepath.Join(dir, "pid")); testutil.Alive(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("workload %d survived the timeout", pid)
	}
}
