// Package cliutil is the one place the commands turn an error into a
// message and an exit status, so that every binary reports the same way:
// "NAME: what went wrong" on stderr, once, with the status pipeline.md gives.
package cliutil

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Exit statuses shared by every binary (pipeline.md).
const (
	ExitOK    = 0
	ExitBad   = 1   // bad input, or a refused request
	ExitUsage = 2   // unknown flag, wrong arguments
	ExitTool  = 125 // the tool itself failed
)

// Failure is an error with the exit status it calls for.
type Failure struct {
	Code int
	Err  error
}

func (f *Failure) Error() string { return f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

// Fail returns a Failure with a formatted message.
func Fail(code int, format string, args ...any) error {
	return &Failure{Code: code, Err: fmt.Errorf(format, args...)}
}

// Report prints err as "name: message" on stderr and returns its exit
// status; a nil err returns ok. An error that is not a Failure is bad input
// (ExitBad), except urfave/cli's own complaints about flags, which are usage
// errors; usage errors point at --help.
func Report(name string, err error, stderr io.Writer, ok int) int {
	if err == nil {
		return ok
	}
	code := ExitBad
	var f *Failure
	switch {
	case errors.As(err, &f):
		code = f.Code
	case strings.HasPrefix(err.Error(), "Required flag"):
		// urfave/cli reports a missing required flag as a plain error.
		code = ExitUsage
	}
	msg := err.Error()
	if code == ExitUsage {
		msg += " (see " + name + " --help)"
	}
	fmt.Fprintf(stderr, "%s: %s\n", name, msg)
	return code
}
