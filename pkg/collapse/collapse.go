package collapse

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// DefaultThreshold is --collapse's default, as the upstream RFC asks.
const DefaultThreshold = 4

// DefaultHeadroom multiplies the observed peaks into limits.
const DefaultHeadroom = 1.5

// Options are the collapser's policy knobs (the sandlock-collapse flags).
type Options struct {
	// Threshold: a directory with this many distinct target entries
	// directly under it is granted whole; 0 turns collapsing off.
	Threshold int
	// Prefixes force everything under each into it (absolute paths).
	Prefixes []string
	// ForceSensitive allows prefixes on protected and guarded paths.
	ForceSensitive bool
	// Headroom multiplies peaks into limits (>= 1).
	Headroom float64
	// Home is the user's home directory (guarded tier); "" for none.
	Home string
	// PathEnv is the PATH that argv[0] is resolved on.
	PathEnv string
}

// UsageError is a bad option value (exit 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// RefusedError is a request policy refuses (exit 1).
type RefusedError struct{ Msg string }

func (e *RefusedError) Error() string { return e.Msg }

// Op indices, for per-path counts.
const (
	opRead = iota
	opReaddir
	opExec
	opLinkFrom
	opWrite
	opTruncate
	opConnectUnix
	opCreate
	opMkdir
	opMknod
	opRemove
	opRmdir
	opRenameFrom
	opRenameTo
	opLinkTo
	opSymlink
	opBindUnix
	numOps
)

var opNames = [numOps]string{
	"read", "readdir", "exec", "link_from", "write", "truncate", "connect_unix",
	"create", "mkdir", "mknod", "remove", "rmdir", "rename_from", "rename_to",
	"link_to", "symlink", "bind_unix",
}

// Which grant an op needs.
const (
	needNone = iota
	needRead
	needWrite  // write on the path itself
	needParent // write on its parent directory
)

var opNeed = [numOps]int{
	needRead, needRead, needRead, needRead, needWrite, needWrite, needWrite,
	needParent, needParent, needParent, needParent, needParent, needParent, needParent,
	needParent, needParent, needParent,
}

func opIndex(op string) int {
	switch op {
	case event.OpRead:
		return opRead
	case event.OpReaddir:
		return opReaddir
	case event.OpExec:
		return opExec
	case event.OpLinkFrom:
		return opLinkFrom
	case event.OpWrite:
		return opWrite
	case event.OpTruncate:
		return opTruncate
	case event.OpConnectUnix:
		return opConnectUnix
	case event.OpCreate:
		return opCreate
	case event.OpMkdir:
		return opMkdir
	case event.OpMknod:
		return opMknod
	case event.OpRemove:
		return opRemove
	case event.OpRmdir:
		return opRmdir
	case event.OpRenameFrom:
		return opRenameFrom
	case event.OpRenameTo:
		return opRenameTo
	case event.OpLinkTo:
		return opLinkTo
	case event.OpSymlink:
		return opSymlink
	case event.OpBindUnix:
		return opBindUnix
	}
	return -1
}

// fails reports whether the kernel fails op before any Landlock check, given
// whether its target existed: then no grant is needed.
func fails(op int, existed bool) bool {
	switch op {
	case opCreate, opMkdir, opMknod, opSymlink, opLinkTo, opBindUnix:
		return existed // EEXIST (EADDRINUSE for bind) comes first
	case opRenameTo:
		return false // a rename may replace, or not
	}
	return !existed // ENOENT comes first
}

// run is one traced run (one start record).
type run struct {
	start     *event.Start
	exit      *event.Exit
	peak      *event.Peak // the final one
	samplePk  *event.Peak // max of periodic samples
	firstExec string
	hasExec   bool
}

// Collapser folds events into per-path and per-endpoint aggregates.
type Collapser struct {
	opts     Options
	home     string
	prefixes []*node
	t        *tree
	needy    []*node // nodes with events, in first-seen order
	last     *node   // the node of the previous event: traces repeat paths
	done     bool    // Result was called
	runs     []*run
	cur      *run

	net       map[string]*netAgg
	udpConn   map[pidFD]netDest
	udpProbes map[string]bool // UDP destinations connected to
	netOrder  []string
	syscalls  map[string]int64
	traceWarn []string
	traceSeen map[string]bool
	traceMore int
}

// New checks the options (prefixes exist, tiers allow them) and returns a
// Collapser. The errors are *UsageError or *RefusedError.
func New(opts Options) (*Collapser, error) {
	if opts.Threshold < 0 {
		return nil, &UsageError{fmt.Sprintf("--collapse %d: want 0 (off) or a positive count", opts.Threshold)}
	}
	if math.IsNaN(opts.Headroom) || opts.Headroom < 1 || opts.Headroom > 1000 {
		return nil, &UsageError{fmt.Sprintf("--headroom %g: want a factor from 1 to 1000 (below 1 would kill the workload at its own peak)", opts.Headroom)}
	}
	c := &Collapser{
		opts:      opts,
		t:         newTree(),
		net:       map[string]*netAgg{},
		udpConn:   map[pidFD]netDest{},
		udpProbes: map[string]bool{},
		syscalls:  map[string]int64{},
		traceSeen: map[string]bool{},
	}
	if opts.Home != "" && opts.Home != "/root" {
		h := filepath.Clean(opts.Home)
		if r, err := filepath.EvalSymlinks(h); err == nil {
			h = r
		}
		if filepath.IsAbs(h) && h != "/" && h != "/root" {
			c.home = h
		}
	}
	for _, p := range opts.Prefixes {
		n, err := c.prefix(p)
		if err != nil {
			return nil, err
		}
		c.prefixes = append(c.prefixes, n)
	}
	return c, nil
}

func (c *Collapser) prefix(p string) (*node, error) {
	if !filepath.IsAbs(p) {
		return nil, &UsageError{fmt.Sprintf("--collapse-prefix %q: want an absolute path", p)}
	}
	real, err := filepath.EvalSymlinks(filepath.Clean(p))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &UsageError{fmt.Sprintf("--collapse-prefix %s: no such file or directory (a profile may name only existing paths)", p)}
		}
		return nil, &UsageError{fmt.Sprintf("--collapse-prefix %s: %v", p, err)}
	}
	if !utf8.ValidString(real) {
		return nil, &UsageError{fmt.Sprintf("--collapse-prefix %q: not valid UTF-8, cannot be written in a profile", p)}
	}
	shown := p
	if real != filepath.Clean(p) {
		shown = fmt.Sprintf("%s (%s)", p, real)
	}
	switch {
	case real == "/":
		return nil, &RefusedError{fmt.Sprintf("--collapse-prefix %s: / is never granted, not even with --force-sensitive-collapse", shown)}
	case neverGranted(real):
		return nil, &RefusedError{fmt.Sprintf("--collapse-prefix %s: pid- and session-specific paths are never granted", shown)}
	case c.opts.ForceSensitive:
	case underProtected(real):
		return nil, &RefusedError{fmt.Sprintf("--collapse-prefix %s: protected path (credentials or root's home); add --force-sensitive-collapse if you mean it", shown)}
	case c.isGuarded(real) || c.isGuarded(filepath.Clean(p)):
		return nil, &RefusedError{fmt.Sprintf("--collapse-prefix %s: guarded directory; add --force-sensitive-collapse if you mean it", shown)}
	}
	return c.t.get(real), nil
}

// Add folds one record into the aggregates. Records must come in stream
// order; the error says what is wrong with this record (the caller adds the
// input name and line).
func (c *Collapser) Add(rec event.Record) error {
	if c.done {
		return errors.New("collapse: Add after Result")
	}
	if s, ok := rec.(*event.Start); ok {
		c.cur = &run{start: s}
		c.runs = append(c.runs, c.cur)
		return nil
	}
	switch rec.(type) {
	case *event.Meta, *event.Grant, *event.Denial:
		return fmt.Errorf("%q record in an event stream (is this the output of sandlock-collapse or sandlock-check?)", rec.RecordType())
	case *event.Unknown:
		return nil
	}
	if c.cur == nil {
		return fmt.Errorf("%s record before any start record", rec.RecordType())
	}
	if c.cur.exit != nil {
		return fmt.Errorf("%s record after the run's exit record (a new run must begin with start)", rec.RecordType())
	}
	switch r := rec.(type) {
	case *event.FS:
		c.addFS(r)
	case *event.Exec:
		if !c.cur.hasExec {
			c.cur.hasExec, c.cur.firstExec = true, r.Path
		}
		c.addNeed(r.Path, opExec)
	case *event.Net:
		return c.addNet(r)
	case *event.Peak:
		if r.MemBytes < 0 || r.Processes < 0 || r.FDMax < 0 || r.RSSBytes < 0 || r.Threads < 0 {
			return errors.New("peak record: negative value")
		}
		dst := &c.cur.peak
		if r.Sample {
			dst = &c.cur.samplePk
		}
		*dst = maxPeak(*dst, r)
	case *event.Syscalls:
		for k, v := range r.Counts {
			c.syscalls[k] += v
		}
	case *event.Warning:
		msg := r.Msg
		if r.Path != "" {
			msg += " (" + showPath(r.Path) + ")"
		}
		c.addTraceWarning(msg)
	case *event.Exit:
		c.cur.exit = r
	}
	return nil
}

const maxTraceWarnings = 64

func (c *Collapser) addTraceWarning(msg string) {
	if c.traceSeen[msg] {
		return
	}
	if len(c.traceWarn) >= maxTraceWarnings {
		c.traceMore++
		return
	}
	c.traceSeen[msg] = true
	c.traceWarn = append(c.traceWarn, msg)
}

func (c *Collapser) addFS(r *event.FS) {
	op := opIndex(r.Op)
	if op < 0 {
		return // the reader rejects unknown ops; nothing to grant anyway
	}
	if fails(op, r.Existed) {
		return
	}
	// open(2): with O_PATH every flag but O_CLOEXEC, O_DIRECTORY and
	// O_NOFOLLOW is ignored (no read, write, truncate or create), and the
	// LSM file_open hook is not called, so whatever op it was labelled with,
	// it needs no grant.
	if hasFlag(r.Flags, "O_PATH") {
		return
	}
	c.addNeed(r.Path, op)
}

func hasFlag(flags []string, f string) bool {
	for _, x := range flags {
		if x == f {
			return true
		}
	}
	return false
}

func (c *Collapser) addNeed(p string, op int) {
	n := c.last
	if n == nil || n.path != p {
		n = c.t.get(p)
		c.last = n
	}
	if n.obs == nil {
		n.obs = &obs{}
		c.needy = append(c.needy, n)
	}
	if n.obs.counts[op] < math.MaxInt32 {
		n.obs.counts[op]++
	}
}

func maxPeak(a, b *event.Peak) *event.Peak {
	if a == nil {
		cp := *b
		return &cp
	}
	a.MemBytes = max(a.MemBytes, b.MemBytes)
	a.RSSBytes = max(a.RSSBytes, b.RSSBytes)
	a.Processes = max(a.Processes, b.Processes)
	a.Threads = max(a.Threads, b.Threads)
	a.FDMax = max(a.FDMax, b.FDMax)
	return a
}

// showPath renders a path for a human message: as is when UTF-8, quoted
// with escapes otherwise (a message must stay valid UTF-8).
func showPath(p string) string {
	if utf8.ValidString(p) {
		return p
	}
	return fmt.Sprintf("%+q", p)
}
