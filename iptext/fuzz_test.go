package iptext_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampartfw/rampart/internal/testenv"
	"github.com/rampartfw/rampart/ipt"
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
	for _, r := range testenv.CorpusOKRules(tb) {
		out = append(out, argvSeed{"-t " + r.Table + " -A " + r.Chain + " " + r.Rule, r.V6})
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
	return append(out, handArgvSeeds...)
}

// handArgvSeeds exercise generic options the corpus uses little.
var handArgvSeeds = []argvSeed{
	{"-A INPUT -s 1.2.3.4,5.6.7.8/24 -d 10.0.0.0/255.0.0.255 ! -i eth+ -p 6 -m tcp --dport 22 -j ACCEPT", false},
	{"-A FORWARD ! -s 10.1.0.0/16 -o ppp0 ! -f -p all -g web", false},
	{"--append OUTPUT --protocol udp --source 127.0.0.1 --match udp --sport 53:54 --jump DROP -c 10 20", false},
	{"-t mangle -A POSTROUTING -d 2001:db8::1/64,::1 ! -p ipv6-icmp -j RETURN", true},
	{"-A INPUT -p tcp ! --syn -m state ! --state INVALID,UNTRACKED", false},
}

// ruleLine prints "-A CHAIN" and the rule's save form.
func ruleLine(chain string, r *ruleset.Rule, f ruleset.Family) string {
	var b strings.Builder
	b.WriteString("-A " + chain)
	iptext.RuleSpec(&b, r, f, false)
	return b.String()
}

// FuzzArgv parses a command line (the fuzz string split on spaces); when it
// is an -A command, nothing may panic, and every rule it adds must print in
// a form that, when it parses again, prints the same. Random inputs reach
// corners where iptables 1.8.9's own printed form does not parse again
// (empty values, abbreviated options with null values, ...): a refused
// re-parse is logged, not failed, for them. TestArgvSeedsRoundTrip holds
// every realistic rule (the .t corpus, the dumps, the seeds) to the strict
// property: its printed form must parse again.
func FuzzArgv(f *testing.F) {
	for _, s := range argvSeeds(f) {
		f.Add(s.line, s.v6)
	}
	f.Fuzz(func(t *testing.T, s string, v6 bool) {
		checkArgvMode(t, s, v6, false)
	})
}

// TestArgvSeedsRoundTrip is FuzzArgv's property, strict, on its seeds.
func TestArgvSeedsRoundTrip(t *testing.T) {
	for _, s := range argvSeeds(t) {
		checkArgvMode(t, s.line, s.v6, true)
	}
}

// checkArgv is the strict property for one input.
func checkArgv(t *testing.T, s string, v6 bool) { checkArgvMode(t, s, v6, true) }

// checkArgvMode checks one input; strict makes a refused re-parse of the
// printed form a failure.
func checkArgvMode(t *testing.T, s string, v6 bool, strict bool) {
	fam := ruleset.IPv4
	if v6 {
		fam = ruleset.IPv6
	}
	cmd, err := iptext.ParseCommand(strings.Split(s, " "), iptext.ParseOptions{Family: fam})
	if err != nil || cmd.Op != iptext.OpAppend {
		return
	}
	// Only rules the tool accepts count: the chain (and a jump target)
	// must exist, so create user chains first, as -N would.
	rs := ruleset.New(fam)
	for _, name := range []string{cmd.Chain, jumpOf(cmd)} {
		if name == "" {
			continue
		}
		if ti, ok := ruleset.LookupTable(cmd.Table); ok && ti.IsBuiltin(name) {
			continue
		}
		if tab := rs.Table(cmd.Table); tab != nil && tab.Chain(name) != nil {
			continue
		}
		n, err := iptext.ParseCommand([]string{"-t", cmd.Table, "-N", name}, iptext.ParseOptions{Family: fam})
		if err != nil || ipt.Exec(rs, n, new(strings.Builder)) != nil {
			return
		}
	}
	if ipt.Exec(rs, cmd, new(strings.Builder)) != nil {
		return
	}
	for _, r := range cmd.Rules() {
		// iptables prints chain and interface names raw: with a quote or
		// a blank in them, its own save output does not read back either.
		if unprintable(cmd.Chain) || unprintable(jumpOf(cmd)) || unprintable(r.InIface) || unprintable(r.OutIface) {
			return
		}
		line1 := ruleLine(cmd.Chain, r, fam)
		if testenv.IptablesQuirk(line1) {
			continue
		}
		toks, err := iptext.SplitRestoreLine(line1)
		if err != nil {
			if !strict {
				t.Logf("%q printed as %q, which does not split: %v (iptables prints such values raw too)", s, line1, err)
				continue
			}
			t.Fatalf("%q printed as %q, which does not split: %v", s, line1, err)
		}
		args := []string{"-t", cmd.Table}
		for _, tk := range toks {
			args = append(args, tk.Text)
		}
		cmd2, err := iptext.ParseCommand(args, iptext.ParseOptions{Family: fam})
		if err != nil {
			if !strict {
				t.Logf("%q printed as %q, which is refused: %v (as iptables refuses its own output for such inputs)", s, line1, err)
				continue
			}
			t.Fatalf("%q printed as %q, which is refused: %v", s, line1, err)
		}
		rules := cmd2.Rules()
		if len(rules) != 1 {
			t.Fatalf("%q printed as %q, which parses to %d rules", s, line1, len(rules))
		}
		if line2 := ruleLine(cmd2.Chain, rules[0], fam); line2 != line1 {
			if !strict && rawUnsafe(line1) {
				t.Logf("%q printed as %q, which prints as %q (values printed raw, as iptables prints them)", s, line1, line2)
				continue
			}
			t.Fatalf("%q printed as %q, which prints as %q", s, line1, line2)
		}
	}
	// The -L and -S printers must not panic either.
	tab := rs.Table(cmd.Table)
	iptext.ListRules(tab, fam, "", 0, true)
	for _, o := range []iptext.ListOptions{{}, {Numeric: true}, {Verbose: true, Exact: true, LineNumbers: true}} {
		iptext.List(tab, fam, "", 0, o)
	}
}

// unprintable reports whether a name holds a character that iptables-save
// prints raw but iptables-restore reads specially.
func unprintable(name string) bool {
	return strings.ContainsAny(name, "\" \t\r\n")
}

// jumpOf returns the chain an -A command jumps or goes to, if any.
func jumpOf(cmd *iptext.Command) string {
	if cmd.Rule == nil {
		return ""
	}
	j, _ := cmd.Rule.JumpChain()
	return j
}

// TestArgvRegressions replays inputs that once broke the FuzzArgv property.
func TestArgvRegressions(t *testing.T) {
	for _, s := range argvRegressions {
		t.Run(s.line, func(t *testing.T) { checkArgv(t, s.line, s.v6) })
	}
}

// argvRegressions are command lines that once broke the FuzzArgv property.
var argvRegressions = []argvSeed{}

// rawUnsafe reports whether a printed rule holds characters that iptables
// (and rampart after it) print raw although the restore syntax gives them
// a meaning: quotes, backslashes, control characters.
func rawUnsafe(line string) bool {
	for _, r := range line {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}
