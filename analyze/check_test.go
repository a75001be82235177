package analyze

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampartfw/rampart/internal/testenv"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/ruleset"
)

func analyzerFor(t *testing.T, text string) *analyzer {
	t.Helper()
	rs, _, err := ipt.Load("t.rules", []byte(text), ipt.LoadOptions{Family: ruleset.IPv4})
	if err != nil {
		t.Fatal(err)
	}
	return newAnalyzer(rs)
}

func check(t *testing.T, name, text string) *Report {
	t.Helper()
	rep, err := CheckFile(name, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// has reports whether a finding of kind exists at chain#rule (rule 0:
// any) or, with line > 0, at that line.
func has(rep *Report, kind, chain string, rule int) *Finding {
	for i, f := range rep.Findings {
		if f.Kind == kind && (chain == "" || f.Chain == chain) && (rule == 0 || f.Rule == rule) {
			return &rep.Findings[i]
		}
	}
	return nil
}

func dump(rep *Report) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		b.WriteString("\n  " + f.Level + " " + f.Kind + " " + f.Chain + " " + f.Message + " | " + f.Witness)
	}
	return b.String()
}

const base = "*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n"

type want struct {
	kind, chain string
	rule        int
}

func TestFindings(t *testing.T) {
	tests := []struct {
		name, text string
		want       []want
		not        []string // kinds that must not be reported
	}{
		{"shadowed", base + "-A INPUT -p tcp -j DROP\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			[]want{{"shadowed", "INPUT", 4}}, []string{"redundant"}},
		{"redundant", base + "-A INPUT -p tcp -m multiport --dports 22,80 -j ACCEPT\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			[]want{{"redundant", "INPUT", 4}}, []string{"shadowed"}},
		{"not shadowed by a rate limit", base + "-A INPUT -p tcp --dport 22 -m limit --limit 1/s -j ACCEPT\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			nil, []string{"shadowed", "redundant", "ssh-unreachable"}},
		{"not shadowed by recent", base + "-A INPUT -p tcp --dport 22 -m recent --rcheck -j DROP\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			nil, []string{"shadowed", "redundant", "ssh-unreachable"}},
		{"unreachable after catch-all", base + "-A INPUT -j DROP\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			[]want{{"unreachable", "INPUT", 4}, {"ssh-unreachable", "INPUT", 0}}, nil},
		{"contradiction", base + "-A INPUT -s 10.0.0.0/8 -m iprange --src-range 192.168.0.1-192.168.0.9 -j ACCEPT\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			[]want{{"contradiction", "INPUT", 3}}, nil},
		{"-o on INPUT", base + "-N C\n-A C -o eth0 -j ACCEPT\n-A INPUT -j C\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			[]want{{"iface-direction", "C", 1}}, []string{"unused-chain"}},
		{"-i on OUTPUT", base + "-N O\n-A O -i eth0 -j DROP\n-A OUTPUT -j O\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			[]want{{"iface-direction", "O", 1}}, nil},
		{"-f under conntrack", base + "-A INPUT -f -j DROP\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			[]want{{"fragment-defrag", "INPUT", 3}}, nil},
		{"-f without conntrack", "*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -f -j DROP\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			[]want{{"no-established", "INPUT", 0}}, []string{"fragment-defrag", "shadowed"}},
		{"unused chain", base + "-N X\n-A X -j DROP\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			[]want{{"unused-chain", "X", 0}}, nil},
		{"chain used by goto", base + "-N X\n-A X -p tcp --dport 22 -j ACCEPT\n-A INPUT -p tcp -g X\nCOMMIT\n",
			nil, []string{"unused-chain", "ssh-unreachable"}},
		{"RETURN", base + "-N X\n-A X -s 10.0.0.0/8 -j RETURN\n-A X -j DROP\n-A INPUT -j X\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			nil, []string{"unused-chain", "ssh-unreachable", "shadowed", "unreachable"}},
		{"no established", "*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			[]want{{"no-established", "INPUT", 0}}, []string{"no-loopback"}},
		{"no loopback", "*filter\n:INPUT DROP [0:0]\n-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			[]want{{"no-loopback", "INPUT", 0}}, []string{"no-established"}},
		{"final drop rule counts as default drop", "*filter\n-A INPUT -p tcp --dport 22 -j ACCEPT\n-A INPUT -j DROP\nCOMMIT\n",
			[]want{{"no-established", "INPUT", 0}, {"no-loopback", "INPUT", 0}}, nil},
		{"open by default", "*filter\n-A INPUT -p tcp --dport 25 -j DROP\nCOMMIT\n",
			nil, []string{"no-established", "no-loopback", "ssh-unreachable", "ipv6-open"}},
		{"source-port accept", base + "-A INPUT -p udp --sport 53 -j ACCEPT\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			[]want{{"sport-only-accept", "INPUT", 3}}, nil},
		{"source-port accept of established only", base + "-A INPUT -p udp --sport 53 -m state --state ESTABLISHED -j ACCEPT\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			nil, []string{"sport-only-accept"}},
		{"ssh unreachable", base + "-A INPUT -p tcp --dport 80 -j ACCEPT\nCOMMIT\n",
			[]want{{"ssh-unreachable", "INPUT", 0}}, []string{"lockout"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := check(t, "t.rules", tc.text)
			for _, w := range tc.want {
				if has(rep, w.kind, w.chain, w.rule) == nil {
					t.Errorf("missing %s at %s#%d; got:%s", w.kind, w.chain, w.rule, dump(rep))
				}
			}
			for _, k := range tc.not {
				if has(rep, k, "", 0) != nil {
					t.Errorf("unexpected %s; got:%s", k, dump(rep))
				}
			}
		})
	}
}

func TestShadowNamesRule(t *testing.T) {
	rep := check(t, "t.rules", base+"-A INPUT -p tcp -j DROP\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n")
	f := has(rep, "shadowed", "INPUT", 4)
	if f == nil || len(f.Related) == 0 || !strings.HasSuffix(f.Related[0], "INPUT#3") || f.Line != 6 || f.Witness == "" {
		t.Fatalf("shadowed finding = %+v", f)
	}
}

func TestScriptLockout(t *testing.T) {
	script := "iptables -A INPUT -i lo -j ACCEPT\niptables -A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT\n" +
		"iptables -A INPUT -p tcp -s YOUR_IP_ADDRESS --dport 22 -j ACCEPT\niptables -P INPUT DROP\n"
	rep := check(t, "t.sh", script)
	f := has(rep, "lockout", "INPUT", 0)
	if f == nil || f.Severity != Error || f.Line != 3 || !strings.Contains(f.Message, "YOUR_IP_ADDRESS") {
		t.Fatalf("lockout = %+v; all:%s", f, dump(rep))
	}
	if has(rep, "ipv6-open", "", 0) == nil {
		t.Errorf("no ipv6-open:%s", dump(rep))
	}
	// with IPv6 rules in the script, no ipv6-open
	rep = check(t, "t.sh", script+"ip6tables -A INPUT -i lo -j ACCEPT\nip6tables -A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT\nip6tables -A INPUT -p tcp --dport 22 -j ACCEPT\nip6tables -P INPUT DROP\n")
	if has(rep, "ipv6-open", "", 0) != nil || len(rep.Families) != 2 {
		t.Errorf("ipv6 rules present:%s", dump(rep))
	}
}

func TestSeeds(t *testing.T) {
	dir := filepath.Join(testenv.Shared(t), "seeds")
	type exp struct {
		kind, chain string
		rule, line  int
	}
	tests := []struct {
		file string
		want []exp
	}{
		{"centos7-web.rules", []exp{
			{"unused-chain", "PORTSCAN", 0, 0},
			{"unused-chain", "PING_OF_DEATH", 0, 0}, // only jumped to by a rule that never matches
			{"shadowed", "INPUT", 6, 28},            // -j PING_OF_DEATH after the echo-request ACCEPT
			{"fragment-defrag", "INPUT", 7, 45},     // -f under conntrack
			{"sport-only-accept", "INPUT", 9, 51},   // udp --sport 53
			{"sport-only-accept", "INPUT", 10, 53},  // udp --sport 123
			{"redundant", "OUTPUT", 8, 59},          // --sport 22 ESTABLISHED after RELATED,ESTABLISHED
			{"redundant", "OUTPUT", 9, 61},          // --sport 80
			{"redundant", "OUTPUT", 10, 63},         // --sport 443
			{"redundant", "INPUT", 14, 66},          // --sport 80 ESTABLISHED
			{"redundant", "INPUT", 15, 68},          // --sport 443 ESTABLISHED
			{"ipv6-open", "", 0, 0},
		}},
		{"centos6-vps.sh", []exp{
			{"lockout", "INPUT", 0, 16},
			{"ipv6-open", "", 0, 0},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(dir, tc.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rep := check(t, path, string(data))
			for _, w := range tc.want {
				f := has(rep, w.kind, w.chain, w.rule)
				if f == nil || (w.line > 0 && f.Line != w.line) {
					t.Errorf("missing %s %s#%d line %d; got:%s", w.kind, w.chain, w.rule, w.line, dump(rep))
				}
			}
			for _, f := range rep.Findings {
				t.Logf("%s:%d %s %s %s#%d %s | %s", f.File, f.Line, f.Level, f.Kind, f.Chain, f.Rule, f.Message, f.Witness)
			}
		})
	}
}

func TestDefaultRules(t *testing.T) {
	rep, err := CheckFile(DefaultRulesName, DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Max() >= Warning {
		t.Fatalf("the embedded default has warnings:%s", dump(rep))
	}
	in := rep.Families[0].Chains[0]
	if in.Chain != "INPUT" || !strings.HasPrefix(in.Default, "DROP") {
		t.Fatalf("INPUT summary %+v", in)
	}
	got := strings.Join(in.Services, "; ")
	for _, s := range []string{"tcp/22", "tcp/80,443", "icmp type 8"} {
		if !strings.Contains(got, s) {
			t.Errorf("INPUT services %q lack %s", got, s)
		}
	}
}

func TestDefaultRules6(t *testing.T) {
	reps, err := CheckFiles([]Input{
		{Name: DefaultRulesName, Data: DefaultRules, Family: ruleset.IPv4},
		{Name: DefaultRules6Name, Data: DefaultRules6, Family: ruleset.IPv6},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, rep := range reps {
		if len(rep.Findings) > 0 {
			t.Errorf("%s has findings:%s", rep.File, dump(rep))
		}
	}
	fr := reps[1].Families
	if len(fr) != 1 || fr[0].Family != "ipv6" {
		t.Fatalf("IPv6 default families %+v", fr)
	}
	in := fr[0].Chains[0]
	if in.Chain != "INPUT" || !strings.HasPrefix(in.Default, "DROP") {
		t.Fatalf("INPUT summary %+v", in)
	}
	got := strings.Join(in.Services, "; ")
	for _, s := range []string{"tcp/22", "tcp/80,443", "icmpv6 type 1-4,128,134-136"} {
		if !strings.Contains(got, s) {
			t.Errorf("IPv6 INPUT services %q lack %s", got, s)
		}
	}
	out := strings.Join(fr[0].Chains[2].Services, "; ")
	for _, s := range []string{"icmpv6 type 128,133,135-136,143", "udp/53,123", "tcp/53,80,443"} {
		if !strings.Contains(out, s) {
			t.Errorf("IPv6 OUTPUT services %q lack %s", out, s)
		}
	}
	// alone, the IPv4 default still says IPv6 must be closed elsewhere
	if rep := check(t, DefaultRulesName, string(DefaultRules)); has(rep, "ipv6-open", "", 0) == nil {
		t.Errorf("IPv4 default alone: no ipv6-open:%s", dump(rep))
	}
}

func TestCheckFilesIPv6(t *testing.T) {
	v4 := base + "-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n"
	v6 := "*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n" +
		"-A INPUT -s 2001:db8::/32 -p tcp --dport 22 -j ACCEPT\n-A INPUT -p ipv6-icmp -j ACCEPT\nCOMMIT\n"
	open6 := "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 2001:db8::1 -j DROP\nCOMMIT\n"
	for _, tc := range []struct {
		name   string
		six    string
		wantV6 bool // ipv6-open expected
	}{
		{"closing", v6, false},
		{"open", open6, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reps, err := CheckFiles([]Input{{Name: "rules.v4", Data: []byte(v4)}, {Name: "rules.v6", Data: []byte(tc.six), Family: ruleset.IPv6}})
			if err != nil {
				t.Fatal(err)
			}
			if got := has(reps[0], "ipv6-open", "", 0) != nil; got != tc.wantV6 {
				t.Errorf("ipv6-open = %v, want %v:%s", got, tc.wantV6, dump(reps[0]))
			}
			if f := reps[1].Families; len(f) != 1 || f[0].Family != "ipv6" {
				t.Errorf("rules.v6 families %+v", f)
			}
			for _, f := range reps[1].Findings {
				if f.Family != "ipv6" {
					t.Errorf("rules.v6 finding of family %s: %+v", f.Family, f)
				}
			}
		})
	}
	// an IPv6 file is refused as IPv4, accepted as IPv6
	if _, err := CheckFile("rules.v6", []byte(v6)); err == nil {
		t.Errorf("IPv6 rules loaded as IPv4")
	}
	if _, err := CheckFileFamily("rules.v6", []byte(v6), ruleset.IPv6); err != nil {
		t.Errorf("IPv6 rules as IPv6: %v", err)
	}
}

func TestFileFamily(t *testing.T) {
	plain := "*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n"
	for _, tc := range []struct {
		name, data string
		want       ruleset.Family
	}{
		{"rules", plain, ruleset.IPv4},
		{"/etc/iptables/rules.v4", plain, ruleset.IPv4},
		{"/etc/iptables/rules.v6", plain, ruleset.IPv6},
		{"/etc/sysconfig/ip6tables", plain, ruleset.IPv6},
		{"fw.rules", "# Generated by ip6tables-save v1.8.9 (nf_tables) on x\n" + plain, ruleset.IPv6},
		{"ip6tables.rules", "# Generated by iptables-save v1.8.9 (nf_tables) on x\n" + plain, ruleset.IPv4},
		{"fw.rules", "*filter\n-A INPUT -s 2001:db8::/32 -j ACCEPT\nCOMMIT\n", ruleset.IPv6},
		{"fw.rules", "*filter\n-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT\nCOMMIT\n", ruleset.IPv6},
		{"fw.rules", "*filter\n-A INPUT -s 10.0.0.0/8 -j ACCEPT\nCOMMIT\n", ruleset.IPv4},
		{"fw.sh", "iptables -A INPUT -j ACCEPT\n", 0},
	} {
		if got := FileFamily(tc.name, []byte(tc.data)); got != tc.want {
			t.Errorf("FileFamily(%s, %q) = %v, want %v", tc.name, tc.data, got, tc.want)
		}
	}
}
