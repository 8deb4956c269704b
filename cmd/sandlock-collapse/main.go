// Command sandlock-collapse turns sandlock-trace event streams into the grant
// stream that sandlock-emit writes as a profile. See pkg/collapse for the
// policy and shared/design/pipeline.md for the streams.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr, os.Getenv)) }
