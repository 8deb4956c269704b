package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

func generate(t *testing.T, cfg Config) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := event.NewWriter(&buf)
	if err := Generate(w, cfg); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The stream is what the bench claims it is: valid per pkg/event, start
// first, peak and exit last, the asked number of events and distinct paths,
// and some non-UTF-8 paths.
func TestStreamShape(t *testing.T) {
	cfg := Config{Events: 30_000, Paths: 5_000, Seed: 3}
	out := generate(t, cfg)
	r := event.NewReader(bytes.NewReader(out), "gen")
	var recs []event.Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	if len(recs) != cfg.Events {
		t.Fatalf("%d records, want %d", len(recs), cfg.Events)
	}
	if _, ok := recs[0].(*event.Start); !ok {
		t.Errorf("first record is %T, want *event.Start", recs[0])
	}
	if p, ok := recs[len(recs)-2].(*event.Peak); !ok || p.Sample {
		t.Errorf("second to last record is %#v, want a final peak", recs[len(recs)-2])
	}
	ex, ok := recs[len(recs)-1].(*event.Exit)
	if !ok || ex.Failed() || ex.Events != int64(cfg.Events-1) {
		t.Errorf("last record is %#v, want a clean exit counting %d events", recs[len(recs)-1], cfg.Events-1)
	}
	paths := map[string]bool{}
	types := map[string]int{}
	for _, rec := range recs[1 : len(recs)-2] {
		types[rec.RecordType()]++
		switch v := rec.(type) {
		case *event.FS:
			paths[v.Path] = true
		case *event.Start, *event.Exit:
			t.Errorf("%T in the middle of the stream", v)
		}
	}
	if len(paths) != cfg.Paths {
		t.Errorf("%d distinct fs paths, want %d", len(paths), cfg.Paths)
	}
	if types["fs"] < cfg.Events*8/10 || types["exec"] == 0 || types["net"] == 0 {
		t.Errorf("record mix %v: want mostly fs, some exec and net", types)
	}
	if !bytes.Contains(out, []byte(`"path_b64":`)) {
		t.Error("no non-UTF-8 path in the stream")
	}
	var python int
	for p := range paths {
		if strings.HasPrefix(p, "/usr/lib/python3") {
			python++
		}
	}
	if python < len(paths)/2 {
		t.Errorf("%d of %d paths under /usr/lib/python3*, want the majority", python, len(paths))
	}
}

func TestDeterministic(t *testing.T) {
	a := generate(t, Config{Events: 2000, Paths: 300, Seed: 9})
	b := generate(t, Config{Events: 2000, Paths: 300, Seed: 9})
	c := generate(t, Config{Events: 2000, Paths: 300, Seed: 10})
	if !bytes.Equal(a, b) {
		t.Error("same seed, different streams")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds, same stream")
	}
}

// More distinct paths than fs events: every fs event gets a new path.
func TestFewEvents(t *testing.T) {
	out := generate(t, Config{Events: 50, Paths: 1000, Seed: 1})
	if n := bytes.Count(out, []byte("\n")); n != 50 {
		t.Errorf("%d lines, want 50", n)
	}
	if err := Generate(event.NewWriter(io.Discard), Config{Events: 2, Paths: 1}); err == nil {
		t.Error("2 events accepted; start, peak and exit need 3")
	}
}

func TestCLI(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"gen-events", "--paths", "10", "100"}, nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if n := bytes.Count(stdout.Bytes(), []byte("\n")); n != 100 {
		t.Errorf("%d lines, want 100", n)
	}

	out := filepath.Join(t.TempDir(), "ev.ndjson")
	stdout.Reset()
	if code := run([]string{"gen-events", "-o", out, "20"}, nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil || bytes.Count(data, []byte("\n")) != 20 || stdout.Len() != 0 {
		t.Errorf("-o wrote %d lines (%v), stdout %q", bytes.Count(data, []byte("\n")), err, stdout.String())
	}

	for _, args := range [][]string{{"x"}, {"1", "2"}, {"2"}, {"--paths", "0", "10"}, {"--bogus"}} {
		stderr.Reset()
		code := run(append([]string{"gen-events"}, args...), nil, io.Discard, &stderr)
		if code != exitUsage || !strings.HasPrefix(stderr.String(), "gen-events: ") {
			t.Errorf("args %q: exit %d, stderr %q; want %d and a gen-events: message", args, code, stderr.String(), exitUsage)
		}
	}

	// An unwritable output directory is a tool failure and leaves nothing.
	code := run([]string{"gen-events", "-o", "/nonexistent/dir/ev", "10"}, nil, io.Discard, &stderr)
	if code != exitFailure {
		t.Errorf("unwritable -o: exit %d, want %d", code, exitFailure)
	}
	if _, err := os.Stat("/nonexistent/dir/ev"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat after failure: %v", err)
	}
}

// With a root, every path of the stream exists under it.
func TestRootMaterializes(t *testing.T) {
	root := t.TempDir()
	out := generate(t, Config{Events: 3000, Paths: 800, Seed: 2, Root: root})
	r := event.NewReader(bytes.NewReader(out), "gen")
	n := 0
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var p string
		switch v := rec.(type) {
		case *event.FS:
			p = v.Path
		case *event.Exec:
			p = v.Path
		case *event.Start:
			p = v.Cwd
		default:
			continue
		}
		if !strings.HasPrefix(p, root+"/") {
			t.Fatalf("%s is not under the root %s", p, root)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("path of the stream does not exist: %v", err)
		}
		if fs, ok := rec.(*event.FS); ok && fs.Dir != fi.IsDir() {
			t.Errorf("%s: dir %v in the stream, %v on disk", p, fs.Dir, fi.IsDir())
		}
		n++
	}
	if n < 2000 {
		t.Errorf("only %d path records checked", n)
	}
	if err := Generate(event.NewWriter(io.Discard), Config{Events: 10, Paths: 5, Root: "rel"}); err == nil {
		t.Error("a relative root was accepted")
	}
}
