package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rampartfw/rampart/analyze"
	"github.com/rampartfw/rampart/ruleset"
)

func cmdCheck(args []string) int {
	return runCheck(args, os.Stdout, os.Stderr)
}

func runCheck(args []string, stdout, stderr io.Writer) int {
	format := "text"
	failOn := analyze.Error
	type file struct {
		name string
		fam  ruleset.Family // 0: as the content says
	}
	var files []file
	var fam ruleset.Family
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case isOpt(a, "--format"):
			v, ok := optValue(args, &i)
			if !ok || (v != "text" && v != "json") {
				fmt.Fprintln(stderr, "rampart check: --format text|json")
				return 2
			}
			format = v
		case isOpt(a, "--fail-on"):
			v, _ := optValue(args, &i)
			s, ok := analyze.ParseSeverity(v)
			if !ok {
				fmt.Fprintln(stderr, "rampart check: --fail-on error|warning|info")
				return 2
			}
			failOn = s
		case a == "-4":
			fam = ruleset.IPv4
		case a == "-6":
			fam = ruleset.IPv6
		case strings.HasPrefix(a, "-") && a != "-":
			fmt.Fprintf(stderr, "rampart check: unknown option %q\n", a)
			return 2
		default:
			files = append(files, file{a, fam})
		}
	}
	var inputs []analyze.Input
	if len(files) == 0 {
		// The configured files, as `rampart restore` loads them.
		if cf, found := configuredFiles(); found {
			for _, fam := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
				if cf[fam] == "" {
					continue
				}
				data, err := os.ReadFile(cf[fam])
				if err != nil {
					fmt.Fprintf(stderr, "rampart check: %v\n", err)
					return 2
				}
				inputs = append(inputs, analyze.Input{Name: cf[fam], Data: data, Family: fam})
			}
		}
		if len(inputs) == 0 {
			inputs = append(inputs,
				analyze.Input{Name: analyze.DefaultRulesName, Data: analyze.DefaultRules, Family: ruleset.IPv4},
				analyze.Input{Name: analyze.DefaultRules6Name, Data: analyze.DefaultRules6, Family: ruleset.IPv6})
		}
	}
	for _, f := range files {
		var data []byte
		var err error
		if f.name == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(f.name)
		}
		if err != nil {
			fmt.Fprintf(stderr, "rampart check: %v\n", err)
			return 2
		}
		in := analyze.Input{Name: f.name, Data: data, Family: f.fam}
		if in.Family == 0 {
			in.Family = analyze.FileFamily(f.name, data)
		}
		inputs = append(inputs, in)
	}
	reps, err := analyze.CheckFiles(inputs)
	if err != nil {
		fmt.Fprintf(stderr, "rampart check: %v\n", err)
		return 2
	}
	fail := false
	for _, rep := range reps {
		if rep.Max() >= failOn {
			fail = true
		}
	}
	if format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(reps); err != nil {
			fmt.Fprintf(stderr, "rampart check: %v\n", err)
			return 2
		}
	} else {
		for _, rep := range reps {
			writeReport(stdout, rep)
		}
	}
	if fail {
		return 1
	}
	return 0
}

func writeReport(w io.Writer, rep *analyze.Report) {
	fmt.Fprintf(w, "%s\n", rep.File)
	for _, fam := range rep.Families {
		for _, c := range fam.Chains {
			approx := ""
			if c.Approximate {
				approx = " (approximate)"
			}
			fmt.Fprintf(w, "  %s %s: default %s%s\n", fam.Family, c.Chain, c.Default, approx)
			for _, s := range c.Services {
				fmt.Fprintf(w, "    %s\n", s)
			}
		}
	}
	if len(rep.Findings) == 0 {
		fmt.Fprintln(w, "  no findings")
		return
	}
	fmt.Fprintf(w, "  %d finding(s):\n", len(rep.Findings))
	for _, f := range rep.Findings {
		pos := f.File
		if f.Line > 0 {
			pos = fmt.Sprintf("%s:%d", f.File, f.Line)
		}
		where := ""
		if f.Chain != "" {
			where = " " + f.Chain
			if f.Rule > 0 {
				where += fmt.Sprintf("#%d", f.Rule)
			}
		}
		fmt.Fprintf(w, "  %s: %s [%s %s]%s: %s\n", pos, f.Level, f.Kind, f.Family, where, f.Message)
		if len(f.Related) > 0 {
			fmt.Fprintf(w, "      rules: %s\n", strings.Join(f.Related, ", "))
		}
		if f.Witness != "" {
			approx := ""
			if f.Approximate {
				approx = " (approximate)"
			}
			fmt.Fprintf(w, "      witness%s: %s\n", approx, f.Witness)
		}
	}
}
