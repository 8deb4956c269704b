package collapse

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// The performance target (issue 2): 1M events over 200k distinct paths at
// 500,000 events/s or more, peak RSS under 300 MiB. The paths are real
// files, so the benchmark pays for the lstat of every distinct path too.
const (
	benchDirs    = 200
	benchPerDir  = 1000 // 200k distinct files
	benchEvents  = 1_000_000
	benchTreeEnv = "SANDLOCK_BENCH_TREE" // reuse a tree between runs
)

var (
	benchOnce sync.Once
	benchRoot string
	benchErr  error
)

func benchTree(b *testing.B) string {
	benchOnce.Do(func() {
		benchRoot = os.Getenv(benchTreeEnv)
		if benchRoot == "" {
			benchRoot, benchErr = os.MkdirTemp("", "collapse-bench")
			if benchErr != nil {
				return
			}
		}
		for d := 0; d < benchDirs; d++ {
			dir := filepath.Join(benchRoot, fmt.Sprintf("pkg%03d", d))
			if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("m%04d.py", benchPerDir-1))); err == nil {
				continue
			}
			if benchErr = os.MkdirAll(dir, 0o755); benchErr != nil {
				return
			}
			for f := 0; f < benchPerDir; f++ {
				fh, err := os.Create(filepath.Join(dir, fmt.Sprintf("m%04d.py", f)))
				if err != nil {
					benchErr = err
					return
				}
				fh.Close()
			}
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchRoot
}

// benchRecords is 1M decoded events: every file read five times (a mix of
// read and exec ops), plus writes of a few.
func benchRecords(root string) []event.Record {
	recs := []event.Record{&event.Start{Schema: 1, Argv: []string{"python3"}, Cwd: root, Kernel: "6.18", Time: "t"}}
	for i := 0; len(recs) < benchEvents+1; i++ {
		f := i % (benchDirs * benchPerDir)
		p := fmt.Sprintf("%s/pkg%03d/m%04d.py", root, f/benchPerDir, f%benchPerDir)
		op := event.OpRead
		switch i % 10 {
		case 3:
			op = event.OpExec
		case 7:
			if f%100 == 0 {
				op = event.OpWrite
			}
		}
		recs = append(recs, &event.FS{PID: 7, Syscall: "openat", Op: op, Path: p, Existed: true})
	}
	return append(recs, &event.Exit{Code: new(int)})
}

func runCollapse(b *testing.B, recs []event.Record, threshold int) *Result {
	c, err := New(Options{Threshold: threshold, Headroom: 1.5})
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range recs {
		if err := c.Add(r); err != nil {
			b.Fatal(err)
		}
	}
	res, err := c.Result()
	if err != nil {
		b.Fatal(err)
	}
	return res
}

// BenchmarkCollapse measures the policy alone (records already decoded):
// folding 1M events and computing the grants, lstat included.
func BenchmarkCollapse(b *testing.B) {
	for _, th := range []int{0, 4} {
		b.Run(fmt.Sprintf("threshold=%d", th), func(b *testing.B) {
			recs := benchRecords(benchTree(b))
			b.ResetTimer()
			var res *Result
			for i := 0; i < b.N; i++ {
				res = runCollapse(b, recs, th)
			}
			b.StopTimer()
			b.ReportMetric(float64(benchEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(len(res.Grants)), "grants")
		})
	}
}

// BenchmarkCollapseStream includes decoding the NDJSON stream with
// event.Reader, which is what sandlock-collapse does per event.
func BenchmarkCollapseStream(b *testing.B) {
	recs := benchRecords(benchTree(b))
	var buf bytes.Buffer
	w := event.NewWriter(&buf)
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			b.Fatal(err)
		}
	}
	w.Flush()
	data := buf.Bytes()
	recs = nil
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := New(Options{Threshold: 4, Headroom: 1.5})
		if err != nil {
			b.Fatal(err)
		}
		rd := event.NewReader(bytes.NewReader(data), "bench")
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Add(rec); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := c.Result(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(benchEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAdd is the per-event cost of folding one event into the tree.
func BenchmarkAdd(b *testing.B) {
	recs := benchRecords("/nonexistent-bench")
	c, _ := New(Options{Threshold: 4, Headroom: 1.5})
	if err := c.Add(recs[0]); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := recs[1+i%benchEvents]
		if err := c.Add(r); err != nil {
			b.Fatal(err)
		}
	}
}
