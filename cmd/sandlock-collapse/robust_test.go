package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandlock-learn/sandlock-learn/internal/testutil"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// TestOutputToFIFO: -o on a FIFO (or a device such as /dev/stdout) writes
// into it; the atomic rename used for regular files would replace the node
// with a regular file (as root, -o /dev/full once turned /dev/full into a
// file for the whole machine).
func TestOutputToFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "grants.fifo")
	readFIFO := testutil.FIFO(t, fifo)
	code, stdout, stderr := runIn(t, startLine+"\n"+fsLine+"\n"+exitLine+"\n", "-o", fifo)
	b := readFIFO()
	if code != 0 || stdout != "" || stderr != "" {
		t.Fatalf("exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	if !bytes.HasPrefix(b, []byte(`{"type":"meta"`)) || !bytes.Contains(b, []byte(`"/etc/hostname"`)) {
		t.Errorf("the reader got %q", b)
	}
	fi, err := os.Lstat(fifo)
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v %v", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(fifo)); len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
}

// TestOutputDeviceFull: a full disk on stdout (a real /dev/full, opened for
// writing here, so a regression cannot rename over the machine's node) is a
// tool failure (125) that says why.
func TestOutputDeviceFull(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	var errb bytes.Buffer
	code := run([]string{name}, strings.NewReader(startLine+"\n"+exitLine+"\n"), full, &errb, os.Getenv)
	if code != 125 || errb.String() != "sandlock-collapse: write stdout: write /dev/full: no space left on device\n" {
		t.Errorf("stdout /dev/full: exit %d stderr %q", code, errb.String())
	}

}

// FuzzCollapseStream feeds arbitrary bytes to the command as its event
// stream: it never panics, exits 0 or 1, writes nothing on 1, and on 0
// writes a grant stream that the shared reader accepts, headed by meta.
func FuzzCollapseStream(f *testing.F) {
	for _, s := range []string{
		startLine + "\n" + fsLine + "\n" + exitLine + "\n",
		startLine + "\n" + exitLine + "\n" + startLine + "\n" + fsLine + "\n",
		startLine + "\n" + `{"type":"net","pid":1,"syscall":"connect","op":"connect","proto":"tcp","family":"inet6","addr":"::1","port":80,"fd":3}` + "\n" + exitLine + "\n",
		startLine + "\n" + `{"type":"fs","pid":1,"syscall":"openat","op":"create","path_b64":"L3RtcC//","existed":false,"dir":false}` + "\n" + exitLine + "\n",
		startLine + "\n" + `{"type":"peak","mem_bytes":123456789,"rss_bytes":1,"processes":3,"threads":9,"fd_max":300}` + "\n" + exitLine + "\n",
		startLine + "\n" + `{"type":"warning","msg":"io_uring was set up: its file operations were not observed"}` + "\n" + exitLine + "\n",
		startLine + "\n" + `{"type":"bogus"}` + "\n" + exitLine + "\n",
		startLine + "\nhello\n",
		startLine + "\n[1]\n",
		"",
		"\n",
		startLine,
		strings.Replace(startLine, `"schema":1`, `"schema":2`, 1) + "\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var out, errb bytes.Buffer
		code := run([]string{name, "--collapse", "2"}, bytes.NewReader(in), &out, &errb, func(string) string { return "" })
		switch code {
		case 1:
			if out.Len() != 0 {
				t.Fatalf("exit 1 with output %q", out.String())
			}
			if !strings.HasPrefix(errb.String(), name+": ") {
				t.Fatalf("error without the command's name: %q", errb.String())
			}
			return
		case 0:
		default:
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		r := event.NewReader(&out, "grants")
		for i := 0; ; i++ {
			rec, err := r.Next()
			if err == io.EOF {
				if i == 0 {
					t.Fatalf("exit 0 with no output")
				}
				return
			}
			if err != nil {
				t.Fatalf("output is not a grant stream: %v\n%s", err, out.String())
			}
			if _, ok := rec.(*event.Meta); ok != (i == 0) {
				t.Fatalf("record %d is %T", i, rec)
			}
		}
	})
}
