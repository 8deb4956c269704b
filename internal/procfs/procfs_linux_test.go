//go:build linux

package procfs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestReadFile: a /proc file (no size reported) and a regular file larger
// than the buffer come back whole; the buffer is reused when it is large
// enough; a missing file is an error.
func TestReadFile(t *testing.T) {
	want, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile("/proc/self/status", make([]byte, 0, 16))
	if err != nil || !bytes.HasPrefix(got, []byte("Name:")) || len(got) < len(want)/2 {
		t.Fatalf("/proc/self/status: %v, %q", err, got)
	}

	big := bytes.Repeat([]byte("0123456789abcdef"), 40000) // 640 KB
	p := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(p, big, 0o644); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 1<<20)
	got, err = ReadFile(p, buf)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("big file: %v, %d bytes of %d", err, len(got), len(big))
	}
	if &got[0] != &buf[:1][0] {
		t.Error("a buffer large enough was not reused")
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "none"), buf); err == nil {
		t.Error("a missing file read without error")
	}
}

// TestStat: a command name may hold spaces and parentheses; fields are
// found after its last ')', numbered as proc(5) numbers them.
func TestStat(t *testing.T) {
	line := []byte("4242 (a) b (c) S 17 4242 4242 0 -1 4194560\n")
	comm, ok := StatComm(line)
	if !ok || string(comm) != "a) b (c" {
		t.Errorf("comm %q %v", comm, ok)
	}
	f := StatFields(line)
	if string(f[0]) != "S" || StatField(f, 4) != 17 || StatField(f, 9) != 4194560 {
		t.Errorf("fields %q", f)
	}
	if StatField(f, 2) != -1 || StatField(f, 10) != -1 || StatField(f, 7) != 0 {
		t.Errorf("out of range or odd fields: %d %d %d", StatField(f, 2), StatField(f, 10), StatField(f, 7))
	}
	if _, ok := StatComm([]byte("no name")); ok || StatFields([]byte("no name")) != nil {
		t.Error("a line without a name parsed")
	}
	b, err := ReadFile("/proc/self/stat", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ppid := StatField(StatFields(b), 4); ppid != int64(os.Getppid()) {
		t.Errorf("ppid %d, want %d", ppid, os.Getppid())
	}
}
