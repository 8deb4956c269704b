package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	startLine = `{"type":"start","schema":1,"argv":["/bin/true"],"cwd":"/","kernel":"6.18.0","arch":"x86_64","time":"2026-11-29T11:00:00Z","uid":0,"gid":0,"tool":"t"}`
	exitLine  = `{"type":"exit","code":0,"signal":null,"timed_out":false,"duration_ms":1,"events":1}`
	fsLine    = `{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"/etc/hostname","existed":true,"dir":false}`
)

func runIn(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		if k == "PATH" {
			return "/usr/bin:/bin"
		}
		return ""
	}
	code = run(append([]string{"sandlock-collapse"}, args...), strings.NewReader(stdin), &out, &errb, getenv)
	return code, out.String(), errb.String()
}

// TestBadInput is issue 3's table of hand-made bad inputs: each with the
// exact message, the exit code, and no partial output.
func TestBadInput(t *testing.T) {
	long := `{"type":"warning","msg":"` + strings.Repeat("x", 1<<20) + `"}`
	tests := []struct {
		name, in string
		code     int
		stderr   string
	}{
		{"not JSON", startLine + "\nhello\n", 1, "stdin:2: not JSON"},
		{"truncated JSON", startLine + "\n{\"type\":\"fs\",\n", 1, "stdin:2: not JSON: unexpected end of JSON input"},
		{"not an object", startLine + "\n[1,2]\n", 1, "stdin:2: not a JSON object"},
		{"missing type", startLine + "\n{\"pid\":1}\n", 1, `stdin:2: missing field "type"`},
		{"missing field", startLine + "\n" + `{"type":"fs","pid":1,"syscall":"openat","path":"/x","existed":true,"dir":false}` + "\n", 1, `stdin:2: fs record: missing field "op"`},
		{"wrong field type", startLine + "\n" + `{"type":"fs","pid":"1"}` + "\n", 1, `stdin:2: field "pid": want int, got JSON string`},
		{"unknown op", startLine + "\n" + strings.Replace(fsLine, `"read"`, `"opne"`, 1) + "\n", 1, `stdin:2: fs record: unknown op "opne"`},
		{"unknown schema", strings.Replace(startLine, `"schema":1`, `"schema":2`, 1) + "\n", 1, "stdin:1: unknown schema 2 (this reader knows schema 1)"},
		{"line over 1 MiB", startLine + "\n" + long + "\n", 1, "stdin:2: line longer than 1048576 bytes"},
		{"NUL byte", startLine + "\n{\"type\":\"warning\",\"msg\":\"a\x00b\"}\n", 1, "stdin:2: NUL byte in line"},
		{"invalid UTF-8", startLine + "\n" + strings.Replace(fsLine, "hostname", "host\xffname", 1) + "\n", 1, "stdin:2: line is not valid UTF-8 (non-UTF-8 paths go in path_b64)"},
		{"path_b64 not base64", startLine + "\n" + strings.Replace(fsLine, `"path":"/etc/hostname"`, `"path_b64":"%%%"`, 1) + "\n", 1, "stdin:2: fs record: path_b64 is not standard base64: illegal base64 data at input byte 0"},
		{"relative path", startLine + "\n" + strings.Replace(fsLine, `/etc/hostname`, `etc/hostname`, 1) + "\n", 1, `stdin:2: fs record: path "etc/hostname": not absolute`},
		{"dotdot", startLine + "\n" + strings.Replace(fsLine, `/etc/hostname`, `/etc/../root`, 1) + "\n", 1, `stdin:2: fs record: path "/etc/../root": ".." component`},
		{"empty input", "", 1, "stdin: empty input: no start record"},
		{"blank line", startLine + "\n\n", 1, "stdin:2: blank line"},
		{"no newline at end", startLine + "\n" + exitLine, 1, "stdin:2: last line has no newline (truncated stream?)"},
		{"no start", fsLine + "\n", 1, `stdin:1: first record is "fs", want "start" (is this an event stream?)`},
		{"unknown type first", `{"type":"bogus"}` + "\n", 1, `stdin:1: first record is "bogus", want "start" (is this an event stream?)`},
		{"grant stream", `{"type":"meta","schema":1,"argv":["x"],"cwd":"/","kernel":"k","time":"t","runs":1,"exit":null,"complete":true}` + "\n", 1, `stdin:1: first record is "meta", want "start" (is this an event stream?)`},
		{"grant record inside", startLine + "\n" + `{"type":"grant","section":"program","key":"exec","value":"/x","why":"w","observed":1}` + "\n", 1, `stdin:2: "grant" record in an event stream (is this the output of sandlock-collapse or sandlock-check?)`},
		{"event after exit", startLine + "\n" + exitLine + "\n" + fsLine + "\n", 1, "stdin:3: fs record after the run's exit record (a new run must begin with start)"},
		{"bad address", startLine + "\n" + `{"type":"net","pid":1,"syscall":"connect","op":"connect","proto":"tcp","family":"inet","addr":"example.com","port":80,"fd":3}` + "\n", 1, `stdin:2: net record: addr "example.com" is not an IP address`},
		{"port out of range", startLine + "\n" + `{"type":"net","pid":1,"syscall":"connect","op":"connect","proto":"tcp","family":"inet","addr":"127.0.0.1","port":70000,"fd":3}` + "\n", 1, `stdin:2: net record: port 70000 out of range`},
		{"negative peak", startLine + "\n" + `{"type":"peak","mem_bytes":-1,"rss_bytes":0,"processes":1,"threads":1,"fd_max":3}` + "\n", 1, "stdin:2: peak record: negative value"},
		{"unknown flag", startLine + "\n", 2, "flag provided but not defined: -bogus (see sandlock-collapse --help)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var args []string
			if tt.name == "unknown flag" {
				args = []string{"--bogus"}
			}
			code, stdout, stderr := runIn(t, tt.in, args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			if stdout != "" {
				t.Errorf("partial output on stdout: %.200q", stdout)
			}
			if want := "sandlock-collapse: " + tt.stderr + "\n"; stderr != want {
				t.Errorf("stderr:\n got %q\nwant %q", stderr, want)
			}
		})
	}
}

// Inputs that are odd but valid: the stream is still written.
func TestOddButValid(t *testing.T) {
	// An unknown record type is skipped with a warning.
	code, stdout, stderr := runIn(t, startLine+"\n{\"type\":\"bogus\",\"x\":1}\n"+exitLine+"\n")
	if code != 0 || !strings.HasPrefix(stdout, `{"type":"meta"`) ||
		stderr != "sandlock-collapse: warning: stdin:2: unknown record type \"bogus\", skipped\n" {
		t.Errorf("unknown type: exit %d, stderr %q, stdout %.100q", code, stderr, stdout)
	}
	// Two starts are two runs; a run without exit is incomplete.
	code, stdout, _ = runIn(t, startLine+"\n"+exitLine+"\n"+startLine+"\n"+fsLine+"\n")
	if code != 0 || !strings.Contains(stdout, `"runs":2,"exit":null,"complete":false`) {
		t.Errorf("two runs, second cut: exit %d, stdout %.300q", code, stdout)
	}
}

// TestOutputFile: -o writes atomically; on bad input an existing file is
// left untouched; an unwritable destination is a tool failure (125).
func TestOutputFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "grants.ndjson")
	if err := os.WriteFile(out, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runIn(t, startLine+"\nhello\n", "-o", out)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "stdin:2: not JSON") {
		t.Errorf("bad input: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != "old\n" {
		t.Errorf("output touched on error: %q", b)
	}
	code, stdout, stderr = runIn(t, startLine+"\n"+exitLine+"\n", "-o", out)
	b, _ := os.ReadFile(out)
	if code != 0 || stdout != "" || stderr != "" || !strings.HasPrefix(string(b), `{"type":"meta"`) {
		t.Errorf("good input: exit %d stdout %q stderr %q file %.100q", code, stdout, stderr, b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
	code, _, stderr = runIn(t, startLine+"\n"+exitLine+"\n", "-o", filepath.Join(dir, "no/such/dir/x"))
	if code != 125 || !strings.Contains(stderr, "no such file or directory") {
		t.Errorf("unwritable -o: exit %d stderr %q", code, stderr)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestStdoutFails(t *testing.T) {
	var errb bytes.Buffer
	code := run([]string{"sandlock-collapse"}, strings.NewReader(startLine+"\n"+exitLine+"\n"), failWriter{}, &errb, os.Getenv)
	if code != 125 || errb.String() != "sandlock-collapse: write stdout: broken pipe\n" {
		t.Errorf("exit %d stderr %q", code, errb.String())
	}
}

func TestHelp(t *testing.T) {
	code, stdout, stderr := runIn(t, "", "--help")
	if code != 0 || stderr != "" || !strings.Contains(stdout, "sandlock-trace -- python3 build.py | sandlock-collapse | sandlock-emit") ||
		!strings.Contains(stdout, "--collapse-prefix DIR") {
		t.Errorf("--help: exit %d stderr %q stdout %q", code, stderr, stdout)
	}
}
