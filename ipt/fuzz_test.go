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
	for _, r := range testenv.CorpusOKRules(tb) {
		out = append(out, restoreSeed{"*" + r.Table + "\n-A " + r.Chain + " " + r.Rule + "\nCOMMIT\n", r.V6})
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
	return append(out, handRestoreSeeds...)
}

// handRestoreSeeds exercise what the corpus lacks: counters, user chains,
// -4/-6 lines, several tables, quoting, policy changes, deletions.
var handRestoreSeeds = []restoreSeed{
	{"*filter\n:INPUT DROP [10:2000]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [3:4]\n:web - [0:0]\n:web2 - [0:0]\n[5:600] -A INPUT -p tcp -m tcp --dport 80 -j web\n[1:2] -A web -s 10.0.0.0/8 -g web2\n-A web2 -j RETURN\nCOMMIT\n", false},
	{"*filter\n-4 -A INPUT -s 1.2.3.4 -j DROP\n-6 -A INPUT -s ::1 -j DROP\n-A FORWARD ! -i eth+ ! -o lo -f -j ACCEPT\n-I INPUT 1 -p 47\n-D INPUT 2\n-A INPUT -p udp -m udp ! --sport 53\nCOMMIT\n*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o eth0 -j MASQUERADE\nCOMMIT\n", false},
	{"*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m comment --comment \"a \\\"quoted\\\" word\" -j ACCEPT\n-A PREROUTING -s 10.0.0.1,10.0.0.2 -d 1.1.1.1/255.255.0.255\nCOMMIT\n*raw\n-A OUTPUT -p tcp --syn -m state --state NEW,ESTABLISHED\n-F OUTPUT\n-Z\nCOMMIT\n", false},
	{"*filter\n:INPUT ACCEPT [0:0]\n:x - [0:0]\n-A INPUT -s 2001:db8::/32 -p ipv6-icmp -j x\n-A x ! -d fe80::1/64 -p tcp -m tcp --tcp-flags SYN,ACK SYN -j DROP\n-A x -j LOG\nCOMMIT\n", true},
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
	if !savable(rs) {
		return
	}
	s1 := iptext.Save(rs, so)
	if testenv.IptablesQuirk(s1) {
		return
	}
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

// savable reports whether iptables-save output of rs can read back: iptables
// prints chain and interface names raw, so a quote or a blank in one (which
// quoting in a restore file can produce) breaks its own round trip too.
func savable(rs *ruleset.Ruleset) bool {
	bad := func(s string) bool { return strings.ContainsAny(s, "\" \t\r\n") }
	for _, t := range rs.Tables() {
		for _, c := range t.Chains {
			if bad(c.Name) {
				return false
			}
			for _, r := range c.Rules {
				if bad(r.InIface) || bad(r.OutIface) {
					return false
				}
			}
		}
	}
	return true
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
