package profile

import (
	"fmt"
	"math"
	"os"
	"unicode/utf8"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// Validate checks what a profile needs to run under sandlock beyond its
// types: paths in program exec/cwd and filesystem read/write/deny absolute
// and canonical (no ".", "..", "//" or trailing "/": Landlock resolves the
// path once, so a profile names the path itself), and valid UTF-8; network
// rules and ports well-formed with ports 1-65535; limits above zero;
// syscalls.extra_allow naming a known group. With checkPathsExist, the paths
// of exec, cwd, read and write must also exist now: a Landlock rule needs an
// inode when the sandbox starts, and sandlock run fails on a missing one.
//
// The first problem found is returned as an *Error naming the key (and the
// file and line, for a decoded profile).
func (p *Profile) Validate(checkPathsExist bool) error {
	v := validator{p: p, exist: checkPathsExist}
	v.path("program", "exec", p.Program.Exec, false)
	v.path("program", "cwd", p.Program.Cwd, true)
	for _, s := range p.Program.Args {
		if !utf8.ValidString(s) {
			v.fail("program", "args", "%q is not valid UTF-8: a TOML profile cannot hold it", s)
		}
	}
	for _, s := range p.Filesystem.Read {
		v.path("filesystem", "read", s, false)
	}
	for _, s := range p.Filesystem.Write {
		v.path("filesystem", "write", s, false)
	}
	v.exist = false // deny names what must stay closed; it need not exist
	for _, s := range p.Filesystem.Deny {
		v.path("filesystem", "deny", s, false)
	}
	for _, key := range []string{"allow", "deny"} {
		for _, r := range *p.strings("network", key) {
			if err := CheckNetRule(r); err != nil {
				v.fail("network", key, "%v", err)
			}
		}
	}
	for _, key := range []string{"allow_bind", "deny_bind"} {
		for _, port := range *p.ports("network", key) {
			if port.Spec == "" && port.Num == 0 {
				v.fail("network", key, "port 0 out of range 1-65535")
				continue
			}
			if _, err := port.Ranges(); err != nil {
				v.fail("network", key, "%v", err)
			}
		}
	}
	for _, g := range p.Syscalls.ExtraAllow {
		// sandlock 0.8.6 has one group that can be re-allowed (profile.md).
		if g != "sysv_ipc" {
			v.fail("syscalls", "extra_allow", "unknown group %q (the only group is \"sysv_ipc\")", g)
		}
	}
	if p.Limits.Memory != "" {
		if _, msg := check(kMemory, p.Limits.Memory); msg != "" {
			v.fail("limits", "memory", "%s", msg)
		}
	}
	for _, c := range []struct {
		key string
		n   int64
	}{{"processes", p.Limits.Processes}, {"open_files", p.Limits.OpenFiles}} {
		if c.n < 0 || c.n > math.MaxUint32 {
			v.fail("limits", c.key, "%d out of range 1-4294967295", c.n)
		}
	}
	return v.err
}

type validator struct {
	p     *Profile
	exist bool
	err   error
}

func (v *validator) fail(sec, key, format string, args ...any) {
	if v.err != nil {
		return
	}
	e := &Error{Key: sec + "." + key, Msg: fmt.Sprintf(format, args...)}
	if v.p.src != nil {
		e.File = v.p.src.name
		e.Line = v.p.src.line(sec, key)
	}
	v.err = e
}

// path checks one path value; "" means not set.
func (v *validator) path(sec, key, p string, wantDir bool) {
	if p == "" && (key == "exec" || key == "cwd") {
		return
	}
	if msg := event.CheckPath(p); msg != "" {
		v.fail(sec, key, "%q: %s (profile paths are absolute and canonical)", p, msg)
		return
	}
	if !utf8.ValidString(p) {
		v.fail(sec, key, "%q is not valid UTF-8: a TOML profile cannot hold it", p)
		return
	}
	if !v.exist {
		return
	}
	fi, err := os.Stat(p)
	switch {
	case os.IsNotExist(err):
		v.fail(sec, key, "%q does not exist (a Landlock rule needs an existing path)", p)
	case err != nil:
		v.fail(sec, key, "%v", err)
	case wantDir && !fi.IsDir():
		v.fail(sec, key, "%q is not a directory", p)
	}
}
