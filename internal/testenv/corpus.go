package testenv

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// CorpusRule is one OK line of the iptables 1.8.9 .t corpus, in the first
// table and chain the file tries it in.
type CorpusRule struct {
	Table, Chain, Rule string
	V6                 bool
}

// CorpusOKRules returns every OK line of the iptables/ip6tables .t files of
// ../shared (the fuzzers' seeds).
func CorpusOKRules(tb testing.TB) []CorpusRule {
	tb.Helper()
	var out []CorpusRule
	files, _ := filepath.Glob(filepath.Join(Shared(tb), "conformance", "iptables-1.8.9", "extensions", "*.t"))
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
					out = append(out, CorpusRule{table, chain, items[0], v6})
				}
			}
		}
	}
	return out
}

// iptablesQuirks match printed rules that the real iptables 1.8.9 prints in
// a form it refuses or reads differently itself (each checked with the
// real tool); rampart prints the same, so a round trip cannot hold for them.
var iptablesQuirks = []*regexp.Regexp{
	// "--to :0-0/1": a one-port range with a shift prints as ":0/1", and
	// "Garbage after port value: `/1'" is the answer to that.
	regexp.MustCompile(`--to-(destination|source) \S*:\d+/\d+(\s|$)`),
	// SNAT and MASQUERADE keep no base port: "--to-ports 1000-2000/3000"
	// prints as ".../0", and "Port `0' not valid" is the answer to that.
	regexp.MustCompile(`--to-(ports|source) \S*\d+/0(\s|$)`),
	// "--hashlimit 1b/s" prints as "0b/s", which is a bad value.
	regexp.MustCompile(`--hashlimit-(upto|above) 0[a-z]*b/s`),
	// "--physdev-in ''" is accepted and prints as "--physdev-in " with no
	// value.
	regexp.MustCompile(`--physdev-(in|out) ( |$)`),
	// physdev names print raw, like -i/-o: a quote or a tab breaks them.
	regexp.MustCompile(`--physdev-(in|out) [^ ]*["\t\r]`),
	// A 128-byte --string with a non-printable byte prints as a 128-byte
	// --hex-string, which is "STRING too long".
	regexp.MustCompile(`--hex-string "\|[0-9a-f]{256}\|"`),
	// DNPT/SNPT leave out a ::/0 prefix when printing, and "option
	// --src-pfx must be specified" is the answer to that.
	regexp.MustCompile(`-j (DNPT|SNPT)( --(src|dst)-pfx \S+)?$`),
	// "--dccp-types ''" (no type) prints as "--dccp-types " with no value.
	regexp.MustCompile(`--dccp-types( |$)`),
}

// IptablesQuirk reports whether a printed rule shows one of the forms the
// real iptables 1.8.9 cannot read back either.
func IptablesQuirk(printed string) bool {
	for _, re := range iptablesQuirks {
		if re.MatchString(printed) {
			return true
		}
	}
	return false
}
