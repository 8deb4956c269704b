//go:build linux

package main

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

func init() {
	// hostile DIR PROCS THREADS ITERS: PROCS processes of THREADS threads
	// each; every thread creates, reads back and removes ITERS files of its
	// own. Prints one line per process (files done, checksum of what it read
	// back), sorted, so a traced and an untraced run can be compared.
	extraOps["hostile"] = func(a []string) error {
		procs, _ := strconv.Atoi(a[1])
		var mu sync.Mutex
		var lines []string
		var wg sync.WaitGroup
		errs := make(chan error, procs)
		for p := 0; p < procs; p++ {
			wg.Add(1)
			go func(p int) {
				defer wg.Done()
				cmd := exec.Command(os.Args[0], "hostile-proc", a[0], strconv.Itoa(p), a[2], a[3])
				cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
				out, err := cmd.Output()
				if err != nil {
					errs <- fmt.Errorf("process %d: %v", p, err)
					return
				}
				mu.Lock()
				lines = append(lines, strings.TrimSpace(string(out)))
				mu.Unlock()
			}(p)
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
		sort.Strings(lines)
		fmt.Println(strings.Join(lines, "\n"))
		return nil
	}
	extraOps["hostile-proc"] = func(a []string) error {
		p := a[1]
		threads, _ := strconv.Atoi(a[2])
		iters, _ := strconv.Atoi(a[3])
		var wg sync.WaitGroup
		sums := make([]uint32, threads)
		errs := make(chan error, threads)
		for th := 0; th < threads; th++ {
			wg.Add(1)
			go func(th int) {
				defer wg.Done()
				runtime.LockOSThread() // a kernel thread of its own
				buf := make([]byte, 64)
				for i := 0; i < iters; i++ {
					path := fmt.Sprintf("%s/p%s-t%d-i%d", a[0], p, th, i)
					data := []byte(path[len(a[0]):]) // the same in every run
					fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
					if err == nil {
						_, err = unix.Write(fd, data)
						unix.Close(fd)
					}
					if err == nil {
						fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
					}
					if err == nil {
						n, _ := unix.Read(fd, buf)
						unix.Close(fd)
						sums[th] = crc32.Update(sums[th], crc32.IEEETable, buf[:n])
						err = unix.Unlink(path)
					}
					if err != nil {
						errs <- fmt.Errorf("%s: %v", path, err)
						return
					}
				}
			}(th)
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
		var total uint32
		for _, s := range sums {
			total = crc32.Update(total, crc32.IEEETable, []byte(strconv.FormatUint(uint64(s), 16)))
		}
		fmt.Printf("process %s: %d files, checksum %08x\n", p, threads*iters, total)
		return nil
	}
}

// TestHostileConcurrency: 50 processes of 4 threads each (200 threads)
// create, read back and remove files at the same time. Every one of those
// operations appears exactly once in the stream, and the workload's own
// output is byte-identical with and without the trace.
func TestHostileConcurrency(t *testing.T) {
	const procs, threads, iters = 50, 4, 30
	args := []string{"testop", "hostile", "", strconv.Itoa(procs), strconv.Itoa(threads), strconv.Itoa(iters)}

	native := tempDir(t)
	args[2] = native
	cmd := command(lookBin(t, "testop"))
	cmd.Args = args
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("native run: %v", err)
	}
	if n := strings.Count(string(want), "\n"); n != procs {
		t.Fatalf("native run printed %d lines, want %d:\n%s", n, procs, want)
	}

	d := tempDir(t)
	args[2] = d
	evf := d + ".ndjson"
	t.Cleanup(func() { os.Remove(evf) })
	res := runTrace(t, append([]string{"-o", evf, "--"}, args...)...)
	if res.code != 0 {
		t.Fatalf("traced run: status %d\n%s", res.code, res.stderr)
	}
	if !bytes.Equal([]byte(res.stdout), want) {
		t.Errorf("the workload's output differs under the trace:\n got %q\nwant %q", res.stdout, want)
	}
	b, err := os.ReadFile(evf)
	if err != nil {
		t.Fatal(err)
	}
	res.events = parseEvents(t, b)
	checkStream(t, res)
	type key struct{ op, path string }
	seen := map[key]int{}
	for _, f := range fsEvents(res, under(d)) {
		seen[key{f.Op, f.Path}]++
		switch f.Op {
		case "create":
			if f.Existed {
				t.Errorf("create of an existing file: %+v", f)
			}
		case "read", "remove":
			if !f.Existed {
				t.Errorf("%s of a missing file: %+v", f.Op, f)
			}
		}
	}
	missing := 0
	for p := 0; p < procs; p++ {
		for th := 0; th < threads; th++ {
			for i := 0; i < iters; i++ {
				path := fmt.Sprintf("%s/p%d-t%d-i%d", d, p, th, i)
				for _, op := range []string{"create", "read", "remove"} {
					if n := seen[key{op, path}]; n != 1 {
						if missing++; missing <= 10 {
							t.Errorf("%s %s seen %d times, want once", op, path, n)
						}
					}
					delete(seen, key{op, path})
				}
			}
		}
	}
	if missing > 10 {
		t.Errorf("... %d operations in all not seen exactly once", missing)
	}
	for k, n := range seen {
		t.Errorf("unexpected event %s %s (x%d)", k.op, k.path, n)
	}
}

// TestAwkwardNames: names with spaces, newlines, quotes, tabs and
// backslashes that are valid UTF-8 travel byte-exact in "path" (not
// path_b64), for reads, creates and removes.
func TestAwkwardNames(t *testing.T) {
	d := tempDir(t)
	name := d + "/a b\nc\t\"d\" 'e' \\f é"
	touch(t, name)
	for _, tt := range []struct {
		args []string
		op   string
	}{
		{[]string{"open", name, "0"}, "read"},
		{[]string{"creat", name + " new"}, "create"},
		{[]string{"unlink", name}, "remove"},
	} {
		res := runTrace(t, append([]string{"--", "testop"}, tt.args...)...)
		checkStream(t, res)
		if strings.Contains(res.stdout, `"path_b64"`) {
			t.Errorf("%s: a UTF-8 name went as path_b64", tt.op)
		}
		got := fsEvents(res, under(d))
		if len(got) != 1 || got[0].Path != tt.args[1] || got[0].Op != tt.op {
			t.Errorf("%s: events %+v", tt.op, got)
		}
	}
}

// knownBug marks an assertion that fails because of a bug reported to the
// owner of pkg/seccomp (issue 3's audit, /work/notes/issue3-audit.md): the
// test skips saying so, and passes for real once the bug is fixed. Set
// SANDLOCK_KNOWN_BUGS=fail to make it a failure.
func knownBug(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := "KNOWN BUG (pkg/seccomp): " + fmt.Sprintf(format, args...)
	if os.Getenv("SANDLOCK_KNOWN_BUGS") == "fail" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// TestOpenat2Resolve: openat2's RESOLVE_* flags change what the kernel
// opens; the recorded path must be what it resolved (RESOLVE_IN_ROOT makes
// "/f" relative to the dirfd), and an open the flags refuse (ELOOP, EXDEV)
// must not put a path the workload never opened into the stream.
func TestOpenat2Resolve(t *testing.T) {
	const resolveNoSymlinks, resolveBeneath, resolveInRoot = 0x04, 0x08, 0x10
	d := tempDir(t)
	touch(t, d+"/f")
	os.Symlink("f", d+"/ln")
	openat2 := func(f *event.FS) bool { return f.Syscall == "openat2" }

	t.Run("RESOLVE_IN_ROOT", func(t *testing.T) {
		res := runTrace(t, "--", "testop", "openat2", d, "/f", hex(oRDONLY), hex(resolveInRoot))
		if ex := checkStream(t, res); ex.Code == nil || *ex.Code != 0 {
			t.Fatalf("openat2 RESOLVE_IN_ROOT failed in the workload: %+v %s", ex, res.stderr)
		}
		got := fsEvents(res, openat2)
		if len(got) != 1 || got[0].Path != d+"/f" || !got[0].Existed {
			knownBug(t, "RESOLVE_IN_ROOT \"/f\" under %s recorded as %s, want %s/f: the profile would lack the file the workload read", d, fmtFS(got), d)
		}
	})
	t.Run("RESOLVE_NO_SYMLINKS", func(t *testing.T) {
		res := runTrace(t, "--", "testop", "openat2", d, "ln", hex(oRDONLY), hex(resolveNoSymlinks))
		if ex := checkStream(t, res); ex.Code == nil || *ex.Code != 1 || !strings.Contains(res.stderr, "too many levels of symbolic links") {
			t.Fatalf("RESOLVE_NO_SYMLINKS on a link should fail with ELOOP: %+v %s", ex, res.stderr)
		}
		for _, f := range fsEvents(res, openat2) {
			if f.Path == d+"/f" && f.Existed {
				knownBug(t, "the link's target, never opened (ELOOP), is recorded as read: %+v", *f)
			}
		}
	})
	t.Run("RESOLVE_BENEATH escape", func(t *testing.T) {
		up := strings.Repeat("../", strings.Count(d, "/")) + "etc/hostname"
		res := runTrace(t, "--", "testop", "openat2", d, up, hex(oRDONLY), hex(resolveBeneath))
		if ex := checkStream(t, res); ex.Code == nil || *ex.Code != 1 || !strings.Contains(res.stderr, "cross-device link") {
			t.Fatalf("RESOLVE_BENEATH escaping the dirfd should fail with EXDEV: %+v %s", ex, res.stderr)
		}
		for _, f := range fsEvents(res, openat2) {
			if f.Path == "/etc/hostname" {
				knownBug(t, "an open the kernel refused (EXDEV) puts /etc/hostname in the stream, so the profile grants it: %+v", *f)
			}
		}
	})
}

// TestExitMidRead: processes that exit (exit_group from another thread)
// while a thread is inside a notified open: no crash, no hang, and the
// neighbours' events (a marker per process, opened before the race) are
// all there.
func TestExitMidRead(t *testing.T) {
	d := tempDir(t)
	const n = 40
	for i := 0; i < n; i++ {
		touch(t, fmt.Sprintf("%s/marker%d", d, i))
	}
	res := runTrace(t, "--", "testop", "exit-race", d, strconv.Itoa(n))
	ex := checkStream(t, res)
	if ex.Code == nil || *ex.Code != 0 {
		t.Fatalf("exit %+v\n%s", ex, res.stderr)
	}
	seen := map[string]bool{}
	for _, f := range fsEvents(res, under(d)) {
		seen[f.Path] = true
	}
	for i := 0; i < n; i++ {
		if p := fmt.Sprintf("%s/marker%d", d, i); !seen[p] {
			t.Errorf("marker %s lost", p)
		}
	}
}

func init() {
	// exit-race DIR N: N children, each opens DIR/markerI, then races an
	// exit_group against its own threads' opens.
	extraOps["exit-race"] = func(a []string) error {
		n, _ := strconv.Atoi(a[1])
		for i := 0; i < n; i++ {
			cmd := exec.Command(os.Args[0], "exit-race-child", fmt.Sprintf("%s/marker%d", a[0], i))
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			if err := cmd.Run(); err != nil {
				if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
					return fmt.Errorf("child %d: %v", i, err)
				}
			}
		}
		return nil
	}
	extraOps["exit-race-child"] = func(a []string) error {
		fd, err := unix.Open(a[0], unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		unix.Close(fd)
		long := "/" + strings.Repeat("x/", 1500) + "missing"
		for th := 0; th < 4; th++ {
			go func() {
				runtime.LockOSThread()
				for {
					if fd, err := unix.Open(long, unix.O_RDONLY, 0); err == nil {
						unix.Close(fd)
					}
				}
			}()
		}
		time.Sleep(2 * time.Millisecond) // not an assertion: lets the threads get going
		unix.Exit(7)
		return nil
	}
}

func fmtFS(fs []*event.FS) string {
	var s []string
	for _, f := range fs {
		s = append(s, fmt.Sprintf("%+v", *f))
	}
	return "[" + strings.Join(s, " ") + "]"
}
