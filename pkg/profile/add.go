package profile

import (
	"fmt"
)

// Add puts one value into section.key of p, in the shapes a grant stream
// carries: for a list key a single element (string, or int64 for a port) or
// a []any of elements, appended; for a scalar key a string or an int64. The
// value is checked against the schema (type and grammar, as Decode checks a
// file); a scalar that is already set to another value is an error, since
// two grants disagree.
//
// Only keys with a typed field can be added (the keys sandlock-learn
// learns, and the lists a merge unions); the other keys are kept, never
// learned.
func (p *Profile) Add(section, key string, value any) error {
	spec := findSection(section)
	var ks *keySpec
	if spec != nil {
		ks = spec.key(key)
	}
	name := section + "." + key
	if ks == nil {
		return &Error{Key: name, Msg: "not a key of the sandlock 0.8.6 schema"}
	}
	if !ks.typed {
		return &Error{Key: name, Msg: "not a learned key (kept from existing profiles, never added)"}
	}
	v := value
	switch ks.kind {
	case kStrings, kPaths, kArgs, kPorts:
		if _, isList := value.([]any); !isList {
			v = []any{value}
		}
	}
	norm, msg := check(ks.kind, v)
	if msg != "" {
		return &Error{Key: name, Msg: msg}
	}
	switch x := norm.(type) {
	case []string:
		f := p.strings(section, key)
		*f = append(*f, x...)
	case []Port:
		f := p.ports(section, key)
		*f = append(*f, x...)
	case string:
		f := p.scalar(section, key)
		if *f != "" && *f != x {
			return &Error{Key: name, Msg: fmt.Sprintf("set twice, to %q and to %q", *f, x)}
		}
		*f = x
	case int64:
		f := p.count(section, key)
		if *f != 0 && *f != x {
			return &Error{Key: name, Msg: fmt.Sprintf("set twice, to %d and to %d", *f, x)}
		}
		*f = x
	}
	return nil
}

// ValidateValue checks one value of section.key as Add and Validate would
// in a profile holding only it, so that a caller adding values one by one
// (sandlock-emit, one grant per line) can point at the input line of the
// one that is wrong.
func ValidateValue(section, key string, value any, checkPathsExist bool) error {
	var p Profile
	if err := p.Add(section, key, value); err != nil {
		return err
	}
	return p.Validate(checkPathsExist)
}
