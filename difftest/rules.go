package difftest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Rules is a generated filter table for each family, in iptables-restore
// format.
type Rules struct {
	V4, V6 string
	// Skipped counts candidate rules left out because rampart cannot
	// evaluate one of their matches or targets yet (by extension name), or
	// cannot load them ("load: ..." keys).
	Skipped map[string]int
}

// Evaluable reports whether rampart can evaluate every match and target of
// the rules of rs: matches implement pkt.Matcher, extension targets
// pkt.Actor. It returns the first extension that cannot be evaluated.
func Evaluable(rs *ruleset.Ruleset) (bool, string) {
	for _, t := range rs.Tables() {
		for _, c := range t.Ordered() {
			for _, r := range c.Rules {
				for _, m := range r.Matches {
					if _, ok := m.(pkt.Matcher); !ok {
						return false, "-m " + m.Name()
					}
				}
				switch tg := r.Target.(type) {
				case nil, ruleset.Verdict, ruleset.Jump:
				default:
					if _, ok := tg.(pkt.Actor); !ok {
						return false, "-j " + tg.Name()
					}
				}
			}
		}
	}
	return true, ""
}

type ruleGen struct {
	r       *rand.Rand
	fam     ruleset.Family
	tag     string // unique per seed, for hashlimit and recent names
	users   []string
	skipped map[string]int
	n       int
	// accept, when set, also filters candidate rules (false and what to
	// count them under).
	accept func(*ruleset.Ruleset) (bool, string)
}

var (
	addrs4 = []string{"10.9.0.0/24", "10.9.1.0/24", "10.9.0.2", "10.9.0.3/32", "10.9.0.4/30", "10.9.1.2", "10.9.1.4/31",
		"10.9.0.1", "10.9.1.1", "10.0.0.0/8", "192.0.2.0/24", "0.0.0.0/1", "10.9.0.0/255.255.254.0"}
	addrs6 = []string{"fd00:9::/64", "fd00:9:1::/64", "fd00:9::2", "fd00:9::4/126", "fd00:9::1", "fd00:9:1::1",
		"fd00::/16", "2001:db8::/32", "fd00:9:1::2", "fd00:9:1::4/127", "::/1"}
	ranges4 = []string{"10.9.0.2-10.9.0.3", "10.9.0.1-10.9.0.9", "10.9.1.3-10.9.1.5", "10.9.0.0-10.9.1.255", "192.0.2.1-192.0.2.9"}
	ranges6 = []string{"fd00:9::2-fd00:9::3", "fd00:9::1-fd00:9::9", "fd00:9:1::3-fd00:9:1::5", "fd00:9::-fd00:9:1::ffff"}
	icmp4   = []string{"echo-request", "echo-reply", "destination-unreachable", "port-unreachable", "time-exceeded", "any", "3/1", "parameter-problem"}
	icmp6   = []string{"echo-request", "echo-reply", "destination-unreachable", "port-unreachable", "time-exceeded", "packet-too-big", "1/0", "parameter-problem"}
	ports   = []string{"22", "53", "80", "443", "123", "25", "1024:65535", "0:1023", "8000:9000", "993"}
)

func (g *ruleGen) pick(n int) int        { return g.r.IntN(n) }
func (g *ruleGen) chance(p float64) bool { return g.r.Float64() < p }
func (g *ruleGen) one(s []string) string { return s[g.pick(len(s))] }
func (g *ruleGen) not(p float64) string  { return map[bool]string{true: "! ", false: ""}[g.chance(p)] }
func (g *ruleGen) v6() bool              { return g.fam == ruleset.IPv6 }
func (g *ruleGen) addr() string          { return g.one(map[bool][]string{false: addrs4, true: addrs6}[g.v6()]) }
func (g *ruleGen) stateSet(ct bool) string {
	names := []string{"NEW", "ESTABLISHED", "RELATED", "INVALID"}
	if ct {
		names = append(names, "UNTRACKED")
	}
	var out []string
	for _, n := range names {
		if g.chance(0.35) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		out = append(out, g.one(names))
	}
	return strings.Join(out, ",")
}

// rule returns one candidate rule for chain (index ci among the user chains,
// -1 for a built-in chain).
func (g *ruleGen) rule(chain string, ci int) string {
	var p []string
	add := func(f string, a ...any) { p = append(p, fmt.Sprintf(f, a...)) }
	if g.chance(0.25) {
		add("%s-s %s", g.not(0.2), g.addr())
	}
	if g.chance(0.2) {
		add("%s-d %s", g.not(0.2), g.addr())
	}
	ifs := []string{IfPeer, IfFar, "v+", "lo", "eth0"}
	if chain != "OUTPUT" && g.chance(0.2) {
		add("%s-i %s", g.not(0.2), g.one(ifs))
	}
	if chain != "INPUT" && g.chance(0.15) {
		add("%s-o %s", g.not(0.2), g.one(ifs))
	}
	proto := ""
	if g.chance(0.6) {
		icmp := "icmp"
		if g.v6() {
			icmp = "ipv6-icmp"
		}
		proto = []string{"tcp", "tcp", "udp", icmp}[g.pick(4)]
		inv := g.not(0.08)
		add("%s-p %s", inv, proto)
		if inv != "" {
			proto = ""
		}
	}
	if !g.v6() && g.chance(0.05) {
		add("%s-f", g.not(0.4))
	}
	switch proto {
	case "tcp":
		if g.chance(0.5) {
			var o []string
			if g.chance(0.6) {
				o = append(o, fmt.Sprintf("%s--dport %s", g.not(0.1), g.one(ports)))
			}
			if g.chance(0.2) {
				o = append(o, fmt.Sprintf("%s--sport %s", g.not(0.1), g.one(ports)))
			}
			switch g.pick(4) {
			case 0:
				o = append(o, g.not(0.3)+"--syn")
			case 1:
				masks := []string{"SYN,RST,ACK,FIN", "ALL", "SYN,FIN", "SYN,RST", "FIN,ACK", "ACK,PSH", "ACK,URG", "RST"}
				comps := []string{"SYN", "NONE", "ALL", "SYN,FIN", "FIN", "ACK", "RST", "FIN,PSH,URG", "SYN,ACK"}
				o = append(o, fmt.Sprintf("%s--tcp-flags %s %s", g.not(0.15), g.one(masks), g.one(comps)))
			}
			if len(o) > 0 {
				add("-m tcp %s", strings.Join(o, " "))
			}
		}
	case "udp":
		if g.chance(0.6) {
			if g.chance(0.7) {
				add("-m udp %s--dport %s", g.not(0.1), g.one(ports))
			} else {
				add("-m udp %s--sport %s", g.not(0.1), g.one(ports))
			}
		}
	case "icmp":
		if g.chance(0.7) {
			add("-m icmp %s--icmp-type %s", g.not(0.1), g.one(icmp4))
		}
	case "ipv6-icmp":
		if g.chance(0.7) {
			add("-m icmp6 %s--icmpv6-type %s", g.not(0.1), g.one(icmp6))
		}
	}
	if (proto == "tcp" || proto == "udp") && g.chance(0.15) {
		lists := []string{"22,80,443", "53,123", "1024:65535", "22,25,110:143", "80", "0:1023,8080"}
		add("-m multiport %s--%s %s", g.not(0.1), g.one([]string{"dports", "sports", "ports"}), g.one(lists))
	}
	if g.chance(0.35) {
		if g.chance(0.5) {
			add("-m state %s--state %s", g.not(0.1), g.stateSet(false))
		} else {
			add("-m conntrack %s--ctstate %s", g.not(0.1), g.stateSet(true))
		}
	}
	if g.chance(0.08) {
		rs := map[bool][]string{false: ranges4, true: ranges6}[g.v6()]
		add("-m iprange %s--%s-range %s", g.not(0.2), g.one([]string{"src", "dst"}), g.one(rs))
	}
	g.n++
	if g.chance(0.06) {
		add("-m limit --limit %d/sec --limit-burst %d", 1+g.pick(50), 1+g.pick(8))
	}
	if g.chance(0.05) {
		add("-m hashlimit --hashlimit-upto %d/sec --hashlimit-burst %d --hashlimit-mode %s --hashlimit-name hl%s_%d",
			1+g.pick(20), 1+g.pick(5), g.one([]string{"srcip", "dstip", "srcip,dstport", "srcip,dstip"}), g.tag, g.n)
	}
	if g.chance(0.05) {
		name := fmt.Sprintf("rc%s_%d", g.tag, g.pick(2))
		switch g.pick(3) {
		case 0:
			add("-m recent --set --name %s", name)
		case 1:
			add("-m recent --rcheck --seconds %d --name %s", 1+g.pick(60), name)
		default:
			add("-m recent --update --seconds %d --hitcount %d --name %s", 1+g.pick(60), 1+g.pick(4), name)
		}
	}
	// Target.
	var later []string
	for _, u := range g.users {
		if ci < 0 || u > g.users[ci] {
			later = append(later, u)
		}
	}
	switch x := g.pick(100); {
	case x < 25:
		add("-j ACCEPT")
	case x < 45:
		add("-j DROP")
	case x < 52:
		add("-j RETURN")
	case x < 62:
		var with []string
		if g.v6() {
			with = []string{"icmp6-port-unreachable", "icmp6-adm-prohibited", "icmp6-addr-unreachable"}
		} else {
			with = []string{"icmp-port-unreachable", "icmp-host-unreachable", "icmp-admin-prohibited", "icmp-net-prohibited"}
		}
		if proto == "tcp" {
			with = append(with, "tcp-reset")
		}
		if g.chance(0.3) {
			add("-j REJECT")
		} else {
			add("-j REJECT --reject-with %s", g.one(with))
		}
	case x < 67:
		add("-j LOG --log-prefix \"dt%d \"", g.n)
	case x < 87 && len(later) > 0:
		verb := "-j"
		if g.chance(0.2) {
			verb = "-g"
		}
		add("%s %s", verb, g.one(later))
	case x < 87:
		add("-j ACCEPT")
	default:
		// no target: a counting rule
	}
	return strings.Join(p, " ")
}

// supported loads one candidate rule alone (with the user chains) and
// checks that rampart loads it and can evaluate it.
func (g *ruleGen) supported(chain, rule string) bool {
	var b strings.Builder
	b.WriteString("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
	for _, u := range g.users {
		fmt.Fprintf(&b, ":%s - [0:0]\n", u)
	}
	fmt.Fprintf(&b, "-A %s %s\nCOMMIT\n", chain, rule)
	rs, _, err := ipt.Load("candidate", []byte(b.String()), ipt.LoadOptions{Family: g.fam})
	if err != nil {
		msg := err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		g.skipped["load: "+msg]++
		return false
	}
	if ok, what := Evaluable(rs); !ok && os.Getenv("DIFFTEST_ALL") != "1" {
		g.skipped[what]++
		return false
	}
	if g.accept != nil {
		if ok, what := g.accept(rs); !ok {
			g.skipped[what]++
			return false
		}
	}
	return true
}

// GenerateRules returns random filter tables for both families from a
// seed: user chains (jumps only go forward, so no loops), policies, and
// rules over what rampart can evaluate (candidates with a match or target
// rampart cannot evaluate yet are left out and counted in Skipped;
// DIFFTEST_ALL=1 keeps them, to see what they break).
func GenerateRules(seed uint64) Rules { return GenerateRulesWith(seed, nil) }

// GenerateRulesWith is GenerateRules keeping only the candidate rules
// accept takes (a one-rule ruleset; false and the key to count it under).
func GenerateRulesWith(seed uint64, accept func(*ruleset.Ruleset) (bool, string)) Rules {
	out := Rules{Skipped: map[string]int{}}
	for _, fam := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		g := &ruleGen{r: rand.New(rand.NewPCG(seed, uint64(fam)*0x51ed27)), fam: fam, tag: fmt.Sprint(seed), skipped: out.Skipped, accept: accept}
		nu := g.pick(5)
		for i := range nu {
			g.users = append(g.users, fmt.Sprintf("U%d", i+1))
		}
		var b strings.Builder
		b.WriteString("*filter\n")
		pol := func(p float64) string {
			if g.chance(p) {
				return "ACCEPT"
			}
			return "DROP"
		}
		fmt.Fprintf(&b, ":INPUT %s [0:0]\n:FORWARD %s [0:0]\n:OUTPUT %s [0:0]\n", pol(0.6), pol(0.5), pol(0.85))
		for _, u := range g.users {
			fmt.Fprintf(&b, ":%s - [0:0]\n", u)
		}
		chains := append([]string{"INPUT", "FORWARD", "OUTPUT"}, g.users...)
		for i, c := range chains {
			n := 3 + g.pick(8)
			ci := i - 3
			if ci >= 0 {
				n = 1 + g.pick(6)
			}
			for range n {
				for try := 0; try < 20; try++ {
					r := g.rule(c, ci)
					if g.supported(c, r) {
						fmt.Fprintf(&b, "-A %s %s\n", c, r)
						break
					}
				}
			}
		}
		b.WriteString("COMMIT\n")
		if fam == ruleset.IPv4 {
			out.V4 = b.String()
		} else {
			out.V6 = b.String()
		}
	}
	return out
}
