//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sandlock-learn/sandlock-learn/internal/testutil"
	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// End-to-end checks of the `peak` record: the real sandlock-trace binary
// runs small C programs (testdata/peak_*.c, compiled with gcc here) and the
// record must carry at least what sandlock's own accounting would charge,
// since a learned limit below it gets the workload killed under
// `sandlock run`. Each case also runs a smaller variant that must stay
// below the bound, so a bound that any run would meet cannot pass.

const peakMiB = 1 << 20

func TestPeak(t *testing.T) {
	dir := peakSetup(t)
	t.Run("mem_glibc_arenas", func(t *testing.T) { peakMemGlibcArenas(t, dir) })
	t.Run("mem_prot_none_reservation", func(t *testing.T) { peakMemReservation(t, dir) })
	t.Run("mem_small_maps_held", func(t *testing.T) { peakMemSmallMaps(t, dir) })
	t.Run("processes_burst", func(t *testing.T) { peakProcessesBurst(t, dir) })
	t.Run("fd_max", func(t *testing.T) { peakFDMax(t, dir) })
}

// peakSetup builds sandlock-trace and the peak_* programs into a directory
// every uid can read, removed when t ends.
func peakSetup(t *testing.T) string {
	t.Helper()
	dir := testutil.TempDir(t, "peak-e2e-", 0o755)
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "sandlock-trace"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatalf("gcc is needed to build the test programs: %v", err)
	}
	// The arena program is pkg/peak's own: one source for both tests.
	sources := map[string]string{"peak_arenas": filepath.Join("..", "..", "pkg", "peak", "testdata", "arenas.c")}
	for _, name := range []string{"peak_arenas", "peak_reserve", "peak_smallmaps", "peak_children", "peak_fd"} {
		src, ok := sources[name]
		if !ok {
			src = filepath.Join("testdata", name+".c")
		}
		cc := exec.Command(gcc, "-O2", "-Wall", "-pthread", "-o", filepath.Join(dir, name), src)
		if out, err := cc.CombinedOutput(); err != nil {
			t.Fatalf("gcc %s: %v\n%s", name, err, out)
		}
	}
	return dir
}

// peakRun traces one program (as uid 65534 when unpriv) and returns its
// peak record; the workload must exit 0.
func peakRun(t *testing.T, dir string, unpriv bool, prog string, args ...string) event.Peak {
	t.Helper()
	outDir, err := os.MkdirTemp("", "peak-out-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(outDir)
	if err := os.Chmod(outDir, 0o777); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(outDir, "run.ndjson")

	// A safety valve against a hung trace, not a speed assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append([]string{"-o", out, "--timeout", "60", "--", filepath.Join(dir, prog)}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "sandlock-trace"), argv...)
	cmd.Dir = outDir
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if unpriv {
		attr.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
	}
	cmd.SysProcAttr = attr
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if b, err := cmd.CombinedOutput(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 125 && bytes.Contains(b, []byte("seccomp user notification")) && os.Getenv("CI") != "true" {
			t.Skipf("kernel feature missing: %s", b)
		}
		t.Fatalf("sandlock-trace %v: %v\n%s", argv, err, b)
	}

	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := event.NewReader(f, out)
	var pk *event.Peak
	var ex *event.Exit
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch rec := rec.(type) {
		case *event.Peak:
			if !rec.Sample {
				pk = rec
			}
		case *event.Exit:
			ex = rec
		}
	}
	if pk == nil || ex == nil {
		t.Fatalf("%s: want a peak and an exit record (peak=%v exit=%v)", prog, pk, ex)
	}
	if ex.Code == nil || *ex.Code != 0 {
		t.Fatalf("%s: workload did not exit 0: %+v", prog, ex)
	}
	t.Logf("%s %v: %+v", prog, args, *pk)
	return *pk
}

// peakUsers runs fn as the current user and, when that is root, again as
// uid 65534: measuring the peaks must not need privileges.
func peakUsers(t *testing.T, fn func(t *testing.T, unpriv bool)) {
	t.Helper()
	t.Run("self", func(t *testing.T) { fn(t, false) })
	if os.Getuid() == 0 {
		t.Run("uid65534", func(t *testing.T) { fn(t, true) })
	}
}

// glibc gives each thread that allocates while the others hold theirs its
// own arena: a 64 MiB-aligned PROT_NONE reservation (mmap of 128 MiB, then
// munmap of the misaligned head and tail, or one hinted 64 MiB mmap), and
// pthread_create maps an 8 MiB + 4 KiB stack for each thread. Seen with
// strace on this machine kind for 8 threads: 8 arenas and 8 stacks, and the
// trace reported 576.4 MiB. glibc caps arenas at 8 per CPU, the main arena
// included.
func peakMemGlibcArenas(t *testing.T, dir string) {
	peakUsers(t, func(t *testing.T, unpriv bool) {
		const threads = 8
		arenas := min(threads, 8*runtime.NumCPU()-1)
		want := int64(arenas*64*peakMiB + threads*(8*peakMiB+4096))
		pk := peakRun(t, dir, unpriv, "peak_arenas", strconv.Itoa(threads), "0")
		if pk.MemBytes < want {
			t.Fatalf("mem_bytes = %d (%.1f MiB), want >= %d (%d arenas x 64 MiB + %d stacks x 8 MiB)",
				pk.MemBytes, float64(pk.MemBytes)/peakMiB, want, arenas, threads)
		}
		if pk.MemBytes < 10*pk.RSSBytes {
			t.Errorf("mem_bytes %d is not far above rss_bytes %d: is it derived from RSS?", pk.MemBytes, pk.RSSBytes)
		}
		// One thread: one arena and one stack, far below the bound.
		if small := peakRun(t, dir, unpriv, "peak_arenas", "1", "0"); small.MemBytes >= want {
			t.Fatalf("mem_bytes = %d with 1 thread, not below %d: the bound proves nothing", small.MemBytes, want)
		}
	})
}

func peakMemReservation(t *testing.T, dir string) {
	peakUsers(t, func(t *testing.T, unpriv bool) {
		pk := peakRun(t, dir, unpriv, "peak_reserve", "512")
		if pk.MemBytes < 512*peakMiB {
			t.Fatalf("mem_bytes = %d, want >= 512 MiB for a 512 MiB PROT_NONE reservation", pk.MemBytes)
		}
		if small := peakRun(t, dir, unpriv, "peak_reserve", "0"); small.MemBytes >= 512*peakMiB {
			t.Fatalf("mem_bytes = %d without the reservation, want < 512 MiB", small.MemBytes)
		}
	})
}

// Anonymous read-write mappings under 1 MiB are not notified (statm data
// counts them; pkg/seccomp SmallMap), yet sandlock charges each one. 200
// of 256 KiB held at once for 100 ms must be in the peak, alone and on top
// of a 512 MiB PROT_NONE reservation (whose charge is far above statm
// data, so a plain floor at data would hide them).
func peakMemSmallMaps(t *testing.T, dir string) {
	peakUsers(t, func(t *testing.T, unpriv bool) {
		// 200 x 256 KiB held at once, then a notified 2 MiB map.
		const held = 200*256<<10 + 2*peakMiB
		if pk := peakRun(t, dir, unpriv, "peak_smallmaps", "200"); pk.MemBytes < held {
			t.Fatalf("mem_bytes = %d, want >= %d (200 x 256 KiB held at once, then 2 MiB)", pk.MemBytes, held)
		}
		if pk := peakRun(t, dir, unpriv, "peak_smallmaps", "200", "512"); pk.MemBytes < 512*peakMiB+held {
			t.Fatalf("mem_bytes = %d, want >= 512 MiB + 200 x 256 KiB + 2 MiB = %d", pk.MemBytes, 512*peakMiB+held)
		}
		if small := peakRun(t, dir, unpriv, "peak_smallmaps", "10"); small.MemBytes >= held {
			t.Fatalf("mem_bytes = %d with 10 maps, not below %d: the bound proves nothing", small.MemBytes, held)
		}
	})
}

func peakProcessesBurst(t *testing.T, dir string) {
	peakUsers(t, func(t *testing.T, unpriv bool) {
		if got := peakRun(t, dir, unpriv, "peak_children", "20").Processes; got < 21 {
			t.Fatalf("processes = %d with 20 children alive at once, want >= 21", got)
		}
		if got := peakRun(t, dir, unpriv, "peak_children", "2").Processes; got >= 21 || got < 3 {
			t.Fatalf("processes = %d with 2 children, want 3..20", got)
		}
	})
}

func peakFDMax(t *testing.T, dir string) {
	// This test process may have inherited descriptors from whatever
	// started it; the workload closes those itself, and marking ours
	// close-on-exec keeps them out of the tracer too.
	unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC)
	peakUsers(t, func(t *testing.T, unpriv bool) {
		if got := peakRun(t, dir, unpriv, "peak_fd", "200").FDMax; got < 201 {
			t.Fatalf("fd_max = %d with fd 200 open, want >= 201", got)
		}
		if got := peakRun(t, dir, unpriv, "peak_fd", "5").FDMax; got >= 201 || got < 6 {
			t.Fatalf("fd_max = %d with fd 5 the highest, want 6..200", got)
		}
	})
}
