package profile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// MaxSize is the largest profile the decoder reads. A real profile is a few
// KiB; anything near this is not a profile, and reading it whole would let a
// hostile input take the memory.
const MaxSize = 4 << 20

// Error is a problem with a profile, pointing at the input: "FILE:LINE: KEY:
// what is wrong". Line is 0 and Key "" when they do not apply; File is ""
// for a profile built in code.
type Error struct {
	File string
	Line int
	Key  string // dotted, as TOML writes it: limits.memory
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// source is the text a profile came from, kept to find the line of a key
// when a later check (Validate) fails.
type source struct {
	name string
	data string
}

// DecodeFile reads and strictly decodes the profile at path; errors name
// the path.
func DecodeFile(path string) (*Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return DecodeReader(f, path)
}

// DecodeReader reads all of r (at most MaxSize bytes) and strictly decodes
// it; name is used in error messages ("stdin" for standard input).
func DecodeReader(r io.Reader, name string) (*Profile, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, &Error{File: name, Msg: err.Error()}
	}
	if len(data) > MaxSize {
		return nil, &Error{File: name, Msg: fmt.Sprintf("larger than %d bytes: not a profile", MaxSize)}
	}
	return Decode(data, name)
}

// Decode parses data as a sandlock profile as strictly as sandlock loads
// one: TOML syntax errors (duplicate keys included), unknown sections,
// unknown keys and values of the wrong type or range are errors (*Error)
// naming the file, the line and the key. When several keys are wrong, the
// one nearest the top of the file is reported.
//
// Decode checks types and value grammar (byte sizes, port specs); it does
// not check that paths are absolute or exist: Validate does.
func Decode(data []byte, name string) (*Profile, error) {
	if len(data) > MaxSize {
		return nil, &Error{File: name, Msg: fmt.Sprintf("larger than %d bytes: not a profile", MaxSize)}
	}
	src := &source{name: name, data: string(data)}
	var doc map[string]any
	if _, err := toml.Decode(src.data, &doc); err != nil {
		return nil, src.tomlError(err)
	}
	p := &Profile{Header: parseHeader(data), src: src}
	d := decoder{src: src, p: p}
	// Sorted so that which error is found does not depend on map order; the
	// reported one is then the earliest by line.
	for _, sec := range sortedKeys(doc) {
		d.section(sec, doc[sec])
	}
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool {
			a, b := d.errs[i], d.errs[j]
			if (a.Line == 0) != (b.Line == 0) {
				return b.Line == 0
			}
			return a.Line < b.Line
		})
		return nil, d.errs[0]
	}
	// sandlock maps uid and gid to one user-namespace identity and refuses
	// a profile that sets only one of them.
	_, uid := p.Program.Kept["uid"]
	_, gid := p.Program.Kept["gid"]
	if uid != gid {
		k := []string{"program", "uid"}
		if gid {
			k[1] = "gid"
		}
		return nil, &Error{File: name, Line: src.line(k...), Key: "program", Msg: "uid and gid must both be set, or neither"}
	}
	return p, nil
}

// tomlError turns an error of the TOML parser into an *Error.
func (s *source) tomlError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := pe.Message
		if pe.LastKey != "" && !strings.Contains(msg, pe.LastKey) {
			msg += fmt.Sprintf(" (after key %s)", pe.LastKey)
		}
		return &Error{File: s.name, Line: pe.Position.Line, Msg: "TOML syntax: " + msg}
	}
	return &Error{File: s.name, Msg: "TOML: " + err.Error()}
}

const maxErrors = 16

type decoder struct {
	src  *source
	p    *Profile
	errs []*Error
}

func (d *decoder) fail(key []string, format string, args ...any) {
	d.failAt(key, nil, format, args...)
}

// failAt reports an error about key whose value is v. A table made by
// dotted keys (allow.x = 1) has no line of its own: the line is then that
// of its first key.
func (d *decoder) failAt(key []string, v any, format string, args ...any) {
	// Finding a line costs a parse of the file; a hostile file with
	// thousands of bad keys must not cost thousands of parses. The first
	// maxErrors (in key order) are enough to report the earliest one.
	if len(d.errs) >= maxErrors {
		return
	}
	line := d.src.probeLine(key)
	if line == 0 {
		lineKey := key
		for {
			tbl, ok := v.(map[string]any)
			if !ok || len(tbl) == 0 {
				break
			}
			first := sortedKeys(tbl)[0]
			lineKey = append(append([]string(nil), lineKey...), first)
			v = tbl[first]
		}
		line = d.src.line(lineKey...)
	}
	d.errs = append(d.errs, &Error{
		File: d.src.name,
		Line: line,
		Key:  toml.Key(key).String(),
		Msg:  fmt.Sprintf(format, args...),
	})
}

func (d *decoder) section(sec string, v any) {
	spec := findSection(sec)
	if spec == nil {
		d.fail([]string{sec}, "unknown section [%s]: sandlock 0.8.6 knows [%s]", sec, strings.Join(Sections(), "], ["))
		return
	}
	tbl, ok := v.(map[string]any)
	if !ok {
		d.failAt([]string{sec}, v, "want a table ([%s]), got %s", sec, describe(v))
		return
	}
	for _, k := range sortedKeys(tbl) {
		ks := spec.key(k)
		key := []string{sec, k}
		if ks == nil {
			d.fail(key, "unknown key in [%s]: sandlock 0.8.6 knows %s", sec, strings.Join(Keys(sec), ", "))
			continue
		}
		norm, msg := check(ks.kind, tbl[k])
		if msg != "" {
			d.failAt(key, tbl[k], "%s", msg)
			continue
		}
		d.p.set(sec, ks, norm)
	}
}

// set stores a checked value in its typed field, or in the section's Kept.
func (p *Profile) set(sec string, ks *keySpec, v any) {
	if !ks.typed {
		(*p.kept(sec, true))[ks.name] = v
		return
	}
	switch x := v.(type) {
	case []string:
		*p.strings(sec, ks.name) = x
	case []Port:
		*p.ports(sec, ks.name) = x
	case string:
		*p.scalar(sec, ks.name) = x
	case int64:
		*p.count(sec, ks.name) = x
	default:
		panic(fmt.Sprintf("profile: no typed field for %s.%s (%T)", sec, ks.name, v))
	}
}

// want says what a kind of key takes, for error messages.
func want(k kind) string {
	switch k {
	case kString:
		return "a string"
	case kPath:
		return "a path (a string)"
	case kTime:
		return "an RFC 3339 time string"
	case kBranch:
		return `"commit", "abort" or "keep"`
	case kSize, kMemory:
		return `a byte-size string like "512M"`
	case kStrings, kArgs:
		return "an array of strings"
	case kPaths:
		return "an array of paths (strings)"
	case kPorts:
		return `an array of ports (integers 1-65535, or strings like "9000-9005" or "*")`
	case kU16s:
		return "an array of integers 0-65535"
	case kU32s:
		return "an array of integers 0-4294967295"
	case kBool:
		return "a boolean (true or false)"
	case kU8pct:
		return "an integer 0-100"
	case kU32:
		return "an integer 0-4294967295"
	case kU64:
		return "a non-negative integer"
	case kCount:
		return "an integer 1-4294967295"
	case kEnv:
		return "a table of strings"
	}
	return "?"
}

// check tests v against kind k. It returns the value to store (typed for
// typed keys: []string, []Port, string, int64; otherwise v itself) or a
// message saying what is wrong.
func check(k kind, v any) (any, string) {
	bad := func() (any, string) { return nil, fmt.Sprintf("want %s, got %s", want(k), describe(v)) }
	switch k {
	case kString, kPath, kTime, kBranch, kSize, kMemory:
		s, ok := v.(string)
		if !ok {
			return bad()
		}
		if msg := checkString(k, s); msg != "" {
			return nil, msg
		}
		return s, ""
	case kStrings, kPaths, kArgs:
		arr, ok := v.([]any)
		if !ok {
			return bad()
		}
		out := make([]string, 0, len(arr))
		for i, e := range arr {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Sprintf("element %d: want a string, got %s", i+1, describe(e))
			}
			if k == kPaths {
				if msg := checkString(kPath, s); msg != "" {
					return nil, fmt.Sprintf("element %d: %s", i+1, msg)
				}
			}
			out = append(out, s)
		}
		return out, ""
	case kPorts:
		arr, ok := v.([]any)
		if !ok {
			return bad()
		}
		out := make([]Port, 0, len(arr))
		for i, e := range arr {
			switch x := e.(type) {
			case int64:
				if x < 1 || x > 65535 {
					return nil, fmt.Sprintf("element %d: port %d out of range 1-65535", i+1, x)
				}
				out = append(out, PortNum(int(x)))
			case string:
				if _, err := ParsePortSpec(x); err != nil {
					return nil, fmt.Sprintf("element %d: %v", i+1, err)
				}
				out = append(out, PortSpec(x))
			default:
				return nil, fmt.Sprintf("element %d: want a port (integer 1-65535) or a port-spec string, got %s", i+1, describe(e))
			}
		}
		return out, ""
	case kU16s, kU32s:
		arr, ok := v.([]any)
		if !ok {
			return bad()
		}
		max := int64(65535)
		if k == kU32s {
			max = math.MaxUint32
		}
		for i, e := range arr {
			n, ok := e.(int64)
			if !ok || n < 0 || n > max {
				return nil, fmt.Sprintf("element %d: want an integer 0-%d, got %s", i+1, max, describe(e))
			}
		}
		return v, ""
	case kBool:
		if _, ok := v.(bool); !ok {
			return bad()
		}
		return v, ""
	case kU8pct, kU32, kU64, kCount:
		n, ok := v.(int64)
		if !ok {
			return bad()
		}
		lo, hi := int64(0), int64(math.MaxInt64)
		switch k {
		case kU8pct:
			hi = 100
		case kU32:
			hi = math.MaxUint32
		case kCount:
			lo, hi = 1, math.MaxUint32
		}
		if n < lo || n > hi {
			return bad()
		}
		return n, ""
	case kEnv:
		tbl, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		for _, name := range sortedKeys(tbl) {
			if _, ok := tbl[name].(string); !ok {
				return nil, fmt.Sprintf("variable %s: want a string, got %s", toml.Key{name}.String(), describe(tbl[name]))
			}
		}
		return v, ""
	}
	return bad()
}

// checkString checks the grammar of a string-valued kind.
func checkString(k kind, s string) string {
	switch k {
	case kPath:
		if s == "" {
			return "empty path"
		}
		if strings.IndexByte(s, 0) >= 0 {
			return fmt.Sprintf("path %q contains a NUL byte", s)
		}
	case kTime:
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Sprintf("%q is not an RFC 3339 time (like \"2026-01-02T15:04:05Z\")", s)
		}
	case kBranch:
		switch s {
		case "commit", "abort", "keep":
		default:
			return fmt.Sprintf("want %s, got %q", want(k), s)
		}
	case kSize, kMemory:
		n, err := ParseSize(s)
		if err != nil {
			return err.Error()
		}
		if k == kMemory && n == 0 {
			return fmt.Sprintf("%q is zero: no workload can run under a zero memory limit", s)
		}
	}
	return ""
}

// describe names a TOML value's type, with the value when it is short.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return "string " + strconv.Quote(x)
	case int64:
		return "integer " + strconv.FormatInt(x, 10)
	case float64:
		return "float " + strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case time.Time:
		return "datetime"
	case []any:
		return "array"
	case map[string]any:
		return "table"
	case []map[string]any:
		return "array of tables"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// parseHeader returns the comment block at the top of a profile: the "#"
// lines before anything else, without "#" and one following space.
func parseHeader(data []byte) []string {
	var out []string
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 || line[0] != '#' {
			break
		}
		line = bytes.TrimPrefix(line[1:], []byte(" "))
		out = append(out, string(line))
	}
	return out
}

// Key positions. BurntSushi/toml records the position of every key while
// parsing but exports it only through a ParseError, which it builds when an
// Unmarshaler returns an error: the error's Position is that of the key
// being decoded. So to find the line of a.b.c we decode into a struct
// built for just that key path, with a probe at the end that always fails.
// This is only done for keys an error is about.

type probe struct{}

const probeMsg = "sandlock-learn key position probe"

func (probe) UnmarshalTOML(any) error { return errors.New(probeMsg) }

var probeType = reflect.TypeOf(probe{})

// line is the line where key is defined in the source, 0 when unknown. A key
// without a position of its own (a table implied by a dotted key) takes its
// parent's.
func (s *source) line(key ...string) int {
	if s == nil {
		return 0
	}
	for n := len(key); n > 0; n-- {
		if l := s.probeLine(key[:n]); l > 0 {
			return l
		}
	}
	return 0
}

func (s *source) probeLine(key []string) int {
	t := probeType
	for i := len(key) - 1; i >= 0; i-- {
		// A struct tag cannot name a key holding a comma (tag options) or
		// the key "-" (skip): no position for those.
		if strings.Contains(key[i], ",") || key[i] == "-" || !utf8.ValidString(key[i]) {
			return 0
		}
		t = reflect.StructOf([]reflect.StructField{{
			Name: "F",
			Type: t,
			Tag:  reflect.StructTag("toml:" + strconv.Quote(key[i])),
		}})
	}
	_, err := toml.Decode(s.data, reflect.New(t).Interface())
	var pe toml.ParseError
	if errors.As(err, &pe) && pe.Message == probeMsg {
		return pe.Position.Line
	}
	return 0
}
