package event

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// lineCorpus: lines in a writer's exact shape, and lines that are not
// (escapes, reordered or extra fields, bad values, other records, lines
// that are not records at all).
var lineCorpus = []string{
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/usr/lib/x.so","existed":true,"dir":false}`,
	`{"type":"fs","pid":-1,"syscall":"openat","op":"create","path":"/tmp/a b","raw":"a b","flags":["O_WRONLY","O_CREAT"],"existed":false,"dir":false}`,
	`{"type":"fs","pid":0,"syscall":"getdents64","op":"readdir","path":"/","existed":true,"dir":true}`,
	`{"type":"fs","pid":12,"syscall":"openat","op":"read","path":"/caf` + "\u00e9" + `","flags":["O_PATH"],"existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/a\"b","existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/a\u0041","existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"opne","path":"/a","existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"a/b","existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/a/../b","existed":true,"dir":false}`,
	`{"type":"fs","pid":07,"syscall":"openat","op":"read","path":"/a","existed":true,"dir":false}`,
	`{"type":"fs","pid":99999999999999999999,"syscall":"openat","op":"read","path":"/a","existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/a","existed":true,"dir":false,"extra":1}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/a","existed":1,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/a","flags":["O_RDONLY",],"existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/a","existed":true}`,
	`{"type":"fs","pid":7,"op":"read","syscall":"openat","path":"/a","existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path_b64":"L2E=","existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/a","raw_b64":"/w==","existed":true,"dir":false}`,
	`{"type":"exit","code":0,"signal":null,"timed_out":false,"duration_ms":1,"events":1}`,
	`{"type":"start","schema":1,"argv":["x"],"cwd":"/","kernel":"k","arch":"x86_64","time":"t","uid":0,"gid":0,"tool":"t"}`,
	`{"type":"start","schema":9,"argv":["x"]}`,
	`[1,2]`, `not json`, `{}`, `{"type":"future"}`, " \t", "a\x00b", "\xff",
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/` + strings.Repeat("a", MaxLine) + `","existed":true,"dir":false}`,
}

// lineAgree checks that LineDecoder and Reader say the same of data, a stream
// of one line (with or without its newline).
func lineAgree(t *testing.T, data []byte) {
	t.Helper()
	want, wantErr := NewReader(bytes.NewReader(data), "in").Next()
	var d LineDecoder
	got, gotErr := d.Decode(data, "in", 1)
	if len(data) == 0 {
		return // Reader: io.EOF; a caller never hands LineDecoder nothing but a line
	}
	if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
		t.Fatalf("%q: LineDecoder error %v, Reader %v", data, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: LineDecoder %#v, Reader %#v", data, got, want)
	}
}

func TestLineDecoderAgrees(t *testing.T) {
	for _, l := range lineCorpus {
		lineAgree(t, []byte(l+"\n"))
		lineAgree(t, []byte(l)) // a last line without its newline
	}
	lineAgree(t, []byte("\n"))
}

// TestLineDecoderReuse: one LineDecoder over many lines gives what a fresh
// one gives for each (its scratch space carries nothing over).
func TestLineDecoderReuse(t *testing.T) {
	var d LineDecoder
	for i, l := range lineCorpus {
		got, gotErr := d.Decode([]byte(l+"\n"), "in", i+1)
		var fresh LineDecoder
		want, wantErr := fresh.Decode([]byte(l+"\n"), "in", i+1)
		if !reflect.DeepEqual(got, want) || (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("line %d %q: reused %#v %v, fresh %#v %v", i+1, l, got, gotErr, want, wantErr)
		}
	}
}

func FuzzLineDecoder(f *testing.F) {
	for _, l := range lineCorpus {
		f.Add([]byte(l + "\n"))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i+1]
		}
		lineAgree(t, line)
	})
}
