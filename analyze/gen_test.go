package analyze

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/rampartfw/rampart/internal/testenv"
)

// genLargeRuleset returns an iptables-restore filter ruleset of about
// rules rules spread over about chains user chains, shaped like a large
// enterprise host/gateway firewall and deterministic for a seed:
//
//   - INPUT and FORWARD start with loopback, conntrack ESTABLISHED/RELATED
//     and INVALID rules, a blacklist chain and rate-limited ICMP, then
//     dispatch by input interface and source network into per-zone chains
//     (INPUT to in_Z, FORWARD to fwd_Z with -o), and end in a logging drop;
//   - zone chains send traffic for service ports (multiport, ranges) and
//     server addresses on to per-service and per-host chains, by jump or
//     goto, and RETURN traffic from foreign prefixes;
//   - service and host chains hold the bulk: -s/-d prefixes of every length,
//     tcp/udp ports and ranges, multiport, state/conntrack NEW, icmp types,
//     LOG with limit, REJECT, DROP, RETURN, and a few recent-based SSH
//     brute-force guards.
//
// Every chain is reached (the jumps form a DAG from INPUT/FORWARD/OUTPUT).
func genLargeRuleset(rules, chains int, seed uint64) string {
	g := &rsGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	return g.build(rules, chains)
}

type rsGen struct {
	r     *rand.Rand
	b     strings.Builder
	n     int // rules written
	zones []genZone
}

type genZone struct {
	name  string
	iface string
	net   netip.Prefix // the zone's /16
}

func (g *rsGen) rule(chain, spec string) {
	fmt.Fprintf(&g.b, "-A %s %s\n", chain, spec)
	g.n++
}

// prefix returns a random prefix inside p of length between lo and hi.
func (g *rsGen) prefix(p netip.Prefix, lo, hi int) netip.Prefix {
	if lo < p.Bits() {
		lo = p.Bits()
	}
	bitsN := lo + g.r.IntN(hi-lo+1)
	a := p.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= g.r.Uint32() >> uint(p.Bits())
	if p.Bits() == 0 {
		v = g.r.Uint32()
	}
	addr := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	return netip.PrefixFrom(addr, bitsN).Masked()
}

// extPrefix is a foreign (Internet) prefix of a realistic length.
func (g *rsGen) extPrefix() netip.Prefix {
	lens := []int{8, 12, 16, 19, 20, 22, 24, 24, 24, 27, 28, 29, 32, 32}
	l := lens[g.r.IntN(len(lens))]
	return g.prefix(netip.MustParsePrefix("0.0.0.0/0"), l, l)
}

var genTCPPorts = []int{21, 22, 25, 53, 80, 110, 143, 389, 443, 445, 465, 587, 636, 993, 995, 1433, 1521, 2049, 3306, 3389, 5432, 5900, 6379, 8080, 8443, 9000, 9090, 9200, 11211, 27017}
var genUDPPorts = []int{53, 67, 68, 69, 123, 161, 162, 500, 514, 1194, 1812, 1813, 4500, 5060, 51820}

func (g *rsGen) tcpPort() int { return genTCPPorts[g.r.IntN(len(genTCPPorts))] }
func (g *rsGen) udpPort() int { return genUDPPorts[g.r.IntN(len(genUDPPorts))] }

func (g *rsGen) ports(n int, pick func() int) string {
	seen := map[int]bool{}
	var out []string
	for len(out) < n {
		p := pick()
		if !seen[p] {
			seen[p] = true
			out = append(out, strconv.Itoa(p))
		}
	}
	return strings.Join(out, ",")
}

// src is a source prefix: mostly from some zone, sometimes foreign.
func (g *rsGen) src() netip.Prefix {
	if g.r.IntN(3) == 0 {
		return g.extPrefix()
	}
	z := g.zones[g.r.IntN(len(g.zones))]
	return g.prefix(z.net, 20, 32)
}

// bulk writes one ordinary rule of a service or host chain.
func (g *rsGen) bulk(chain string, dst netip.Prefix, exits []string) {
	d := ""
	if dst.IsValid() && g.r.IntN(2) == 0 {
		d = " -d " + dst.String()
	}
	s := g.src()
	switch k := g.r.IntN(100); {
	case k < 28:
		g.rule(chain, fmt.Sprintf("-s %s%s -p tcp -m tcp --dport %d -m conntrack --ctstate NEW -j ACCEPT", s, d, g.tcpPort()))
	case k < 40:
		g.rule(chain, fmt.Sprintf("-s %s%s -p tcp -m multiport --dports %s -j ACCEPT", s, d, g.ports(2+g.r.IntN(4), g.tcpPort)))
	case k < 50:
		g.rule(chain, fmt.Sprintf("-s %s%s -p udp -m udp --dport %d -j ACCEPT", s, d, g.udpPort()))
	case k < 55:
		lo := 1024 + g.r.IntN(50000)
		g.rule(chain, fmt.Sprintf("-s %s%s -p tcp -m tcp --sport 1024:65535 --dport %d:%d -j ACCEPT", s, d, lo, lo+g.r.IntN(2000)))
	case k < 60:
		lo := 10000 + g.r.IntN(40000)
		g.rule(chain, fmt.Sprintf("-s %s -p udp -m udp --dport %d:%d -m state --state NEW -j ACCEPT", s, lo, lo+g.r.IntN(500)))
	case k < 67:
		g.rule(chain, fmt.Sprintf("-s %s -j DROP", g.extPrefix()))
	case k < 71:
		g.rule(chain, fmt.Sprintf("-s %s%s -p tcp -m tcp --dport %d -j REJECT --reject-with tcp-reset", s, d, g.tcpPort()))
	case k < 74:
		g.rule(chain, fmt.Sprintf("-s %s -p udp -j REJECT --reject-with icmp-port-unreachable", g.extPrefix()))
	case k < 78:
		g.rule(chain, fmt.Sprintf("-s %s -p icmp -m icmp --icmp-type %s -j ACCEPT", s, []string{"8", "0", "3/4", "11", "echo-request"}[g.r.IntN(5)]))
	case k < 82:
		g.rule(chain, fmt.Sprintf("! -s %s%s -p tcp -m tcp --dport %d -j DROP", g.prefix(g.zones[g.r.IntN(len(g.zones))].net, 16, 24), d, g.tcpPort()))
	case k < 86:
		g.rule(chain, fmt.Sprintf("-s %s -j RETURN", g.extPrefix()))
	case k < 89:
		g.rule(chain, fmt.Sprintf("-s %s -m limit --limit %d/min --limit-burst 5 -j LOG --log-prefix \"%s: \" --log-level 4", s, 1+g.r.IntN(30), chain))
	case k < 91:
		g.rule(chain, fmt.Sprintf("-p tcp -m tcp --dport %d -m hashlimit --hashlimit-above %d/sec --hashlimit-mode srcip --hashlimit-name %s%d -j DROP", g.tcpPort(), 10+g.r.IntN(90), chain, g.n))
	case k < 94 && len(exits) > 0:
		g.rule(chain, fmt.Sprintf("-s %s -p tcp -m tcp --dport %d -g %s", s, g.tcpPort(), exits[g.r.IntN(len(exits))]))
	case k < 96:
		g.rule(chain, fmt.Sprintf("-s %s%s -p tcp -m tcp --sport %d -j ACCEPT", s, d, g.tcpPort()))
	default:
		g.rule(chain, fmt.Sprintf("-m iprange --src-range %s-%s -j ACCEPT", g.zones[0].net.Addr().Next(), g.zones[0].net.Addr().Next().Next().Next()))
	}
}

func (g *rsGen) build(rules, chains int) string {
	if chains < 24 {
		chains = 24
	}
	nz := chains / 11
	if nz < 2 {
		nz = 2
	}
	if nz > 12 {
		nz = 12
	}
	zoneNames := []string{"lan", "dmz", "mgmt", "vpn", "voice", "guest", "srv", "dev", "stor", "bkp", "lab", "iot"}
	for i := 0; i < nz; i++ {
		iface := fmt.Sprintf("vlan%d", 100+10*i)
		if i == 3 {
			iface = "tun+"
		}
		g.zones = append(g.zones, genZone{zoneNames[i], iface, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(16 + i), 0, 0}), 16)})
	}
	fixed := []string{"LOG_DROP", "LOG_REJECT", "BLACKLIST", "ICMP_IN", "SSH_GUARD", "OUT_FILTER"}
	rest := chains - len(fixed) - 2*nz
	nsvc := rest / 2
	nhost := rest - nsvc
	var svc, host []string
	for i := 0; i < nsvc; i++ {
		svc = append(svc, fmt.Sprintf("svc_%02d", i))
	}
	for i := 0; i < nhost; i++ {
		host = append(host, fmt.Sprintf("host_%02d", i))
	}
	hostAddr := make([]netip.Prefix, nhost)
	for i := range hostAddr {
		hostAddr[i] = g.prefix(g.zones[i%nz].net, 32, 32)
	}
	svcAddr := make([]netip.Prefix, nsvc)
	for i := range svcAddr {
		svcAddr[i] = g.prefix(g.zones[(i+1)%nz].net, 24, 28)
	}

	g.b.WriteString("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n")
	for _, c := range fixed {
		fmt.Fprintf(&g.b, ":%s - [0:0]\n", c)
	}
	for _, z := range g.zones {
		fmt.Fprintf(&g.b, ":in_%s - [0:0]\n:fwd_%s - [0:0]\n", z.name, z.name)
	}
	for _, c := range svc {
		fmt.Fprintf(&g.b, ":%s - [0:0]\n", c)
	}
	for _, c := range host {
		fmt.Fprintf(&g.b, ":%s - [0:0]\n", c)
	}

	// INPUT
	g.rule("INPUT", "-i lo -j ACCEPT")
	g.rule("INPUT", "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
	g.rule("INPUT", "-m conntrack --ctstate INVALID -j DROP")
	g.rule("INPUT", "-j BLACKLIST")
	g.rule("INPUT", "-p icmp -j ICMP_IN")
	g.rule("INPUT", "-p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j SSH_GUARD")
	for _, z := range g.zones {
		g.rule("INPUT", fmt.Sprintf("-i %s -s %s -j in_%s", z.iface, z.net, z.name))
	}
	g.rule("INPUT", "-i eth0 -p udp -m udp --sport 67 --dport 68 -j ACCEPT")
	g.rule("INPUT", "-p udp -m udp --dport 33434:33534 -j REJECT --reject-with icmp-port-unreachable")
	g.rule("INPUT", "-j LOG_DROP")
	// FORWARD
	g.rule("FORWARD", "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
	g.rule("FORWARD", "-m conntrack --ctstate INVALID -j DROP")
	g.rule("FORWARD", "-f -j DROP")
	g.rule("FORWARD", "-j BLACKLIST")
	for _, z := range g.zones {
		g.rule("FORWARD", fmt.Sprintf("-i %s -s %s -g fwd_%s", z.iface, z.net, z.name))
	}
	g.rule("FORWARD", "-i eth0 -o vlan100 -p tcp -m multiport --dports 80,443 -j ACCEPT")
	g.rule("FORWARD", "-j LOG_REJECT")
	// OUTPUT
	g.rule("OUTPUT", "-o lo -j ACCEPT")
	g.rule("OUTPUT", "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
	g.rule("OUTPUT", "-j OUT_FILTER")
	// fixed chains
	g.rule("LOG_DROP", "-m limit --limit 5/min --limit-burst 10 -j LOG --log-prefix \"DROP: \"")
	g.rule("LOG_DROP", "-j DROP")
	g.rule("LOG_REJECT", "-m limit --limit 5/min -j LOG --log-prefix \"REJECT: \"")
	g.rule("LOG_REJECT", "-p tcp -j REJECT --reject-with tcp-reset")
	g.rule("LOG_REJECT", "-j REJECT --reject-with icmp-admin-prohibited")
	g.rule("ICMP_IN", "-p icmp -m icmp --icmp-type 8 -m limit --limit 10/sec --limit-burst 20 -j ACCEPT")
	g.rule("ICMP_IN", "-p icmp -m icmp --icmp-type 8 -j DROP")
	for _, ty := range []string{"3", "11", "12", "0"} {
		g.rule("ICMP_IN", "-p icmp -m icmp --icmp-type "+ty+" -j ACCEPT")
	}
	g.rule("ICMP_IN", "-j DROP")
	g.rule("SSH_GUARD", "-m recent --set --name SSH --mask 255.255.255.255 --rsource")
	g.rule("SSH_GUARD", "-m recent --update --seconds 60 --hitcount 6 --name SSH --mask 255.255.255.255 --rsource -j LOG_DROP")
	g.rule("SSH_GUARD", "-s "+g.zones[2%nz].net.String()+" -j ACCEPT")
	g.rule("SSH_GUARD", "-j RETURN")
	g.rule("OUT_FILTER", "-p tcp -m tcp --dport 25 -j REJECT --reject-with tcp-reset")
	g.rule("OUT_FILTER", "-d 169.254.169.254/32 -j DROP")
	g.rule("OUT_FILTER", "-p udp -m udp --dport 53 -j ACCEPT")

	// zone chains: dispatch to services and hosts
	svcOf := func(i int) []string { // each zone reaches a slice of the services
		var out []string
		for k := i; k < len(svc); k += 2 {
			out = append(out, svc[k])
		}
		if i%2 == 1 && len(svc) > 0 {
			out = append(out, svc[0])
		}
		return out
	}
	for zi, z := range g.zones {
		in := "in_" + z.name
		g.rule(in, fmt.Sprintf("-s %s -j RETURN", g.prefix(z.net, 24, 28)))
		for _, c := range svcOf(zi) {
			k := indexOf(svc, c)
			switch g.r.IntN(3) {
			case 0:
				g.rule(in, fmt.Sprintf("-p tcp -m multiport --dports %s -j %s", g.ports(3, g.tcpPort), c))
			case 1:
				g.rule(in, fmt.Sprintf("-d %s -j %s", svcAddr[k], c))
			default:
				g.rule(in, fmt.Sprintf("-p udp -m udp --dport %d -j %s", g.udpPort(), c))
			}
		}
		g.rule(in, "-p tcp -m tcp --dport 22 -j ACCEPT")
		fwd := "fwd_" + z.name
		for hi := zi; hi < len(host); hi += nz {
			g.rule(fwd, fmt.Sprintf("-d %s -g %s", hostAddr[hi], host[hi]))
		}
		for hi := (zi + 1) % nz; hi < len(host); hi += 2 * nz {
			g.rule(fwd, fmt.Sprintf("-o %s -d %s -j %s", g.zones[hi%nz].iface, g.zones[hi%nz].net, host[hi]))
		}
		g.rule(fwd, "-o eth0 -p tcp -m multiport --dports 80,443 -j ACCEPT")
		g.rule(fwd, "-o eth0 -p udp -m udp --dport 53 -j ACCEPT")
	}
	// host chains jump to a few services of their own
	for hi, c := range host {
		if len(svc) > 0 {
			g.rule(c, fmt.Sprintf("-p tcp -m tcp --dport %d -j %s", g.tcpPort(), svc[(hi*7)%len(svc)]))
		}
	}

	// the bulk: spread what is left over service and host chains
	bulkChains := append(append([]string{}, svc...), host...)
	bulkChains = append(bulkChains, "BLACKLIST", "BLACKLIST")
	left := rules - g.n - len(g.zones)*2 - len(svc) // the chain ends below
	per := make([]int, len(bulkChains))
	for i := 0; i < left; i++ {
		per[g.r.IntN(len(per))]++
	}
	for i, c := range bulkChains {
		var dst netip.Prefix
		if k := indexOf(host, c); k >= 0 {
			dst = hostAddr[k]
		} else if k := indexOf(svc, c); k >= 0 {
			dst = svcAddr[k]
		}
		for j := 0; j < per[i]; j++ {
			if c == "BLACKLIST" {
				if g.r.IntN(4) == 0 {
					g.rule(c, fmt.Sprintf("-s %s -j LOG_DROP", g.extPrefix()))
				} else {
					g.rule(c, fmt.Sprintf("-s %s -j DROP", g.extPrefix()))
				}
				continue
			}
			exits := []string{"LOG_DROP", "LOG_REJECT"}
			g.bulk(c, dst, exits)
		}
	}
	// chains end: services RETURN or log-drop, zones RETURN
	for i, c := range svc {
		if i%3 == 0 {
			g.rule(c, "-j LOG_DROP")
		} else {
			g.rule(c, "-j RETURN")
		}
	}
	for _, z := range g.zones {
		g.rule("in_"+z.name, "-j RETURN")
		g.rule("fwd_"+z.name, "-j LOG_REJECT")
	}
	g.b.WriteString("COMMIT\n")
	return g.b.String()
}

func indexOf(xs []string, s string) int {
	for i, x := range xs {
		if x == s {
			return i
		}
	}
	return -1
}

// classBenchRuleset turns a ClassBench filter set (../shared/benchmarks/
// classbench/NAME) into an INPUT chain with a DROP policy: each filter
// becomes "-s SRC -d DST [-p P [--sport LO:HI] [--dport LO:HI]] -j T",
// first filter first; T cycles ACCEPT, ACCEPT, DROP, REJECT so that the
// verdict regions interleave. max > 0 keeps the first max filters.
func classBenchRuleset(tb testing.TB, name string, max int) string {
	tb.Helper()
	filters, err := testenv.ReadClassBench(testenv.ClassBenchPath(tb, name))
	if err != nil {
		tb.Fatal(err)
	}
	if max > 0 && len(filters) > max {
		filters = filters[:max]
	}
	var b strings.Builder
	b.WriteString("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n")
	targets := []string{"ACCEPT", "ACCEPT", "DROP", "REJECT"}
	for n, c := range filters {
		fmt.Fprintf(&b, "-A INPUT -s %s -d %s", c.Src.Masked(), c.Dst.Masked())
		if c.Proto >= 0 {
			fmt.Fprintf(&b, " -p %d", c.Proto)
			if c.Proto == 6 || c.Proto == 17 {
				if c.SPortLo != 0 || c.SPortHi != 65535 {
					fmt.Fprintf(&b, " --sport %d:%d", c.SPortLo, c.SPortHi)
				}
				if c.DPortLo != 0 || c.DPortHi != 65535 {
					fmt.Fprintf(&b, " --dport %d:%d", c.DPortLo, c.DPortHi)
				}
			}
		}
		fmt.Fprintf(&b, " -j %s\n", targets[n%len(targets)])
	}
	b.WriteString("COMMIT\n")
	return b.String()
}
