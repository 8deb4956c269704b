package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
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
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	rfd, err := syscall.Open(fifo, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(rfd)
	var out bytes.Buffer
	errb.Reset()
	code = run([]string{name, "-o", fifo, base, "-"}, strings.NewReader("[filesystem]\nread = [\"/usr\"]\n"), &out, &errb)
	buf := make([]byte, 1<<16)
	n, _ := syscall.Read(rfd, buf)
	got := string(buf[:max(n, 0)])
	if code != 0 || out.Len() != 0 || !strings.Contains(got, `"/etc/hostname"`) || !strings.Contains(got, `"/usr"`) {
		t.Errorf("-o FIFO: exit %d stderr %q, reader got %q", code, errb.String(), got)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v", err)
	}
}
