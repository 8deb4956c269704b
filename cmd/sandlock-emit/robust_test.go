package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandlock-learn/sandlock-learn/internal/testutil"

	"github.com/sandlock-learn/sandlock-learn/pkg/profile"
)

const (
	metaLine  = `{"type":"meta","schema":1,"argv":["/usr/bin/true"],"cwd":"/tmp","kernel":"6.18.0","time":"2026-11-29T10:00:00Z","runs":1,"exit":{"code":0,"signal":null,"timed_out":false,"duration_ms":10,"events":3},"complete":true}`
	grantLine = `{"type":"grant","section":"filesystem","key":"read","value":"/etc/hostname","why":"t","observed":1}`
)

func emitIn(in string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(append([]string{name}, args...), strings.NewReader(in), &out, &errb)
	return code, out.String(), errb.String()
}

// TestBadGrantStreams is issue 3's table of hand-made bad inputs for the
// grant reader (the cases the scripts in testdata/script do not already
// pin down): exact message, exit status 1, nothing on stdout.
func TestBadGrantStreams(t *testing.T) {
	long := `{"type":"warning","msg":"` + strings.Repeat("x", 1<<20) + `"}`
	for _, tt := range []struct{ name, in, stderr string }{
		{"not an object", metaLine + "\n[1]\n", "stdin:2: not a JSON object"},
		{"missing field", metaLine + "\n" + `{"type":"grant","section":"filesystem","value":"/etc","why":"t","observed":1}` + "\n", `stdin:2: grant record: missing field "key"`},
		{"wrong field type", metaLine + "\n" + strings.Replace(grantLine, `"observed":1`, `"observed":"1"`, 1) + "\n", `stdin:2: field "observed": want int64, got JSON string`},
		{"line over 1 MiB", metaLine + "\n" + long + "\n", "stdin:2: line longer than 1048576 bytes"},
		{"NUL byte", metaLine + "\n" + "{\"type\":\"warning\",\"msg\":\"a\x00b\"}\n", "stdin:2: NUL byte in line"},
		{"invalid UTF-8", metaLine + "\n" + "{\"type\":\"warning\",\"msg\":\"a\",\"path\":\"/x\xff\"}\n", "stdin:2: line is not valid UTF-8 (non-UTF-8 paths go in path_b64)"},
		{"path_b64 not base64", metaLine + "\n" + `{"type":"warning","msg":"a","path_b64":"%%%"}` + "\n", "stdin:2: warning record: path_b64 is not standard base64: illegal base64 data at input byte 0"},
		{"no newline at end", metaLine + "\n" + grantLine, "stdin:2: last line has no newline (truncated stream?)"},
		{"blank line", metaLine + "\n\n" + grantLine + "\n", "stdin:2: blank line"},
		{"no meta", grantLine + "\n", `stdin:1: the first record is "grant", want "meta": not a grant stream`},
		{"event inside", metaLine + "\n" + `{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"/x","existed":true,"dir":false}` + "\n", `stdin:2: a "fs" record in a grant stream: this is an event stream; pipe it through sandlock-collapse first`},
		{"relative path", metaLine + "\n" + strings.Replace(grantLine, "/etc/hostname", "etc/hostname", 1) + "\n", `stdin:2: grant: filesystem.read: "etc/hostname": not absolute (profile paths are absolute and canonical)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := emitIn(tt.in)
			if code != 1 || stdout != "" {
				t.Errorf("exit %d, stdout %.200q; want 1 and nothing", code, stdout)
			}
			if want := name + ": " + tt.stderr + "\n"; stderr != want {
				t.Errorf("stderr:\n got %q\nwant %q", stderr, want)
			}
		})
	}
}

// TestOutputFaults: a full disk on stdout is a tool failure (125); -o on a
// FIFO (or /dev/stdout) writes into it rather than replacing it.
func TestOutputFaults(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	var errb bytes.Buffer
	code := run([]string{name}, strings.NewReader(metaLine+"\n"+grantLine+"\n"), full, &errb)
	if code != 125 || !strings.Contains(errb.String(), "no space left on device") {
		t.Errorf("stdout /dev/full: exit %d stderr %q", code, errb.String())
	}

	fifo := filepath.Join(t.TempDir(), "p.fifo")
	readFIFO := testutil.FIFO(t, fifo)
	code, stdout, stderr := emitIn(metaLine+"\n"+grantLine+"\n", "-o", fifo)
	got := readFIFO()
	if code != 0 || stdout != "" || stderr != "" || !bytes.Contains(got, []byte(`read = ["/etc/hostname"]`)) {
		t.Errorf("-o FIFO: exit %d stdout %q stderr %q, reader got %q", code, stdout, stderr, got)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v", err)
	}
}

// FuzzEmit feeds arbitrary bytes to sandlock-emit as a grant stream: it
// never panics; it either refuses (exit 1, nothing on stdout) or writes a
// profile that sandlock's strict loader accepts and whose paths exist.
func FuzzEmit(f *testing.F) {
	for _, s := range []string{
		metaLine + "\n" + grantLine + "\n",
		metaLine + "\n",
		metaLine + "\n" + `{"type":"grant","section":"program","key":"exec","value":"/usr/bin/true","why":"t","observed":1}` + "\n" +
			`{"type":"grant","section":"program","key":"args","value":["a","b c"],"why":"t","observed":1}` + "\n",
		metaLine + "\n" + `{"type":"grant","section":"filesystem","key":"write","value":["/tmp","/etc"],"why":"t","observed":2}` + "\n",
		metaLine + "\n" + `{"type":"grant","section":"network","key":"allow","value":["tcp://[::1]:80","udp://127.0.0.1:53","icmp://127.0.0.1"],"why":"t","observed":1}` + "\n",
		metaLine + "\n" + `{"type":"grant","section":"network","key":"allow_bind","value":[8080,"9000-9005"],"why":"t","observed":1}` + "\n",
		metaLine + "\n" + `{"type":"grant","section":"limits","key":"memory","value":"48M","why":"t","observed":1}` + "\n" +
			`{"type":"grant","section":"limits","key":"processes","value":6,"why":"t","observed":1}` + "\n" +
			`{"type":"grant","section":"limits","key":"open_files","value":64,"why":"t","observed":1}` + "\n",
		metaLine + "\n" + `{"type":"grant","section":"syscalls","key":"extra_allow","value":["sysv_ipc"],"why":"t","observed":1}` + "\n",
		metaLine + "\n" + `{"type":"warning","msg":"io_uring was set up: its file operations were not observed"}` + "\n",
		metaLine + "\n" + `{"type":"warning","msg":"x","path_b64":"L2V0Yy//"}` + "\n",
		strings.Replace(metaLine, `"complete":true`, `"complete":false`, 1) + "\n",
		strings.Replace(metaLine, `"code":0`, `"code":3`, 1) + "\n",
		strings.Replace(metaLine, `"argv":["/usr/bin/true"]`, `"argv":["a\nb","'q'"]`, 1) + "\n",
		metaLine + "\n[1]\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var out, errb bytes.Buffer
		code := run([]string{name, "--allow-incomplete"}, bytes.NewReader(in), &out, &errb)
		switch code {
		case 1:
			if out.Len() != 0 {
				t.Fatalf("refused, yet wrote %q", out.String())
			}
			return
		case 0:
		default:
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		p, err := profile.Decode(out.Bytes(), "emitted")
		if err != nil {
			t.Fatalf("emitted profile fails the strict decoder: %v\n%s", err, out.String())
		}
		if err := p.Validate(true); err != nil {
			t.Fatalf("emitted profile does not validate: %v\n%s", err, out.String())
		}
	})
}
