package profile

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"
	"unicode/utf8"
)

// Encode writes p as TOML to w: see Marshal.
func Encode(w io.Writer, p *Profile) error {
	b, err := Marshal(p)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Marshal encodes p as TOML, deterministically: the header as "# " comment
// lines, then the sections and keys in schema order (program, filesystem,
// network, http, syscalls, limits, config, determinism), each list sorted
// with duplicates removed (program.args keeps its order), allow_bind and
// deny_bind integers in numeric order before strings, and nothing for keys
// that are not set or empty. Decode(Marshal(p)) gives p back.
//
// A string that is not valid UTF-8 cannot be written in TOML: Marshal
// fails rather than alter it, because a path with replaced bytes would name
// another file.
func Marshal(p *Profile) ([]byte, error) {
	e := encoder{}
	for _, h := range p.Header {
		if h == "" {
			e.b.WriteString("#\n")
			continue
		}
		e.b.WriteString("# ")
		e.b.WriteString(Comment(h))
		e.b.WriteByte('\n')
	}
	for _, sec := range schema {
		e.section(p, &sec)
	}
	if e.err != nil {
		return nil, e.err
	}
	return e.b.Bytes(), nil
}

type encoder struct {
	b   bytes.Buffer
	err error
}

func (e *encoder) fail(key string, format string, args ...any) {
	if e.err == nil {
		e.err = &Error{Key: key, Msg: fmt.Sprintf(format, args...)}
	}
}

func (e *encoder) section(p *Profile, sec *sectionSpec) {
	var body bytes.Buffer
	kept := p.kept(sec.name, false)
	for _, ks := range sec.keys {
		start := body.Len()
		key := sec.name + "." + ks.name
		switch {
		case !ks.typed:
			if kept == nil || *kept == nil {
				continue
			}
			v, ok := (*kept)[ks.name]
			if !ok {
				continue
			}
			body.WriteString(ks.name + " = ")
			e.value(&body, key, v)
		case p.strings(sec.name, ks.name) != nil:
			list := *p.strings(sec.name, ks.name)
			if len(list) == 0 {
				continue
			}
			if ks.kind != kArgs {
				list = SortedUnique(list)
			}
			body.WriteString(ks.name + " = ")
			e.stringList(&body, key, list, ks.kind != kArgs)
		case p.ports(sec.name, ks.name) != nil:
			list := SortPorts(*p.ports(sec.name, ks.name))
			if len(list) == 0 {
				continue
			}
			body.WriteString(ks.name + " = ")
			e.portList(&body, list)
		case p.scalar(sec.name, ks.name) != nil:
			s := *p.scalar(sec.name, ks.name)
			if s == "" {
				continue
			}
			body.WriteString(ks.name + " = ")
			e.str(&body, key, s)
		case p.count(sec.name, ks.name) != nil:
			n := *p.count(sec.name, ks.name)
			if n == 0 {
				continue
			}
			body.WriteString(ks.name + " = " + strconv.FormatInt(n, 10))
		}
		if body.Len() > start {
			body.WriteByte('\n')
		}
	}
	if kept != nil {
		for k := range *kept {
			if ks := sec.key(k); ks == nil || ks.typed {
				e.fail(sec.name+"."+k, "not a kept key of the sandlock schema")
			}
		}
	}
	if body.Len() == 0 {
		return
	}
	if e.b.Len() > 0 {
		e.b.WriteByte('\n')
	}
	e.b.WriteString("[" + sec.name + "]\n")
	e.b.Write(body.Bytes())
}

// stringList writes a list inline when it has at most one element (or when
// multi is false), otherwise one element per line, which keeps diffs of a
// profile readable.
func (e *encoder) stringList(b *bytes.Buffer, key string, list []string, multi bool) {
	if !multi || len(list) <= 1 {
		b.WriteByte('[')
		for i, s := range list {
			if i > 0 {
				b.WriteString(", ")
			}
			e.str(b, key, s)
		}
		b.WriteByte(']')
		return
	}
	b.WriteString("[\n")
	for _, s := range list {
		b.WriteString("  ")
		e.str(b, key, s)
		b.WriteString(",\n")
	}
	b.WriteByte(']')
}

func (e *encoder) portList(b *bytes.Buffer, list []Port) {
	b.WriteByte('[')
	for i, p := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		if p.Spec != "" {
			e.str(b, "", p.Spec)
		} else {
			b.WriteString(strconv.Itoa(p.Num))
		}
	}
	b.WriteByte(']')
}

// value writes a kept TOML value: the shapes the decoder produces.
func (e *encoder) value(b *bytes.Buffer, key string, v any) {
	switch x := v.(type) {
	case string:
		e.str(b, key, x)
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case int:
		b.WriteString(strconv.Itoa(x))
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case []any:
		b.WriteByte('[')
		for i, el := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			e.value(b, key, el)
		}
		b.WriteByte(']')
	case []string:
		e.stringList(b, key, x, false)
	case map[string]any:
		// An inline table: the only table-valued key is program.env.
		b.WriteByte('{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte(' ')
			e.key(b, key, k)
			b.WriteString(" = ")
			e.value(b, key, x[k])
		}
		if len(x) > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('}')
	default:
		e.fail(key, "cannot encode a value of Go type %T", v)
	}
}

// key writes a table key, bare when TOML allows it.
func (e *encoder) key(b *bytes.Buffer, ctx, k string) {
	bare := k != ""
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			bare = false
			break
		}
	}
	if bare {
		b.WriteString(k)
		return
	}
	e.str(b, ctx, k)
}

// str writes s as a TOML basic string. TOML forbids raw control characters
// in strings, so they are escaped; it has no way to hold bytes that are not
// UTF-8, so those are an error.
func (e *encoder) str(b *bytes.Buffer, key, s string) {
	if !utf8.ValidString(s) {
		e.fail(key, "%q is not valid UTF-8: a TOML profile cannot hold it", s)
		return
	}
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// Comment makes s safe for one TOML comment line: control characters
// (newlines included) and bytes that are not UTF-8 become \xNN, since a
// comment must be one line of valid UTF-8 text.
func Comment(s string) string {
	var b bytes.Buffer
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r < 0x20 && r != '\t', r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// SortedUnique returns a sorted copy of list without duplicates.
func SortedUnique(list []string) []string {
	out := append([]string(nil), list...)
	sort.Strings(out)
	n := 0
	for i, s := range out {
		if i > 0 && s == out[n-1] {
			continue
		}
		out[n] = s
		n++
	}
	return out[:n]
}

// SortPorts returns a copy of list without duplicates: integers in numeric
// order first, then spec strings in byte order.
func SortPorts(list []Port) []Port {
	out := append([]Port(nil), list...)
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Spec == "") != (b.Spec == "") {
			return a.Spec == ""
		}
		if a.Spec == "" {
			return a.Num < b.Num
		}
		return a.Spec < b.Spec
	})
	n := 0
	for i, p := range out {
		if i > 0 && p == out[n-1] {
			continue
		}
		out[n] = p
		n++
	}
	return out[:n]
}
