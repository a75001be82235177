package ipt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampartfw/rampart/internal/testenv"
	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
)

// restoreSeed is one seed of FuzzRestore.
type restoreSeed struct {
	data string
	v6   bool
}

// restoreSeeds returns the dumps, the CentOS 7 rules file and, for every
// OK line of the .t corpus, a one-rule restore file.
func restoreSeeds(tb testing.TB) []restoreSeed {
	shared := testenv.Shared(tb)
	var out []restoreSeed
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
					out = append(out, restoreSeed{"*" + table + "\n-A " + chain + " " + items[0] + "\nCOMMIT\n", v6})
				}
			}
		}
	}
	dumps, _ := filepath.Glob(filepath.Join(shared, "conformance", "iptables-1.8.9", "dumps", "*"))
	dumps = append(dumps, filepath.Join(shared, "seeds", "centos7-web.rules"))
	for _, path := range dumps {
		data, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, restoreSeed{string(data), strings.Contains(filepath.Base(path), "ip6")})
	}
	return out
}

// FuzzRestore loads a restore file, prints it with iptables-save, loads
// the printed text and prints it again: both prints must be identical, and
// the printed text must load. Nothing may panic.
func FuzzRestore(f *testing.F) {
	for _, s := range restoreSeeds(f) {
		f.Add([]byte(s.data), s.v6)
	}
	f.Fuzz(func(t *testing.T, data []byte, v6 bool) {
		checkRestore(t, data, v6)
	})
}

// checkRestore is the property of FuzzRestore for one input.
func checkRestore(t *testing.T, data []byte, v6 bool) {
	fam := ruleset.IPv4
	if v6 {
		fam = ruleset.IPv6
	}
	// Counters on: "[p:b]" prefixes and policy counters are read and printed.
	lo := LoadOptions{Family: fam, Counters: true}
	so := iptext.SaveOptions{Counters: true}
	rs, _, err := Load("fuzz", data, lo)
	if err != nil {
		return
	}
	s1 := iptext.Save(rs, so)
	rs2, _, err := Load("saved", []byte(s1), lo)
	if err != nil {
		t.Fatalf("saved form of %q does not load: %v\n%s", data, err, s1)
	}
	if s2 := iptext.Save(rs2, so); s2 != s1 {
		t.Fatalf("saved form of %q is unstable:\nfirst:\n%s\nsecond:\n%s", data, s1, s2)
	}
	// The other printers must not panic either.
	for _, tab := range rs.Tables() {
		iptext.ListRules(tab, fam, "", 0, true)
		for _, o := range []iptext.ListOptions{{}, {Numeric: true}, {Verbose: true, Exact: true, LineNumbers: true}} {
			iptext.List(tab, fam, "", 0, o)
		}
	}
}

// TestRestoreRegressions replays inputs that once broke the FuzzRestore
// property.
func TestRestoreRegressions(t *testing.T) {
	for _, s := range restoreRegressions {
		t.Run("", func(t *testing.T) { checkRestore(t, []byte(s.data), s.v6) })
	}
}

// restoreRegressions are restore files that once broke the FuzzRestore
// property.
var restoreRegressions = []restoreSeed{}
