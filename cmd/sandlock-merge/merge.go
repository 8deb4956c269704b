package main

import (
	"io"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sandlock-learn/sandlock-learn/internal/cliutil"
	"github.com/sandlock-learn/sandlock-learn/pkg/profile"
)

// Exit codes, as pipeline.md defines them for every binary.
const (
	exitOK    = cliutil.ExitOK
	exitBad   = cliutil.ExitBad   // bad input
	exitUsage = cliutil.ExitUsage // unknown flag, wrong arguments
	exitTool  = cliutil.ExitTool  // the tool itself failed (cannot write the output)
)

const name = "sandlock-merge"

const usageText = `sandlock-merge [-o OUT] BASE NEW

Writes one sandlock profile that allows everything BASE or NEW allows, to
standard output or to OUT. "-" reads one of the two from standard input.

Both are decoded as strictly as sandlock loads them: an unknown section or
key, or a value of the wrong type, is an error naming the file, the line and
the key. Then:
   - every list is the union of both (filesystem read/write/deny, network
     allow/deny/allow_bind/deny_bind, http allow/deny, syscalls), without
     paths that another path of the same list covers, and without reads
     that a write covers;
   - limits take the larger value (a limit one side does not set is
     unlimited, or sandlock's default of 64 for processes);
   - program exec/args/cwd and every key that is not learned come from
     BASE, and from NEW only where BASE does not set them.
The header says what was merged and when (SOURCE_DATE_EPOCH, when set,
fixes the time), and keeps the command lines of both headers.

OUT is written atomically, so merging into BASE in place is safe: on any
error BASE is left as it was.

Examples:
   sandlock-merge -o app.toml app.toml app-run2.toml
   sandlock-trace -- app --other-input | sandlock-collapse | sandlock-emit \
       | sandlock-merge -o app.toml app.toml -

Exit status: 0 written, 1 bad input, 2 usage error, 125 cannot write OUT.`

// failure is an error with the exit status it calls for.
type failure = cliutil.Failure

var fail = cliutil.Fail

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var output string
	app := &cli.App{
		Name:            name,
		Usage:           "join two sandlock profiles into one that allows what either allows",
		UsageText:       usageText,
		HideHelpCommand: true,
		Writer:          stdout,
		ErrWriter:       stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the merged profile to `OUT` (atomically; OUT may be BASE)", Destination: &output},
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return &failure{Code: exitUsage, Err: err}
		},
		ExitErrHandler: func(*cli.Context, error) {}, // run reports errors, once
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return fail(exitUsage, "want two profiles, BASE and NEW; got %d arguments", c.NArg())
			}
			basePath, newPath := c.Args().Get(0), c.Args().Get(1)
			if basePath == "-" && newPath == "-" {
				return fail(exitUsage, "only one of BASE and NEW can be standard input (-)")
			}
			return merge(basePath, newPath, output, stdin, stdout)
		},
	}
	return cliutil.Report(name, app.Run(args), stderr, exitOK)
}

func merge(basePath, newPath, output string, stdin io.Reader, stdout io.Writer) error {
	base, baseName, err := load(basePath, stdin)
	if err != nil {
		return err
	}
	next, nextName, err := load(newPath, stdin)
	if err != nil {
		return err
	}
	at, err := now()
	if err != nil {
		return err
	}
	m := profile.Merge(base, next)
	m.Header = profile.MergeHeader(baseName, nextName, base, next, at)
	data, err := profile.Marshal(m)
	if err != nil {
		return fail(exitBad, "%v", err)
	}
	// The result must load as strictly as its inputs did.
	if _, err := profile.Decode(data, "the merged profile"); err != nil {
		return fail(exitTool, "internal error: %v", err)
	}
	if output != "" {
		if err := profile.WriteFileAtomic(output, data); err != nil {
			return fail(exitTool, "cannot write the merged profile: %v", err)
		}
		return nil
	}
	if _, err := stdout.Write(data); err != nil {
		return fail(exitTool, "cannot write the merged profile: %v", err)
	}
	return nil
}

// load decodes one input strictly and checks its paths are absolute and
// canonical (covered-path removal compares paths as strings, which is only
// right for canonical ones). Whether they exist is not checked: a merge
// may run on another machine than the one the profile is for.
func load(path string, stdin io.Reader) (*profile.Profile, string, error) {
	var p *profile.Profile
	var err error
	displayName := path
	if path == "-" {
		displayName = "stdin"
		p, err = profile.DecodeReader(stdin, displayName)
	} else {
		p, err = profile.DecodeFile(path)
	}
	if err != nil {
		return nil, "", &failure{Code: exitBad, Err: err}
	}
	if err := p.Validate(false); err != nil {
		return nil, "", &failure{Code: exitBad, Err: err}
	}
	return p, displayName, nil
}

// now is the merge time for the header: SOURCE_DATE_EPOCH when set (the
// reproducible-builds convention, which also makes test output fixed),
// else the clock.
func now() (time.Time, error) {
	s, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !ok || s == "" {
		return time.Now(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fail(exitUsage, "SOURCE_DATE_EPOCH=%q is not a count of seconds", s)
	}
	return time.Unix(n, 0), nil
}
