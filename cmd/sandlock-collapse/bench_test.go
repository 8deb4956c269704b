package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// BenchmarkCLI is sandlock-collapse end to end on issue 2's load: 1M events
// over 200k distinct real files (set SANDLOCK_BENCH_TREE to keep the tree
// between runs), decoding and writing included.
func BenchmarkCLI(b *testing.B) {
	const dirs, perDir = 200, 1000
	events := 1_000_000
	// SANDLOCK_BENCH_STREAM=FILE times a given stream instead (e.g. one from
	// internal/genevents --root, as scripts/bench does).
	if f := os.Getenv("SANDLOCK_BENCH_STREAM"); f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		benchRun(b, data, bytes.Count(data, []byte("\n")))
		return
	}
	root := os.Getenv("SANDLOCK_BENCH_TREE")
	if root == "" {
		root = b.TempDir()
	}
	for d := 0; d < dirs; d++ {
		dir := filepath.Join(root, fmt.Sprintf("pkg%03d", d))
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("m%04d.py", perDir-1))); err == nil {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := 0; f < perDir; f++ {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("m%04d.py", f)), nil, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	var in bytes.Buffer
	w := event.NewWriter(&in)
	w.Write(&event.Start{Schema: 1, Argv: []string{"python3"}, Cwd: root, Kernel: "6.18", Time: "t"})
	for i := 0; i < events; i++ {
		f := i % (dirs * perDir)
		op := event.OpRead
		if i%10 == 3 {
			op = event.OpExec
		}
		w.Write(&event.FS{PID: 7, Syscall: "openat", Op: op, Path: fmt.Sprintf("%s/pkg%03d/m%04d.py", root, f/perDir, f%perDir),
			Flags: []string{"O_RDONLY", "O_CLOEXEC"}, Existed: true})
	}
	w.Write(&event.Exit{Code: new(int)})
	w.Flush()
	if out := os.Getenv("SANDLOCK_BENCH_DUMP"); out != "" {
		os.WriteFile(out, in.Bytes(), 0o644) // for measuring the binary's RSS
	}
	benchRun(b, in.Bytes(), events)
}

func benchRun(b *testing.B, data []byte, events int) {
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var errb strings.Builder
		if code := run([]string{"sandlock-collapse"}, bytes.NewReader(data), io.Discard, &errb, os.Getenv); code != 0 {
			b.Fatalf("exit %d: %s", code, errb.String())
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
