//go:build tools

// Package deps pins the chosen dependencies in go.mod while the packages
// that use them are being written, so parallel work does not race on
// `go get`. Remove an import once real code uses it.
package deps

import (
	_ "github.com/BurntSushi/toml"
	_ "github.com/landlock-lsm/go-landlock/landlock"
	_ "github.com/mattn/go-isatty"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/urfave/cli/v2"
	_ "golang.org/x/net/bpf"
	_ "golang.org/x/sys/unix"
)
