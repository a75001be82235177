package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/rampartfw/rampart/analyze"
	"github.com/rampartfw/rampart/ruleset"
)

func cmdMatrix(args []string) int {
	return runMatrix(args, os.Stdin, os.Stdout, os.Stderr)
}

// matrixJSON is the JSON form of `rampart matrix`.
type matrixJSON struct {
	File     string            `json:"file"`
	Matrices []*analyze.Matrix `json:"matrices"`
	Warnings []string          `json:"warnings,omitempty"`
}

// runMatrix is `rampart matrix RULES [--service tcp/22 ...] [--chain
// INPUT|FORWARD] [--ipassmt FILE] [--sport N] [--format text|json|dot]
// [-4|-6]`: the service matrix of each service (fffuu's ssh and http by
// default).
func runMatrix(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	const usage = "usage: rampart matrix [-4|-6] RULES [--service PROTO/PORT]... [--chain INPUT|FORWARD] [--ipassmt FILE] [--sport PORT] [--format text|json|dot]"
	format := "text"
	o := analyze.MatrixOptions{Chain: "FORWARD"}
	var services []analyze.Service
	var fam ruleset.Family
	var file, assmtFile string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, _, _ := strings.Cut(a, "=")
		if !strings.HasPrefix(a, "--") {
			name = a
		}
		switch name {
		case "--service", "--format", "--chain", "--ipassmt", "--sport":
			v, ok := optValue(args, &i)
			if !ok {
				fmt.Fprintf(stderr, "rampart matrix: %s needs a value\n%s\n", name, usage)
				return 2
			}
			switch name {
			case "--service":
				for _, s := range strings.Split(v, ",") {
					sv, err := analyze.ParseService(strings.TrimSpace(s))
					if err != nil {
						fmt.Fprintf(stderr, "rampart matrix: %v\n", err)
						return 2
					}
					services = append(services, sv)
				}
			case "--format":
				if v != "text" && v != "json" && v != "dot" {
					fmt.Fprintf(stderr, "rampart matrix: --format %q: text, json or dot\n", v)
					return 2
				}
				format = v
			case "--chain":
				if v != "INPUT" && v != "FORWARD" {
					fmt.Fprintf(stderr, "rampart matrix: --chain %q: INPUT or FORWARD\n", v)
					return 2
				}
				o.Chain = v
			case "--ipassmt":
				assmtFile = v
			case "--sport":
				p, err := strconv.Atoi(v)
				if err != nil || p < 1 || p > 0xFFFF {
					fmt.Fprintf(stderr, "rampart matrix: --sport %q: a port 1-65535\n", v)
					return 2
				}
				o.SPort = p
			}
		case "-4":
			fam = ruleset.IPv4
		case "-6":
			fam = ruleset.IPv6
		case "-h", "--help":
			fmt.Fprintln(stdout, usage)
			return 0
		default:
			if strings.HasPrefix(a, "-") && a != "-" {
				fmt.Fprintf(stderr, "rampart matrix: unknown option %q\n%s\n", a, usage)
				return 2
			}
			if file != "" {
				fmt.Fprintf(stderr, "rampart matrix: one rules file expected\n%s\n", usage)
				return 2
			}
			file = a
		}
	}
	if file == "" {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(stdin)
		file = "<stdin>"
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		fmt.Fprintf(stderr, "rampart matrix: %v\n", err)
		return 2
	}
	if assmtFile != "" {
		ad, err := os.ReadFile(assmtFile)
		if err != nil {
			fmt.Fprintf(stderr, "rampart matrix: %v\n", err)
			return 2
		}
		if o.IPAssmt, err = analyze.ParseIPAssignment(assmtFile, ad); err != nil {
			fmt.Fprintf(stderr, "rampart matrix: %v\n", err)
			return 2
		}
		if fam == 0 && o.IPAssmt.Family != 0 && analyze.FileFamily(file, data) == 0 {
			// a script: the assignment's addresses tell the family
			fam = o.IPAssmt.Family
		}
	}
	ms, warnings, err := analyze.MatrixFile(file, data, fam, o, services)
	for _, w := range warnings {
		fmt.Fprintln(stderr, w)
	}
	if err != nil {
		fmt.Fprintf(stderr, "rampart matrix: %v\n", err)
		return 2
	}
	switch format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(matrixJSON{File: file, Matrices: ms, Warnings: warnings}); err != nil {
			fmt.Fprintf(stderr, "rampart matrix: %v\n", err)
			return 2
		}
	case "dot":
		for _, m := range ms {
			m.WriteDOT(stdout)
		}
	default:
		for i, m := range ms {
			if i > 0 {
				fmt.Fprintln(stdout)
			}
			m.WriteText(stdout)
		}
	}
	return 0
}
