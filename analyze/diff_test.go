package analyze

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampartfw/rampart/engine"
	"github.com/rampartfw/rampart/internal/testenv"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

var updateDiff = flag.Bool("update-diff", false, "rewrite analyze/testdata/diff golden files")

// engineLabel runs a witness packet through a built-in chain of rs's
// filter table in the engine and names the verdict as Diff labels it; ok
// is false when the engine cannot decide or the packet cannot be built.
func engineLabel(t testing.TB, rs *ruleset.Ruleset, chain string, w Packet) (string, bool) {
	t.Helper()
	s := pkt.Spec{Src: w.Src, Dst: w.Dst, Proto: w.Proto, SrcPort: w.SPort, DstPort: w.DPort,
		TCPFlags: w.Flags, ICMPType: w.ICMPType, ICMPCode: w.ICMPCode, TTL: 64}
	if w.Fragment {
		if w.Family == 6 {
			return "", false // pkt.Build writes no IPv6 fragment header
		}
		s.FragOff = 100
	}
	var p pkt.Packet
	if err := p.Decode(pkt.Build(s)); err != nil {
		t.Fatalf("witness %v: %v", w, err)
	}
	hook, _ := ruleset.HookOf(chain)
	c := &pkt.Ctx{P: &p, Hook: hook, Table: "filter", In: w.In, Out: w.Out, CTState: w.State}
	if w.State != pkt.CTInvalid && w.State != pkt.CTUntracked {
		// a tracked packet has a connection (the conntrack match looks)
		c.Conn = &pkt.Conn{Orig: pkt.Tuple{Src: w.Src, Dst: w.Dst, SrcPort: w.SPort, DstPort: w.DPort, Proto: w.Proto}}
	}
	tb := rs.Clone().Table("filter")
	if tb == nil || tb.Chain(chain) == nil {
		return VAccept, true
	}
	v, _ := engine.Table(tb, chain, c, nil)
	if c.Undecided != "" {
		return "", false
	}
	switch v {
	case pkt.Accept:
		return VAccept, true
	case pkt.Drop:
		if c.Reject != "" {
			return "REJECT --reject-with " + c.Reject, true
		}
		return VDrop, true
	case pkt.Queue:
		return fmt.Sprintf("QUEUE %d", c.QueueNum), true
	}
	return v.String(), true
}

// confirm checks every proven-different region's witness in the engine:
// the verdicts must be the region's and differ. It returns how many it
// confirmed.
func confirm(t *testing.T, a, b *ruleset.Ruleset, cds []ChainDiff, ctx string) int {
	t.Helper()
	n := 0
	for _, cd := range cds {
		for _, r := range cd.Regions {
			if r.Status != DiffDifferent {
				continue
			}
			va, okA := engineLabel(t, a, cd.Chain, r.Packet)
			vb, okB := engineLabel(t, b, cd.Chain, r.Packet)
			if !okA || !okB {
				continue
			}
			n++
			if va == vb || va != r.A || vb != r.B {
				t.Errorf("%s: %s region %q (A %s, B %s): witness %q gets A %s, B %s in the engine", ctx, cd.Chain, r.Region, r.A, r.B, r.Witness, va, vb)
			}
		}
	}
	return n
}

func chainStatus(cds []ChainDiff) map[string]string {
	m := map[string]string{}
	for _, cd := range cds {
		m[cd.Chain] = cd.Status
	}
	return m
}

func filterText(policies string, rules ...string) string {
	var b strings.Builder
	b.WriteString("*filter\n")
	for _, p := range strings.Fields(policies) {
		k, v, _ := strings.Cut(p, "=")
		fmt.Fprintf(&b, ":%s %s [0:0]\n", k, v)
	}
	for _, r := range rules {
		if strings.HasPrefix(r, ":") {
			fmt.Fprintf(&b, "%s - [0:0]\n", r)
			continue
		}
		b.WriteString("-A " + r + "\n")
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// TestDiffEquivalent: rulesets rewritten without changing any verdict are
// proven equivalent.
func TestDiffEquivalent(t *testing.T) {
	pol := "INPUT=DROP FORWARD=DROP OUTPUT=ACCEPT"
	tests := []struct {
		name string
		fam  ruleset.Family
		a, b []string
	}{
		{"swap independent rules", 4,
			[]string{"INPUT -p tcp --dport 22 -j ACCEPT", "INPUT -p udp --dport 53 -j ACCEPT", "INPUT -s 10.0.0.0/8 -j REJECT"},
			[]string{"INPUT -p udp --dport 53 -j ACCEPT", "INPUT -p tcp --dport 22 -j ACCEPT", "INPUT -s 10.0.0.0/8 -j REJECT"}},
		{"split multiport", 4,
			[]string{"INPUT -p tcp -m multiport --dports 80,443,8000:8080 -j ACCEPT"},
			[]string{"INPUT -p tcp --dport 443 -j ACCEPT", "INPUT -p tcp --dport 80 -j ACCEPT", "INPUT -p tcp --dport 8000:8080 -j ACCEPT"}},
		{"inline user chain", 4,
			[]string{":SSH", "INPUT -i eth0 -p tcp -j SSH", "INPUT -p udp -j DROP", "INPUT -j ACCEPT",
				"SSH -s 10.0.0.0/8 -j RETURN", "SSH -p tcp --dport 22 -j ACCEPT", "SSH -p tcp -j REJECT --reject-with tcp-reset"},
			[]string{"INPUT -i eth0 -p tcp -s 10.0.0.0/8 -j ACCEPT", "INPUT -i eth0 -p tcp --dport 22 -j ACCEPT",
				"INPUT -i eth0 -p tcp -j REJECT --reject-with tcp-reset", "INPUT -p udp -j DROP", "INPUT -j ACCEPT"}},
		{"goto vs jump with a final verdict", 4,
			[]string{":C", "INPUT -p tcp -g C", "INPUT -j ACCEPT", "C -p tcp --dport 22 -j ACCEPT", "C -j DROP"},
			[]string{":C", "INPUT -p tcp -j C", "INPUT -j ACCEPT", "C -p tcp --dport 22 -j ACCEPT", "C -j DROP"}},
		{"policy vs catch-all rule", 4,
			[]string{"INPUT -p tcp --dport 22 -j ACCEPT"},
			[]string{"INPUT -p tcp --dport 22 -j ACCEPT", "INPUT -j DROP"}},
		{"shadowed rule removed", 4,
			[]string{"INPUT -p tcp -j ACCEPT", "INPUT -i eth5 -p tcp --dport 22 -j DROP"},
			[]string{"INPUT -p tcp -j ACCEPT"}},
		{"prefix split", 4,
			[]string{"INPUT -s 10.0.0.0/8 -j ACCEPT"},
			[]string{"INPUT -s 10.128.0.0/9 -j ACCEPT", "INPUT -s 10.0.0.0/9 -j ACCEPT"}},
		{"default reject-with spelled out", 4,
			[]string{"INPUT -p tcp -j REJECT"},
			[]string{"INPUT -p tcp -j REJECT --reject-with icmp-port-unreachable"}},
		{"wildcard vs names", 4,
			[]string{"FORWARD -i eth+ -o ppp0 -j ACCEPT"},
			[]string{"FORWARD -i eth+ -o ppp0 -j ACCEPT", "FORWARD -i eth0 -o ppp0 -j ACCEPT"}},
		{"state split", 4,
			[]string{"INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT", "INPUT -p tcp --dport 22 -j ACCEPT"},
			[]string{"INPUT -m conntrack --ctstate RELATED -j ACCEPT", "INPUT -m state --state ESTABLISHED -j ACCEPT", "INPUT -p tcp --dport 22 -j ACCEPT"}},
		{"ipv6 swap", 6,
			[]string{"INPUT -p tcp --dport 22 -j ACCEPT", "INPUT -s 2001:db8::/32 -p udp -j ACCEPT"},
			[]string{"INPUT -s 2001:db8::/32 -p udp -j ACCEPT", "INPUT -p tcp --dport 22 -j ACCEPT"}},
		{"approximate rules kept, others swapped", 4,
			[]string{"INPUT -p tcp -m limit --limit 3/s -j ACCEPT", "INPUT -p tcp -m mark --mark 1 -j DROP", "INPUT -p udp --dport 53 -j ACCEPT", "INPUT -p tcp --dport 22 -j REJECT"},
			[]string{"INPUT -p udp --dport 53 -j ACCEPT", "INPUT -p tcp -m limit --limit 3/s -j ACCEPT", "INPUT -p tcp -m mark --mark 1 -j DROP", "INPUT -p tcp --dport 22 -j REJECT"}},
		{"identical with approximate matches", 4,
			[]string{"INPUT -p tcp --dport 22 -m recent --name ssh --rcheck --seconds 60 -j DROP", "INPUT -p tcp --dport 22 -j ACCEPT"},
			[]string{"INPUT -p tcp --dport 22 -m recent --name ssh --rcheck --seconds 60 -j DROP", "INPUT -p tcp --dport 22 -j ACCEPT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := loadRules(t, tc.fam, filterText(pol, tc.a...))
			b := loadRules(t, tc.fam, filterText(pol, tc.b...))
			cds := Diff(a, b, DiffOptions{})
			if len(cds) != 3 {
				t.Fatalf("%d chains compared, want 3", len(cds))
			}
			for _, cd := range cds {
				if cd.Status != DiffEquivalent {
					t.Errorf("%s: %s, want equivalent: %+v", cd.Chain, cd.Status, cd.Regions)
				}
			}
		})
	}
}

// TestDiffChanged: a changed ruleset differs, with the expected verdicts,
// and every witness gets them in the engine.
func TestDiffChanged(t *testing.T) {
	pol := "INPUT=DROP FORWARD=DROP OUTPUT=ACCEPT"
	base := []string{":C", "INPUT -i lo -j ACCEPT", "INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT",
		"INPUT -s 192.0.2.0/24 -p tcp --dport 22 -j ACCEPT", "INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT",
		"INPUT -p udp --dport 53 -j C", "INPUT -p icmp --icmp-type echo-request -j ACCEPT", "INPUT -p tcp --dport 25 -j REJECT",
		"C -s 10.0.0.0/8 -j ACCEPT", "C -j DROP",
		"FORWARD -i eth1 -o eth0 -j ACCEPT", "OUTPUT -o eth0 -p tcp --dport 23 -j DROP"}
	tests := []struct {
		name  string
		fam   ruleset.Family
		pol   string
		edit  func([]string) []string
		chain string
		a, b  string // a verdict pair that must appear
	}{
		{"port changed", 4, pol, replace("--dport 22 ", "--dport 2222 "), "INPUT", VAccept, VDrop},
		{"rule removed", 4, pol, remove("icmp-type"), "INPUT", VAccept, VDrop},
		{"prefix widened", 4, pol, replace("192.0.2.0/24", "192.0.0.0/16"), "INPUT", VDrop, VAccept},
		{"policy changed", 4, "INPUT=DROP FORWARD=ACCEPT OUTPUT=ACCEPT", nil, "FORWARD", VDrop, VAccept},
		{"reject-with changed", 4, pol, replace("--dport 25 -j REJECT", "--dport 25 -j REJECT --reject-with tcp-reset"), "INPUT",
			"REJECT --reject-with icmp-port-unreachable", "REJECT --reject-with tcp-reset"},
		{"reject to drop", 4, pol, replace("--dport 25 -j REJECT", "--dport 25 -j DROP"), "INPUT", "REJECT --reject-with icmp-port-unreachable", VDrop},
		{"user chain changed", 4, pol, replace("C -s 10.0.0.0/8", "C -s 10.0.0.0/9"), "INPUT", VAccept, VDrop},
		{"new interface name", 4, pol, replace("-o eth0 -j ACCEPT", "-o eth2 -j ACCEPT"), "FORWARD", VAccept, VDrop},
		{"output rule inverted", 4, pol, replace("-p tcp --dport 23", "-p tcp ! --dport 23"), "OUTPUT", VDrop, VAccept},
		{"conntrack rule removed", 4, pol, remove("ESTABLISHED"), "INPUT", VAccept, VDrop},
		{"ipv6 port changed", 6, pol, func(r []string) []string {
			return []string{"INPUT -s 2001:db8::/32 -p tcp --dport 2222 -j ACCEPT"}
		}, "INPUT", VDrop, VAccept},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ra := base
			if tc.fam == 6 {
				ra = []string{"INPUT -s 2001:db8::/32 -p tcp --dport 22 -j ACCEPT"}
			}
			rb := append([]string(nil), ra...)
			if tc.edit != nil {
				rb = tc.edit(rb)
			}
			pa := pol
			a := loadRules(t, tc.fam, filterText(pa, ra...))
			b := loadRules(t, tc.fam, filterText(tc.pol, rb...))
			cds := Diff(a, b, DiffOptions{})
			st := chainStatus(cds)
			if st[tc.chain] != DiffDifferent {
				t.Fatalf("%s: %s, want different", tc.chain, st[tc.chain])
			}
			found := false
			for _, cd := range cds {
				for _, r := range cd.Regions {
					if cd.Chain == tc.chain && r.A == tc.a && r.B == tc.b && r.Status == DiffDifferent {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("no %s region with A %s, B %s: %+v", tc.chain, tc.a, tc.b, cds)
			}
			if n := confirm(t, a, b, cds, tc.name); n == 0 {
				t.Errorf("no witness confirmed in the engine")
			}
			// the other way round: the same regions with the verdicts swapped
			back := Diff(b, a, DiffOptions{})
			if chainStatus(back)[tc.chain] != DiffDifferent {
				t.Errorf("B vs A: %s not different", tc.chain)
			}
			confirm(t, b, a, back, tc.name+" (B vs A)")
		})
	}
}

func replace(old, new string) func([]string) []string {
	return func(rs []string) []string {
		for i, r := range rs {
			rs[i] = strings.Replace(r, old, new, 1)
		}
		return rs
	}
}

func remove(sub string) func([]string) []string {
	return func(rs []string) []string {
		var out []string
		for _, r := range rs {
			if !strings.Contains(r, sub) {
				out = append(out, r)
			}
		}
		return out
	}
}

// TestDiffApproximate: a change behind a match the analyzer
// over-approximates is reported as possibly different, never as
// equivalent.
func TestDiffApproximate(t *testing.T) {
	pol := "INPUT=DROP FORWARD=DROP OUTPUT=ACCEPT"
	tests := []struct {
		name string
		a, b []string
	}{
		{"different marks", []string{"INPUT -p tcp -m mark --mark 1 -j ACCEPT"}, []string{"INPUT -p tcp -m mark --mark 2 -j ACCEPT"}},
		{"order against a mark", []string{"INPUT -m mark --mark 1 -j ACCEPT", "INPUT -p tcp -j DROP"},
			[]string{"INPUT -p tcp -j DROP", "INPUT -m mark --mark 1 -j ACCEPT"}},
		{"a second rate limit is another bucket", []string{"INPUT -p icmp -m limit --limit 1/s -j ACCEPT"},
			[]string{"INPUT -p icmp -m limit --limit 1/s -j ACCEPT", "INPUT -p icmp -m limit --limit 1/s -j ACCEPT"}},
		{"two predicates swapped", []string{"INPUT -m mark --mark 1 -j ACCEPT", "INPUT -m limit --limit 1/s -j REJECT"},
			[]string{"INPUT -m limit --limit 1/s -j REJECT", "INPUT -m mark --mark 1 -j ACCEPT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := loadRules(t, 4, filterText(pol, tc.a...))
			b := loadRules(t, 4, filterText(pol, tc.b...))
			cds := Diff(a, b, DiffOptions{Chains: []string{"INPUT"}})
			if st := cds[0].Status; st != DiffPossibly {
				t.Fatalf("INPUT: %s, want %s: %+v", st, DiffPossibly, cds[0].Regions)
			}
			for _, r := range cds[0].Regions {
				if !strings.Contains(r.Note, "-m mark") && !strings.Contains(r.Note, "-m limit") {
					t.Errorf("note %q does not name the approximate match", r.Note)
				}
			}
		})
	}
}

// TestDiffLocal: a change next to matches the analyzer over-approximates
// is reported alone: packets that reach no changed rule in either
// ruleset get the same verdicts, whatever those matches decide.
func TestDiffLocal(t *testing.T) {
	pol := "INPUT=DROP FORWARD=DROP OUTPUT=ACCEPT"
	rules := []string{":SVC", "INPUT -p udp -m mark --mark 1 -j DROP", "INPUT -p icmp -m limit --limit 1/s -j ACCEPT",
		"INPUT -p tcp --dport 25 -m recent --name smtp --rcheck -j REJECT", "INPUT -p tcp -j SVC", "INPUT -p udp -m statistic --mode random --probability 0.5 -j ACCEPT",
		"SVC -p tcp --dport 22 -j ACCEPT", "SVC -p tcp --dport 80 -m connlimit --connlimit-above 10 -j DROP", "SVC -p tcp --dport 80 -j ACCEPT"}
	b := append([]string(nil), rules...)
	b[6] = "SVC -p tcp --dport 2222 -j ACCEPT"
	ra := loadRules(t, 4, filterText(pol, rules...))
	rb := loadRules(t, 4, filterText(pol, b...))
	cds := Diff(ra, rb, DiffOptions{Chains: []string{"INPUT"}})
	if cds[0].Status != DiffDifferent {
		t.Fatalf("INPUT: %s %+v", cds[0].Status, cds[0].Regions)
	}
	for _, r := range cds[0].Regions {
		if r.Status != DiffDifferent || !strings.Contains(r.Region, "dport 22") && !strings.Contains(r.Region, "dport 2222") {
			t.Errorf("region %+v", r)
		}
	}
}

func TestDiffLCS(t *testing.T) {
	tests := []struct {
		a, b   string
		ua, ub string
	}{
		{"abc", "abc", "", ""},
		{"abc", "ac", "1", ""},
		{"ac", "abc", "", "1"},
		{"abcd", "acbd", "1", "2"},
		{"", "ab", "", "01"},
		{"xaby", "xbay", "1", "2"},
	}
	str := func(l []int) string {
		var b strings.Builder
		for _, i := range l {
			fmt.Fprint(&b, i)
		}
		return b.String()
	}
	for _, tc := range tests {
		ua, ub, pairs := lcsAlign(strings.Split(tc.a, "")[:len(tc.a)], strings.Split(tc.b, "")[:len(tc.b)])
		if len(pairs)+len(ua) != len(tc.a) || len(pairs)+len(ub) != len(tc.b) {
			t.Errorf("%q %q: %d pairs, %d and %d unmatched", tc.a, tc.b, len(pairs), len(ua), len(ub))
		}
		for _, p := range pairs {
			if tc.a[p[0]] != tc.b[p[1]] {
				t.Errorf("%q %q: pair %v", tc.a, tc.b, p)
			}
		}
		if str(ua) != tc.ua || str(ub) != tc.ub {
			t.Errorf("%q %q: unmatched %v %v, want %s %s", tc.a, tc.b, ua, ub, tc.ua, tc.ub)
		}
	}
}

// diffRuleTemplates are rules for random rulesets over INPUT, FORWARD,
// OUTPUT and user chains C and D.
var diffRuleTemplates = []string{
	"-p tcp --dport 22 -j ACCEPT",
	"-p tcp --dport 22:25 -j DROP",
	"-p tcp --sport 53 -j ACCEPT",
	"-p udp --dport 53 -j DROP",
	"-p udp -m multiport --dports 53,123,1000:2000 -j ACCEPT",
	"-p tcp -m multiport --ports 80,443 -j REJECT",
	"-p tcp --dport 25 -j REJECT --reject-with tcp-reset",
	"-s 10.0.0.0/8 -j DROP",
	"-s 10.0.0.0/9 -j ACCEPT",
	"! -s 10.128.0.0/9 -p tcp -j ACCEPT",
	"-d 192.0.2.0/24 -j REJECT",
	"-d 192.0.2.128/25 -p udp -j ACCEPT",
	"-i eth0 -j ACCEPT",
	"-i eth+ -p udp -j DROP",
	"! -i ppp0 -p tcp --dport 80 -j REJECT",
	"-o eth1 -j DROP",
	"-o wlan+ -p tcp -j ACCEPT",
	"-m state --state ESTABLISHED,RELATED -j ACCEPT",
	"-m conntrack --ctstate INVALID -j DROP",
	"-p tcp --tcp-flags SYN,ACK SYN -j DROP",
	"-p tcp ! --syn -j ACCEPT",
	"-p icmp --icmp-type echo-request -j ACCEPT",
	"-p icmp ! --icmp-type echo-reply -j DROP",
	"-f -j DROP",
	"-m iprange --src-range 10.0.0.5-10.0.0.200 -j REJECT",
	"-p tcp -m mark --mark 1 -j ACCEPT",
	"-j LOG",
	"-j C",
	"-g D",
	"-p udp -j C",
	"-s 10.0.0.0/8 -j RETURN",
	"-p tcp --dport 443 -j ACCEPT",
}

// randDiffRules writes a random ruleset as lines: policy lines
// (":INPUT DROP") and rules ("-A INPUT ..."); C and D never jump.
func randDiffRules(r *rand.Rand) []string {
	var out []string
	for _, c := range []string{"INPUT", "FORWARD", "OUTPUT"} {
		out = append(out, fmt.Sprintf(":%s %s", c, []string{"ACCEPT", "DROP"}[r.Intn(2)]))
	}
	out = append(out, ":C -", ":D -")
	for _, c := range []string{"INPUT", "FORWARD", "OUTPUT", "C", "D"} {
		n := r.Intn(6)
		if c == "C" || c == "D" {
			n = r.Intn(4)
		}
		for i := 0; i < n; i++ {
			tpl := diffRuleTemplates[r.Intn(len(diffRuleTemplates))]
			if (c == "C" || c == "D") && (strings.Contains(tpl, "-j C") || strings.Contains(tpl, "-g D")) {
				continue
			}
			if !(c == "C" || c == "D") && strings.Contains(tpl, "RETURN") ||
				c == "INPUT" && strings.HasPrefix(tpl, "-o") || c == "OUTPUT" && strings.Contains(tpl, "-i ") {
				continue // iptables refuses these
			}
			out = append(out, "-A "+c+" "+tpl)
		}
	}
	return out
}

func diffRulesText(lines []string) string {
	var b strings.Builder
	b.WriteString("*filter\n")
	for _, l := range lines {
		if strings.HasPrefix(l, ":") {
			b.WriteString(l + " [0:0]\n")
		} else {
			b.WriteString(l + "\n")
		}
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// mutate changes a ruleset a little: some edits keep the verdicts (a swap
// of independent rules, a duplicate), most do not.
func mutate(r *rand.Rand, lines []string) []string {
	out := append([]string(nil), lines...)
	var rules []int
	for i, l := range out {
		if strings.HasPrefix(l, "-A") {
			rules = append(rules, i)
		}
	}
	switch k := r.Intn(7); {
	case k == 0 || len(rules) == 0:
		i := r.Intn(3)
		if strings.HasSuffix(out[i], "DROP") {
			out[i] = strings.Replace(out[i], "DROP", "ACCEPT", 1)
		} else {
			out[i] = strings.Replace(out[i], "ACCEPT", "DROP", 1)
		}
	case k == 1:
		i := rules[r.Intn(len(rules))]
		out = append(out[:i], out[i+1:]...)
	case k == 2 && len(rules) > 1:
		j := r.Intn(len(rules) - 1)
		out[rules[j]], out[rules[j+1]] = out[rules[j+1]], out[rules[j]]
	case k == 3:
		i := rules[r.Intn(len(rules))]
		out = append(out[:i+1], out[i:]...)
	case k == 4:
		i := rules[r.Intn(len(rules))]
		f := strings.Fields(out[i])
		out[i] = f[0] + " " + f[1] + " " + diffRuleTemplates[r.Intn(len(diffRuleTemplates))]
	default:
		i := rules[r.Intn(len(rules))]
		for _, rep := range [][2]string{{"/8", "/9"}, {"/9", "/8"}, {"22", "23"}, {"ACCEPT", "DROP"}, {"DROP", "REJECT"}, {"eth0", "eth7"}, {"REJECT", "ACCEPT"}} {
			if strings.Contains(out[i], rep[0]) {
				out[i] = strings.Replace(out[i], rep[0], rep[1], 1)
				break
			}
		}
	}
	return out
}

// randPacket is a packet entering chain, with values near the templates'
// edges.
func randPacket(r *rand.Rand, chain string) Packet {
	srcs := []string{"10.0.0.1", "10.0.0.5", "10.0.0.200", "10.0.0.201", "10.127.255.255", "10.128.0.0", "11.0.0.1", "192.168.1.1", "203.0.113.7", "192.0.2.10"}
	dsts := []string{"192.0.2.10", "192.0.2.200", "192.0.3.1", "10.0.0.1", "127.0.0.1"}
	ports := []uint16{22, 23, 25, 26, 53, 80, 123, 443, 999, 1000, 2000, 2001, 40000}
	ifaces := []string{"eth0", "eth1", "eth7", "ppp0", "lo", "wlan0", "ens3"}
	states := []uint8{pkt.CTNew, pkt.CTEstablished, pkt.CTRelated, pkt.CTInvalid, pkt.CTUntracked}
	p := Packet{Family: 4, Proto: []uint8{6, 6, 17, 17, 1, 47}[r.Intn(6)],
		Src: netip.MustParseAddr(srcs[r.Intn(len(srcs))]), Dst: netip.MustParseAddr(dsts[r.Intn(len(dsts))]),
		SPort: ports[r.Intn(len(ports))], DPort: ports[r.Intn(len(ports))],
		Flags: []uint8{0x02, 0x10, 0x12, 0x01, 0x00}[r.Intn(5)], State: states[r.Intn(len(states))],
		Fragment: r.Intn(8) == 0}
	if p.Proto == 1 {
		p.ICMPType = []uint8{8, 0, 3}[r.Intn(3)]
	}
	if chain != "OUTPUT" {
		p.In = ifaces[r.Intn(len(ifaces))]
	}
	if chain != "INPUT" {
		p.Out = ifaces[r.Intn(len(ifaces))]
	}
	return p
}

// TestDiffRandom: for random rulesets and mutations, a chain Diff proves
// equivalent never gives a random packet different verdicts in the
// engine, and every witness of a difference is confirmed by the engine.
func TestDiffRandom(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	pairs, equiv, diff, confirmed, packets := 0, 0, 0, 0, 0
	for iter := 0; iter < 800; iter++ {
		la := randDiffRules(r)
		lb := mutate(r, la)
		ta, tb := diffRulesText(la), diffRulesText(lb)
		a, _, errA := ipt.Load("a.rules", []byte(ta), ipt.LoadOptions{Family: ruleset.IPv4})
		b, _, errB := ipt.Load("b.rules", []byte(tb), ipt.LoadOptions{Family: ruleset.IPv4})
		if errA != nil || errB != nil {
			continue
		}
		pairs++
		cds := Diff(a, b, DiffOptions{})
		frag := usesConntrack(a) || usesConntrack(b)
		for _, cd := range cds {
			switch cd.Status {
			case DiffEquivalent:
				equiv++
				// random packets, and one packet of each rule of either
				pkts := []Packet{}
				for k := 0; k < 60; k++ {
					pkts = append(pkts, randPacket(r, cd.Chain))
				}
				ifs := newAlphabet(a, b)
				hook, _ := ruleset.HookOf(cd.Chain)
				for _, rs := range []*ruleset.Ruleset{a, b} {
					an := newAnalyzerWith(rs, ifs)
					for _, ri := range an.order {
						if w, ok := an.Witness(ri.Own.Intersect(Set{an.entry(hook)})); ok {
							pkts = append(pkts, w)
						}
					}
				}
				for _, p := range pkts {
					if p.Fragment && frag {
						continue // reassembled before the filter table
					}
					va, okA := engineLabel(t, a, cd.Chain, p)
					vb, okB := engineLabel(t, b, cd.Chain, p)
					if !okA || !okB {
						continue
					}
					packets++
					if va != vb {
						t.Fatalf("%s proven equivalent, but %v gets %s in A and %s in B\nA:\n%s\nB:\n%s", cd.Chain, p, va, vb, ta, tb)
					}
				}
			case DiffDifferent:
				diff++
			}
		}
		confirmed += confirm(t, a, b, cds, fmt.Sprintf("A:\n%s\nB:\n%s", ta, tb))
		if t.Failed() {
			return
		}
	}
	t.Logf("%d pairs: %d chains equivalent (%d packets agree), %d different (%d witnesses confirmed)", pairs, equiv, packets, diff, confirmed)
	if pairs < 600 || equiv < 1000 || diff < 200 || confirmed < 400 || packets < 50000 {
		t.Errorf("too little checked: %d pairs, %d equivalent, %d different, %d confirmed, %d packets", pairs, equiv, diff, confirmed, packets)
	}
}

// seedVariant edits the CentOS 7 web server seed: SSH moved to 2222,
// NTP's rule removed, loopback's 127/8 rejection with tcp-reset for TCP
// in front, and FORWARD open.
func seedVariant(s string) string {
	s = strings.Replace(s, "-A INPUT -p tcp --dport 22 -m state", "-A INPUT -p tcp --dport 2222 -m state", 1)
	s = strings.Replace(s, "-A INPUT -p udp --sport 123 -j ACCEPT\n", "", 1)
	s = strings.Replace(s, "-A INPUT -d 127.0.0.0/8 -j REJECT\n", "-A INPUT -d 127.0.0.0/8 -p tcp -j REJECT --reject-with tcp-reset\n-A INPUT -d 127.0.0.0/8 -j REJECT\n", 1)
	s = strings.Replace(s, "-A FORWARD -j DROP\n", "-A FORWARD -s 10.0.0.0/8 -j ACCEPT\n-A FORWARD -j DROP\n", 1)
	return s
}

// TestDiffGolden compares the CentOS 7 seed with a variant: text and JSON
// against golden files, and every witness in the engine.
func TestDiffGolden(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.Shared(t), "seeds", "centos7-web.rules"))
	if err != nil {
		t.Fatal(err)
	}
	mod := []byte(seedVariant(string(data)))
	if bytes.Equal(mod, data) {
		t.Fatal("the seed changed: the variant edits nothing")
	}
	rep, err := DiffFiles("centos7-web.rules", data, "centos7-web-modified.rules", mod, 0, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Equivalent {
		t.Fatal("reported equivalent")
	}
	a := loadRules(t, 4, string(data))
	b := loadRules(t, 4, string(mod))
	if n := confirm(t, a, b, rep.Chains, "seed"); n < 4 {
		t.Errorf("%d witnesses confirmed, want at least 4", n)
	}
	var txt bytes.Buffer
	rep.WriteText(&txt, 20)
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	golden(t, "centos7-web.txt", txt.Bytes())
	golden(t, "centos7-web.json", js.Bytes())
	var back DiffReport
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Chains) != len(rep.Chains) {
		t.Errorf("JSON does not read back: %v", err)
	}
	// and the seed against itself
	same, err := DiffFiles("a", data, "b", data, 0, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !same.Equivalent {
		t.Errorf("the seed differs from itself: %+v", same.Chains)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenFile(t, "diff", name, got, *updateDiff, "update-diff")
}

// TestDiffDescribe checks the region text of typical boxes.
func TestDiffDescribe(t *testing.T) {
	pol := "INPUT=ACCEPT FORWARD=ACCEPT OUTPUT=ACCEPT"
	// both use conntrack: the same packets (no fragments) enter the chains
	ct := "FORWARD -m state --state INVALID -j LOG"
	tests := []struct {
		rule, chain, want string
	}{
		{"INPUT -p tcp --dport 22 -s 10.0.0.0/8 -m state --state NEW -j DROP", "INPUT", "tcp dport 22 src 10.0.0.0/8 state NEW"},
		{"INPUT -p udp ! --dport 53 -j DROP", "INPUT", "udp dport ! 53"},
		{"INPUT -p tcp --tcp-flags SYN,ACK SYN -j DROP", "INPUT", "tcp tcp-flags SYN,ACK SYN"},
		{"INPUT -p icmp --icmp-type echo-request -j DROP", "INPUT", "icmp type 8"},
		{"INPUT -m iprange --src-range 10.0.0.5-10.0.0.8 -j DROP", "INPUT", "src 10.0.0.5,10.0.0.6/31,10.0.0.8"},
		{"INPUT -m iprange --src-range 10.0.0.5-10.0.0.200 -j DROP", "INPUT", "src 10.0.0.5-10.0.0.200"},
		{"FORWARD -i eth0 -o eth1 -j DROP", "FORWARD", "in eth0 out eth1"},
		{"FORWARD ! -i eth0 -o eth1 -j DROP", "FORWARD", "in ! eth0 out eth1"},
		{"INPUT -p tcp --dport 22 -m state ! --state NEW -j DROP", "INPUT", "tcp dport 22 state ESTABLISHED,RELATED,INVALID,UNTRACKED"},
		{"OUTPUT -o eth+ -p tcp -m multiport --dports 80,443 -j DROP", "OUTPUT", "tcp dport 80,443 out eth+"},
	}
	for _, tc := range tests {
		a := loadRules(t, 4, filterText(pol, ct))
		b := loadRules(t, 4, filterText(pol, ct, tc.rule))
		cds := Diff(a, b, DiffOptions{Chains: []string{tc.chain}})
		if len(cds) != 1 || len(cds[0].Regions) != 1 {
			t.Errorf("%s: %+v, want one region", tc.rule, cds)
			continue
		}
		if got := cds[0].Regions[0].Region; got != tc.want {
			t.Errorf("%s: region %q, want %q", tc.rule, got, tc.want)
		}
	}
}

// BenchmarkDiff compares a 5,000-rule, 90-chain ruleset with itself with
// one rule changed.
func BenchmarkDiff(b *testing.B) {
	text := genLargeRuleset(5000, 90, 1)
	lines := strings.Split(text, "\n")
	changed := -1
	for i := len(lines) / 2; i < len(lines); i++ {
		if strings.Contains(lines[i], "--dport") && strings.HasSuffix(lines[i], "-j ACCEPT") {
			lines[i] = strings.Replace(lines[i], "-j ACCEPT", "-j DROP", 1)
			changed = i
			break
		}
	}
	if changed < 0 {
		b.Fatal("no rule to change")
	}
	ra, _, err := ipt.Load("a.rules", []byte(text), ipt.LoadOptions{Family: ruleset.IPv4})
	if err != nil {
		b.Fatal(err)
	}
	rb, _, err := ipt.Load("b.rules", []byte(strings.Join(lines, "\n")), ipt.LoadOptions{Family: ruleset.IPv4})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	regions := 0
	for i := 0; i < b.N; i++ {
		regions = 0
		for _, cd := range Diff(ra, rb, DiffOptions{}) {
			regions += len(cd.Regions)
		}
	}
	b.ReportMetric(float64(regions), "regions")
}
