// Command sandlock-emit turns a grant stream into a sandlock profile.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) }
