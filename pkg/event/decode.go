package event

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// MaxLine is the longest line a reader accepts. No record the tracer writes
// comes near it; a longer line is corrupt input, not data to buffer.
const MaxLine = 1 << 20

// LineError is a malformed line: "NAME:LINE: what is wrong".
type LineError struct {
	Name string // the input's name: a file name, or "stdin"
	Line int
	Msg  string
}

func (e *LineError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.Name, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, e.Msg)
}

// Reader reads records from an NDJSON stream, one at a time, holding only the
// current line. It checks each record against the contract: a known schema in
// headers, required fields present with the right types, paths absolute and
// clean, ops from the vocabulary.
type Reader struct {
	name string
	br   *bufio.Reader
	line int
	buf  []byte
	dec  LineDecoder
}

// NewReader returns a Reader; name is used in error messages.
func NewReader(r io.Reader, name string) *Reader {
	return &Reader{name: name, br: bufio.NewReaderSize(r, 64<<10)}
}

// Line is the number of the line last read.
func (r *Reader) Line() int { return r.line }

// Name is the input's name as given to NewReader.
func (r *Reader) Name() string { return r.name }

// Next returns the next record, io.EOF at the end, or a *LineError.
// A record of a type this package does not know comes back as *Unknown.
func (r *Reader) Next() (Record, error) {
	line, err := r.readLine()
	if err != nil {
		return nil, err
	}
	return r.dec.Decode(line, r.name, r.line)
}

// The messages for a line that is not a record at all.
var (
	msgLong  = fmt.Sprintf("line longer than %d bytes", MaxLine)
	msgNoEOL = "last line has no newline (truncated stream?)"
	msgBlank = "blank line"
)

// readLine reads the next line with its newline, for LineDecoder to judge:
// a last line without one comes as it is, an over-long one is cut after
// MaxLine+2 bytes (the rest comes as the next line).
func (r *Reader) readLine() ([]byte, error) {
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.buf = append(r.buf, chunk...)
		if len(r.buf) > MaxLine+1 {
			r.line++
			return r.buf, nil
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			if len(r.buf) == 0 {
				return nil, io.EOF
			}
			r.line++
			return r.buf, nil
		}
		if err != nil {
			return nil, &LineError{Name: r.name, Line: r.line, Msg: err.Error()}
		}
		r.line++
		return r.buf, nil
	}
}

// LineDecoder decodes records one line at a time, for a caller that splits
// the stream itself (sandlock-collapse decodes blocks of lines in
// parallel, one LineDecoder per goroutine); Reader decodes through one
// too, so both check and word errors alike.
type LineDecoder struct {
	fast fastState
}

// Decode decodes line, the stream's line number n of input name, given
// with its newline (a last line without one is an error, as for Reader).
// Records may keep references to short interned strings but never to
// line, which the caller may reuse.
func (d *LineDecoder) Decode(line []byte, name string, n int) (Record, error) {
	msg := ""
	switch {
	case len(line) > MaxLine+1:
		msg = msgLong
	case len(line) == 0 || line[len(line)-1] != '\n':
		msg = msgNoEOL
	case len(line) == 1:
		msg = msgBlank
	default:
		var rec Record
		if rec, msg = decodeLine(line[:len(line)-1], &d.fast); msg == "" {
			return rec, nil
		}
	}
	return nil, &LineError{Name: name, Line: n, Msg: msg}
}

// wire is every field of every record; pointers tell a missing field from a
// zero one.
type wire struct {
	Type    *string  `json:"type"`
	Schema  *int     `json:"schema"`
	Argv    []string `json:"argv"`
	Cwd     *string  `json:"cwd"`
	CwdB64  *string  `json:"cwd_b64"`
	Kernel  *string  `json:"kernel"`
	Arch    *string  `json:"arch"`
	Time    *string  `json:"time"`
	UID     *int     `json:"uid"`
	GID     *int     `json:"gid"`
	Tool    *string  `json:"tool"`
	PID     *int     `json:"pid"`
	Syscall *string  `json:"syscall"`
	Op      *string  `json:"op"`
	Path    *string  `json:"path"`
	PathB64 *string  `json:"path_b64"`
	Raw     *string  `json:"raw"`
	RawB64  *string  `json:"raw_b64"`
	Flags   []string `json:"flags"`
	Existed *bool    `json:"existed"`
	Dir     *bool    `json:"dir"`
	Proto   *string  `json:"proto"`
	Family  *string  `json:"family"`
	Addr    *string  `json:"addr"`
	Port    *int     `json:"port"`
	FD      *int     `json:"fd"`

	Counts map[string]int64 `json:"counts"`

	MemBytes  *int64 `json:"mem_bytes"`
	RSSBytes  *int64 `json:"rss_bytes"`
	Processes *int   `json:"processes"`
	Threads   *int   `json:"threads"`
	FDMax     *int   `json:"fd_max"`
	Sample    bool   `json:"sample"`

	Msg *string `json:"msg"`

	Code       json.RawMessage `json:"code"`
	Signal     json.RawMessage `json:"signal"`
	TimedOut   *bool           `json:"timed_out"`
	DurationMS *int64          `json:"duration_ms"`
	Events     *int64          `json:"events"`

	Runs     *int            `json:"runs"`
	Exit     json.RawMessage `json:"exit"`
	Complete *bool           `json:"complete"`
	Warnings []string        `json:"warnings"`

	Section  *string         `json:"section"`
	Key      *string         `json:"key"`
	Value    json.RawMessage `json:"value"`
	Why      *string         `json:"why"`
	Observed *int64          `json:"observed"`
	Examples []string        `json:"examples"`

	Comm   string `json:"comm"`
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

// decodeLine returns a record, or a message saying what is wrong. With fs
// it tries the fast scanner first (fastdecode.go); without, or when the
// scanner gives up, encoding/json decodes the line and words any error.
func decodeLine(line []byte, fs *fastState) (Record, string) {
	if bytes.IndexByte(line, 0) >= 0 {
		return nil, "NUL byte in line"
	}
	if !utf8.Valid(line) {
		return nil, "line is not valid UTF-8 (non-UTF-8 paths go in path_b64)"
	}
	// JSON allows whitespace around a value; only the first real byte
	// says whether this is an object.
	if first := bytes.TrimLeft(line, " \t\r"); len(first) == 0 || first[0] != '{' {
		if !json.Valid(line) {
			return nil, "not JSON"
		}
		return nil, "not a JSON object"
	}
	var w *wire
	if fs != nil && fs.decode(line) {
		w = &fs.w
	} else {
		w = new(wire)
		if err := json.Unmarshal(line, w); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) && te.Field != "" {
				return nil, fmt.Sprintf("field %q: want %s, got JSON %s", te.Field, te.Type, te.Value)
			}
			return nil, "not JSON: " + strings.TrimPrefix(err.Error(), "json: ")
		}
	}
	if w.Type == nil {
		return nil, `missing field "type"`
	}
	d := decoder{w: w}
	rec := d.record(*w.Type)
	if d.msg != "" {
		return nil, d.msg
	}
	return rec, ""
}

type decoder struct {
	w   *wire
	msg string
}

func (d *decoder) fail(format string, args ...any) {
	if d.msg == "" {
		d.msg = fmt.Sprintf(format, args...)
	}
}

func (d *decoder) need(ok bool, field string) {
	if !ok {
		d.fail("%s record: missing field %q", *d.w.Type, field)
	}
}

func (d *decoder) str(p *string, field string) string {
	d.need(p != nil, field)
	if p == nil {
		return ""
	}
	return *p
}

func (d *decoder) num(p *int, field string) int {
	d.need(p != nil, field)
	if p == nil {
		return 0
	}
	return *p
}

func (d *decoder) num64(p *int64, field string) int64 {
	d.need(p != nil, field)
	if p == nil {
		return 0
	}
	return *p
}

func (d *decoder) flag(p *bool, field string) bool {
	d.need(p != nil, field)
	if p == nil {
		return false
	}
	return *p
}

func (d *decoder) schema() int {
	s := d.num(d.w.Schema, "schema")
	if d.msg == "" && s != Schema {
		d.fail("unknown schema %d (this reader knows schema %d)", s, Schema)
	}
	return s
}

// path decodes field or field_b64 (exactly one of them), then checks it.
func (d *decoder) path(p, b64 *string, field string, required, absolute bool) string {
	var s string
	switch {
	case p != nil && b64 != nil:
		d.fail("%s record: both %q and %q", *d.w.Type, field, field+"_b64")
		return ""
	case p != nil:
		s = *p
	case b64 != nil:
		raw, err := base64.StdEncoding.DecodeString(*b64)
		if err != nil {
			d.fail("%s record: %s_b64 is not standard base64: %v", *d.w.Type, field, err)
			return ""
		}
		s = string(raw)
	default:
		if required {
			d.fail("%s record: missing field %q", *d.w.Type, field)
		}
		return ""
	}
	if absolute {
		if msg := CheckPath(s); msg != "" {
			d.fail("%s record: %s %q: %s", *d.w.Type, field, s, msg)
		}
	}
	return s
}

// CheckPath says what is wrong with p as a canonical absolute path, or "".
func CheckPath(p string) string {
	if p == "" {
		return "empty path"
	}
	if p[0] != '/' {
		return "not absolute"
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "NUL byte in path"
	}
	if p == "/" {
		return ""
	}
	if p[len(p)-1] == '/' {
		return "trailing slash"
	}
	// Component by component without strings.Split: the collapser checks
	// every path of every event, and the split allocated each time.
	for rest := p[1:]; ; {
		c, next, more := strings.Cut(rest, "/")
		switch c {
		case "":
			return "empty component (//)"
		case ".", "..":
			return fmt.Sprintf("%q component", c)
		}
		if !more {
			return ""
		}
		rest = next
	}
}

func (d *decoder) record(typ string) Record {
	w := d.w
	switch typ {
	case "start":
		r := &Start{
			Schema: d.schema(),
			Argv:   w.Argv,
			Cwd:    d.path(w.Cwd, w.CwdB64, "cwd", true, true),
			Kernel: d.str(w.Kernel, "kernel"),
			Arch:   d.str(w.Arch, "arch"),
			Time:   d.str(w.Time, "time"),
			UID:    d.num(w.UID, "uid"),
			GID:    d.num(w.GID, "gid"),
			Tool:   d.str(w.Tool, "tool"),
		}
		d.need(w.Argv != nil, "argv")
		if d.msg == "" && len(w.Argv) == 0 {
			d.fail("start record: empty argv")
		}
		return r
	case "fs":
		r := &FS{
			PID:     d.num(w.PID, "pid"),
			Syscall: d.str(w.Syscall, "syscall"),
			Op:      d.str(w.Op, "op"),
			Path:    d.path(w.Path, w.PathB64, "path", true, true),
			Raw:     d.path(w.Raw, w.RawB64, "raw", false, false),
			Flags:   w.Flags,
			Existed: d.flag(w.Existed, "existed"),
			Dir:     d.flag(w.Dir, "dir"),
		}
		if d.msg == "" && !FSOps[r.Op] {
			d.fail("fs record: unknown op %q", r.Op)
		}
		return r
	case "exec":
		r := &Exec{
			PID:  d.num(w.PID, "pid"),
			Path: d.path(w.Path, w.PathB64, "path", true, true),
			Argv: w.Argv,
		}
		return r
	case "net":
		r := &Net{
			PID:     d.num(w.PID, "pid"),
			Syscall: d.str(w.Syscall, "syscall"),
			Op:      d.str(w.Op, "op"),
			Proto:   d.str(w.Proto, "proto"),
			Family:  d.str(w.Family, "family"),
			Addr:    d.str(w.Addr, "addr"),
			Port:    d.num(w.Port, "port"),
			FD:      d.num(w.FD, "fd"),
		}
		switch {
		case d.msg != "":
		case !NetOps[r.Op]:
			d.fail("net record: unknown op %q", r.Op)
		case !NetProtos[r.Proto]:
			d.fail("net record: unknown proto %q", r.Proto)
		case !NetFamilies[r.Family]:
			d.fail("net record: unknown family %q", r.Family)
		case r.Port < 0 || r.Port > 65535:
			d.fail("net record: port %d out of range", r.Port)
		}
		return r
	case "syscalls":
		d.need(w.Counts != nil, "counts")
		return &Syscalls{Counts: w.Counts}
	case "peak":
		return &Peak{
			MemBytes:  d.num64(w.MemBytes, "mem_bytes"),
			RSSBytes:  d.num64(w.RSSBytes, "rss_bytes"),
			Processes: d.num(w.Processes, "processes"),
			Threads:   d.num(w.Threads, "threads"),
			FDMax:     d.num(w.FDMax, "fd_max"),
			Sample:    w.Sample,
		}
	case "warning":
		r := &Warning{Msg: d.str(w.Msg, "msg"), Path: d.path(w.Path, w.PathB64, "path", false, false)}
		if w.PID != nil {
			r.PID = *w.PID
		}
		return r
	case "exit":
		return d.exit(w)
	case "meta":
		r := &Meta{
			Schema:   d.schema(),
			Argv:     w.Argv,
			Cwd:      d.path(w.Cwd, w.CwdB64, "cwd", true, true),
			Kernel:   d.str(w.Kernel, "kernel"),
			Time:     d.str(w.Time, "time"),
			Runs:     d.num(w.Runs, "runs"),
			Complete: d.flag(w.Complete, "complete"),
			Warnings: w.Warnings,
		}
		d.need(w.Argv != nil, "argv")
		if len(w.Exit) > 0 && string(w.Exit) != "null" && d.msg == "" {
			var ew wire
			if err := json.Unmarshal(w.Exit, &ew); err != nil {
				d.fail("meta record: field \"exit\": %v", err)
			} else {
				t := "exit"
				ew.Type = &t
				sub := decoder{w: &ew}
				r.Exit = sub.exit(&ew)
				if sub.msg != "" {
					d.fail("meta record: field \"exit\": %s", sub.msg)
				}
			}
		}
		return r
	case "grant":
		r := &Grant{
			Section:  d.str(w.Section, "section"),
			Key:      d.str(w.Key, "key"),
			Why:      d.str(w.Why, "why"),
			Observed: d.num64(w.Observed, "observed"),
			Examples: w.Examples,
		}
		d.need(len(w.Value) > 0, "value")
		if d.msg == "" {
			v, err := decodeValue(w.Value)
			if err != "" {
				d.fail("grant record: field \"value\": %s", err)
			}
			r.Value = v
		}
		return r
	case "denial":
		r := &Denial{
			PID:    d.num(w.PID, "pid"),
			Comm:   w.Comm,
			Kind:   w.Kind,
			Op:     d.str(w.Op, "op"),
			Path:   d.path(w.Path, w.PathB64, "path", false, false),
			Reason: w.Reason,
		}
		if w.Proto != nil {
			r.Proto = *w.Proto
		}
		if w.Addr != nil {
			r.Addr = *w.Addr
		}
		if w.Port != nil {
			r.Port = *w.Port
		}
		return r
	}
	return &Unknown{Type: typ}
}

func (d *decoder) exit(w *wire) *Exit {
	r := &Exit{
		TimedOut:   d.flag(w.TimedOut, "timed_out"),
		DurationMS: d.num64(w.DurationMS, "duration_ms"),
		Events:     d.num64(w.Events, "events"),
	}
	d.need(len(w.Code) > 0, "code")
	d.need(len(w.Signal) > 0, "signal")
	if d.msg != "" {
		return r
	}
	if string(w.Code) != "null" {
		var c int
		if err := json.Unmarshal(w.Code, &c); err != nil {
			d.fail("exit record: field \"code\": want an integer or null")
			return r
		}
		r.Code = &c
	}
	if string(w.Signal) != "null" {
		if err := json.Unmarshal(w.Signal, &r.Signal); err != nil || r.Signal == "" {
			d.fail("exit record: field \"signal\": want a signal name or null")
			return r
		}
	}
	if r.Code == nil && r.Signal == "" {
		d.fail("exit record: neither code nor signal")
	}
	return r
}

// decodeValue turns a grant value into a string, an int64 or a []any of
// those, the only shapes a profile key takes.
func decodeValue(raw json.RawMessage) (any, string) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err.Error()
	}
	return normValue(v, true)
}

func normValue(v any, top bool) (any, string) {
	switch x := v.(type) {
	case string:
		return x, ""
	case json.Number:
		n, err := x.Int64()
		if err != nil {
			return nil, fmt.Sprintf("%s is not an integer", x)
		}
		return n, ""
	case bool:
		return x, ""
	case []any:
		if !top {
			return nil, "nested array"
		}
		out := make([]any, len(x))
		for i, e := range x {
			n, msg := normValue(e, false)
			if msg != "" {
				return nil, msg
			}
			out[i] = n
		}
		return out, ""
	case nil:
		return nil, "null"
	}
	return nil, fmt.Sprintf("unsupported value %T", v)
}
