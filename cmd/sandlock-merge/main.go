// Command sandlock-merge joins two sandlock profiles into one that allows
// what either allows.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) }
