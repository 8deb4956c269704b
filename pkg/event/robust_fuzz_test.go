package event

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// FuzzReader drives the stream reader (the one every stage uses for event
// and grant streams) with arbitrary bytes, many lines at a time: it never
// panics; it stops at the first problem with a *LineError naming the input
// and a line that exists; and every record it returns encodes to a line
// that reads back as the same record (what collapse reads is what the
// tracer meant, and a record survives any number of stages).
func FuzzReader(f *testing.F) {
	var all bytes.Buffer
	for _, line := range corpus(f) {
		f.Add(append(append([]byte{}, line...), '\n'))
		all.Write(line)
		all.WriteByte('\n')
	}
	f.Add(all.Bytes())
	for _, s := range []string{
		"", "\n", "\n\n", "{}", goodFS, goodFS + "\n" + goodFS,
		goodFS + "\n\x00\n", goodFS + "\n" + strings.Repeat(" ", 70000) + "\n",
		"{\"type\":\"fs\",\"path\":\"/a\xffb\"}\n",
		"{\"type\":\"warning\",\"msg\":\"m\",\"path_b64\":\"/w==\"}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		lines := bytes.Count(in, []byte("\n")) + 1
		r := NewReader(bytes.NewReader(in), "fuzz")
		for {
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				var le *LineError
				if !errors.As(err, &le) || le.Name != "fuzz" || le.Line < 1 || le.Line > lines {
					t.Fatalf("error %T %q: want a *LineError on a line of the input (1-%d)", err, err, lines)
				}
				if !strings.HasPrefix(err.Error(), "fuzz:") {
					t.Fatalf("error %q does not name the input", err)
				}
				return
			}
			b, err := Marshal(rec)
			if err != nil {
				t.Fatalf("record %#v read but cannot be written: %v", rec, err)
			}
			back, err := NewReader(bytes.NewReader(append(b, '\n')), "again").Next()
			if err != nil {
				t.Fatalf("record %#v written as %s does not read back: %v", rec, b, err)
			}
			// Equal as records, or equal but for a null list read as nil and
			// written as [] (the encoding is then a fixed point).
			b2, _ := Marshal(back)
			if !reflect.DeepEqual(rec, back) && !bytes.Equal(b, b2) {
				t.Fatalf("round trip changed the record:\n read %#v\nagain %#v\n line %s", rec, back, b)
			}
		}
	})
}
