package collapse

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// fix is a real directory tree for one test; paths are written relative to
// its root as "$R/...".
type fix struct {
	t    testing.TB
	root string
}

func newFix(t testing.TB) *fix {
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Readable by the unprivileged re-run of these tests too.
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return &fix{t: t, root: root}
}

// p is the absolute path of rel, without creating it.
func (f *fix) p(rel string) string {
	if rel == "" {
		return f.root
	}
	return f.root + "/" + rel
}

// file creates rel (and its parents) as an empty file.
func (f *fix) file(rels ...string) {
	for _, rel := range rels {
		f.dir(filepath.Dir(rel))
		if err := os.WriteFile(f.p(rel), nil, 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f *fix) dir(rels ...string) {
	for _, rel := range rels {
		if rel == "." {
			continue
		}
		if err := os.MkdirAll(f.p(rel), 0o755); err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f *fix) rel(p string) string {
	if p == f.root {
		return "$R"
	}
	if r, ok := strings.CutPrefix(p, f.root+"/"); ok {
		return "$R/" + r
	}
	return p
}

func (f *fix) start(argv ...string) *event.Start {
	if len(argv) == 0 {
		argv = []string{"true"}
	}
	return &event.Start{Schema: 1, Argv: argv, Cwd: f.root, Kernel: "6.18.0", Arch: "x86_64", Time: "2026-11-29T11:00:00Z", Tool: "test"}
}

// op is an fs event on rel; existed defaults to what makes the op succeed.
func (f *fix) op(op, rel string) *event.FS {
	existed := true
	switch op {
	case event.OpCreate, event.OpMkdir, event.OpMknod, event.OpSymlink, event.OpLinkTo, event.OpBindUnix:
		existed = false
	}
	return f.opE(op, rel, existed)
}

func (f *fix) opE(op, rel string, existed bool) *event.FS {
	p := rel
	if !strings.HasPrefix(rel, "/") {
		p = f.p(rel)
	}
	return &event.FS{PID: 10, Syscall: "openat", Op: op, Path: p, Existed: existed}
}

func exitOK() *event.Exit { return &event.Exit{Code: new(int), DurationMS: 1, Events: 1} }

func collapseT(t testing.TB, opts Options, recs ...event.Record) *Result {
	t.Helper()
	if opts.Headroom == 0 {
		opts.Headroom = DefaultHeadroom
	}
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for i, r := range recs {
		if err := c.Add(r); err != nil {
			t.Fatalf("Add(#%d %T): %v", i, r, err)
		}
	}
	res, err := c.Result()
	if err != nil {
		t.Fatalf("Result: %v", err)
	}
	return res
}

// fsGrants lists "read $R/x" and "write $R/y", in stream order.
func (f *fix) fsGrants(res *Result) []string {
	var out []string
	for _, g := range res.Grants {
		if g.Section == "filesystem" {
			out = append(out, g.Key+" "+f.rel(g.Value.(string)))
		}
	}
	return out
}

func grantsOf(res *Result, section string) []string {
	var out []string
	for _, g := range res.Grants {
		if g.Section == section {
			out = append(out, g.Key+" "+valueString(g.Value))
		}
	}
	return out
}

func valueString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case []any:
		var parts []string
		for _, e := range x {
			parts = append(parts, valueString(e))
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return "?"
}

func (f *fix) warnings(res *Result) []string {
	var out []string
	for _, w := range res.Warnings {
		out = append(out, strings.ReplaceAll(w.Msg, f.root, "$R"))
	}
	return out
}

func hasWarning(ws []string, sub string) bool {
	for _, w := range ws {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}
