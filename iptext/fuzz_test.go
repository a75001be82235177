package iptext_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampartfw/rampart/internal/testenv"
	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
)

// argvSeed is one seed of FuzzArgv: a command line and its family.
type argvSeed struct {
	line string
	v6   bool
}

// argvSeeds returns the OK lines of the .t corpus as "-t TABLE -A CHAIN
// RULE" and the -A lines of the dumps and the CentOS 7 rules file.
func argvSeeds(tb testing.TB) []argvSeed {
	shared := testenv.Shared(tb)
	var out []argvSeed
	files, _ := filepath.Glob(filepath.Join(shared, "conformance", "iptables-1.8.9", "extensions", "*.t"))
	for _, path := range files {
		base := filepath.Base(path)
		v6 := strings.HasPrefix(base, "libip6t_")
		if !v6 && !strings.HasPrefix(base, "libipt_") && !strings.HasPrefix(base, "libxt_") && base != "iptables.t" {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		table, chain := "filter", "INPUT"
		for _, line := range strings.Split(string(data), "\n") {
			switch {
			case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "@") || strings.HasPrefix(line, "%"):
			case strings.HasPrefix(line, ":"):
				chain = strings.Split(line[1:], ",")[0]
			case strings.HasPrefix(line, "*"):
				table = line[1:]
			default:
				items := strings.Split(line, ";")
				if len(items) >= 3 && strings.TrimSpace(items[2]) == "OK" {
					out = append(out, argvSeed{"-t " + table + " -A " + chain + " " + items[0], v6})
				}
			}
		}
	}
	dumps, _ := filepath.Glob(filepath.Join(shared, "conformance", "iptables-1.8.9", "dumps", "*"))
	dumps = append(dumps, filepath.Join(shared, "seeds", "centos7-web.rules"))
	for _, path := range dumps {
		f, err := os.Open(path)
		if err != nil {
			tb.Fatal(err)
		}
		v6 := strings.Contains(filepath.Base(path), "ip6")
		table := "filter"
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "*") {
				table = strings.TrimSpace(line[1:])
			}
			if i := strings.Index(line, "-A "); i >= 0 {
				out = append(out, argvSeed{"-t " + table + " " + line[i:], v6})
			}
		}
		f.Close()
	}
	return out
}

// ruleLine prints "-A CHAIN" and the rule's save form.
func ruleLine(chain string, r *ruleset.Rule, f ruleset.Family) string {
	var b strings.Builder
	b.WriteString("-A " + chain)
	iptext.RuleSpec(&b, r, f, false)
	return b.String()
}

// FuzzArgv parses a command line (the fuzz string split on spaces); when it
// is an -A command, every rule it adds must print in a form that parses
// again to a rule that prints the same.
func FuzzArgv(f *testing.F) {
	for _, s := range argvSeeds(f) {
		f.Add(s.line, s.v6)
	}
	f.Fuzz(func(t *testing.T, s string, v6 bool) {
		checkArgv(t, s, v6)
	})
}

// checkArgv is the property of FuzzArgv for one input.
func checkArgv(t *testing.T, s string, v6 bool) {
	fam := ruleset.IPv4
	if v6 {
		fam = ruleset.IPv6
	}
	cmd, err := iptext.ParseCommand(strings.Split(s, " "), iptext.ParseOptions{Family: fam})
	if err != nil || cmd.Op != iptext.OpAppend {
		return
	}
	for _, r := range cmd.Rules() {
		line1 := ruleLine(cmd.Chain, r, fam)
		toks, err := iptext.SplitRestoreLine(line1)
		if err != nil {
			t.Fatalf("%q printed as %q, which does not split: %v", s, line1, err)
		}
		args := []string{"-t", cmd.Table}
		for _, tk := range toks {
			args = append(args, tk.Text)
		}
		cmd2, err := iptext.ParseCommand(args, iptext.ParseOptions{Family: fam})
		if err != nil {
			t.Fatalf("%q printed as %q, which is refused: %v", s, line1, err)
		}
		rules := cmd2.Rules()
		if len(rules) != 1 {
			t.Fatalf("%q printed as %q, which parses to %d rules", s, line1, len(rules))
		}
		if line2 := ruleLine(cmd2.Chain, rules[0], fam); line2 != line1 {
			t.Fatalf("%q printed as %q, which prints as %q", s, line1, line2)
		}
		// The -L printers must not panic either.
		rs := ruleset.New(fam)
		tab, err := rs.EnsureTable(cmd.Table)
		if err != nil {
			continue
		}
		c := tab.Chain(cmd.Chain)
		if c == nil {
			if tab.NewChain(cmd.Chain) != nil {
				continue
			}
			c = tab.Chain(cmd.Chain)
		}
		c.Rules = append(c.Rules, r)
		for _, o := range []iptext.ListOptions{{}, {Numeric: true}, {Verbose: true, Exact: true, LineNumbers: true}} {
			iptext.List(tab, fam, "", 0, o)
		}
	}
}

// TestArgvRegressions replays inputs that once broke the FuzzArgv property.
func TestArgvRegressions(t *testing.T) {
	for _, s := range argvRegressions {
		t.Run(s.line, func(t *testing.T) { checkArgv(t, s.line, s.v6) })
	}
}

// argvRegressions are command lines that once broke the FuzzArgv property.
var argvRegressions = []argvSeed{}
