package main

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// A hand decoder for the record that makes up nearly all of a trace: an fs
// record exactly as event.Writer writes it (its fields in its order, plain
// strings without escapes). It decodes such a line in about a microsecond,
// well under what event.Reader needs; any other line, and every malformed
// one, goes to event.Reader, which keeps the contract and its error
// messages in one place. fastfs_test.go and its fuzzer check that the fast
// path never disagrees with event.Reader.

// scan is a cursor over one line; any surprise makes the fast path decline.
type scan struct {
	b  []byte
	ok bool
	// Interned small strings (syscall, op and flag names): a trace repeats
	// a few dozen of them a million times.
	words map[string]string
}

// word is str for the small vocabulary, without an allocation per use.
func (s *scan) word() string {
	if s.words == nil {
		s.words = map[string]string{}
	}
	raw := s.strBytes()
	if !s.ok {
		return ""
	}
	if w, ok := s.words[string(raw)]; ok {
		return w
	}
	v := string(raw)
	if len(s.words) < 4096 { // a hostile stream cannot grow it forever
		s.words[v] = v
	}
	return v
}

func (s *scan) lit(l string) {
	if s.ok && len(s.b) >= len(l) && string(s.b[:len(l)]) == l {
		s.b = s.b[len(l):]
		return
	}
	s.ok = false
}

func (s *scan) peek(l string) bool {
	return s.ok && len(s.b) >= len(l) && string(s.b[:len(l)]) == l
}

// str reads a JSON string with no escapes and no control characters (the
// line was checked for UTF-8 already).
func (s *scan) str() string {
	b := s.strBytes()
	if !s.ok {
		return ""
	}
	return string(b)
}

func (s *scan) strBytes() []byte {
	if !s.ok || len(s.b) == 0 || s.b[0] != '"' {
		s.ok = false
		return nil
	}
	for i := 1; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '"':
			v := s.b[1:i]
			s.b = s.b[i+1:]
			return v
		case c == '\\' || c < 0x20:
			s.ok = false
			return nil
		}
	}
	s.ok = false
	return nil
}

// int reads a JSON integer that fits an int without question.
func (s *scan) int() int {
	i := 0
	if i < len(s.b) && s.b[i] == '-' {
		i++
	}
	start := i
	for i < len(s.b) && s.b[i] >= '0' && s.b[i] <= '9' {
		i++
	}
	digits := i - start
	if !s.ok || digits == 0 || digits > 18 || (digits > 1 && s.b[start] == '0') {
		s.ok = false
		return 0
	}
	n, err := strconv.Atoi(string(s.b[:i]))
	if err != nil {
		s.ok = false
		return 0
	}
	s.b = s.b[i:]
	return n
}

func (s *scan) bool() bool {
	switch {
	case s.peek("true"):
		s.b = s.b[4:]
		return true
	case s.peek("false"):
		s.b = s.b[5:]
		return false
	}
	s.ok = false
	return false
}

// parseFS decodes line when it is an fs record in event.Writer's exact
// shape and passes the checks event.Reader makes; otherwise ok is false and
// the caller must use event.Reader.
func (s *scan) parseFS(line []byte) (*event.FS, bool) {
	if !bytes.HasPrefix(line, []byte(`{"type":"fs","pid":`)) || bytes.IndexByte(line, 0) >= 0 || !utf8.Valid(line) {
		return nil, false
	}
	s.b, s.ok = line[len(`{"type":"fs","pid":`):], true
	r := &event.FS{}
	r.PID = s.int()
	s.lit(`,"syscall":`)
	r.Syscall = s.word()
	s.lit(`,"op":`)
	r.Op = s.word()
	s.lit(`,"path":`)
	r.Path = s.str()
	if s.peek(`,"raw":`) {
		s.lit(`,"raw":`)
		r.Raw = s.str()
	}
	if s.peek(`,"flags":[`) {
		s.lit(`,"flags":[`)
		for s.ok {
			r.Flags = append(r.Flags, s.word())
			if s.peek("]") {
				break
			}
			s.lit(",")
		}
		s.lit("]")
	}
	s.lit(`,"existed":`)
	r.Existed = s.bool()
	s.lit(`,"dir":`)
	r.Dir = s.bool()
	s.lit("}")
	if !s.ok || len(s.b) != 0 || !event.FSOps[r.Op] || event.CheckPath(r.Path) != "" {
		return nil, false
	}
	return r, true
}
