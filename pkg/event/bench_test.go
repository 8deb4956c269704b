package event

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// benchRecords is a realistic slice of a trace: mostly opens under the
// Python stdlib, some build writes, a few execs and connects, in roughly the
// proportions a build or test run produces (see internal/genevents).
func benchRecords() []Record {
	var recs []Record
	for i := range 100 {
		switch {
		case i%20 == 0:
			recs = append(recs, &Exec{PID: 4000 + i, Path: "/usr/libexec/gcc/x86_64-linux-gnu/12/cc1",
				Argv: []string{"/usr/libexec/gcc/x86_64-linux-gnu/12/cc1", "-quiet", "src/mod17.c", "-o", "/tmp/ccQ1.s"}})
		case i%20 == 1:
			recs = append(recs, &Net{PID: 4001, Syscall: "connect", Op: "connect", Proto: "tcp", Family: "inet",
				Addr: "127.0.0.1", Port: 5432, FD: 7})
		case i%10 < 2:
			recs = append(recs, &FS{PID: 4002, Syscall: "openat", Op: OpCreate,
				Path: fmt.Sprintf("/tmp/build/obj/dir%d/file%d.o", i%7, i), Raw: fmt.Sprintf("obj/dir%d/file%d.o", i%7, i),
				Flags: []string{"O_WRONLY", "O_CREAT", "O_TRUNC", "O_CLOEXEC"}})
		case i%10 == 2:
			recs = append(recs, &FS{PID: 4003, Syscall: "openat", Op: OpReaddir,
				Path: fmt.Sprintf("/usr/lib/python3.11/site-packages/pkg%d", i), Flags: []string{"O_RDONLY", "O_DIRECTORY", "O_CLOEXEC"},
				Existed: true, Dir: true})
		default:
			recs = append(recs, &FS{PID: 4004, Syscall: "openat", Op: OpRead,
				Path:  fmt.Sprintf("/usr/lib/python3.11/site-packages/pkg%d/__pycache__/module_%d.cpython-311.pyc", i%13, i),
				Flags: []string{"O_RDONLY", "O_CLOEXEC"}, Existed: true})
		}
	}
	return recs
}

func encodeAll(b *testing.B, recs []Record) []byte {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func reportEvents(b *testing.B, perOp int) {
	b.ReportMetric(float64(b.N)*float64(perOp)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEncodeFS is the tracer's per-notification encoding cost: one
// typical fs record through Writer.Write (ns/op is per record).
func BenchmarkEncodeFS(b *testing.B) {
	rec := &FS{PID: 4004, Syscall: "openat", Op: OpRead,
		Path:  "/usr/lib/python3.11/site-packages/requests/__pycache__/adapters.cpython-311.pyc",
		Raw:   "__pycache__/adapters.cpython-311.pyc",
		Flags: []string{"O_RDONLY", "O_CLOEXEC"}, Existed: true}
	w := NewWriter(io.Discard)
	line, _ := Marshal(rec)
	b.SetBytes(int64(len(line) + 1))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeMix encodes the realistic mix; ns/op is per record.
func BenchmarkEncodeMix(b *testing.B) {
	recs := benchRecords()
	b.SetBytes(int64(len(encodeAll(b, recs)) / len(recs)))
	w := NewWriter(io.Discard)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := w.Write(recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkEncodeFSNonUTF8 is the path_b64 branch.
func BenchmarkEncodeFSNonUTF8(b *testing.B) {
	rec := &FS{PID: 1, Syscall: "openat", Op: OpRead, Path: "/home/u/Documents/r\xe9sum\xe9 final (2).txt",
		Flags: []string{"O_RDONLY"}, Existed: true}
	w := NewWriter(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeFS is the collapser's per-event reading cost for one fs
// line, through Reader.Next as the binaries use it (ns/op is per record).
func BenchmarkDecodeFS(b *testing.B) {
	line, _ := Marshal(&FS{PID: 4004, Syscall: "openat", Op: OpRead,
		Path:  "/usr/lib/python3.11/site-packages/requests/__pycache__/adapters.cpython-311.pyc",
		Raw:   "__pycache__/adapters.cpython-311.pyc",
		Flags: []string{"O_RDONLY", "O_CLOEXEC"}, Existed: true})
	line = append(line, '\n')
	const perBlock = 10000
	block := bytes.Repeat(line, perBlock)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	var r *Reader
	i := 0
	for b.Loop() {
		if i%perBlock == 0 {
			r = NewReader(bytes.NewReader(block), "bench")
		}
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportEvents(b, 1)
}

// BenchmarkDecodeMix reads the realistic mix; ns/op is per record.
func BenchmarkDecodeMix(b *testing.B) {
	var recs []Record
	for range 100 {
		recs = append(recs, benchRecords()...)
	}
	stream := encodeAll(b, recs)
	b.SetBytes(int64(len(stream) / len(recs)))
	b.ReportAllocs()
	var r *Reader
	i := 0
	for b.Loop() {
		if i%len(recs) == 0 {
			r = NewReader(bytes.NewReader(stream), "bench")
		}
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportEvents(b, 1)
}
