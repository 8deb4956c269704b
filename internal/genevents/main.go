// Command gen-events writes a synthetic event stream for benchmarking the
// sandlock-collapse | sandlock-emit pipeline (scripts/gen-events runs it, and
// scripts/bench builds it). The stream is valid per pkg/event and
// deterministic for a seed, so two machines time the same input.
//
// It lives under internal/ because it is a test tool, not part of the
// product; nothing imports it.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

const (
	exitOK      = 0
	exitUsage   = 2
	exitFailure = 125
)

func main() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	code := exitOK
	app := &cli.App{
		Name:      "gen-events",
		Usage:     "write a synthetic sandlock-trace event stream for benchmarks",
		UsageText: "gen-events [--paths N] [--seed S] [-o FILE] [EVENTS]",
		Description: `Writes EVENTS records (default 1000000): a start record first, a peak and an
exit record last, and in between fs, exec and net records in the proportions
of a Python-heavy build (reads under /usr/lib/python3.11, writes under
/tmp/build, a few execs and connects), over exactly --paths distinct fs paths
with hot paths revisited often. A few paths are not UTF-8 (path_b64).

Examples:
   gen-events 1000000 > events.ndjson
   gen-events --paths 5000 20000 | sandlock-collapse | sandlock-emit
   gen-events -o /tmp/ev.ndjson --seed 7 100000
   gen-events --root /tmp/fakeroot -o ev.ndjson 1000000   # and create its 200,000 paths`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "paths", Value: 200_000, Usage: "distinct fs paths in the stream"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "random seed; the same seed gives the same stream"},
			&cli.StringFlag{Name: "root", Usage: "prefix every path with `DIR` and create the paths there (a stream whose paths exist)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` (atomically) instead of stdout"},
		},
		HideHelpCommand: true,
		Reader:          stdin,
		Writer:          stdout,
		ErrWriter:       stderr,
		ExitErrHandler:  func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageErr{err.Error()}
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return usageError("at most one argument (the event count), got %d", c.NArg())
			}
			cfg := Config{Events: 1_000_000, Paths: c.Int("paths"), Seed: c.Uint64("seed"), Root: c.String("root")}
			if c.NArg() == 1 {
				n, err := strconv.Atoi(c.Args().First())
				if err != nil {
					return usageError("event count %q is not a number", c.Args().First())
				}
				cfg.Events = n
			}
			if cfg.Events < 3 || cfg.Paths < 1 {
				return usageError("need at least 3 events and 1 path")
			}
			if out := c.String("output"); out != "" {
				return writeFile(out, cfg)
			}
			bw := bufio.NewWriterSize(stdout, 1<<20)
			w := event.NewWriter(bw)
			if err := Generate(w, cfg); err != nil {
				return err
			}
			if err := w.Flush(); err != nil {
				return err
			}
			return bw.Flush()
		},
	}
	if err := app.Run(args); err != nil {
		code = exitFailure
		var ue usageErr
		if errors.As(err, &ue) {
			code = exitUsage
		}
		fmt.Fprintf(stderr, "gen-events: %v\n", err)
	}
	return code
}

type usageErr struct{ msg string }

func (e usageErr) Error() string { return e.msg }

func usageError(format string, args ...any) error {
	return usageErr{fmt.Sprintf(format, args...)}
}

// writeFile writes the stream to a temporary file beside path and renames
// it, so an interrupted run never leaves a truncated stream to benchmark.
func writeFile(path string, cfg Config) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".gen-events-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := event.NewWriter(f)
	if err = Generate(w, cfg); err != nil {
		return err
	}
	if err = w.Flush(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
