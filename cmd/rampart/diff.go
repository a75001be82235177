package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rampartfw/rampart/analyze"
	"github.com/rampartfw/rampart/ruleset"
)

// diffTextRegions bounds the regions the text output lists per chain.
const diffTextRegions = 20

func cmdDiff(args []string) int {
	return runDiff(args, os.Stdin, os.Stdout, os.Stderr)
}

// runDiff is `rampart diff [-4|-6] A B [--chain C]... [--format text|json]`:
// exit 0 when the rulesets are proven equivalent, 1 when they differ (or
// may differ), 2 on bad input.
func runDiff(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	format := "text"
	var fam ruleset.Family
	var chains, files []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case isOpt(a, "--format"):
			v, ok := optValue(args, &i)
			if !ok || (v != "text" && v != "json") {
				fmt.Fprintln(stderr, "rampart diff: --format text|json")
				return 2
			}
			format = v
		case isOpt(a, "--chain"):
			v, ok := optValue(args, &i)
			v = strings.ToUpper(v)
			if !ok || (v != "INPUT" && v != "FORWARD" && v != "OUTPUT") {
				fmt.Fprintln(stderr, "rampart diff: --chain INPUT|FORWARD|OUTPUT")
				return 2
			}
			chains = append(chains, v)
		case a == "-4":
			fam = ruleset.IPv4
		case a == "-6":
			fam = ruleset.IPv6
		case strings.HasPrefix(a, "-") && a != "-":
			fmt.Fprintf(stderr, "rampart diff: unknown option %q\n", a)
			return 2
		default:
			files = append(files, a)
		}
	}
	if len(files) != 2 {
		fmt.Fprintln(stderr, "usage: rampart diff [-4|-6] A B [--chain INPUT|FORWARD|OUTPUT] [--format text|json]")
		return 2
	}
	if files[0] == "-" && files[1] == "-" {
		fmt.Fprintln(stderr, "rampart diff: only one of the rules files can be standard input")
		return 2
	}
	var data [2][]byte
	names := files
	for i, f := range files {
		var err error
		if f == "-" {
			data[i], err = io.ReadAll(stdin)
			names[i] = "<stdin>"
		} else {
			data[i], err = os.ReadFile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "rampart diff: %v\n", err)
			return 2
		}
	}
	rep, err := analyze.DiffFiles(names[0], data[0], names[1], data[1], fam, analyze.DiffOptions{Chains: chains})
	if err != nil {
		fmt.Fprintf(stderr, "rampart diff: %v\n", err)
		return 2
	}
	for _, w := range rep.Warnings {
		fmt.Fprintln(stderr, w)
	}
	if format == "json" {
		if err := rep.WriteJSON(stdout); err != nil {
			fmt.Fprintf(stderr, "rampart diff: %v\n", err)
			return 2
		}
	} else {
		rep.WriteText(stdout, diffTextRegions)
	}
	if rep.Equivalent {
		return 0
	}
	return 1
}
