package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rampartfw/rampart/analyze"
)

// checkDefaults are the system rules files `rampart check` reads without
// an argument; with none present it checks the embedded default ruleset.
var checkDefaults = []string{"/etc/sysconfig/iptables", "/etc/iptables/rules.v4"}

func cmdCheck(args []string) int {
	return runCheck(args, os.Stdout, os.Stderr)
}

func runCheck(args []string, stdout, stderr io.Writer) int {
	format := "text"
	failOn := analyze.Error
	var files []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := func() (string, bool) {
			if k := strings.IndexByte(a, '='); k >= 0 {
				return a[k+1:], true
			}
			if i+1 < len(args) {
				i++
				return args[i], true
			}
			return "", false
		}
		switch {
		case a == "--format" || strings.HasPrefix(a, "--format="):
			v, ok := val()
			if !ok || (v != "text" && v != "json") {
				fmt.Fprintln(stderr, "rampart check: --format text|json")
				return 2
			}
			format = v
		case a == "--fail-on" || strings.HasPrefix(a, "--fail-on="):
			v, _ := val()
			s, ok := analyze.ParseSeverity(v)
			if !ok {
				fmt.Fprintln(stderr, "rampart check: --fail-on error|warning|info")
				return 2
			}
			failOn = s
		case strings.HasPrefix(a, "-") && a != "-":
			fmt.Fprintf(stderr, "rampart check: unknown option %q\n", a)
			return 2
		default:
			files = append(files, a)
		}
	}
	type input struct {
		name string
		data []byte
	}
	var inputs []input
	if len(files) == 0 {
		for _, f := range checkDefaults {
			if data, err := os.ReadFile(f); err == nil {
				inputs = append(inputs, input{f, data})
			}
		}
		if len(inputs) == 0 {
			inputs = append(inputs, input{analyze.DefaultRulesName, analyze.DefaultRules})
		}
	}
	for _, f := range files {
		var data []byte
		var err error
		if f == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "rampart check: %v\n", err)
			return 2
		}
		inputs = append(inputs, input{f, data})
	}
	var reps []*analyze.Report
	fail := false
	for _, in := range inputs {
		rep, err := analyze.CheckFile(in.name, in.data)
		if err != nil {
			fmt.Fprintf(stderr, "rampart check: %v\n", err)
			return 2
		}
		reps = append(reps, rep)
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
