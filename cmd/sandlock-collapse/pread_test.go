package main

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

type seen struct {
	rec  event.Record
	line int
}

func sequential(in io.Reader) ([]seen, error) {
	rd := event.NewReader(in, "in")
	var out []seen
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, seen{rec, rd.Line()})
	}
}

func parallel(in io.Reader) ([]seen, error) {
	var out []seen
	err := readParallel(in, "in", func(rec event.Record, line int) error {
		out = append(out, seen{rec, line})
		return nil
	})
	return out, err
}

// TestParallelSameAsSequential: the parallel reader gives event.Reader's
// records, line numbers and errors, however the input falls into blocks.
func TestParallelSameAsSequential(t *testing.T) {
	defer func(n int) { blockSize = n }(blockSize)
	var many strings.Builder
	for i := 0; i < 500; i++ {
		fmt.Fprintf(&many, `{"type":"fs","pid":%d,"syscall":"openat","op":"read","path":"/a/%d","existed":true,"dir":false}`+"\n", i, i)
	}
	long := `{"type":"warning","msg":"` + strings.Repeat("y", event.MaxLine) + `"}` + "\n"
	streams := map[string]string{
		"good":             startLine + "\n" + many.String() + exitLine + "\n",
		"bad in the midst": startLine + "\n" + many.String() + "oops\n" + many.String(),
		"blank line":       many.String() + "\n" + many.String(),
		"no newline":       many.String() + exitLine,
		"too long":         many.String() + long + many.String(),
		"long but legal":   many.String() + `{"type":"warning","msg":"` + strings.Repeat("z", event.MaxLine-30) + `"}` + "\n" + exitLine + "\n",
		"empty":            "",
		"one line":         startLine + "\n",
	}
	for _, bs := range []int{1, 100, 4096, 1 << 20} {
		blockSize = bs
		for name, s := range streams {
			want, werr := sequential(strings.NewReader(s))
			got, gerr := parallel(strings.NewReader(s))
			if !reflect.DeepEqual(got, want) || fmt.Sprint(gerr) != fmt.Sprint(werr) {
				t.Errorf("block %d, %s: %d records, err %v; event.Reader: %d records, err %v", bs, name, len(got), gerr, len(want), werr)
			}
		}
	}
	// A failing reader, after some good lines.
	blockSize = 100
	in := io.MultiReader(strings.NewReader(many.String()[:1000]), iotest.ErrReader(errors.New("disk on fire")))
	_, err := parallel(in)
	var le *event.LineError
	if !errors.As(err, &le) || le.Msg != "disk on fire" {
		t.Errorf("read error: %v", err)
	}
	// The caller's error stops the reading.
	n := 0
	stop := errors.New("stop")
	err = readParallel(strings.NewReader(many.String()), "in", func(event.Record, int) error {
		n++
		if n == 10 {
			return stop
		}
		return nil
	})
	if err != stop || n != 10 {
		t.Errorf("stopped after %d records with %v", n, err)
	}
}
