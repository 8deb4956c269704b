package main

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// fastCorpus: lines the fast path must decode, and lines it must leave to
// event.Reader (escapes, reordered or extra fields, bad values).
var fastCorpus = []string{
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/usr/lib/x.so","existed":true,"dir":false}`,
	`{"type":"fs","pid":-1,"syscall":"openat","op":"create","path":"/tmp/a b","raw":"a b","flags":["O_WRONLY","O_CREAT"],"existed":false,"dir":false}`,
	`{"type":"fs","pid":0,"syscall":"getdents64","op":"readdir","path":"/","existed":true,"dir":true}`,
	`{"type":"fs","pid":12,"syscall":"openat","op":"read","path":"/caf` + "\u00e9" + `","flags":["O_PATH"],"existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/a\"b","existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/a\u0041","existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"opne","path":"/a","existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"a/b","existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/a/../b","existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/a/","existed":true,"dir":false}`,
	`{"type":"fs","pid":07,"syscall":"openat","op":"read","path":"/a","existed":true,"dir":false}`,
	`{"type":"fs","pid":99999999999999999999,"syscall":"openat","op":"read","path":"/a","existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/a","existed":true,"dir":false,"extra":1}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/a","existed":true,"dir":false} `,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/a","existed":1,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/a","flags":[],"existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/a","flags":["O_RDONLY",],"existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/a","existed":true}`,
	`{"type":"fs","pid":7,"op":"read","syscall":"openat","path":"/a","existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path_b64":"L2E=","existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/a` + "\t" + `b","existed":true,"dir":false}`,
	`{"type":"fs","pid":7,"syscall":"openat","op":"read","path":"/a","raw_b64":"/w==","existed":true,"dir":false}`,
	`{"type":"exit","code":0,"signal":null,"timed_out":false,"duration_ms":1,"events":1}`,
}

// slowDecode is what event.Reader makes of one line.
func slowDecode(line []byte) (event.Record, error) {
	return event.NewReader(bytes.NewReader(append(append([]byte{}, line...), '\n')), "x").Next()
}

func checkFast(t *testing.T, line []byte) bool {
	var sc scan
	fast, ok := sc.parseFS(line)
	if !ok {
		return false
	}
	slow, err := slowDecode(line)
	if err != nil {
		t.Fatalf("fast path accepted a line event.Reader rejects (%v): %q", err, line)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("fast path disagrees on %q:\nfast %#v\nslow %#v", line, fast, slow)
	}
	return true
}

func TestFastPathAgrees(t *testing.T) {
	accepted := 0
	for _, l := range fastCorpus {
		if checkFast(t, []byte(l)) {
			accepted++
		}
	}
	if accepted != 4 {
		t.Errorf("fast path took %d of the corpus lines, want the first 4", accepted)
	}
}

func FuzzFastPath(f *testing.F) {
	for _, l := range fastCorpus {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.IndexByte(line, '\n') >= 0 {
			return
		}
		checkFast(t, line)
	})
}
