package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sandlock-learn/sandlock-learn/internal/cliutil"
	"github.com/sandlock-learn/sandlock-learn/pkg/event"
	"github.com/sandlock-learn/sandlock-learn/pkg/profile"
)

// Exit codes, as pipeline.md defines them for every binary.
const (
	exitOK    = cliutil.ExitOK
	exitBad   = cliutil.ExitBad   // bad input, or a refused request
	exitUsage = cliutil.ExitUsage // unknown flag, wrong arguments
	exitTool  = cliutil.ExitTool  // the tool itself failed (cannot write the output)
)

const name = "sandlock-emit"

const usageText = `sandlock-emit [-o FILE] [--allow-failure] [--allow-incomplete] [GRANTS]

Reads a grant stream (NDJSON from sandlock-collapse; GRANTS is a file, or
standard input when absent or "-") and writes the sandlock profile it
describes, as TOML, to standard output or to FILE.

The emitter makes no policy decision: it checks every grant against the
sandlock 0.8.6 schema (key, type, absolute existing paths, ports 1-65535,
memory sizes with K, M or G) and writes keys in schema order, lists sorted,
under a header comment naming the command, kernel, time and runs. On any
error nothing is written and the exit status is 1.

It refuses (exit 1) a run whose workload failed (non-zero exit, or killed by
a signal other than the trace's own timeout): a failed run may have stopped
before doing all it needs. --allow-failure writes the profile anyway. It also
refuses a trace that was cut off (no exit record) unless --allow-incomplete.
A run stopped by the trace's --timeout gives a profile marked "partial".

Examples:
   sandlock-trace -- python3 build.py | sandlock-collapse | sandlock-emit > build.toml
   sandlock-emit -o build.toml grants.ndjson
   sandlock-emit --allow-failure < grants.ndjson   # the workload exited non-zero

Exit status: 0 written, 1 bad input or refused, 2 usage error, 125 cannot
write the output.`

// failure is an error with the exit status it calls for.
type failure = cliutil.Failure

var fail = cliutil.Fail

type options struct {
	output          string
	allowFailure    bool
	allowIncomplete bool
	input           string
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var opts options
	app := &cli.App{
		Name:            name,
		Usage:           "write the sandlock profile a grant stream describes",
		UsageText:       usageText,
		HideHelpCommand: true,
		Writer:          stdout,
		ErrWriter:       stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the profile to `FILE` (atomically) instead of standard output", Destination: &opts.output},
			&cli.BoolFlag{Name: "allow-failure", Usage: "write a profile even though the workload failed", Destination: &opts.allowFailure},
			&cli.BoolFlag{Name: "allow-incomplete", Usage: "write a profile even though the trace has no exit record", Destination: &opts.allowIncomplete},
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return &failure{Code: exitUsage, Err: err}
		},
		ExitErrHandler: func(*cli.Context, error) {}, // run reports errors, once
		Action: func(c *cli.Context) error {
			switch c.NArg() {
			case 0:
				opts.input = "-"
			case 1:
				opts.input = c.Args().First()
			default:
				return fail(exitUsage, "want at most one input file, got %d arguments", c.NArg())
			}
			return emit(&opts, stdin, stdout, stderr)
		},
	}
	return cliutil.Report(name, app.Run(args), stderr, exitOK)
}

func emit(opts *options, stdin io.Reader, stdout, stderr io.Writer) error {
	in, inName := stdin, "stdin"
	if opts.input != "-" {
		f, err := os.Open(opts.input)
		if err != nil {
			return fail(exitBad, "%v", err)
		}
		defer f.Close()
		in, inName = f, opts.input
	}
	st, err := readGrants(event.NewReader(in, inName), stderr)
	if err != nil {
		return err
	}
	m := st.meta
	switch {
	case (m.Exit == nil || !m.Complete) && !opts.allowIncomplete:
		return fail(exitBad, "%s: the trace is incomplete (a run has no exit record: the tracer was cut off); refusing to write a profile from it (--allow-incomplete writes it anyway)", inName)
	case m.Exit != nil && m.Exit.Failed() && !opts.allowFailure:
		return fail(exitBad, "%s: the workload failed (%s); a failed run may not have done all it needs, so no profile is written (--allow-failure writes it anyway)", inName, exitStatus(m.Exit))
	}
	p := st.prof
	p.Header = header(m, st.warnings)
	data, err := profile.Marshal(p)
	if err != nil {
		return fail(exitBad, "%s: %v", inName, err)
	}
	// What we write must load: decode it back as strictly as sandlock-check
	// and sandlock-merge will, and check the paths once more (they may have
	// gone away while the stream was read).
	back, err := profile.Decode(data, "the emitted profile")
	if err != nil {
		return fail(exitTool, "internal error: %v", err)
	}
	if err := back.Validate(true); err != nil {
		return fail(exitBad, "%s: %v", inName, err)
	}
	if opts.output != "" {
		if err := profile.WriteFileAtomic(opts.output, data); err != nil {
			return fail(exitTool, "cannot write the profile: %v", err)
		}
		return nil
	}
	if _, err := stdout.Write(data); err != nil {
		return fail(exitTool, "cannot write the profile: %v", err)
	}
	return nil
}

type stream struct {
	meta     *event.Meta
	prof     *profile.Profile
	warnings []string
}

// readGrants reads the whole grant stream into a profile, checking each
// grant as it comes so that an error names its line.
func readGrants(r *event.Reader, stderr io.Writer) (*stream, error) {
	st := &stream{prof: &profile.Profile{}}
	lineErr := func(format string, args ...any) error {
		return &failure{Code: exitBad, Err: &event.LineError{Name: r.Name(), Line: r.Line(), Msg: fmt.Sprintf(format, args...)}}
	}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &failure{Code: exitBad, Err: err}
		}
		if st.meta == nil {
			m, ok := rec.(*event.Meta)
			if !ok {
				return nil, lineErr("the first record is %q, want \"meta\": %s", rec.RecordType(), notGrants(rec))
			}
			st.meta = m
			continue
		}
		switch v := rec.(type) {
		case *event.Meta:
			return nil, lineErr("a second meta record: one grant stream makes one profile (sandlock-merge joins profiles)")
		case *event.Grant:
			if err := st.prof.Add(v.Section, v.Key, v.Value); err != nil {
				return nil, lineErr("grant: %v", err)
			}
			// Check this value alone too (paths exist, ports, sizes), so the
			// error points at this line rather than at the whole profile.
			if err := profile.ValidateValue(v.Section, v.Key, v.Value, true); err != nil {
				return nil, lineErr("grant: %v", err)
			}
		case *event.Warning:
			w := v.Msg
			if v.Path != "" {
				w += " (" + v.Path + ")"
			}
			fmt.Fprintf(stderr, "%s: warning: %s\n", name, profile.Comment(w))
			st.warnings = append(st.warnings, w)
		case *event.Unknown:
			fmt.Fprintf(stderr, "%s: %s:%d: skipping a record of unknown type %q\n", name, r.Name(), r.Line(), v.Type)
		default:
			return nil, lineErr("a %q record in a grant stream: %s", rec.RecordType(), notGrants(rec))
		}
	}
	if st.meta == nil {
		return nil, &failure{Code: exitBad, Err: &event.LineError{Name: r.Name(), Msg: "empty grant stream (no meta record)"}}
	}
	return st, nil
}

func notGrants(rec event.Record) string {
	switch rec.(type) {
	case *event.Start, *event.FS, *event.Exec, *event.Net, *event.Peak, *event.Exit, *event.Syscalls:
		return "this is an event stream; pipe it through sandlock-collapse first"
	}
	return "not a grant stream"
}

// header is the comment block of an emitted profile.
func header(m *event.Meta, warnings []string) []string {
	h := []string{
		"sandlock profile learned by sandlock-learn (sandlock-emit)",
		"command: " + shellJoin(m.Argv),
		"cwd: " + m.Cwd,
		"kernel: " + m.Kernel,
		"time: " + m.Time,
		"runs: " + strconv.Itoa(m.Runs),
	}
	if m.Exit != nil && m.Exit.TimedOut {
		secs := int64(math.Round(float64(m.Exit.DurationMS) / 1000))
		h = append(h, fmt.Sprintf("partial: timed out after %d s; what the workload would have done later is missing", secs))
	}
	if m.Exit == nil || !m.Complete {
		h = append(h, "incomplete: a run has no exit record; written with --allow-incomplete")
	} else if m.Exit.Failed() {
		h = append(h, "failed: the workload "+exitStatus(m.Exit)+"; written with --allow-failure")
	}
	for _, w := range m.Warnings {
		h = append(h, "warning: "+w)
	}
	for _, w := range warnings {
		h = append(h, "warning: "+w)
	}
	return h
}

func exitStatus(e *event.Exit) string {
	if e.Code != nil {
		return "exited with status " + strconv.Itoa(*e.Code)
	}
	return "was killed by " + e.Signal
}

// shellJoin quotes argv the way a shell user would type it, so the header
// line can be copied back into a terminal.
func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	plain := true
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("@%+=:,./_-", c) >= 0) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
