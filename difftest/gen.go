package difftest

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/rampartfw/rampart/pkt"
)

// Side is where a packet is injected: from peer's or far's end of a veth
// (it enters fw at PREROUTING) or from fw itself (OUTPUT).
type Side uint8

// Sides.
const (
	Peer Side = iota
	Far
	FW
)

func (s Side) String() string { return [...]string{"peer", "far", "fw"}[s] }

// Step is one packet to inject, after Gap.
type Step struct {
	Side Side
	IP   []byte
	Gap  time.Duration
	Note string // the flow it belongs to, for failure messages
}

// Kind is the path of a flow through fw.
type Kind uint8

// Kinds of flows.
const (
	Input   Kind = iota // a host on peer's or far's side talks to fw
	Output              // fw talks to a host
	Forward             // peer's side talks to far's side (either way) through fw
)

func (k Kind) String() string { return [...]string{"input", "output", "forward"}[k] }

// endpoint is one end of a flow.
type endpoint struct {
	addr netip.Addr
	side Side
}

type gen struct {
	r     *rand.Rand
	flows [][]Step
	cur   []Step
	note  string
	gap   time.Duration // default gap of the current flow
}

func newGen(seed uint64) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

func (g *gen) pick(n int) int { return g.r.IntN(n) }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// ends chooses the client and server of a flow of kind k.
func (g *gen) ends(k Kind, v6 bool) (c, s endpoint) {
	peerNet, farNet := PeerNet4, FarNet4
	fwPeer, fwFar := FWPeer4, FWFar4
	if v6 {
		peerNet, farNet, fwPeer, fwFar = PeerNet6, FarNet6, FWPeer6, FWFar6
	}
	peerHost := endpoint{hostAddr(peerNet, 2+g.pick(4)), Peer}
	farHost := endpoint{hostAddr(farNet, 2+g.pick(4)), Far}
	switch k {
	case Input:
		if g.chance(0.8) {
			c = peerHost
			s = endpoint{fwPeer, FW}
			if g.chance(0.1) {
				s.addr = fwFar // fw's other address, received on vpeer
			}
		} else {
			c, s = farHost, endpoint{fwFar, FW}
		}
	case Output:
		if g.chance(0.75) {
			c, s = endpoint{fwPeer, FW}, peerHost
		} else {
			c, s = endpoint{fwFar, FW}, farHost
		}
	default:
		c, s = peerHost, farHost
		if g.chance(0.25) {
			c, s = s, c
		}
	}
	return c, s
}

func (g *gen) begin(format string, args ...any) {
	g.note = fmt.Sprintf(format, args...)
	g.cur = nil
	g.gap = time.Duration(1000+g.pick(3)*500) * time.Microsecond
}

func (g *gen) end() {
	if len(g.cur) > 0 {
		g.flows = append(g.flows, g.cur)
	}
	g.cur = nil
}

func (g *gen) add(side Side, ip []byte) {
	g.cur = append(g.cur, Step{Side: side, IP: ip, Gap: g.gap, Note: g.note})
}

func (g *gen) ttl(from endpoint) uint8 {
	if from.side == FW {
		return 64
	}
	return uint8(32 + g.pick(64))
}

var serverPorts = []uint16{22, 25, 53, 80, 110, 123, 143, 443, 465, 993, 995, 3306, 8080}

func (g *gen) serverPort() uint16 {
	if g.chance(0.8) {
		return serverPorts[g.pick(len(serverPorts))]
	}
	return uint16(1 + g.pick(65535))
}

func (g *gen) clientPort() uint16 { return uint16(32768 + g.pick(28232)) }

func (g *gen) payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return b
}

// tcpSession is a TCP connection with correct sequence numbers: handshake,
// data both ways, close by FIN or RST (or left open), with optional
// retransmits and a lost SYN-ACK.
func (g *gen) tcpSession(k Kind, v6 bool, port uint16) {
	c, s := g.ends(k, v6)
	if port == 0 {
		port = g.serverPort()
	}
	cp := g.clientPort()
	g.begin("tcp %s %s:%d -> %s:%d", k, c.addr, cp, s.addr, port)
	ic, is := g.r.Uint32(), g.r.Uint32()
	ct, st := g.ttl(c), g.ttl(s)
	send := func(from, to endpoint, sp, dp uint16, ttl uint8, flags uint8, seq, ack uint32, data int) []byte {
		b := build(pkt.Spec{Src: from.addr, Dst: to.addr, Proto: pkt.ProtoTCP, SrcPort: sp, DstPort: dp, TCPFlags: flags,
			Seq: seq, Ack: ack, Window: 64240, TTL: ttl, ID: uint16(g.r.Uint32()), Payload: g.payload(data)})
		g.add(from.side, b)
		return b
	}
	cs := func(flags uint8, seq, ack uint32, data int) []byte {
		return send(c, s, cp, port, ct, flags, seq, ack, data)
	}
	sc := func(flags uint8, seq, ack uint32, data int) []byte {
		return send(s, c, port, cp, st, flags, seq, ack, data)
	}
	const fin, syn, rst, psh, ack = 0x01, 0x02, 0x04, 0x08, 0x10
	syn1 := cs(syn, ic, 0, 0)
	if g.chance(0.15) {
		g.add(c.side, syn1) // SYN retransmit
	}
	if g.chance(0.1) {
		g.end() // the server never answers
		return
	}
	synack := sc(syn|ack, is, ic+1, 0)
	if g.chance(0.1) {
		g.add(s.side, synack)
	}
	cs(ack, ic+1, is+1, 0)
	cseq, sseq := ic+1, is+1
	for range 1 + g.pick(3) {
		n := 1 + g.pick(400)
		d := cs(psh|ack, cseq, sseq, n)
		if g.chance(0.1) {
			g.add(c.side, d) // retransmitted data
		}
		cseq += uint32(n)
		sc(ack, sseq, cseq, 0)
		if g.chance(0.7) {
			m := 1 + g.pick(800)
			sc(psh|ack, sseq, cseq, m)
			sseq += uint32(m)
			cs(ack, cseq, sseq, 0)
		}
	}
	switch g.pick(5) {
	case 0, 1, 2:
		cs(fin|ack, cseq, sseq, 0)
		sc(fin|ack, sseq, cseq+1, 0)
		cs(ack, cseq+1, sseq+1, 0)
		if g.chance(0.2) {
			cs(ack, cseq+1, sseq+1, 0) // stray ACK after close
		}
	case 3:
		if g.chance(0.5) {
			cs(rst|ack, cseq, sseq, 0)
		} else {
			sc(rst, sseq, 0, 0)
		}
	}
	g.end()
}

// scan is a burst of odd TCP packets with no session: NULL, XMAS, SYN-FIN,
// SYN-RST, FIN, stray ACKs, or a SYN port scan.
func (g *gen) scan(k Kind, v6 bool) {
	if k == Output {
		k = Input // scans come from outside
	}
	c, s := g.ends(k, v6)
	g.begin("scan %s %s -> %s", k, c.addr, s.addr)
	sp := g.clientPort()
	flagSets := []uint8{0x00, 0x29, 0x03, 0x06, 0x01, 0x10, 0x3f, 0x02}
	n := 3 + g.pick(12)
	portScan := g.chance(0.4)
	for i := range n {
		flags := flagSets[g.pick(len(flagSets))]
		dp := g.serverPort()
		if portScan {
			flags = 0x02
			dp = uint16(20 + i*7 + g.pick(5))
		}
		g.add(c.side, build(pkt.Spec{Src: c.addr, Dst: s.addr, Proto: pkt.ProtoTCP, SrcPort: sp, DstPort: dp, TCPFlags: flags,
			Seq: g.r.Uint32(), Ack: g.r.Uint32(), TTL: g.ttl(c), ID: uint16(g.r.Uint32())}))
	}
	g.end()
}

// udp is a request/response exchange, optionally followed by an ICMP error
// that quotes one of its packets.
func (g *gen) udp(k Kind, v6 bool, port uint16) {
	c, s := g.ends(k, v6)
	if port == 0 {
		port = []uint16{53, 123, 161, 514, 5353, uint16(1024 + g.pick(60000))}[g.pick(6)]
	}
	cp := g.clientPort()
	g.begin("udp %s %s:%d -> %s:%d", k, c.addr, cp, s.addr, port)
	var last []byte
	var lastFrom, lastTo endpoint
	for range 1 + g.pick(3) {
		req := build(pkt.Spec{Src: c.addr, Dst: s.addr, Proto: pkt.ProtoUDP, SrcPort: cp, DstPort: port, TTL: g.ttl(c), ID: uint16(g.r.Uint32()), Payload: g.payload(10 + g.pick(100))})
		g.add(c.side, req)
		last, lastFrom, lastTo = req, c, s
		if g.chance(0.8) {
			resp := build(pkt.Spec{Src: s.addr, Dst: c.addr, Proto: pkt.ProtoUDP, SrcPort: port, DstPort: cp, TTL: g.ttl(s), ID: uint16(g.r.Uint32()), Payload: g.payload(10 + g.pick(300))})
			g.add(s.side, resp)
			last, lastFrom, lastTo = resp, s, c
		}
	}
	if g.chance(0.35) && lastTo.side != FW {
		// The receiver of the last packet answers with an ICMP error.
		g.icmpError(lastTo, lastFrom, last, v6)
	}
	g.end()
}

// icmpError sends from 'from' to 'to' an ICMP error quoting quoted.
func (g *gen) icmpError(from, to endpoint, quoted []byte, v6 bool) {
	var typ, code uint8
	if v6 {
		typ, code = [][2]uint8{{1, 4}, {1, 0}, {3, 0}, {2, 0}}[g.pick(4)][0], 0
		if typ == 1 {
			code = 4
		}
	} else {
		tc := [][2]uint8{{3, 3}, {3, 1}, {3, 13}, {11, 0}, {12, 0}}[g.pick(5)]
		typ, code = tc[0], tc[1]
	}
	proto := uint8(pkt.ProtoICMP)
	if v6 {
		proto = pkt.ProtoICMPv6
	}
	q := quoted
	if n := 28 + g.pick(40); !v6 && len(q) > n {
		q = q[:n]
	}
	g.add(from.side, build(pkt.Spec{Src: from.addr, Dst: to.addr, Proto: proto, ICMPType: typ, ICMPCode: code, TTL: g.ttl(from), ID: uint16(g.r.Uint32()), Payload: append([]byte(nil), q...)}))
}

// strayError is an ICMP error quoting a flow that never existed.
func (g *gen) strayError(k Kind, v6 bool) {
	c, s := g.ends(k, v6)
	if s.side == FW {
		return
	}
	g.begin("stray icmp error %s %s -> %s", k, s.addr, c.addr)
	q := build(pkt.Spec{Src: c.addr, Dst: s.addr, Proto: pkt.ProtoUDP, SrcPort: g.clientPort(), DstPort: 53, TTL: 64, Payload: g.payload(12)})
	g.icmpError(s, c, q, v6)
	g.end()
}

// ping is an echo exchange (fw answers by itself when it is the target),
// or a flood of requests.
func (g *gen) ping(k Kind, v6 bool, flood bool) {
	c, s := g.ends(k, v6)
	id := uint16(g.r.Uint32())
	g.begin("ping %s %s -> %s flood=%v", k, c.addr, s.addr, flood)
	proto, req, rep := uint8(pkt.ProtoICMP), uint8(8), uint8(0)
	if v6 {
		proto, req, rep = pkt.ProtoICMPv6, 128, 129
	}
	n := 1 + g.pick(4)
	if flood {
		n = 20 + g.pick(40)
		g.gap = 500 * time.Microsecond
	}
	size := 56
	if g.chance(0.2) {
		size = g.pick(1200)
	}
	for i := range n {
		g.add(c.side, build(pkt.Spec{Src: c.addr, Dst: s.addr, Proto: proto, ICMPType: req, ICMPID: id, ICMPSeq: uint16(i + 1), TTL: g.ttl(c), ID: uint16(g.r.Uint32()), Payload: g.payload(size)}))
		if s.side != FW && !flood && g.chance(0.85) {
			g.add(s.side, build(pkt.Spec{Src: s.addr, Dst: c.addr, Proto: proto, ICMPType: rep, ICMPID: id, ICMPSeq: uint16(i + 1), TTL: g.ttl(s), ID: uint16(g.r.Uint32()), Payload: g.payload(size)}))
		}
	}
	if !flood && g.chance(0.2) {
		// an unsolicited echo reply
		g.add(c.side, build(pkt.Spec{Src: c.addr, Dst: s.addr, Proto: proto, ICMPType: rep, ICMPID: id + 1, ICMPSeq: 9, TTL: g.ttl(c)}))
	}
	g.end()
}

// frags sends one UDP or ICMP datagram in fragments: in order, out of
// order, overlapping, or with one missing.
func (g *gen) frags(k Kind, v6 bool) {
	if k == Output {
		k = Input
	}
	c, s := g.ends(k, v6)
	if c.side == FW {
		c, s = s, c
	}
	mode := []string{"inorder", "reverse", "shuffle", "overlap", "missing"}[g.pick(5)]
	g.begin("fragments %s %s %s -> %s", mode, k, c.addr, s.addr)
	n := 300 + g.pick(900)
	var whole []byte
	if g.chance(0.6) {
		whole = build(pkt.Spec{Src: c.addr, Dst: s.addr, Proto: pkt.ProtoUDP, SrcPort: g.clientPort(), DstPort: []uint16{53, 123, 5060, 9999}[g.pick(4)], TTL: g.ttl(c), Payload: g.payload(n)})
	} else {
		proto, typ := uint8(pkt.ProtoICMP), uint8(8)
		if v6 {
			proto, typ = pkt.ProtoICMPv6, 128
		}
		whole = build(pkt.Spec{Src: c.addr, Dst: s.addr, Proto: proto, ICMPType: typ, ICMPID: uint16(g.r.Uint32()), ICMPSeq: 1, TTL: g.ttl(c), Payload: g.payload(n)})
	}
	hl := 20
	if v6 {
		hl = 40
	}
	dlen := len(whole) - hl
	pieces := 2 + g.pick(3)
	step := (dlen/pieces + 7) &^ 7
	if step < 16 {
		step = 16
	}
	var ps []fragPiece
	for off := 0; off < dlen; off += step {
		l := min(step, dlen-off)
		ps = append(ps, fragPiece{Off: off, Len: l, More: off+l < dlen})
	}
	switch mode {
	case "reverse":
		for i, j := 0, len(ps)-1; i < j; i, j = i+1, j-1 {
			ps[i], ps[j] = ps[j], ps[i]
		}
	case "shuffle":
		g.r.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
	case "overlap":
		if len(ps) > 1 {
			i := g.pick(len(ps) - 1)
			ps[i].Len += 8
		}
	case "missing":
		// The first fragment goes missing: a queue holding it would make
		// fw send "fragment reassembly time exceeded" 30 s later, in
		// another case, possibly outside its capture.
		if len(ps) > 1 {
			ps = ps[1:]
			g.r.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
		}
	}
	id := g.r.Uint32()
	if !v6 {
		id &= 0xffff
	}
	for _, f := range fragment(whole, id, ps) {
		g.add(c.side, f)
	}
	g.end()
}

// interleave merges the flows, keeping the order inside each flow.
func (g *gen) interleave() []Step {
	var out []Step
	flows := g.flows
	for len(flows) > 0 {
		i := g.pick(len(flows))
		out = append(out, flows[i][0])
		flows[i] = flows[i][1:]
		if len(flows[i]) == 0 {
			flows = append(flows[:i], flows[i+1:]...)
		}
	}
	return out
}

// Generate returns the packet sequence of a seed: a mix of TCP sessions,
// scans, UDP exchanges with ICMP errors, pings and floods, and fragments,
// for INPUT, OUTPUT and FORWARD, IPv4 and IPv6, interleaved.
func Generate(seed uint64) []Step {
	g := newGen(seed)
	nflows := 12 + g.pick(12)
	for range nflows {
		k := Kind(g.pick(3))
		v6 := g.chance(0.4)
		switch x := g.pick(100); {
		case x < 35:
			g.tcpSession(k, v6, 0)
		case x < 45:
			g.scan(k, v6)
		case x < 65:
			g.udp(k, v6, 0)
		case x < 78:
			g.ping(k, v6, g.chance(0.2))
		case x < 90:
			g.frags(k, v6)
		default:
			g.strayError(k, v6)
		}
	}
	return g.interleave()
}

// GenerateRealistic is the traffic of a small web server (IPv4): SSH,
// HTTP and HTTPS sessions to fw, fw's DNS and NTP queries and its own
// HTTP(S) downloads, pings both ways, a port scan and a ping flood.
func GenerateRealistic(seed uint64) []Step {
	g := newGen(seed)
	for range 3 {
		g.tcpSession(Input, false, 22)
	}
	for range 6 {
		g.tcpSession(Input, false, 80)
		g.tcpSession(Input, false, 443)
	}
	for range 4 {
		g.udp(Output, false, 53)
	}
	g.udp(Output, false, 123)
	g.udp(Output, false, 123)
	g.tcpSession(Output, false, 80)
	g.tcpSession(Output, false, 443)
	g.tcpSession(Output, false, 25) // outgoing mail: not allowed
	g.udp(Input, false, 53)         // someone queries fw's (absent) DNS server
	g.ping(Input, false, false)
	g.ping(Input, false, false)
	g.ping(Output, false, false)
	g.ping(Input, false, true) // ping flood
	g.ping(Input, false, true)
	// A port scan: SYNs to many ports, then NULL/XMAS probes.
	g.begin("port scan")
	src := hostAddr(PeerNet4, 7)
	sp := g.clientPort()
	for p := uint16(1); p < 1100; p += uint16(7 + g.pick(20)) {
		g.add(Peer, build(pkt.Spec{Src: src, Dst: FWPeer4, Proto: pkt.ProtoTCP, SrcPort: sp, DstPort: p, TCPFlags: 0x02, Seq: g.r.Uint32(), TTL: 50}))
	}
	for _, f := range []uint8{0, 0x29, 0x3f, 0x03, 0x06, 0x01, 0x10} {
		g.add(Peer, build(pkt.Spec{Src: src, Dst: FWPeer4, Proto: pkt.ProtoTCP, SrcPort: sp, DstPort: 22, TCPFlags: f, Seq: g.r.Uint32(), TTL: 50}))
	}
	g.end()
	g.frags(Input, false)
	return g.interleave()
}
