package event

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// A hand-written scanner for the common records. encoding/json's reflection
// cost about 6 µs a line, which capped sandlock-collapse near 160,000
// events/s; this path fills the same wire struct without reflection and
// without an allocation per field. It handles flat objects of strings,
// integers, booleans, null and arrays of strings, which is every fs, exec,
// net, start, peak, warning and exit record a writer of this package makes.
//
// It never decides that a line is bad: on anything it does not handle
// (nested objects, a surrogate escape, a type mismatch, a key that differs
// from a field only by case, a syntax error) it gives up, and the caller
// decodes the line with encoding/json, which then also words the error. So
// the two paths cannot disagree on what a line means, only on speed; the
// tests feed both the same lines to prove it.

// fastState is the scratch space one Reader reuses for every line.
type fastState struct {
	w    wire
	vals struct {
		typ, cwd, cwdB64, kernel, arch, time, tool, syscall, op, path, pathB64,
		raw, rawB64, proto, family, addr, msg, section, key, why string
		schema, uid, gid, pid, port, fd, processes, threads, fdMax, runs int
		memBytes, rssBytes, durationMS, events, observed                 int64
		existed, dir, timedOut, complete                                 bool
	}
	// intern keeps one copy of the short strings that repeat on every line
	// (types, syscalls, ops, flags, addresses), so they cost no allocation.
	intern map[string]string
	esc    []byte
}

const (
	maxInterned    = 4096
	maxInternedLen = 48
)

type scan struct {
	s   *fastState
	b   []byte
	i   int
	bad bool
}

// decode fills s.w from line and reports whether it could.
func (s *fastState) decode(line []byte) bool {
	s.w = wire{}
	sc := scan{s: s, b: line}
	sc.ws()
	if !sc.lit('{') {
		return false
	}
	sc.ws()
	if sc.peek() == '}' {
		sc.i++
	} else {
		for !sc.bad {
			key, ok := sc.rawString()
			if !ok {
				return false
			}
			sc.ws()
			if !sc.lit(':') {
				return false
			}
			sc.ws()
			sc.field(key)
			sc.ws()
			if sc.peek() == ',' {
				sc.i++
				sc.ws()
				continue
			}
			if !sc.lit('}') {
				return false
			}
			break
		}
	}
	sc.ws()
	return !sc.bad && sc.i == len(sc.b)
}

func (sc *scan) peek() byte {
	if sc.i < len(sc.b) {
		return sc.b[sc.i]
	}
	return 0
}

func (sc *scan) ws() {
	for sc.i < len(sc.b) {
		switch sc.b[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

func (sc *scan) lit(c byte) bool {
	if sc.peek() != c {
		sc.bad = true
		return false
	}
	sc.i++
	return true
}

func (sc *scan) word(w string) bool {
	if len(sc.b)-sc.i < len(w) {
		sc.bad = true
		return false
	}
	for j := 0; j < len(w); j++ {
		if sc.b[sc.i+j] != w[j] {
			sc.bad = true
			return false
		}
	}
	sc.i += len(w)
	return true
}

// rawString reads a JSON string and returns its bytes unescaped: a slice of
// the line when it has no escapes, else of s.esc (valid until the next call).
func (sc *scan) rawString() ([]byte, bool) {
	if !sc.lit('"') {
		return nil, false
	}
	start := sc.i
	for sc.i < len(sc.b) {
		c := sc.b[sc.i]
		switch {
		case c == '"':
			sc.i++
			return sc.b[start : sc.i-1], true
		case c == '\\':
			return sc.escaped(start)
		case c < 0x20:
			sc.bad = true
			return nil, false
		}
		sc.i++
	}
	sc.bad = true
	return nil, false
}

func (sc *scan) escaped(start int) ([]byte, bool) {
	out := append(sc.s.esc[:0], sc.b[start:sc.i]...)
	for sc.i < len(sc.b) {
		c := sc.b[sc.i]
		switch {
		case c == '"':
			sc.i++
			sc.s.esc = out
			return out, true
		case c < 0x20:
			sc.bad = true
			return nil, false
		case c != '\\':
			out = append(out, c)
			sc.i++
			continue
		}
		if sc.i+1 >= len(sc.b) {
			break
		}
		e := sc.b[sc.i+1]
		sc.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if sc.i+4 > len(sc.b) {
				sc.bad = true
				return nil, false
			}
			var r rune
			for _, h := range sc.b[sc.i : sc.i+4] {
				r <<= 4
				switch {
				case '0' <= h && h <= '9':
					r |= rune(h - '0')
				case 'a' <= h && h <= 'f':
					r |= rune(h - 'a' + 10)
				case 'A' <= h && h <= 'F':
					r |= rune(h - 'A' + 10)
				default:
					sc.bad = true
					return nil, false
				}
			}
			// Surrogate pairs (and lone halves, which encoding/json turns
			// into U+FFFD) are left to encoding/json.
			if 0xd800 <= r && r < 0xe000 {
				sc.bad = true
				return nil, false
			}
			out = utf8.AppendRune(out, r)
			sc.i += 4
		default:
			sc.bad = true
			return nil, false
		}
	}
	sc.bad = true
	return nil, false
}

func (sc *scan) isNull() bool {
	if sc.peek() == 'n' {
		return sc.word("null")
	}
	return false
}

// str reads a string or null into *dst, the field's pointer.
func (sc *scan) str(dst **string, store *string, intern bool) {
	if sc.isNull() {
		*dst = nil
		return
	}
	b, ok := sc.rawString()
	if !ok {
		return
	}
	if intern {
		*store = sc.s.internBytes(b)
	} else {
		*store = string(b)
	}
	*dst = store
}

// plainStr reads a string or null into a non-pointer field (null leaves it).
func (sc *scan) plainStr(dst *string) {
	if sc.isNull() {
		return
	}
	if b, ok := sc.rawString(); ok {
		*dst = sc.s.internBytes(b)
	}
}

func (s *fastState) internBytes(b []byte) string {
	if len(b) > maxInternedLen {
		return string(b)
	}
	if v, ok := s.intern[string(b)]; ok {
		return v
	}
	v := string(b)
	if s.intern == nil {
		s.intern = make(map[string]string, 64)
	}
	if len(s.intern) < maxInterned {
		s.intern[v] = v
	}
	return v
}

// integer reads an integer literal; fractions, exponents and overflow go to
// encoding/json, whose error message names the field.
func (sc *scan) integer() (int64, bool) {
	neg := false
	if sc.peek() == '-' {
		neg = true
		sc.i++
	}
	start := sc.i
	var n uint64
	for sc.i < len(sc.b) && '0' <= sc.b[sc.i] && sc.b[sc.i] <= '9' {
		if n > (1<<63)/10 {
			sc.bad = true
			return 0, false
		}
		n = n*10 + uint64(sc.b[sc.i]-'0')
		sc.i++
	}
	digits := sc.i - start
	switch {
	case digits == 0, digits > 1 && sc.b[start] == '0':
		sc.bad = true
		return 0, false
	case sc.i < len(sc.b) && (sc.b[sc.i] == '.' || sc.b[sc.i] == 'e' || sc.b[sc.i] == 'E'):
		sc.bad = true
		return 0, false
	case neg && n > 1<<63, !neg && n > 1<<63-1:
		sc.bad = true
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

func (sc *scan) num(dst **int, store *int) {
	if sc.isNull() {
		*dst = nil
		return
	}
	if n, ok := sc.integer(); ok {
		if int64(int(n)) != n {
			sc.bad = true // overflows int on this platform
			return
		}
		*store = int(n)
		*dst = store
	}
}

func (sc *scan) num64(dst **int64, store *int64) {
	if sc.isNull() {
		*dst = nil
		return
	}
	if n, ok := sc.integer(); ok {
		*store = n
		*dst = store
	}
}

func (sc *scan) boolean() (v, null bool) {
	switch sc.peek() {
	case 't':
		return sc.word("true"), false
	case 'f':
		sc.word("false")
		return false, false
	case 'n':
		sc.word("null")
		return false, true
	}
	sc.bad = true
	return false, false
}

func (sc *scan) flag(dst **bool, store *bool) {
	v, null := sc.boolean()
	if null {
		*dst = nil
		return
	}
	*store = v
	*dst = store
}

// strings reads an array of strings or null. An empty array is an empty
// non-nil slice, as encoding/json makes it ("argv":[] is present but empty).
func (sc *scan) strings(dst *[]string) {
	if sc.isNull() {
		*dst = nil
		return
	}
	if !sc.lit('[') {
		return
	}
	out := make([]string, 0, 4)
	sc.ws()
	if sc.peek() == ']' {
		sc.i++
		*dst = out
		return
	}
	for !sc.bad {
		if sc.peek() != '"' {
			// null elements and other types: encoding/json's business.
			sc.bad = true
			return
		}
		b, ok := sc.rawString()
		if !ok {
			return
		}
		out = append(out, sc.s.internBytes(b))
		sc.ws()
		if sc.peek() == ',' {
			sc.i++
			sc.ws()
			continue
		}
		if sc.lit(']') {
			*dst = out
		}
		return
	}
}

// raw keeps a scalar's JSON text for the fields decoded later (exit code
// and signal).
func (sc *scan) raw(dst *json.RawMessage) {
	start := sc.i
	switch c := sc.peek(); {
	case c == 'n':
		sc.word("null")
	case c == '"':
		sc.rawString()
	case c == '-' || '0' <= c && c <= '9':
		sc.integer()
	default:
		sc.bad = true
	}
	if !sc.bad {
		*dst = append([]byte(nil), sc.b[start:sc.i]...)
	}
}

func (sc *scan) field(key []byte) {
	w, v := &sc.s.w, &sc.s.vals
	switch string(key) {
	case "type":
		sc.str(&w.Type, &v.typ, true)
	case "schema":
		sc.num(&w.Schema, &v.schema)
	case "argv":
		sc.strings(&w.Argv)
	case "cwd":
		sc.str(&w.Cwd, &v.cwd, false)
	case "cwd_b64":
		sc.str(&w.CwdB64, &v.cwdB64, false)
	case "kernel":
		sc.str(&w.Kernel, &v.kernel, true)
	case "arch":
		sc.str(&w.Arch, &v.arch, true)
	case "time":
		sc.str(&w.Time, &v.time, false)
	case "uid":
		sc.num(&w.UID, &v.uid)
	case "gid":
		sc.num(&w.GID, &v.gid)
	case "tool":
		sc.str(&w.Tool, &v.tool, true)
	case "pid":
		sc.num(&w.PID, &v.pid)
	case "syscall":
		sc.str(&w.Syscall, &v.syscall, true)
	case "op":
		sc.str(&w.Op, &v.op, true)
	case "path":
		sc.str(&w.Path, &v.path, false)
	case "path_b64":
		sc.str(&w.PathB64, &v.pathB64, false)
	case "raw":
		sc.str(&w.Raw, &v.raw, false)
	case "raw_b64":
		sc.str(&w.RawB64, &v.rawB64, false)
	case "flags":
		sc.strings(&w.Flags)
	case "existed":
		sc.flag(&w.Existed, &v.existed)
	case "dir":
		sc.flag(&w.Dir, &v.dir)
	case "proto":
		sc.str(&w.Proto, &v.proto, true)
	case "family":
		sc.str(&w.Family, &v.family, true)
	case "addr":
		sc.str(&w.Addr, &v.addr, true)
	case "port":
		sc.num(&w.Port, &v.port)
	case "fd":
		sc.num(&w.FD, &v.fd)
	case "mem_bytes":
		sc.num64(&w.MemBytes, &v.memBytes)
	case "rss_bytes":
		sc.num64(&w.RSSBytes, &v.rssBytes)
	case "processes":
		sc.num(&w.Processes, &v.processes)
	case "threads":
		sc.num(&w.Threads, &v.threads)
	case "fd_max":
		sc.num(&w.FDMax, &v.fdMax)
	case "sample":
		if b, null := sc.boolean(); !null {
			w.Sample = b
		}
	case "msg":
		sc.str(&w.Msg, &v.msg, false)
	case "code":
		sc.raw(&w.Code)
	case "signal":
		sc.raw(&w.Signal)
	case "timed_out":
		sc.flag(&w.TimedOut, &v.timedOut)
	case "duration_ms":
		sc.num64(&w.DurationMS, &v.durationMS)
	case "events":
		sc.num64(&w.Events, &v.events)
	case "runs":
		sc.num(&w.Runs, &v.runs)
	case "complete":
		sc.flag(&w.Complete, &v.complete)
	case "warnings":
		sc.strings(&w.Warnings)
	case "section":
		sc.str(&w.Section, &v.section, true)
	case "key":
		sc.str(&w.Key, &v.key, true)
	case "why":
		sc.str(&w.Why, &v.why, false)
	case "observed":
		sc.num64(&w.Observed, &v.observed)
	case "examples":
		sc.strings(&w.Examples)
	case "comm":
		sc.plainStr(&w.Comm)
	case "kind":
		sc.plainStr(&w.Kind)
	case "reason":
		sc.plainStr(&w.Reason)
	case "counts", "exit", "value":
		// Objects and free-form values: rare records, left to encoding/json.
		sc.bad = true
	default:
		// encoding/json matches keys case-insensitively: a key that folds
		// to a field name is a field, and its rules are encoding/json's.
		if foldsToField(key) {
			sc.bad = true
			return
		}
		sc.skip(0)
	}
}

var fieldNames = []string{
	"type", "schema", "argv", "cwd", "cwd_b64", "kernel", "arch", "time", "uid", "gid", "tool",
	"pid", "syscall", "op", "path", "path_b64", "raw", "raw_b64", "flags", "existed", "dir",
	"proto", "family", "addr", "port", "fd", "counts", "mem_bytes", "rss_bytes", "processes",
	"threads", "fd_max", "sample", "msg", "code", "signal", "timed_out", "duration_ms", "events",
	"runs", "exit", "complete", "warnings", "section", "key", "value", "why", "observed",
	"examples", "comm", "kind", "reason",
}

func foldsToField(key []byte) bool {
	for _, f := range fieldNames {
		if strings.EqualFold(string(key), f) {
			return true
		}
	}
	return false
}

// skip validates and skips any JSON value (an unknown field's), so that a
// syntax error anywhere on the line still reaches encoding/json.
func (sc *scan) skip(depth int) {
	if depth > 64 {
		sc.bad = true
		return
	}
	switch c := sc.peek(); {
	case c == '"':
		sc.rawString()
	case c == 'n':
		sc.word("null")
	case c == 't':
		sc.word("true")
	case c == 'f':
		sc.word("false")
	case c == '-' || '0' <= c && c <= '9':
		sc.number()
	case c == '[':
		sc.i++
		sc.ws()
		if sc.peek() == ']' {
			sc.i++
			return
		}
		for !sc.bad {
			sc.skip(depth + 1)
			sc.ws()
			if sc.peek() == ',' {
				sc.i++
				sc.ws()
				continue
			}
			sc.lit(']')
			return
		}
	case c == '{':
		sc.i++
		sc.ws()
		if sc.peek() == '}' {
			sc.i++
			return
		}
		for !sc.bad {
			if _, ok := sc.rawString(); !ok {
				return
			}
			sc.ws()
			if !sc.lit(':') {
				return
			}
			sc.ws()
			sc.skip(depth + 1)
			sc.ws()
			if sc.peek() == ',' {
				sc.i++
				sc.ws()
				continue
			}
			sc.lit('}')
			return
		}
	default:
		sc.bad = true
	}
}

// number skips a JSON number of any form.
func (sc *scan) number() {
	digits := func() int {
		n := 0
		for sc.i < len(sc.b) && '0' <= sc.b[sc.i] && sc.b[sc.i] <= '9' {
			sc.i++
			n++
		}
		return n
	}
	if sc.peek() == '-' {
		sc.i++
	}
	start := sc.i
	n := digits()
	if n == 0 || n > 1 && sc.b[start] == '0' {
		sc.bad = true
		return
	}
	if sc.peek() == '.' {
		sc.i++
		if digits() == 0 {
			sc.bad = true
			return
		}
	}
	if c := sc.peek(); c == 'e' || c == 'E' {
		sc.i++
		if c := sc.peek(); c == '+' || c == '-' {
			sc.i++
		}
		if digits() == 0 {
			sc.bad = true
		}
	}
}
