package event

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func intp(n int) *int { return &n }

// allRecords is one of every record type, with the awkward values a real
// stream carries: non-UTF-8 paths, control characters, U+2028, a killed
// workload.
func allRecords() []Record {
	return []Record{
		&Start{Schema: 1, Argv: []string{"python3", "-c", "print(\"hi\")\n"}, Cwd: "/home/u/src",
			Kernel: "6.18.0", Arch: "x86_64", Time: "2026-11-29T11:00:00Z", UID: 1000, GID: 1000, Tool: "sandlock-trace 0.1"},
		&Start{Schema: 1, Argv: []string{"true"}, Cwd: "/tmp/caf\xe9", Kernel: "6.18.0", Arch: "x86_64",
			Time: "2026-11-29T11:00:00Z", Tool: "sandlock-trace 0.1"},
		&FS{PID: 42, Syscall: "openat", Op: OpRead, Path: "/usr/lib/python3.11/json/__init__.py",
			Raw: "json/__init__.py", Flags: []string{"O_RDONLY", "O_CLOEXEC"}, Existed: true},
		// A Latin-1 file name: not UTF-8, so it must travel as path_b64.
		&FS{PID: 43, Syscall: "openat", Op: OpCreate, Path: "/tmp/build/r\xe9sum\xe9.txt", Raw: "r\xe9sum\xe9.txt",
			Flags: []string{"O_WRONLY", "O_CREAT", "O_EXCL"}},
		&FS{PID: 44, Syscall: "mkdirat", Op: OpMkdir, Path: "/tmp/a\nb\t\"q\"\\ \u2028\u2029 \x01", Dir: true},
		&FS{PID: 45, Syscall: "getdents64", Op: OpReaddir, Path: "/", Existed: true, Dir: true},
		&Exec{PID: 46, Path: "/usr/bin/gcc-12", Argv: []string{"cc", "-c", "a.c"}},
		&Exec{PID: 47, Path: "/opt/\xff\xfe/bin", Argv: []string{"x"}},
		&Net{PID: 48, Syscall: "connect", Op: "connect", Proto: "tcp", Family: "inet", Addr: "127.0.0.1", Port: 8080, FD: 3},
		&Net{PID: 48, Syscall: "sendto", Op: "send", Proto: "udp", Family: "inet6", Addr: "::1", Port: 53, FD: 4},
		&Syscalls{Counts: map[string]int64{"openat": 1234, "execve": 3}},
		&Peak{MemBytes: 1 << 30, RSSBytes: 123456789, Processes: 4, Threads: 9, FDMax: 12},
		&Peak{MemBytes: 1, RSSBytes: 2, Processes: 1, Threads: 1, FDMax: 3, Sample: true},
		&Warning{Msg: "io_uring used: its file operations are invisible"},
		&Warning{Msg: "cannot read path", PID: 49, Path: "/proc/49/\xc0"},
		&Exit{Code: intp(0), DurationMS: 1500, Events: 12},
		&Exit{Signal: "SIGKILL", TimedOut: true, DurationMS: 60000, Events: 99},
		&Meta{Schema: 1, Argv: []string{"make", "-j2"}, Cwd: "/src", Kernel: "6.18.0", Time: "2026-11-29T11:00:00Z",
			Runs: 2, Exit: &Exit{Code: intp(3), DurationMS: 5, Events: 7}, Complete: true, Warnings: []string{"w"}},
		&Meta{Schema: 1, Argv: []string{"x"}, Cwd: "/", Kernel: "k", Time: "t", Runs: 1},
		&Grant{Section: "filesystem", Key: "read", Value: []any{"/usr/lib", "/etc/ssl"}, Why: "python stdlib",
			Observed: 812, Examples: []string{"/usr/lib/python3.11/json/__init__.py"}},
		&Grant{Section: "limits", Key: "max_processes", Value: int64(8), Why: "peak 4, doubled", Observed: 1},
		&Grant{Section: "program", Key: "exec", Value: "/usr/bin/python3", Why: "argv[0]", Observed: 1},
		&Denial{PID: 50, Comm: "cat", Kind: "fs", Op: "read", Path: "/etc/shadow", Reason: "not in profile"},
		&Denial{PID: 51, Kind: "net", Op: "connect", Proto: "tcp", Addr: "10.0.0.1", Port: 443},
	}
}

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	want := allRecords()
	for _, r := range want {
		if err := w.Write(r); err != nil {
			t.Fatalf("Write(%#v): %v", r, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := w.Count(); got != int64(len(want)) {
		t.Errorf("Count() = %d, want %d", got, len(want))
	}
	out := buf.String()
	// The stream itself must be what pipeline.md promises: UTF-8, one object a
	// line, no raw control characters inside a line.
	if strings.Count(out, "\n") != len(want) {
		t.Errorf("%d lines for %d records:\n%s", strings.Count(out, "\n"), len(want), out)
	}
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !strings.HasPrefix(line, `{"type":"`) || !strings.HasSuffix(line, "}") {
			t.Errorf("line %d is not an object with type first: %s", i+1, line)
		}
		if strings.ContainsAny(line, "\x00\x01\t\r\u2028\u2029") {
			t.Errorf("line %d has an unescaped control character: %q", i+1, line)
		}
	}

	r := NewReader(strings.NewReader(out), "rt.ndjson")
	for i, w := range want {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("record %d:\n got %#v\nwant %#v", i+1, got, w)
		}
	}
	if rec, err := r.Next(); err != io.EOF {
		t.Errorf("after the last record: %v, %v; want io.EOF", rec, err)
	}
	if r.Line() != len(want) || r.Name() != "rt.ndjson" {
		t.Errorf("Line() = %d, Name() = %q", r.Line(), r.Name())
	}
}

// A path that is not UTF-8 goes in path_b64 byte for byte, never as U+FFFD.
func TestNonUTF8PathUsesB64(t *testing.T) {
	tests := []struct {
		rec  Record
		want string
	}{
		{&FS{PID: 1, Syscall: "openat", Op: OpRead, Path: "/tmp/\xff", Raw: "\xff"},
			`{"type":"fs","pid":1,"syscall":"openat","op":"read","path_b64":"L3RtcC//","raw_b64":"/w==","existed":false,"dir":false}`},
		{&Exec{PID: 2, Path: "/bin/\xe9", Argv: []string{"a"}},
			`{"type":"exec","pid":2,"path_b64":"L2Jpbi/p","argv":["a"]}`},
		{&Start{Schema: 1, Argv: []string{"a"}, Cwd: "/\x80", Kernel: "k", Arch: "a", Time: "t", Tool: "x"},
			`{"type":"start","schema":1,"argv":["a"],"cwd_b64":"L4A=","kernel":"k","arch":"a","time":"t","uid":0,"gid":0,"tool":"x"}`},
		{&Warning{Msg: "m", Path: "/\xfe"},
			`{"type":"warning","msg":"m","path_b64":"L/4="}`},
		// Valid UTF-8 stays readable.
		{&FS{PID: 3, Syscall: "openat", Op: OpRead, Path: "/tmp/café"},
			`{"type":"fs","pid":3,"syscall":"openat","op":"read","path":"/tmp/café","existed":false,"dir":false}`},
	}
	for _, tt := range tests {
		got, err := Marshal(tt.rec)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("Marshal(%#v)\n got %s\nwant %s", tt.rec, got, tt.want)
		}
		back, err := NewReader(strings.NewReader(string(got)+"\n"), "x").Next()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, tt.rec) {
			t.Errorf("read back %#v, want %#v", back, tt.rec)
		}
	}
}

func TestExitEncoding(t *testing.T) {
	for _, tt := range []struct {
		rec  *Exit
		want string
	}{
		{&Exit{Code: intp(0), DurationMS: 1, Events: 2},
			`{"type":"exit","code":0,"signal":null,"timed_out":false,"duration_ms":1,"events":2}`},
		{&Exit{Signal: "SIGTERM", TimedOut: true},
			`{"type":"exit","code":null,"signal":"SIGTERM","timed_out":true,"duration_ms":0,"events":0}`},
	} {
		got, err := Marshal(tt.rec)
		if err != nil || string(got) != tt.want {
			t.Errorf("Marshal = %s, %v; want %s", got, err, tt.want)
		}
	}
	if !(&Exit{Code: intp(1)}).Failed() || (&Exit{Code: intp(0)}).Failed() ||
		!(&Exit{Signal: "SIGSEGV"}).Failed() || (&Exit{Signal: "SIGKILL", TimedOut: true}).Failed() ||
		!(*Exit)(nil).Failed() {
		t.Error("Exit.Failed disagrees with its doc comment")
	}
}

// Records of a newer writer's type come back as *Unknown, not as an error.
func TestUnknownType(t *testing.T) {
	r := NewReader(strings.NewReader(`{"type":"future","x":[1,{"y":2}]}`+"\n"), "in")
	rec, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := rec.(*Unknown); !ok || u.RecordType() != "future" {
		t.Errorf("got %#v, want *Unknown of type future", rec)
	}
	// Passed through a writer, it stays one valid record with one type key.
	if b, err := Marshal(rec); err != nil || string(b) != `{"type":"future"}` {
		t.Errorf("Marshal(*Unknown) = %s, %v; want {\"type\":\"future\"}", b, err)
	}
}

// Fields a reader does not know are ignored (pipeline.md: fields may be added).
func TestUnknownFieldIgnored(t *testing.T) {
	line := `{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"/a","existed":true,"dir":false,"inode":77,"new":{"a":[]}}`
	rec, err := NewReader(strings.NewReader(line+"\n"), "in").Next()
	if err != nil {
		t.Fatal(err)
	}
	want := &FS{PID: 1, Syscall: "openat", Op: "read", Path: "/a", Existed: true}
	if !reflect.DeepEqual(rec, want) {
		t.Errorf("got %#v, want %#v", rec, want)
	}
}

const goodFS = `{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"/a","existed":true,"dir":false}`

// Every malformed line gets the exact message pipeline.md asks for: the
// input's name, the line number and what is wrong.
func TestLineErrors(t *testing.T) {
	long := `{"type":"warning","msg":"` + strings.Repeat("x", MaxLine) + `"}`
	tests := []struct {
		name, in, want string
	}{
		{"not JSON", "hello\n", "in:1: not JSON"},
		{"broken JSON object", "{\"type\":\n", "in:1: not JSON: unexpected end of JSON input"},
		{"trailing garbage", goodFS + "x\n", "in:1: not JSON: invalid character 'x' after top-level value"},
		{"array", "[1,2]\n", "in:1: not a JSON object"},
		{"string", "\"fs\"\n", "in:1: not a JSON object"},
		{"null", "null\n", "in:1: not a JSON object"},
		{"missing type", `{"pid":1}` + "\n", `in:1: missing field "type"`},
		{"missing dir", `{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"/a","existed":true}` + "\n",
			`in:1: fs record: missing field "dir"`},
		{"missing path", `{"type":"fs","pid":1,"syscall":"openat","op":"read","existed":true,"dir":false}` + "\n",
			`in:1: fs record: missing field "path"`},
		{"missing pid", `{"type":"exec","path":"/bin/x","argv":["x"]}` + "\n", `in:1: exec record: missing field "pid"`},
		{"missing argv", `{"type":"start","schema":1,"cwd":"/","kernel":"k","arch":"a","time":"t","uid":0,"gid":0,"tool":"x"}` + "\n",
			`in:1: start record: missing field "argv"`},
		{"empty argv", `{"type":"start","schema":1,"argv":[],"cwd":"/","kernel":"k","arch":"a","time":"t","uid":0,"gid":0,"tool":"x"}` + "\n",
			`in:1: start record: empty argv`},
		{"missing exit code", `{"type":"exit","signal":null,"timed_out":false,"duration_ms":1,"events":1}` + "\n",
			`in:1: exit record: missing field "code"`},
		{"wrong type pid", `{"type":"fs","pid":"1","syscall":"openat","op":"read","path":"/a","existed":true,"dir":false}` + "\n",
			`in:1: field "pid": want int, got JSON string`},
		{"wrong type existed", `{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"/a","existed":"yes","dir":false}` + "\n",
			`in:1: field "existed": want bool, got JSON string`},
		{"wrong type type", `{"type":5}` + "\n", `in:1: field "type": want string, got JSON number`},
		{"wrong type code", `{"type":"exit","code":"0","signal":null,"timed_out":false,"duration_ms":1,"events":1}` + "\n",
			`in:1: exit record: field "code": want an integer or null`},
		{"unknown schema", `{"type":"start","schema":2,"argv":["a"],"cwd":"/","kernel":"k","arch":"a","time":"t","uid":0,"gid":0,"tool":"x"}` + "\n",
			"in:1: unknown schema 2 (this reader knows schema 1)"},
		{"unknown meta schema", `{"type":"meta","schema":0,"argv":["a"],"cwd":"/","kernel":"k","time":"t","runs":1,"exit":null,"complete":true}` + "\n",
			"in:1: unknown schema 0 (this reader knows schema 1)"},
		{"unknown op", `{"type":"fs","pid":1,"syscall":"openat","op":"opne","path":"/a","existed":true,"dir":false}` + "\n",
			`in:1: fs record: unknown op "opne"`},
		{"unknown proto", `{"type":"net","pid":1,"syscall":"connect","op":"connect","proto":"sctp","family":"inet","addr":"1.2.3.4","port":1,"fd":3}` + "\n",
			`in:1: net record: unknown proto "sctp"`},
		{"port out of range", `{"type":"net","pid":1,"syscall":"connect","op":"connect","proto":"tcp","family":"inet","addr":"1.2.3.4","port":65536,"fd":3}` + "\n",
			`in:1: net record: port 65536 out of range`},
		{"line over 1 MiB", long + "\n", "in:1: line longer than 1048576 bytes"},
		{"NUL", "{\"type\":\"fs\",\x00}\n", "in:1: NUL byte in line"},
		{"escaped NUL in path", `{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"/a\u0000b","existed":true,"dir":false}` + "\n",
			`in:1: fs record: path "/a\x00b": NUL byte in path`},
		{"invalid UTF-8", "{\"type\":\"fs\",\"path\":\"/\xff\"}\n",
			"in:1: line is not valid UTF-8 (non-UTF-8 paths go in path_b64)"},
		{"bad base64", `{"type":"fs","pid":1,"syscall":"openat","op":"read","path_b64":"L3Rt!A==","existed":true,"dir":false}` + "\n",
			"in:1: fs record: path_b64 is not standard base64: illegal base64 data at input byte 4"},
		{"URL base64", `{"type":"fs","pid":1,"syscall":"openat","op":"read","path_b64":"L_4=","existed":true,"dir":false}` + "\n",
			"in:1: fs record: path_b64 is not standard base64: illegal base64 data at input byte 1"},
		{"path and path_b64", `{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"/a","path_b64":"L2E=","existed":true,"dir":false}` + "\n",
			`in:1: fs record: both "path" and "path_b64"`},
		{"relative path", `{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"a/b","existed":true,"dir":false}` + "\n",
			`in:1: fs record: path "a/b": not absolute`},
		{"relative b64 path", `{"type":"exec","pid":1,"path_b64":"/w==","argv":["x"]}` + "\n",
			`in:1: exec record: path "\xff": not absolute`},
		{"relative cwd", `{"type":"start","schema":1,"argv":["a"],"cwd":"src","kernel":"k","arch":"a","time":"t","uid":0,"gid":0,"tool":"x"}` + "\n",
			`in:1: start record: cwd "src": not absolute`},
		{"dotdot component", `{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"/a/../b","existed":true,"dir":false}` + "\n",
			`in:1: fs record: path "/a/../b": ".." component`},
		{"dot component", `{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"/a/./b","existed":true,"dir":false}` + "\n",
			`in:1: fs record: path "/a/./b": "." component`},
		{"double slash", `{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"/a//b","existed":true,"dir":false}` + "\n",
			`in:1: fs record: path "/a//b": empty component (//)`},
		{"trailing slash", `{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"/a/","existed":true,"dir":false}` + "\n",
			`in:1: fs record: path "/a/": trailing slash`},
		{"empty path", `{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"","existed":true,"dir":false}` + "\n",
			`in:1: fs record: path "": empty path`},
		{"blank line", "\n", "in:1: blank line"},
		{"missing final newline", goodFS, "in:1: last line has no newline (truncated stream?)"},
		{"null grant value", `{"type":"grant","section":"limits","key":"k","value":null,"why":"w","observed":1}` + "\n",
			`in:1: grant record: field "value": null`},
		{"fractional grant value", `{"type":"grant","section":"limits","key":"k","value":1.5,"why":"w","observed":1}` + "\n",
			`in:1: grant record: field "value": 1.5 is not an integer`},
		{"nested grant value", `{"type":"grant","section":"filesystem","key":"read","value":[["/a"]],"why":"w","observed":1}` + "\n",
			`in:1: grant record: field "value": nested array`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := NewReader(strings.NewReader(tt.in), "in").Next()
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("got %#v, %v; want a *LineError", rec, err)
			}
			if le.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", le.Error(), tt.want)
			}
			if le.Name != "in" || le.Line != 1 {
				t.Errorf("Name, Line = %q, %d; want in, 1", le.Name, le.Line)
			}
		})
	}
}

// The error names the line it is on, after good lines and across the
// reader's internal buffer boundary.
func TestLineNumbers(t *testing.T) {
	var in strings.Builder
	for range 5000 {
		in.WriteString(goodFS + "\n")
	}
	in.WriteString("\n")
	r := NewReader(strings.NewReader(in.String()), "events.ndjson")
	for i := range 5000 {
		if _, err := r.Next(); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
	}
	_, err := r.Next()
	if err == nil || err.Error() != "events.ndjson:5001: blank line" {
		t.Errorf("got %v, want events.ndjson:5001: blank line", err)
	}
}

// A line of exactly MaxLine bytes is data; one byte more is corrupt input.
func TestMaxLineBoundary(t *testing.T) {
	head, tail := `{"type":"warning","msg":"`, `"}`
	fill := MaxLine - len(head) - len(tail)
	ok := head + strings.Repeat("y", fill) + tail
	rec, err := NewReader(strings.NewReader(ok+"\n"), "in").Next()
	if err != nil {
		t.Fatalf("line of %d bytes: %v", len(ok), err)
	}
	if w, _ := rec.(*Warning); w == nil || len(w.Msg) != fill {
		t.Errorf("got %T, want the long warning back", rec)
	}
	over := head + strings.Repeat("y", fill+1) + tail
	_, err = NewReader(strings.NewReader(over+"\n"), "in").Next()
	if err == nil || err.Error() != "in:1: line longer than 1048576 bytes" {
		t.Errorf("line of %d bytes: %v", len(over), err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// A read error is reported against the input, not swallowed as EOF.
func TestReadError(t *testing.T) {
	_, err := NewReader(failingReader{}, "in").Next()
	if err == nil || err == io.EOF || !strings.Contains(err.Error(), "in") || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("got %v, want an error naming the input and the cause", err)
	}
}

func TestCheckPath(t *testing.T) {
	for p, want := range map[string]string{
		"/":         "",
		"/a":        "",
		"/a/b.c":    "",
		"/a/...":    "",
		"/a/.b":     "",
		"":          "empty path",
		"a":         "not absolute",
		"./a":       "not absolute",
		"/a/":       "trailing slash",
		"//":        "trailing slash",
		"/a//b":     "empty component (//)",
		"/./a":      `"." component`,
		"/a/..":     `".." component`,
		"/a\x00":    "NUL byte in path",
		"/\xff\xfe": "",
	} {
		if got := CheckPath(p); got != want {
			t.Errorf("CheckPath(%q) = %q, want %q", p, got, want)
		}
	}
}

type shortWriter struct{ n int }

func (s *shortWriter) Write(p []byte) (int, error) {
	if s.n+len(p) > 10 {
		return 0, errors.New("no space left on device")
	}
	s.n += len(p)
	return len(p), nil
}

// A full disk surfaces as an error from Flush, not as a silently short stream.
func TestWriterError(t *testing.T) {
	w := NewWriter(&shortWriter{})
	if err := w.Write(&Warning{Msg: "hello"}); err != nil {
		t.Fatalf("buffered write failed early: %v", err)
	}
	if w.Buffered() == 0 {
		t.Error("nothing buffered after Write")
	}
	if err := w.Flush(); err == nil {
		t.Error("Flush to a full device returned nil")
	}
}
