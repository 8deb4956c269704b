package event

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Writer writes records as NDJSON. It is not safe for concurrent use.
// The encoder is hand-written (append into one reused buffer) because the
// tracer writes one line per notified syscall and encoding/json's reflection
// would dominate its cost.
type Writer struct {
	w   *bufio.Writer
	buf []byte
	n   int64
}

// NewWriter returns a Writer that buffers into w; call Flush when done.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 64<<10), buf: make([]byte, 0, 512)}
}

// Count is the number of records written so far.
func (w *Writer) Count() int64 { return w.n }

// Flush writes buffered records to the underlying writer.
func (w *Writer) Flush() error { return w.w.Flush() }

// Buffered is the number of bytes waiting for Flush.
func (w *Writer) Buffered() int { return w.w.Buffered() }

// Write encodes one record and its newline.
func (w *Writer) Write(r Record) error {
	b, err := AppendRecord(w.buf[:0], r)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	w.buf = b
	if _, err := w.w.Write(b); err != nil {
		return err
	}
	w.n++
	return nil
}

// Marshal encodes one record without the newline.
func Marshal(r Record) ([]byte, error) { return AppendRecord(nil, r) }

// AppendRecord appends the JSON encoding of r to b.
func AppendRecord(b []byte, r Record) ([]byte, error) {
	b = append(b, `{"type":`...)
	b = appendString(b, r.RecordType())
	switch v := r.(type) {
	case *Start:
		b = appendInt(b, "schema", int64(v.Schema))
		b = appendStrings(b, "argv", v.Argv)
		b = appendPathField(b, "cwd", v.Cwd)
		b = appendStr(b, "kernel", v.Kernel)
		b = appendStr(b, "arch", v.Arch)
		b = appendStr(b, "time", v.Time)
		b = appendInt(b, "uid", int64(v.UID))
		b = appendInt(b, "gid", int64(v.GID))
		b = appendStr(b, "tool", v.Tool)
	case *FS:
		b = appendInt(b, "pid", int64(v.PID))
		b = appendStr(b, "syscall", v.Syscall)
		b = appendStr(b, "op", v.Op)
		b = appendPathField(b, "path", v.Path)
		if v.Raw != "" {
			b = appendPathField(b, "raw", v.Raw)
		}
		if len(v.Flags) > 0 {
			b = appendStrings(b, "flags", v.Flags)
		}
		b = appendBool(b, "existed", v.Existed)
		b = appendBool(b, "dir", v.Dir)
	case *Exec:
		b = appendInt(b, "pid", int64(v.PID))
		b = appendPathField(b, "path", v.Path)
		b = appendStrings(b, "argv", v.Argv)
	case *Net:
		b = appendInt(b, "pid", int64(v.PID))
		b = appendStr(b, "syscall", v.Syscall)
		b = appendStr(b, "op", v.Op)
		b = appendStr(b, "proto", v.Proto)
		b = appendStr(b, "family", v.Family)
		b = appendStr(b, "addr", v.Addr)
		b = appendInt(b, "port", int64(v.Port))
		b = appendInt(b, "fd", int64(v.FD))
	case *Peak:
		b = appendInt(b, "mem_bytes", v.MemBytes)
		b = appendInt(b, "rss_bytes", v.RSSBytes)
		b = appendInt(b, "processes", int64(v.Processes))
		b = appendInt(b, "threads", int64(v.Threads))
		b = appendInt(b, "fd_max", int64(v.FDMax))
		if v.Sample {
			b = appendBool(b, "sample", true)
		}
	case *Warning:
		b = appendStr(b, "msg", v.Msg)
		if v.PID != 0 {
			b = appendInt(b, "pid", int64(v.PID))
		}
		if v.Path != "" {
			b = appendPathField(b, "path", v.Path)
		}
	case *Denial:
		// A denied path is a Linux path like any other: raw bytes that
		// need not be UTF-8, so it goes through appendPathField.
		b = appendInt(b, "pid", int64(v.PID))
		if v.Comm != "" {
			b = appendStr(b, "comm", v.Comm)
		}
		b = appendStr(b, "kind", v.Kind)
		b = appendStr(b, "op", v.Op)
		if v.Path != "" {
			b = appendPathField(b, "path", v.Path)
		}
		if v.Proto != "" {
			b = appendStr(b, "proto", v.Proto)
		}
		if v.Addr != "" {
			b = appendStr(b, "addr", v.Addr)
		}
		if v.Port != 0 {
			b = appendInt(b, "port", int64(v.Port))
		}
		if v.Reason != "" {
			b = appendStr(b, "reason", v.Reason)
		}
	case *Exit:
		b = appendExit(b, v)
	default:
		// The rare records go through encoding/json: exactness matters
		// there more than speed, and none carries a non-UTF-8 path.
		js, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("encode %s record: %w", r.RecordType(), err)
		}
		if len(js) > 2 {
			b = append(b, ',')
			b = append(b, js[1:len(js)-1]...)
		}
	}
	return append(b, '}'), nil
}

func appendExit(b []byte, v *Exit) []byte {
	b = append(b, `,"code":`...)
	if v.Code == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, int64(*v.Code), 10)
	}
	b = append(b, `,"signal":`...)
	if v.Signal == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, v.Signal)
	}
	b = appendBool(b, "timed_out", v.TimedOut)
	b = appendInt(b, "duration_ms", v.DurationMS)
	b = appendInt(b, "events", v.Events)
	return b
}

// MarshalJSON keeps "signal": null for an exit by status, as pipeline.md has it.
func (e *Exit) MarshalJSON() ([]byte, error) {
	b := appendExit([]byte{'{'}, e)
	b[1] = ' ' // appendExit starts with a comma
	return append(b, '}'), nil
}

func appendKey(b []byte, key string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

func appendStr(b []byte, key, s string) []byte {
	return appendString(appendKey(b, key), s)
}

func appendInt(b []byte, key string, n int64) []byte {
	return strconv.AppendInt(appendKey(b, key), n, 10)
}

func appendBool(b []byte, key string, v bool) []byte {
	return strconv.AppendBool(appendKey(b, key), v)
}

func appendStrings(b []byte, key string, ss []string) []byte {
	b = append(appendKey(b, key), '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendPathField writes key, or key_b64 when the bytes are not UTF-8.
func appendPathField(b []byte, key, p string) []byte {
	if utf8.ValidString(p) {
		return appendStr(b, key, p)
	}
	b = appendKey(b, key+"_b64")
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, []byte(p))
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does; paths never reach here invalid (appendPathField).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Paths are mostly plain ASCII: skip 8 bytes at a time until a
		// word holds something to escape or a non-ASCII byte. This loop
		// was two thirds of the tracer's encoding cost when it went byte
		// by byte.
		for i+8 <= len(s) && !needsEscape(load8(s, i)) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript readers.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func load8(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// needsEscape reports whether any of the 8 bytes in x is a control
// character, '"', '\\' or not ASCII. (x - 0x01..) & ^x & 0x80.. is non-zero
// exactly when some byte of x is zero ("Bit Twiddling Hacks", haszero), and
// (x - n*0x01..) & ^x & 0x80.. when some byte is below n, for n <= 128.
func needsEscape(x uint64) bool {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	ctl := (x - lsb*0x20) & ^x
	q := x ^ (lsb * '"')
	bs := x ^ (lsb * '\\')
	return (ctl|(q-lsb)&^q|(bs-lsb)&^bs|x)&msb != 0
}
