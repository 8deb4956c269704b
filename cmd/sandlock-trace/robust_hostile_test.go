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

// TestOpenat2Resolve: openat2's RESOLVE_* flags change what the kernel
// opens; the recorded path must be what it resolved (RESOLVE_IN_ROOT makes
// "/f" relative to the dirfd), and an open the flags refuse (ELOOP, EXDEV)
// must put no path into the stream: a workload could otherwise widen its
// own profile with calls that never open anything. Each refused case has
// an allowed twin that proves the same path is recorded when it is opened.
func TestOpenat2Resolve(t *testing.T) {
	const resolveNoXdev, resolveNoMagiclinks, resolveNoSymlinks, resolveBeneath, resolveInRoot = 0x01, 0x02, 0x04, 0x08, 0x10
	d := tempDir(t)
	touch(t, d+"/f")
	os.Mkdir(d+"/sub", 0o755)
	for link, target := range map[string]string{
		"ln":  "f",                                                           // relative, inside
		"abs": "/f",                                                          // absolute: d/f only in root d
		"up":  strings.Repeat("../", 8) + "f",                                // ".." clamps at root d
		"esc": "/etc/hostname",                                               // leaves d
		"out": strings.Repeat("../", strings.Count(d, "/")) + "etc/hostname", // leaves d by ".."
	} {
		if err := os.Symlink(target, d+"/"+link); err != nil {
			t.Fatal(err)
		}
	}
	up := strings.Repeat("../", strings.Count(d, "/")) + "etc/hostname"
	viaRoot := "/proc/self/root" + d + "/f" // through a magic link
	const eloop, exdev = "too many levels of symbolic links", "cross-device link"
	// That jump succeeds only when d is on the root's mount.
	afterDotdot, afterDotdotFail := "/etc/hostname", ""
	var sd, sr unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, d, 0, unix.STATX_MNT_ID, &sd) != nil || unix.Statx(unix.AT_FDCWD, "/", 0, unix.STATX_MNT_ID, &sr) != nil {
		t.Fatal("statx")
	}
	if sd.Mnt_id != sr.Mnt_id {
		afterDotdot, afterDotdotFail = "", exdev
	}
	for _, tt := range []struct {
		name string
		args []string // testop arguments
		want string   // the one path recorded, existed; "" for none
		fail string   // the workload's error, "" for success
	}{
		{"IN_ROOT absolute", []string{"openat2", d, "/f", hex(oRDONLY), hex(resolveInRoot)}, d + "/f", ""},
		{"IN_ROOT dotdot clamps", []string{"openat2", d, "sub/../../../f", hex(oRDONLY), hex(resolveInRoot)}, d + "/f", ""},
		{"IN_ROOT absolute symlink", []string{"openat2", d, "abs", hex(oRDONLY), hex(resolveInRoot)}, d + "/f", ""},
		{"IN_ROOT dotdot symlink", []string{"openat2", d, "up", hex(oRDONLY), hex(resolveInRoot)}, d + "/f", ""},
		{"NO_SYMLINKS link", []string{"openat2", d, "ln", hex(oRDONLY), hex(resolveNoSymlinks)}, "", eloop},
		{"NO_SYMLINKS plain", []string{"openat2", d, "sub/../f", hex(oRDONLY), hex(resolveNoSymlinks)}, d + "/f", ""},
		{"O_NOFOLLOW link", []string{"openat", d, "ln", hex(oRDONLY | oNOFOLLOW)}, "", eloop},
		{"openat2 O_NOFOLLOW link", []string{"openat2", d, "ln", hex(oRDONLY | oNOFOLLOW)}, "", eloop},
		{"link followed", []string{"openat2", d, "ln", hex(oRDONLY)}, d + "/f", ""},
		{"NO_MAGICLINKS", []string{"openat2", d, viaRoot, hex(oRDONLY), hex(resolveNoMagiclinks)}, "", eloop},
		{"magic link followed", []string{"openat2", d, viaRoot, hex(oRDONLY)}, d + "/f", ""},
		{"BENEATH dotdot escape", []string{"openat2", d, up, hex(oRDONLY), hex(resolveBeneath)}, "", exdev},
		{"BENEATH absolute", []string{"openat2", d, "/etc/hostname", hex(oRDONLY), hex(resolveBeneath)}, "", exdev},
		{"BENEATH absolute symlink", []string{"openat2", d, "esc", hex(oRDONLY), hex(resolveBeneath)}, "", exdev},
		{"BENEATH dotdot symlink", []string{"openat2", d, "out", hex(oRDONLY), hex(resolveBeneath)}, "", exdev},
		{"BENEATH inside", []string{"openat2", d, "sub/../ln", hex(oRDONLY), hex(resolveBeneath)}, d + "/f", ""},
		{"escape unscoped", []string{"openat2", d, "out", hex(oRDONLY)}, "/etc/hostname", ""},
		// /proc is a mount of its own.
		{"NO_XDEV mount point", []string{"openat2", "/", "proc/version", hex(oRDONLY), hex(resolveNoXdev)}, "", exdev},
		{"NO_XDEV dotdot out of a mount", []string{"openat2", "/proc", "../etc/hostname", hex(oRDONLY), hex(resolveNoXdev)}, "", exdev},
		// An absolute path starts at the root: the dirfd's mount plays no part.
		{"NO_XDEV absolute from a mount", []string{"openat2", "/proc", "/etc/hostname", hex(oRDONLY), hex(resolveNoXdev)}, "/etc/hostname", ""},
		{"NO_XDEV symlink to the root from a mount", []string{"openat2", "/proc", "self/root/etc/hostname", hex(oRDONLY), hex(resolveNoXdev)}, "", exdev},
		{"NO_XDEV same mount", []string{"openat2", "/proc", "version", hex(oRDONLY), hex(resolveNoXdev)}, "/proc/version", ""},
		{"NO_XDEV inside", []string{"openat2", d, "sub/../ln", hex(oRDONLY), hex(resolveNoXdev)}, d + "/f", ""},
		// The kernel checks an absolute symlink's jump against the root of
		// the lookup, which a relative lookup sets only at its first "..":
		// before that the jump fails on a single mount too.
		{"NO_XDEV absolute symlink first", []string{"openat2", d, "esc", hex(oRDONLY), hex(resolveNoXdev)}, "", exdev},
		{"NO_XDEV absolute symlink after dotdot", []string{"openat2", d, "sub/../esc", hex(oRDONLY), hex(resolveNoXdev)}, afterDotdot, afterDotdotFail},
		{"mount point crossed without NO_XDEV", []string{"openat2", "/", "proc/version", hex(oRDONLY), hex(resolveNoSymlinks)}, "/proc/version", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := runTrace(t, append([]string{"--", "testop"}, tt.args...)...)
			ex := checkStream(t, res)
			if tt.fail == "" && (ex.Code == nil || *ex.Code != 0) {
				t.Fatalf("the open failed in the workload: %+v %s", ex, res.stderr)
			}
			if tt.fail != "" && (ex.Code == nil || *ex.Code != 1 || !strings.Contains(res.stderr, tt.fail)) {
				t.Fatalf("want the workload to fail with %q: %+v %s", tt.fail, ex, res.stderr)
			}
			// The Go runtime's own openat calls and the dirfd's open are
			// not the case's business.
			got := fsEvents(res, func(f *event.FS) bool {
				return f.Syscall == tt.args[0] && (strings.HasPrefix(f.Path, d+"/") || f.Path == "/etc/hostname" || f.Path == "/proc/version")
			})
			if tt.want == "" && len(got) != 0 {
				t.Errorf("a refused open recorded %s", fmtFS(got))
			}
			if tt.want != "" && (len(got) != 1 || got[0].Path != tt.want || !got[0].Existed) {
				t.Errorf("recorded %s, want %s existed", fmtFS(got), tt.want)
			}
		})
	}
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
