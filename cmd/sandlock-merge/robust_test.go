package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandlock-learn/sandlock-learn/internal/testutil"
)

// TestOutputFaults: a full disk on stdout is a tool failure (125) with
// nothing else written; -o on a FIFO (or /dev/stdout) writes into it rather
// than renaming a regular file over it.
func TestOutputFaults(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.toml")
	if err := os.WriteFile(base, []byte("[filesystem]\nread = [\"/etc/hostname\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	var errb bytes.Buffer
	code := run([]string{name, base, "-"}, strings.NewReader("[filesystem]\nread = [\"/usr\"]\n"), full, &errb)
	if code != 125 || !strings.Contains(errb.String(), "no space left on device") {
		t.Errorf("stdout /dev/full: exit %d stderr %q", code, errb.String())
	}

	fifo := filepath.Join(dir, "out.fifo")
	readFIFO := testutil.FIFO(t, fifo)
	var out bytes.Buffer
	errb.Reset()
	code = run([]string{name, "-o", fifo, base, "-"}, strings.NewReader("[filesystem]\nread = [\"/usr\"]\n"), &out, &errb)
	got := string(readFIFO())
	if code != 0 || out.Len() != 0 || !strings.Contains(got, `"/etc/hostname"`) || !strings.Contains(got, `"/usr"`) {
		t.Errorf("-o FIFO: exit %d stderr %q, reader got %q", code, errb.String(), got)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v", err)
	}
}
