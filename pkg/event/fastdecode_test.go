package event

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// agree decodes line with and without the fast scanner and fails if the two
// disagree on the record or on the error message.
func agree(t *testing.T, line []byte) {
	t.Helper()
	slowRec, slowMsg := decodeLine(line, nil)
	var fs fastState
	fastRec, fastMsg := decodeLine(line, &fs)
	if slowMsg != fastMsg || !reflect.DeepEqual(slowRec, fastRec) {
		t.Errorf("line %q:\nencoding/json: %#v %q\n fast scanner: %#v %q", line, slowRec, slowMsg, fastRec, fastMsg)
	}
}

// corpus is valid lines of every record type plus the malformed ones the
// error tests use.
func corpus(t testing.TB) [][]byte {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, r := range append(allRecords(), benchRecords()...) {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
	for _, s := range []string{
		goodFS,
		`{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"/a","existed":true,"dir":false,"PID":2}`,
		`{"type":"fs","Pid":1,"syscall":"openat","op":"read","path":"/a","existed":true,"dir":false}`,
		`{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"/a","existed":true,"dir":false,"pid":3}`,
		`{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"/a","existed":true,"dir":false,"path":null}`,
		`{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"/a\/b\u00e9\u2028\ud83d\ude00","existed":true,"dir":false}`,
		`{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"/\ud800","existed":true,"dir":false}`,
		`{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"/a","existed":true,"dir":false,"x":{"y":[1,2.5e-3,{"z":null}],"w":"\n"}}`,
		`{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"/a","existed":true,"dir":false,"x":{"y":[1,2.5e-3,{"z":nul}]}}`,
		` { "type" : "exec" , "pid" : -0 , "path" : "/bin/sh" , "argv" : [ ] } `,
		`{"type":"exec","pid":1,"path":"/bin/sh","argv":["a",null]}`,
		`{"type":"exec","pid":1,"path":"/bin/sh","argv":null}`,
		`{"type":"exec","pid":1.0,"path":"/bin/sh","argv":["a"]}`,
		`{"type":"exec","pid":1e2,"path":"/bin/sh","argv":["a"]}`,
		`{"type":"exec","pid":01,"path":"/bin/sh","argv":["a"]}`,
		`{"type":"exec","pid":99999999999999999999,"path":"/bin/sh","argv":["a"]}`,
		`{"type":"exec","pid":-9223372036854775808,"path":"/bin/sh","argv":["a"]}`,
		`{"type":"exec","pid":9223372036854775807,"path":"/bin/sh","argv":["a"]}`,
		`{"type":"exec","pid":9223372036854775808,"path":"/bin/sh","argv":["a"]}`,
		`{"type":"exec","pid":true,"path":"/bin/sh","argv":["a"]}`,
		`{"type":"exec","pid":1,"path":["/bin/sh"],"argv":["a"]}`,
		`{"type":"exec","pid":1,"path":"/bin/sh","argv":"a"}`,
		`{"type":"peak","mem_bytes":1,"rss_bytes":2,"processes":3,"threads":4,"fd_max":5,"sample":null}`,
		`{"type":"peak","mem_bytes":1,"rss_bytes":2,"processes":3,"threads":4,"fd_max":5,"sample":"yes"}`,
		`{"type":"exit","code":null,"signal":"SIGKILL","timed_out":false,"duration_ms":1,"events":1}`,
		`{"type":"exit","code":1,"signal":"","timed_out":false,"duration_ms":1,"events":1}`,
		`{"type":"exit","code":[1],"signal":null,"timed_out":false,"duration_ms":1,"events":1}`,
		`{"type":"exit","code":1.5,"signal":null,"timed_out":false,"duration_ms":1,"events":1}`,
		`{"type":"denial","pid":1,"comm":null,"kind":"fs","op":"read","path":"/x"}`,
		`{"type":"warning","msg":"a\tb\"c\\d\b\f\r"}`,
		`{"type":"warning","msg":"tab	raw"}`,
		`{"type":"warning","msg":"\x"}`,
		`{"type":"warning","msg":"\u12"}`,
		`{"type":"warning","msg":"\u00zz"}`,
		`{"type":"warning","msg":"m"}{"type":"warning","msg":"m"}`,
		`{"type":"warning","msg":"m",}`,
		`{"type":"warning",,"msg":"m"}`,
		`{"type":"warning" "msg":"m"}`,
		`{"type":"warning","msg":"m"`,
		`{}`, `{ }`, `{"type":null}`, `{"type":"warning","msg":"m"} x`, "\t{\"type\":\"warning\",\"msg\":\"m\"}\r",
	} {
		lines = append(lines, []byte(s))
	}
	return lines
}

// The fast scanner and encoding/json agree on every corpus line, on every
// prefix of it (truncated streams) and on a few systematic mutations.
func TestFastDecodeAgrees(t *testing.T) {
	for _, line := range corpus(t) {
		agree(t, line)
		for i := 1; i < len(line); i++ {
			agree(t, line[:i])
		}
		for _, m := range []struct{ old, new string }{
			{`":`, `" : `}, {`,"`, ` , "`}, {`"pid"`, `"PID"`}, {`"type"`, `"Type"`},
			{`true`, `null`}, {`false`, `"false"`}, {`:1`, `:1.0`}, {`:1`, `:"1"`},
			{`"/`, `"\/`}, {`["`, `[null,"`}, {`"]`, `",1]`}, {`{`, `{"extra":[{}],`},
			{`s`, `\u0073`}, {`"op":"`, `"op":"\n`}, {`}`, `,"new":{"a":1e5}}`},
		} {
			agree(t, bytes.Replace(line, []byte(m.old), []byte(m.new), 1))
			agree(t, bytes.ReplaceAll(line, []byte(m.old), []byte(m.new)))
		}
	}
}

// One Reader reuses its scratch space: records must not share memory with
// it, or the next line would change the last record.
func TestFastDecodeNoAliasing(t *testing.T) {
	in := `{"type":"fs","pid":1,"syscall":"openat","op":"read","path":"/a\nb","raw":"x","flags":["O_RDONLY"],"existed":true,"dir":false}` + "\n" +
		`{"type":"fs","pid":2,"syscall":"mkdirat","op":"mkdir","path":"/c\td","raw":"y","flags":["O_WRONLY"],"existed":false,"dir":true}` + "\n"
	r := NewReader(strings.NewReader(in), "in")
	a, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	want := &FS{PID: 1, Syscall: "openat", Op: "read", Path: "/a\nb", Raw: "x", Flags: []string{"O_RDONLY"}, Existed: true}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("first record changed after reading the second: %#v", a)
	}
}

func FuzzFastDecode(f *testing.F) {
	for _, line := range corpus(f) {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if len(line) == 0 {
			return
		}
		agree(t, line)
	})
}

// appendString's word-at-a-time skip must escape exactly what the byte loop
// does: compare with encoding/json on every byte value at every offset.
func TestAppendStringEveryByte(t *testing.T) {
	for c := 0; c < 256; c++ {
		for off := 0; off < 17; off++ {
			s := strings.Repeat("a", off) + string([]byte{byte(c)}) + strings.Repeat("b", 16-off%9)
			got := appendString(nil, s)
			var back string
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("appendString(%q) = %s: not JSON: %v", s, got, err)
			}
			want := s
			if c >= 0x80 {
				want = strings.ToValidUTF8(s, "\ufffd")
			}
			if back != want {
				t.Errorf("appendString(%q) = %s, reads back as %q", s, got, back)
			}
			if c < 0x20 && bytes.IndexByte(got, byte(c)) >= 0 {
				t.Errorf("appendString(%q) = %q: raw control character", s, got)
			}
		}
	}
	for x := range 256 {
		w := uint64(0x6161616161616161)&^(0xff<<24) | uint64(x)<<24 // 'a's around it
		want := x < 0x20 || x == '"' || x == '\\' || x >= 0x80
		if got := needsEscape(w); got != want {
			t.Errorf("needsEscape with byte %#x = %v, want %v", x, got, want)
		}
	}
}
