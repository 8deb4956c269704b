package event

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// A denial's path survives the stream byte for byte, as every path does,
// and the hand-written encoding says what encoding/json would for the rest.
func TestDenialRoundTrip(t *testing.T) {
	for _, d := range []*Denial{
		{PID: 42, Comm: "cat", Kind: "fs", Op: "read", Path: "/etc/shadow", Reason: "no grant gives read_file on /etc/shadow"},
		{PID: 7, Kind: "fs", Op: "create", Path: "/tmp/\xff\xfe-not-utf8"},
		{PID: 9, Comm: "curl", Kind: "net", Op: "connect", Proto: "tcp", Addr: "::1", Port: 8080, Reason: "r"},
	} {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		if err := w.Write(&Start{Schema: Schema, Argv: []string{"x"}, Cwd: "/", Kernel: "k", Arch: "x86_64", Time: "2026-01-01T00:00:00Z", Tool: "t"}); err != nil {
			t.Fatal(err)
		}
		if err := w.Write(d); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		line := strings.SplitN(buf.String(), "\n", 3)[1]
		if !json.Valid([]byte(line)) {
			t.Fatalf("invalid JSON %q", line)
		}
		r := NewReader(strings.NewReader(buf.String()), "test")
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
		got, err := r.Next()
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if !reflect.DeepEqual(got, d) {
			t.Fatalf("round trip of %q: got %+v, want %+v", line, got, d)
		}
		if d.Path == "/tmp/\xff\xfe-not-utf8" && !strings.Contains(line, `"path_b64"`) {
			t.Fatalf("non-UTF-8 path not in path_b64: %s", line)
		}
	}
}
