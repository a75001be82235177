package difftest

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// NAT differential cases (IPv4): a *nat table with a port forward
// (PREROUTING DNAT of a port of fw's peer-side address to a host in far),
// source NAT of far's subnet going out to peer (SNAT or MASQUERADE),
// a REDIRECT to a local port, optionally a second SNAT of the forwarded
// connections (hairpin-style double NAT), plus a *filter table with
// FORWARD/INPUT state and port rules; and the traffic through them, with
// the far side's replies crafted for the NATed tuples.

// NATPlan is what a NAT ruleset does, for the traffic generator.
type NATPlan struct {
	Family     ruleset.Family
	FWPeer     netip.Addr // fw's address on peer's side
	FWFar      netip.Addr // fw's address on far's side
	PeerNet    netip.Prefix
	FarNet     netip.Prefix
	FwdProto   string     // "tcp" or "udp"
	FwdPort    uint16     // port of fw's peer-side address forwarded...
	FwdHost    netip.Addr // ...to this host in far...
	FwdTo      uint16     // ...at this port
	FwdSNAT    bool       // the forwarded connections are also SNATed to fw's far-side address
	Masquerade bool       // far -> peer source NAT by MASQUERADE (else SNAT to fw's peer-side address)
	NoNATPort  uint16     // far -> peer UDP to this destination port is exempt from source NAT (RETURN)
	RedirPort  uint16     // peer -> fw's port redirected...
	RedirTo    uint16     // ...to this local port
}

// NATRules is a generated nat+filter ruleset for each family and their
// plans.
type NATRules struct {
	V4, V6       string
	Plan4, Plan6 NATPlan
	Skipped      map[string]int
}

// GenerateNATRules returns random nat and filter tables from a seed.
func GenerateNATRules(seed uint64) NATRules {
	out := NATRules{Skipped: map[string]int{}}
	out.V4, out.Plan4 = genNATRules(seed, ruleset.IPv4, out.Skipped)
	out.V6, out.Plan6 = genNATRules(seed, ruleset.IPv6, out.Skipped)
	return out
}

func genNATRules(seed uint64, fam ruleset.Family, skipped map[string]int) (string, NATPlan) {
	r := rand.New(rand.NewPCG(seed, 0xa7c0de+uint64(fam)))
	pick := func(n int) int { return r.IntN(n) }
	chance := func(p float64) bool { return r.Float64() < p }
	p := NATPlan{Family: fam, FWPeer: FWPeer4, FWFar: FWFar4, PeerNet: PeerNet4, FarNet: FarNet4}
	v6 := fam == ruleset.IPv6
	icmp, icmpEcho, host := "icmp", "-m icmp --icmp-type 8", "/32"
	if v6 {
		p.FWPeer, p.FWFar, p.PeerNet, p.FarNet = FWPeer6, FWFar6, PeerNet6, FarNet6
		icmp, icmpEcho, host = "ipv6-icmp", "-m icmp6 --icmpv6-type 128", "/128"
	}
	p.FwdProto = "tcp"
	if chance(0.25) {
		p.FwdProto = "udp"
	}
	p.FwdPort = []uint16{8080, 8443, 2222, 5000 + uint16(pick(1000))}[pick(4)]
	p.FwdHost = hostAddr(p.FarNet, 2+pick(3))
	p.FwdTo = []uint16{80, 443, 22, p.FwdPort}[pick(4)]
	p.FwdSNAT = chance(0.3)
	p.Masquerade = chance(0.5)
	p.NoNATPort = []uint16{0, 123, 514}[pick(3)]
	p.RedirPort = []uint16{80, 25, 2525}[pick(3)]
	p.RedirTo = []uint16{3128, 8025, 10080}[pick(3)]

	var b strings.Builder
	b.WriteString("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n")
	// PREROUTING
	if chance(0.4) {
		fmt.Fprintf(&b, "-A PREROUTING -p %s\n", icmp) // counting rule
	}
	dst := ""
	if chance(0.7) {
		dst = " -d " + p.FWPeer.String() + host
	}
	to := p.FwdHost.String()
	if p.FwdTo != p.FwdPort || chance(0.5) {
		if v6 {
			to = "[" + to + "]"
		}
		to += fmt.Sprintf(":%d", p.FwdTo)
	}
	fmt.Fprintf(&b, "-A PREROUTING%s -i %s -p %s -m %s --dport %d -j DNAT --to-destination %s\n", dst, IfPeer, p.FwdProto, p.FwdProto, p.FwdPort, to)
	fmt.Fprintf(&b, "-A PREROUTING -i %s -p tcp -m tcp --dport %d -j REDIRECT --to-ports %d\n", IfPeer, p.RedirPort, p.RedirTo)
	if chance(0.5) {
		b.WriteString("-A PREROUTING -i vfar -p udp\n")
	}
	// INPUT, OUTPUT: counting rules
	if chance(0.5) {
		fmt.Fprintf(&b, "-A INPUT -p tcp -m tcp --dport %d\n", p.RedirTo)
	}
	if chance(0.5) {
		fmt.Fprintf(&b, "-A INPUT -p %s\n", icmp)
	}
	if chance(0.5) {
		fmt.Fprintf(&b, "-A OUTPUT -p %s\n", icmp)
	}
	// POSTROUTING
	if p.NoNATPort != 0 {
		fmt.Fprintf(&b, "-A POSTROUTING -o %s -p udp -m udp --dport %d -j RETURN\n", IfPeer, p.NoNATPort)
	}
	if p.FwdSNAT {
		fmt.Fprintf(&b, "-A POSTROUTING -d %s%s -o %s -p %s -m %s --dport %d -j SNAT --to-source %s\n", p.FwdHost, host, IfFar, p.FwdProto, p.FwdProto, p.FwdTo, p.FWFar)
	}
	if p.Masquerade {
		fmt.Fprintf(&b, "-A POSTROUTING -s %s -o %s -j MASQUERADE\n", p.FarNet, IfPeer)
	} else {
		fmt.Fprintf(&b, "-A POSTROUTING -s %s -o %s -j SNAT --to-source %s\n", p.FarNet, IfPeer, p.FWPeer)
	}
	if chance(0.4) {
		b.WriteString("-A POSTROUTING -o vfar\n")
	}
	b.WriteString("COMMIT\n")

	// filter
	g := &ruleGen{r: r, fam: fam, tag: fmt.Sprintf("n%d_%d", seed, fam), skipped: skipped}
	pol := func(pa float64) string {
		if chance(pa) {
			return "ACCEPT"
		}
		return "DROP"
	}
	b.WriteString("*filter\n")
	fmt.Fprintf(&b, ":INPUT %s [0:0]\n:FORWARD %s [0:0]\n:OUTPUT ACCEPT [0:0]\n", pol(0.5), pol(0.4))
	var fwd, in []string
	stateRule := func() string {
		if chance(0.5) {
			return "-m state --state RELATED,ESTABLISHED -j ACCEPT"
		}
		return "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
	}
	fwd = append(fwd, stateRule())
	switch pick(3) {
	case 0:
		fwd = append(fwd, fmt.Sprintf("-d %s%s -i %s -o %s -p %s -m %s --dport %d -m conntrack --ctstate NEW,DNAT -j ACCEPT", p.FwdHost, host, IfPeer, IfFar, p.FwdProto, p.FwdProto, p.FwdTo))
	case 1:
		fwd = append(fwd, fmt.Sprintf("-d %s%s -p %s -m %s --dport %d -j ACCEPT", p.FwdHost, host, p.FwdProto, p.FwdProto, p.FwdTo))
	default:
		fwd = append(fwd, "-m conntrack --ctstate DNAT -j ACCEPT")
	}
	fwd = append(fwd, fmt.Sprintf("-s %s -i %s -o %s -j ACCEPT", p.FarNet, IfFar, IfPeer))
	if chance(0.5) {
		fwd = append(fwd, fmt.Sprintf("-p %s %s -j ACCEPT", icmp, icmpEcho))
	}
	in = append(in, stateRule())
	in = append(in, fmt.Sprintf("-p tcp -m tcp --dport %d -m conntrack --ctstate NEW -j ACCEPT", p.RedirTo))
	in = append(in, fmt.Sprintf("-p %s -j ACCEPT", icmp))
	// A few random rules from the main generator, in random places.
	for range pick(4) {
		chain := []string{"INPUT", "FORWARD"}[pick(2)]
		for try := 0; try < 20; try++ {
			rule := g.rule(chain, -1)
			if !g.supported(chain, rule) {
				continue
			}
			l := &fwd
			if chain == "INPUT" {
				l = &in
			}
			i := pick(len(*l) + 1)
			*l = append((*l)[:i], append([]string{rule}, (*l)[i:]...)...)
			break
		}
	}
	for _, x := range in {
		fmt.Fprintf(&b, "-A INPUT %s\n", x)
	}
	for _, x := range fwd {
		fmt.Fprintf(&b, "-A FORWARD %s\n", x)
	}
	b.WriteString("COMMIT\n")
	return b.String(), p
}

// natGen generates the traffic of NAT plans; client ports (and ICMP ids)
// are unique in the case, so that the kernel's NAT keeps them.
type natGen struct {
	*gen
	ports map[uint16]bool
}

func (g *natGen) port() uint16 {
	for {
		p := g.clientPort()
		if !g.ports[p] {
			g.ports[p] = true
			return p
		}
	}
}

// ap is an address and port as one side sees it.
type ap struct {
	a netip.Addr
	p uint16
}

// natTCP is a TCP session from side cs (client's packets c -> s1) whose
// server on side ss sees it as c2 -> s (its replies s -> c2).
func (g *natGen) natTCP(cs Side, c, s1 ap, ss Side, s, c2 ap) {
	g.begin("nat tcp %s:%d -> %s:%d (server sees %s:%d -> %s:%d)", c.a, c.p, s1.a, s1.p, c2.a, c2.p, s.a, s.p)
	ic, is := g.r.Uint32(), g.r.Uint32()
	ct, st := uint8(32+g.pick(64)), uint8(32+g.pick(64))
	if ss == FW {
		st = 64
	}
	cpk := func(flags uint8, seq, ack uint32, data int) {
		g.add(cs, build(pkt.Spec{Src: c.a, Dst: s1.a, Proto: pkt.ProtoTCP, SrcPort: c.p, DstPort: s1.p, TCPFlags: flags,
			Seq: seq, Ack: ack, Window: 64240, TTL: ct, ID: uint16(g.r.Uint32()), Payload: g.payload(data)}))
	}
	spk := func(flags uint8, seq, ack uint32, data int) {
		g.add(ss, build(pkt.Spec{Src: s.a, Dst: c2.a, Proto: pkt.ProtoTCP, SrcPort: s.p, DstPort: c2.p, TCPFlags: flags,
			Seq: seq, Ack: ack, Window: 64240, TTL: st, ID: uint16(g.r.Uint32()), Payload: g.payload(data)}))
	}
	const fin, syn, rst, psh, ack = 0x01, 0x02, 0x04, 0x08, 0x10
	cpk(syn, ic, 0, 0)
	if g.chance(0.1) {
		cpk(syn, ic, 0, 0) // retransmitted SYN
	}
	if g.chance(0.08) {
		g.end() // never answered
		return
	}
	spk(syn|ack, is, ic+1, 0)
	cpk(ack, ic+1, is+1, 0)
	cseq, sseq := ic+1, is+1
	for range 1 + g.pick(3) {
		n := 1 + g.pick(400)
		cpk(psh|ack, cseq, sseq, n)
		cseq += uint32(n)
		spk(ack, sseq, cseq, 0)
		if g.chance(0.7) {
			m := 1 + g.pick(800)
			spk(psh|ack, sseq, cseq, m)
			sseq += uint32(m)
			cpk(ack, cseq, sseq, 0)
		}
	}
	switch g.pick(4) {
	case 0, 1:
		cpk(fin|ack, cseq, sseq, 0)
		spk(fin|ack, sseq, cseq+1, 0)
		cpk(ack, cseq+1, sseq+1, 0)
	case 2:
		if g.chance(0.5) {
			cpk(rst|ack, cseq, sseq, 0)
		} else {
			spk(rst, sseq, 0, 0)
		}
	}
	g.end()
}

// natUDP is a UDP exchange: client on cs sends c -> s1, the server on ss
// sees c2 -> s and answers s -> c2, and may end with an ICMP error.
func (g *natGen) natUDP(cs Side, c, s1 ap, ss Side, s, c2 ap) {
	g.begin("nat udp %s:%d -> %s:%d (server sees %s:%d -> %s:%d)", c.a, c.p, s1.a, s1.p, c2.a, c2.p, s.a, s.p)
	for range 1 + g.pick(3) {
		g.add(cs, build(pkt.Spec{Src: c.a, Dst: s1.a, Proto: pkt.ProtoUDP, SrcPort: c.p, DstPort: s1.p, TTL: uint8(32 + g.pick(64)), ID: uint16(g.r.Uint32()), Payload: g.payload(10 + g.pick(100))}))
		if g.chance(0.85) {
			g.add(ss, build(pkt.Spec{Src: s.a, Dst: c2.a, Proto: pkt.ProtoUDP, SrcPort: s.p, DstPort: c2.p, TTL: uint8(32 + g.pick(64)), ID: uint16(g.r.Uint32()), Payload: g.payload(10 + g.pick(300))}))
		}
	}
	if ss != FW && g.chance(0.3) {
		// The server answers the last datagram, as it received it, with an
		// ICMP error: RELATED, its outer and quoted headers un-NATed.
		q := build(pkt.Spec{Src: c2.a, Dst: s.a, Proto: pkt.ProtoUDP, SrcPort: c2.p, DstPort: s.p, TTL: 30, ID: uint16(g.r.Uint32()), Payload: g.payload(20)})
		proto := uint8(pkt.ProtoICMP)
		tc := [][2]uint8{{3, 3}, {3, 1}, {3, 13}, {11, 0}}[g.pick(4)]
		min := 28
		if s.a.Is6() {
			proto, min = pkt.ProtoICMPv6, 48
			tc = [][2]uint8{{1, 4}, {1, 0}, {1, 1}, {3, 0}}[g.pick(4)]
		}
		g.add(ss, build(pkt.Spec{Src: s.a, Dst: c2.a, Proto: proto, ICMPType: tc[0], ICMPCode: tc[1], TTL: uint8(32 + g.pick(64)), ID: uint16(g.r.Uint32()), Payload: q[:min+g.pick(len(q)-min+1)]}))
	}
	g.end()
}

// natPing is an echo exchange through NAT: requests c -> s1 with a unique
// id, the target sees them from c2 (the id kept) and may answer.
func (g *natGen) natPing(cs Side, c, s1 netip.Addr, ss Side, c2 netip.Addr) {
	id := g.port()
	g.begin("nat ping %s -> %s (target sees %s) id %d", c, s1, c2, id)
	proto, req, rep := uint8(pkt.ProtoICMP), uint8(8), uint8(0)
	if c.Is6() {
		proto, req, rep = pkt.ProtoICMPv6, 128, 129
	}
	for i := range 1 + g.pick(3) {
		g.add(cs, build(pkt.Spec{Src: c, Dst: s1, Proto: proto, ICMPType: req, ICMPID: id, ICMPSeq: uint16(i + 1), TTL: uint8(32 + g.pick(64)), ID: uint16(g.r.Uint32()), Payload: g.payload(56)}))
		if ss != FW && g.chance(0.85) {
			g.add(ss, build(pkt.Spec{Src: s1, Dst: c2, Proto: proto, ICMPType: rep, ICMPID: id, ICMPSeq: uint16(i + 1), TTL: uint8(32 + g.pick(64)), ID: uint16(g.r.Uint32()), Payload: g.payload(56)}))
		}
	}
	g.end()
}

// GenerateNAT returns the packet sequence of a NAT case (IPv4 and IPv6
// flows, interleaved): connections from peer to the forwarded port, UDP,
// TCP and pings from far to peer through source NAT with peer's replies
// (and ICMP errors) to fw's address, sessions redirected to a local port
// (fw's side sent by the harness), and packets that miss the NAT rules
// (other ports of fw, pings to fw, peer -> far directly, the exempt port).
func GenerateNAT(seed uint64, plan4, plan6 NATPlan) []Step {
	g := &natGen{gen: newGen(seed ^ 0x4e4154), ports: map[uint16]bool{}}
	nflows := 10 + g.pick(10)
	for range nflows {
		plan := plan4
		if g.chance(0.4) {
			plan = plan6
		}
		peerHost := func() netip.Addr { return hostAddr(plan.PeerNet, 2+g.pick(4)) }
		farHost := func() netip.Addr { return hostAddr(plan.FarNet, 2+g.pick(4)) }
		// The address far sees the forwarded connections come from.
		fwdClient := func(c ap) ap {
			if plan.FwdSNAT {
				return ap{plan.FWFar, c.p}
			}
			return c
		}
		// What peer sees far's source-NATed traffic come from.
		snat := plan.FWPeer
		switch x := g.pick(100); {
		case x < 30: // port forward
			c := ap{peerHost(), g.port()}
			if plan.FwdProto == "tcp" {
				g.natTCP(Peer, c, ap{plan.FWPeer, plan.FwdPort}, Far, ap{plan.FwdHost, plan.FwdTo}, fwdClient(c))
			} else {
				g.natUDP(Peer, c, ap{plan.FWPeer, plan.FwdPort}, Far, ap{plan.FwdHost, plan.FwdTo}, fwdClient(c))
			}
		case x < 50: // far -> peer UDP through source NAT
			c := ap{farHost(), g.port()}
			dp := []uint16{53, 123, 514, 5060}[g.pick(4)]
			s := ap{peerHost(), dp}
			c2 := ap{snat, c.p}
			if dp == plan.NoNATPort {
				c2 = c
			}
			g.natUDP(Far, c, s, Peer, s, c2)
		case x < 60: // far -> peer TCP through source NAT
			c := ap{farHost(), g.port()}
			s := ap{peerHost(), []uint16{80, 443, 22}[g.pick(3)]}
			g.natTCP(Far, c, s, Peer, s, ap{snat, c.p})
		case x < 70: // pings from far to peer through source NAT
			g.natPing(Far, farHost(), peerHost(), Peer, snat)
		case x < 80: // redirect to a local port
			c := ap{peerHost(), g.port()}
			g.natTCP(Peer, c, ap{plan.FWPeer, plan.RedirPort}, FW, ap{plan.FWPeer, plan.RedirTo}, c)
		case x < 85: // ping from peer to fw (fw answers) or peer -> far (no NAT)
			if g.chance(0.5) {
				g.natPing(Peer, peerHost(), plan.FWPeer, FW, plan.FWPeer)
			} else {
				h := peerHost()
				g.natPing(Peer, h, farHost(), Far, h)
			}
		case x < 92: // peer -> fw's other ports: no NAT
			c := ap{peerHost(), g.port()}
			port := []uint16{8081, 22, 443, plan.FwdPort + 1}[g.pick(4)]
			if port == plan.RedirPort || port == plan.FwdPort {
				port = 9
			}
			g.natTCP(Peer, c, ap{plan.FWPeer, port}, FW, ap{plan.FWPeer, port}, c)
		default: // peer -> far directly: no NAT
			c := ap{peerHost(), g.port()}
			s := ap{farHost(), []uint16{80, 53, 8080}[g.pick(3)]}
			if g.chance(0.5) {
				g.natTCP(Peer, c, s, Far, s, c)
			} else {
				g.natUDP(Peer, c, s, Far, s, c)
			}
		}
	}
	return g.interleave()
}
