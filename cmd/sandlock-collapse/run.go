package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sandlock-learn/sandlock-learn/internal/cliutil"
	"github.com/sandlock-learn/sandlock-learn/pkg/collapse"
	"github.com/sandlock-learn/sandlock-learn/pkg/event"
	"github.com/sandlock-learn/sandlock-learn/pkg/profile"
	"github.com/urfave/cli/v2"
)

const name = "sandlock-collapse"

const description = `Reads one or more event streams (stdin, or FILE arguments; "-" is stdin),
decides every grant the workload needs and writes the grant stream for
sandlock-emit. Concatenated streams are several runs of the same command:
their grants are united.

   sandlock-trace -- python3 build.py | sandlock-collapse | sandlock-emit > profile.toml
   sandlock-collapse run1.ndjson run2.ndjson > grants.ndjson
   sandlock-collapse --collapse 0 -o grants.ndjson < events.ndjson      # no threshold
   sandlock-collapse --collapse-prefix /usr/lib/python3.12 < events.ndjson
   jq 'select(.type=="grant" and .key=="write")' grants.ndjson        # why is it writable?

Filesystem: reads and executed files become read grants; written files
write grants; creating, removing or renaming an entry a write grant on its
directory (the nearest one that still exists). Only existing paths are
granted. --collapse N grants a whole directory once N distinct entries
directly under it are used. Never granted: /, /proc/self, /proc/<pid>,
/dev/pts, /dev/tty. Protected paths (/root, */.ssh, */.aws, */.kube,
*/.gnupg) are never reached by collapsing; guarded ones (/etc, /proc, /sys,
/dev, /boot, /run/secrets, $HOME) only by a write collapse, with a warning
listing what else becomes writable.

Network: TCP connects, UDP destinations that data was sent to (not
getaddrinfo's probes), ICMP targets, TCP bind ports. Limits: from the traced
peaks (sandlock's memory ledger, not RSS) times --headroom.

Exit status: 0 ok, 1 bad input or refused request, 2 usage error, 125 the
output could not be written.`

func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	app := &cli.App{
		Name:                      name,
		Usage:                     "turn sandlock-trace events into sandlock grants",
		UsageText:                 name + " [flags] [FILE...]",
		Description:               description,
		Writer:                    stdout,
		ErrWriter:                 stderr,
		HideHelpCommand:           true,
		DisableSliceFlagSeparator: true, // a path may contain a comma
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "collapse", Value: collapse.DefaultThreshold, Usage: "grant a directory once `N` distinct entries directly under it are used (0: off)"},
			&cli.StringSliceFlag{Name: "collapse-prefix", Usage: "grant everything used under `DIR` as DIR itself (repeatable)"},
			&cli.BoolFlag{Name: "force-sensitive-collapse", Usage: "allow --collapse-prefix on protected and guarded paths"},
			&cli.Float64Flag{Name: "headroom", Value: collapse.DefaultHeadroom, Usage: "multiply the traced peaks by `FACTOR` for [limits]"},
			&cli.StringFlag{Name: "home", Value: getenv("HOME"), Usage: "the user's home `DIR` (guarded: never reached by collapsing)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the grant stream to `FILE` (atomically) instead of stdout"},
			&cli.BoolFlag{Name: "check-options", Usage: "only check the flags (exit 1 on a refused prefix, 2 on a bad value) and read nothing: lets a wrapper refuse before it runs the workload"},
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return &cliutil.Failure{Code: cliutil.ExitUsage, Err: err}
		},
		ExitErrHandler: func(*cli.Context, error) {}, // run reports errors, once
		Action: func(ctx *cli.Context) error {
			return collapseAction(ctx, stdin, stdout, stderr, getenv)
		},
	}
	return cliutil.Report(name, app.Run(args), stderr, cliutil.ExitOK)
}

func collapseAction(ctx *cli.Context, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	c, err := collapse.New(collapse.Options{
		Threshold:      ctx.Int("collapse"),
		Prefixes:       ctx.StringSlice("collapse-prefix"),
		ForceSensitive: ctx.Bool("force-sensitive-collapse"),
		Headroom:       ctx.Float64("headroom"),
		Home:           ctx.String("home"),
		PathEnv:        getenv("PATH"),
	})
	var ue *collapse.UsageError
	if errors.As(err, &ue) {
		return &cliutil.Failure{Code: cliutil.ExitUsage, Err: err}
	}
	if err != nil {
		return &cliutil.Failure{Code: cliutil.ExitBad, Err: err}
	}
	if ctx.Bool("check-options") {
		return nil
	}
	inputs := ctx.Args().Slice()
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	for _, in := range inputs {
		if err := readInput(c, in, stdin, stderr); err != nil {
			return err
		}
	}
	res, err := c.Result()
	if err != nil {
		return &cliutil.Failure{Code: cliutil.ExitBad, Err: err}
	}
	var buf bytes.Buffer
	w := event.NewWriter(&buf)
	for _, r := range res.Records() {
		if err := w.Write(r); err != nil {
			return &cliutil.Failure{Code: cliutil.ExitTool, Err: err}
		}
	}
	if err := w.Flush(); err != nil {
		return &cliutil.Failure{Code: cliutil.ExitTool, Err: err}
	}
	for _, msg := range res.Errors {
		fmt.Fprintf(stderr, "%s: error: %s\n", name, msg)
	}
	if out := ctx.String("output"); out != "" && out != "-" {
		if err := writeAtomic(out, buf.Bytes()); err != nil {
			return &cliutil.Failure{Code: cliutil.ExitTool, Err: err}
		}
		return nil
	}
	if _, err := stdout.Write(buf.Bytes()); err != nil {
		return cliutil.Fail(cliutil.ExitTool, "write stdout: %w", err)
	}
	return nil
}

// readInput feeds one stream to c. Each input must open with a start
// record: a file that continues another one's run is a mistake, not a run.
func readInput(c *collapse.Collapser, in string, stdin io.Reader, stderr io.Writer) error {
	var r io.Reader
	label := in
	if in == "-" {
		r, label = stdin, "stdin"
	} else {
		f, err := os.Open(in)
		if err != nil {
			return &cliutil.Failure{Code: cliutil.ExitBad, Err: err}
		}
		defer f.Close()
		r = f
	}
	first := true
	err := readParallel(r, label, func(rec event.Record, line int) error {
		lineErr := func(msg string) error {
			return &event.LineError{Name: label, Line: line, Msg: msg}
		}
		if first {
			first = false
			if _, ok := rec.(*event.Start); !ok {
				return lineErr(fmt.Sprintf("first record is %q, want \"start\" (is this an event stream?)", rec.RecordType()))
			}
		}
		if u, ok := rec.(*event.Unknown); ok {
			fmt.Fprintf(stderr, "%s: warning: %s:%d: unknown record type %q, skipped\n", name, label, line, u.Type)
			return nil
		}
		if err := c.Add(rec); err != nil {
			return lineErr(err.Error())
		}
		return nil
	})
	if err != nil {
		return &cliutil.Failure{Code: cliutil.ExitBad, Err: err}
	}
	if first {
		return &cliutil.Failure{Code: cliutil.ExitBad, Err: &event.LineError{Name: label, Msg: "empty input: no start record"}}
	}
	return nil
}

// writeAtomic writes data to path through a temporary file in the same
// directory and a rename, so a failure never leaves a truncated file; a
// device or FIFO (-o /dev/stdout) is written in place instead of being
// replaced by a regular file (see profile.WriteFileAtomic).
func writeAtomic(path string, data []byte) error {
	return profile.WriteFileAtomic(path, data)
}
