package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/sandlock-learn/sandlock-learn/internal/cliutil"
	"github.com/sandlock-learn/sandlock-learn/pkg/check"
	"github.com/sandlock-learn/sandlock-learn/pkg/event"
	"github.com/sandlock-learn/sandlock-learn/pkg/profile"
)

// Exit codes, as pipeline.md defines them; otherwise the workload's status.
const (
	exitBad      = cliutil.ExitBad   // bad profile
	exitUsage    = cliutil.ExitUsage // unknown flag, wrong arguments
	exitTool     = cliutil.ExitTool  // the tool failed, or the kernel cannot enforce
	exitNotFound = 127               // the command was not found
)

const name = "sandlock-check"

const usageText = `sandlock-check -p PROFILE [--unused] [--json FILE] [-- CMD [ARGS...]]

Runs CMD (without CMD: program.exec with program.args, in program.cwd) under
the profile the way "sandlock run -p PROFILE" does: Landlock allows reading
below each filesystem.read path and reading and writing below each
filesystem.write path, TCP connect only to the ports of network.allow and
bind only to network.allow_bind; a connect or send to an address no
network.allow rule names fails with ECONNREFUSED, a UDP socket without a UDP
rule with EPERM, as under sandlock; limits.open_files becomes RLIMIT_NOFILE.

The address check reads each connect's or send's address from the
command's memory, then lets an allowed call run, and the kernel reads the
address again: a hostile multi-threaded program can swap it in between
(sandlock itself performs allowed calls on the program's behalf and has no
such gap). sandlock-check proves that a program works under a profile and
explains what the profile lacks; it is not a boundary against code written
to race it. Landlock's rules (files, TCP ports) have no such gap.

Every operation the profile refuses is explained on standard error, e.g.
   sandlock-check: denied: read /etc/shadow (pid 4242 cat)
and at the end comes the command that widens the profile to allow them.
What sandlock enforces and this tool cannot (memory and process limits,
[http] rules, ...) is said once, before the run.

The profile is loaded as strictly as sandlock loads it: an unknown section
or key, a value of the wrong type or a path that does not exist is an error
naming the line, and nothing runs.

Examples:
   sandlock-learn -o build.toml -- make -j2
   sandlock-check -p build.toml -- make -j2          # works: no denial
   sandlock-check -p build.toml -- make install      # explains what install needs
   sandlock-check -p build.toml --unused -- make -j2  # which grants were never used
   sandlock-check -p build.toml --json denials.ndjson -- make -j2
   jq -r 'select(.type=="denial") | .path' denials.ndjson

Exit status: the command's own (128+N when signal N killed it); 1 for a bad
profile; 2 for a usage error; 125 when the kernel cannot enforce (no
Landlock) or the tool failed; 126/127 when the command could not be
executed / was not found.`

// failure is an error with the exit status it calls for.
type failure = cliutil.Failure

var fail = cliutil.Fail

type options struct {
	profile string
	unused  bool
	json    string
	argv    []string
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var opts options
	status := 0
	app := &cli.App{
		Name:            name,
		Usage:           "run a command confined by a sandlock profile and explain every denial",
		UsageText:       usageText,
		HideHelpCommand: true,
		Writer:          stdout,
		ErrWriter:       stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "profile", Aliases: []string{"p"}, Usage: "the sandlock profile to enforce (`FILE`)", Destination: &opts.profile, Required: true},
			&cli.BoolFlag{Name: "unused", Usage: "after the run, list each grant with the number of operations it covered, and the unused ones", Destination: &opts.unused},
			&cli.StringFlag{Name: "json", Usage: "also write the denials as NDJSON \"denial\" records to `FILE` (\"-\" = standard output)", Destination: &opts.json},
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return &failure{Code: exitUsage, Err: err}
		},
		ExitErrHandler: func(*cli.Context, error) {}, // run reports errors, once
		Action: func(c *cli.Context) error {
			opts.argv = c.Args().Slice()
			var err error
			status, err = checkRun(&opts, stdin, stdout, stderr)
			return err
		},
	}
	return cliutil.Report(name, app.Run(args), stderr, status)
}

func checkRun(opts *options, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	p, err := profile.DecodeFile(opts.profile)
	if err != nil {
		return 0, fail(exitBad, "%v", err)
	}
	if err := p.Validate(true); err != nil {
		return 0, fail(exitBad, "%v", err)
	}
	argv, dir := opts.argv, p.Program.Cwd
	if len(argv) == 0 {
		if p.Program.Exec == "" {
			return 0, fail(exitUsage, "no command: give one after -- or set program.exec in %s", opts.profile)
		}
		argv = append([]string{p.Program.Exec}, p.Program.Args...)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return 0, fail(exitNotFound, "%s: command not found", argv[0])
	}

	abi, err := check.KernelABI()
	if err != nil {
		return 0, fail(exitTool, "%v", err)
	}
	pol, err := check.NewPolicy(p, abi, check.DefaultResolver)
	if err != nil {
		return 0, fail(exitBad, "%s: %v", opts.profile, err)
	}
	if abi < check.MinSandlockABI {
		fmt.Fprintf(stderr, "%s: warning: this kernel has Landlock ABI %d; sandlock needs %d and would refuse to run here; checking with what the kernel has\n", name, abi, check.MinSandlockABI)
	}
	if abi < 4 {
		fmt.Fprintf(stderr, "%s: warning: Landlock ABI %d cannot restrict TCP ports: network.allow_bind is not enforced, and network.allow only by the address check\n", name, abi)
	}
	if len(pol.Unenforced) > 0 {
		fmt.Fprintf(stderr, "%s: not enforced here as sandlock would: %s\n", name, strings.Join(pol.Unenforced, "; "))
	}

	var jsonOut *event.Writer
	var jsonFile *os.File
	if opts.json != "" {
		if opts.json == "-" {
			jsonOut = event.NewWriter(stdout)
		} else {
			jsonFile, err = os.Create(opts.json)
			if err != nil {
				return 0, fail(exitTool, "--json: %v", err)
			}
			defer jsonFile.Close()
			jsonOut = event.NewWriter(jsonFile)
		}
	}
	var mu sync.Mutex
	onDenial := func(d *event.Denial) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, "%s: %s\n", name, check.FormatDenial(d))
		if jsonOut != nil {
			jsonOut.Write(d)
			// A tool reading the file follows the run as it goes.
			jsonOut.Flush()
		}
	}
	sess := check.NewSession(pol, onDenial)
	cfg := check.RunConfig{
		Policy:    pol,
		Session:   sess,
		Path:      path,
		Argv:      argv,
		Dir:       dir,
		Supervise: true,
		Warn: func(msg string) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(stderr, "%s: warning: %s\n", name, msg)
		},
	}
	var closeIO func() error
	cfg.Stdin, cfg.Stdout, cfg.Stderr, closeIO, err = files(stdin, stdout, stderr)
	if err != nil {
		return 0, fail(exitTool, "%v", err)
	}
	status, err := check.Run(cfg)
	if errors.Is(err, check.ErrNoSupervisor) {
		// Nothing ran yet: enforce without explaining rather than not at all.
		if opts.unused {
			closeIO()
			return 0, fail(exitTool, "--unused: %v", err)
		}
		msg := "enforcing without explanations"
		if len(pol.Net.Allow) > 0 {
			msg += ", and network.allow by TCP port only (Landlock): addresses and UDP destinations are not checked"
		}
		fmt.Fprintf(stderr, "%s: warning: %v; %s\n", name, err, msg)
		cfg.Supervise = false
		status, err = check.Run(cfg)
	}
	if cerr := closeIO(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return 0, fail(exitTool, "%v", err)
	}
	if jsonOut != nil {
		if err := jsonOut.Flush(); err != nil {
			return 0, fail(exitTool, "--json: %v", err)
		}
	}
	if all, unlearnable := sess.Denials(); all > unlearnable {
		fmt.Fprintf(stderr, "%s: %d operation(s) denied; to extend the profile with what this run needs:\n%s:   sandlock-learn --merge %s -- %s\n",
			name, all-unlearnable, name, shellQuote(opts.profile), shellJoin(argv))
	}
	if opts.unused {
		reportUsage(stderr, sess.Usage())
	}
	return status, nil
}

// files gives the workload real files: the streams as they are when they
// are files (the usual case: a terminal, a pipe, a redirection), else pipes
// copied to and from them (tests, embedding).
func files(stdin io.Reader, stdout, stderr io.Writer) (in, out, errf *os.File, wait func() error, err error) {
	var copies sync.WaitGroup
	var closers []*os.File
	var errs []error
	var emu sync.Mutex
	pipeOut := func(w io.Writer) (*os.File, error) {
		if f, ok := w.(*os.File); ok {
			return f, nil
		}
		r, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		closers = append(closers, pw)
		copies.Add(1)
		go func() {
			defer copies.Done()
			defer r.Close()
			if _, err := io.Copy(w, r); err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		}()
		return pw, nil
	}
	if f, ok := stdin.(*os.File); ok {
		in = f
	} else if stdin != nil {
		r, pw, perr := os.Pipe()
		if perr != nil {
			return nil, nil, nil, nil, perr
		}
		closers = append(closers, r)
		go func() {
			io.Copy(pw, stdin)
			pw.Close()
		}()
		in = r
	}
	if out, err = pipeOut(stdout); err != nil {
		return nil, nil, nil, nil, err
	}
	if errf, err = pipeOut(stderr); err != nil {
		return nil, nil, nil, nil, err
	}
	wait = func() error {
		for _, c := range closers {
			c.Close()
		}
		copies.Wait()
		return errors.Join(errs...)
	}
	return in, out, errf, wait, nil
}

func reportUsage(w io.Writer, use []check.GrantUse) {
	var unused []string
	for _, u := range use {
		if u.Used == 0 {
			unused = append(unused, u.Ref)
		}
		note := ""
		if u.ReadOnly {
			note = " (only read through: a filesystem.read grant would do)"
		}
		fmt.Fprintf(w, "%s: used %6d: %s%s\n", name, u.Used, u.Ref, note)
	}
	if len(unused) == 0 {
		fmt.Fprintf(w, "%s: every grant was used\n", name)
		return
	}
	for _, r := range unused {
		fmt.Fprintf(w, "%s: unused: %s\n", name, r)
	}
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}
