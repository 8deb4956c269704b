package collapse

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// Result is the grant stream, ready to write: Meta first, then Grants, then
// Warnings. Errors are also problems to print on stderr (a skipped write
// collapse): the stream is still valid, but the workload will hit a denial.
type Result struct {
	Meta     *event.Meta
	Grants   []*event.Grant
	Warnings []*event.Warning
	Errors   []string
}

// Records returns the stream in order.
func (r *Result) Records() []event.Record {
	out := []event.Record{r.Meta}
	for _, g := range r.Grants {
		out = append(out, g)
	}
	for _, w := range r.Warnings {
		out = append(out, w)
	}
	return out
}

// Result computes the grant stream, once: it consumes the aggregates. It
// returns an error only when there was no run at all.
func (c *Collapser) Result() (*Result, error) {
	if len(c.runs) == 0 {
		return nil, fmt.Errorf("no start record: empty input")
	}
	if c.done {
		return nil, fmt.Errorf("collapse: Result called twice")
	}
	c.done = true
	res := &Result{Meta: c.meta()}
	b := &builder{c: c, res: res}
	b.program()
	b.filesystem()
	b.network()
	b.limits()
	b.metaWarnings()
	slices.SortStableFunc(res.Grants, compareGrants)
	slices.SortStableFunc(res.Warnings, func(a, b *event.Warning) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Msg, b.Msg))
	})
	return res, nil
}

func compareGrants(a, b *event.Grant) int {
	if r := cmp.Or(cmp.Compare(a.Section, b.Section), cmp.Compare(a.Key, b.Key)); r != 0 {
		return r
	}
	switch x := a.Value.(type) {
	case string:
		if y, ok := b.Value.(string); ok {
			return cmp.Compare(x, y)
		}
	case int64:
		if y, ok := b.Value.(int64); ok {
			return cmp.Compare(x, y)
		}
	}
	return 0
}

// severity orders exits: a failure beats a timeout beats success.
func severity(e *event.Exit) int {
	switch {
	case e.TimedOut:
		return 1
	case e.Failed():
		return 2
	}
	return 0
}

func (c *Collapser) meta() *event.Meta {
	first := c.runs[0].start
	m := &event.Meta{
		Schema: event.Schema, Argv: first.Argv, Cwd: first.Cwd, Kernel: first.Kernel,
		Time: first.Time, Runs: len(c.runs), Complete: true,
	}
	for _, r := range c.runs {
		if r.exit == nil {
			m.Complete = false
			continue
		}
		if m.Exit == nil || severity(r.exit) > severity(m.Exit) {
			m.Exit = r.exit
		}
	}
	if !m.Complete {
		m.Exit = nil
	}
	return m
}

type builder struct {
	c   *Collapser
	res *Result
}

func (b *builder) grant(section, key string, value any, why string, observed int64, examples []string) {
	b.res.Grants = append(b.res.Grants, &event.Grant{
		Section: section, Key: key, Value: value, Why: why, Observed: observed, Examples: examples,
	})
}

func (b *builder) warn(path, format string, args ...any) {
	b.res.Warnings = append(b.res.Warnings, &event.Warning{Msg: fmt.Sprintf(format, args...), Path: path})
}

// limitList caps a list of names in a message.
func limitList(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:max], ", "), len(items)-max)
}

func (b *builder) network() {
	// UDP destinations connected to but never sent to: getaddrinfo's
	// probes, or a connected socket whose sends the trace could not see
	// (send(2) and sendmmsg(2) without an address). Not granted, but said.
	var probes []string
	for rule := range b.c.udpProbes {
		if _, granted := b.c.net["allow "+rule+" 0"]; !granted {
			probes = append(probes, rule)
		}
	}
	if len(probes) > 0 {
		slices.Sort(probes)
		b.warn("", "UDP sockets were connected to %s but no data was seen sent there: not granted, as getaddrinfo probes destinations this way; if the workload sends on a connected UDP socket, allow them by hand",
			limitList(probes, maxListed))
	}
	for _, id := range b.c.netOrder {
		a := b.c.net[id]
		var parts []string
		for what, n := range a.ops {
			parts = append(parts, fmt.Sprintf("%s x%d", what, n))
		}
		slices.Sort(parts)
		why := strings.Join(parts, ", ")
		if a.key == "allow_bind" {
			b.grant("network", "allow_bind", a.port, why, a.observed, nil)
		} else {
			b.grant("network", "allow", a.rule, why, a.observed, nil)
		}
	}
}

// Blocked by sandlock 0.8.6 (profile.md): a workload that calls them behaves
// differently under sandlock run, which the profile header must say.
var alwaysBlocked = strings.Fields(`mount umount2 pivot_root swapon swapoff reboot sethostname
	setdomainname kexec_load init_module finit_module delete_module unshare setns perf_event_open
	bpf userfaultfd keyctl add_key request_key ptrace process_vm_readv process_vm_writev
	open_by_handle_at name_to_handle_at ioperm iopl quotactl acct lookup_dcookie nfsservctl
	io_uring_setup io_uring_enter io_uring_register personality`)

var sysvIPC = strings.Fields(`shmget shmat shmdt shmctl msgget msgsnd msgrcv msgctl semget semop
	semctl semtimedop`)

func (b *builder) metaWarnings() {
	m := b.res.Meta
	m.Warnings = append(m.Warnings, b.c.traceWarn...)
	if b.c.traceMore > 0 {
		m.Warnings = append(m.Warnings, fmt.Sprintf("%d more distinct trace warnings not shown", b.c.traceMore))
	}
	var blocked, sysv []string
	for _, s := range alwaysBlocked {
		if n := b.c.syscalls[s]; n > 0 {
			blocked = append(blocked, fmt.Sprintf("%s x%d", s, n))
		}
	}
	for _, s := range sysvIPC {
		if n := b.c.syscalls[s]; n > 0 {
			sysv = append(sysv, fmt.Sprintf("%s x%d", s, n))
		}
	}
	// A skipped write collapse means a denial under sandlock run: the
	// profile's reader must see it, not only the terminal.
	m.Warnings = append(m.Warnings, b.res.Errors...)
	if len(blocked) > 0 {
		m.Warnings = append(m.Warnings, "the workload called syscalls sandlock always blocks, so it will behave differently under sandlock run: "+strings.Join(blocked, ", "))
	}
	if len(sysv) > 0 {
		m.Warnings = append(m.Warnings, `the workload used System V IPC, which sandlock blocks unless [syscalls] extra_allow = ["sysv_ipc"]: `+strings.Join(sysv, ", "))
	}
	if len(m.Warnings) == 0 {
		m.Warnings = nil
	}
}

func (b *builder) limits() {
	var pk *event.Peak
	n := int64(0)
	for _, r := range b.c.runs {
		p := r.peak
		if p == nil {
			p = r.samplePk
		}
		if p != nil {
			pk = maxPeak(pk, p)
			n++
		}
	}
	if pk == nil {
		b.warn("", "no peak record in the trace: limits not learned")
		return
	}
	h := b.c.opts.Headroom
	hs := strconv.FormatFloat(h, 'f', -1, 64)
	mem := MemoryLimit(pk.MemBytes, h)
	b.grant("limits", "memory", mem,
		fmt.Sprintf("peak anonymous-memory ledger %d bytes x headroom %s (floor 16M), not RSS (%d bytes)", pk.MemBytes, hs, pk.RSSBytes), n, nil)
	b.grant("limits", "processes", ceilMul(int64(pk.Processes), h, 4),
		fmt.Sprintf("peak %d concurrent processes x headroom %s (at least 4)", pk.Processes, hs), n, nil)
	b.grant("limits", "open_files", ceilMul(int64(pk.FDMax), h, 64),
		fmt.Sprintf("fd_max %d (highest fd number + 1 in one process) x headroom %s (at least 64)", pk.FDMax, hs), n, nil)
}

// ceilMul is ceil(v*h), at least floor.
func ceilMul(v int64, h float64, floor int64) int64 {
	f := float64(v) * h
	var r int64
	if f >= 1<<62 {
		r = 1 << 62
	} else {
		r = int64(f)
		if float64(r) < f {
			r++
		}
	}
	return max(r, floor)
}

const (
	mib = 1 << 20
	gib = 1 << 30
)

// MemoryLimit is mem x headroom, at least 16M, rounded up to whole
// mebibytes and written with the M suffix (G when it is whole gibibytes),
// the only byte-size forms sandlock accepts besides K.
func MemoryLimit(mem int64, headroom float64) string {
	b := ceilMul(mem, headroom, 16*mib)
	m := b / mib
	if b%mib != 0 {
		m++
	}
	if m%1024 == 0 {
		return strconv.FormatInt(m/1024, 10) + "G"
	}
	return strconv.FormatInt(m, 10) + "M"
}

func (b *builder) program() {
	r := b.c.runs[0]
	s := r.start
	for i, o := range b.c.runs[1:] {
		if !slices.Equal(o.start.Argv, s.Argv) || o.start.Cwd != s.Cwd {
			b.warn("", "run %d ran %q in %s, run 1 ran %q in %s: [program] comes from run 1",
				i+2, o.start.Argv, showPath(o.start.Cwd), s.Argv, showPath(s.Cwd))
		}
	}
	exe, how := b.c.resolveProgram(r)
	switch {
	case exe == "":
		b.warn("", "argv[0] %q was not found on PATH and no exec was observed: program.exec not learned", s.Argv[0])
	case !utf8.ValidString(exe):
		b.warn(exe, "program %s is not valid UTF-8: program.exec not learned", showPath(exe))
	default:
		if how != "" {
			b.warn(exe, "%s", how)
		}
		b.grant("program", "exec", exe, fmt.Sprintf("argv[0] %q resolved", s.Argv[0]), 1, nil)
	}
	args := make([]any, 0, len(s.Argv)-1)
	for _, a := range s.Argv[1:] {
		args = append(args, a)
	}
	b.grant("program", "args", args, "argv[1:] of the traced command", 1, nil)
	switch fi, err := os.Stat(s.Cwd); {
	case !utf8.ValidString(s.Cwd):
		b.warn(s.Cwd, "working directory %s is not valid UTF-8: program.cwd not learned", showPath(s.Cwd))
	case err != nil || !fi.IsDir():
		b.warn(s.Cwd, "working directory %s does not exist now: program.cwd not learned", s.Cwd)
	default:
		b.grant("program", "cwd", s.Cwd, "working directory of the traced run", 1, nil)
	}
}

// resolveProgram resolves argv[0] as execvp would: with a slash, against
// the run's cwd; without, on PATH (relative PATH entries against the cwd).
// A script resolves to the script, where the first exec record would name its
// interpreter. When nothing is found, the first executed binary stands in,
// with a note.
func (c *Collapser) resolveProgram(r *run) (exe, note string) {
	a0 := r.start.Argv[0]
	isExec := func(p string) bool {
		fi, err := os.Stat(p)
		return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
	}
	abs := func(p string) string {
		if !strings.HasPrefix(p, "/") {
			p = r.start.Cwd + "/" + p
		}
		return cleanPath(p)
	}
	if strings.Contains(a0, "/") {
		if p := abs(a0); isExec(p) {
			return p, ""
		}
	} else if a0 != "" {
		for _, dir := range strings.Split(c.opts.PathEnv, ":") {
			if dir == "" {
				dir = "."
			}
			if p := abs(dir + "/" + a0); isExec(p) {
				return p, ""
			}
		}
	}
	if r.hasExec {
		return r.firstExec, fmt.Sprintf("argv[0] %q not found on PATH now: program.exec is the first executed binary (an interpreter, if the command was a script)", a0)
	}
	return "", ""
}

// cleanPath is filepath.Clean without its dependence on the OS.
func cleanPath(p string) string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, c)
		}
	}
	return "/" + strings.Join(out, "/")
}
