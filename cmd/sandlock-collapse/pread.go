package main

import (
	"bufio"
	"bytes"
	"io"
	"runtime"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// Decoding a line costs more than folding its record, so the input is cut
// into blocks of whole lines that several goroutines decode (one
// event.LineDecoder each) while the caller folds the records in stream
// order. Memory stays bounded: at most a few
// blocks are in flight.

// blockSize is how much input one decoder takes at a time (a variable so
// tests can force many blocks).
var blockSize = 1 << 20

type block struct {
	data  []byte
	first int // line number of data's first line
	recs  []event.Record
	err   error
	done  chan struct{}
}

// readParallel calls fn for each record of r in order, with its line
// number. It stops at the first error (a *event.LineError for bad input,
// or fn's own error). Goroutines it started end before it returns, except
// the one blocked reading r, which ends when r does.
func readParallel(r io.Reader, name string, fn func(rec event.Record, line int) error) error {
	workers := min(max(runtime.GOMAXPROCS(0), 1), 4)
	stop := make(chan struct{})
	defer close(stop)
	jobs := make(chan *block, workers)
	order := make(chan *block, 2*workers)
	go split(r, name, blockSize, jobs, order, stop)
	for i := 0; i < workers; i++ {
		go func() {
			for b := range jobs {
				if b.err == nil {
					b.recs, b.err = decodeBlock(b.data, name, b.first)
				}
				close(b.done)
			}
		}()
	}
	for b := range order {
		<-b.done
		for i, rec := range b.recs {
			if err := fn(rec, b.first+i); err != nil {
				return err
			}
		}
		if b.err != nil {
			return b.err
		}
	}
	return nil
}

// split cuts r into blocks of whole lines and hands each to a decoder and,
// in order, to the caller.
func split(r io.Reader, name string, size int, jobs, order chan<- *block, stop <-chan struct{}) {
	defer close(order)
	defer close(jobs)
	br := bufio.NewReaderSize(r, 64<<10)
	line := 1
	send := func(b *block) bool {
		b.done = make(chan struct{})
		select {
		case jobs <- b:
		case <-stop:
			return false
		}
		select {
		case order <- b:
			return true
		case <-stop:
			return false
		}
	}
	for {
		data, n, last, err := nextBlock(br, size)
		if len(data) > 0 {
			if !send(&block{data: data, first: line}) {
				return
			}
			line += n
		}
		if err != nil {
			// The same message event.Reader gives for a failing reader.
			send(&block{first: line, err: &event.LineError{Name: name, Line: line - 1, Msg: err.Error()}})
			return
		}
		if last {
			return
		}
	}
}

// nextBlock reads whole lines up to about size bytes. It returns the
// number of lines, and last at the end of input or after a line too long
// for the contract (which the decoder then reports).
func nextBlock(br *bufio.Reader, size int) (data []byte, lines int, last bool, err error) {
	data = make([]byte, 0, size+4096)
	start := 0 // of the current line
	for {
		chunk, e := br.ReadSlice('\n')
		data = append(data, chunk...)
		switch {
		case e == nil:
			lines++
			start = len(data)
			if len(data) >= size {
				return data, lines, false, nil
			}
		case e == bufio.ErrBufferFull:
			if len(data)-start > event.MaxLine+1 {
				return data, lines + 1, true, nil
			}
		case e == io.EOF:
			if len(data) > start {
				lines++ // a last line without newline: the decoder says so
			}
			return data, lines, true, nil
		default:
			return data[:start], lines, true, e
		}
	}
}

// decodeBlock decodes the lines of data, the first being line first.
func decodeBlock(data []byte, name string, first int) ([]event.Record, error) {
	var dec event.LineDecoder
	recs := make([]event.Record, 0, len(data)/160)
	for line := first; len(data) > 0; line++ {
		l := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l = data[:i+1]
		}
		data = data[len(l):]
		rec, err := dec.Decode(l, name, line)
		if err != nil {
			return recs, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}
