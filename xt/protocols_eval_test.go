package xt_test

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Tests of the protocol matches' evaluation: tcp, udp, icmp, icmp6,
// multiport, esp, ah, sctp, dccp.

var (
	peSrc4 = netip.MustParseAddr("10.1.0.1")
	peDst4 = netip.MustParseAddr("10.1.0.2")
	peSrc6 = netip.MustParseAddr("fd00::1")
	peDst6 = netip.MustParseAddr("fd00::2")
)

// peRule parses "-A X ARGS" in the filter table for family f.
func peRule(tb testing.TB, f ruleset.Family, args string) *ruleset.Rule {
	tb.Helper()
	words := append([]string{"-A", "X"}, strings.Fields(args)...)
	cmd, err := iptext.ParseCommand(words, iptext.ParseOptions{Family: f})
	if err != nil {
		tb.Fatalf("%s: %v", args, err)
	}
	return cmd.Rule
}

// peEval checks the rule's -p and then its matches in order, as the
// engine does, and reports whether it matched and whether a match dropped
// the packet.
func peEval(tb testing.TB, r *ruleset.Rule, raw []byte) (matched, dropped bool) {
	tb.Helper()
	p := &pkt.Packet{}
	if err := p.Decode(raw); err != nil {
		tb.Fatalf("decode: %v", err)
	}
	c := &pkt.Ctx{P: p}
	if r.Proto != 0 && (p.Proto == r.Proto) == (r.Inv&ruleset.InvProto != 0) {
		return false, false
	}
	for _, m := range r.Matches {
		mm, ok := m.(pkt.Matcher)
		if !ok {
			tb.Fatalf("%s is not a pkt.Matcher", m.Name())
		}
		if !mm.Match(c) {
			return false, c.DropNow
		}
		if c.DropNow {
			return false, true
		}
	}
	return true, c.DropNow
}

// peIPv4 builds an IPv4 packet around body; frag is the flags/offset
// field (offset in 8-byte units, 0x2000 more fragments).
func peIPv4(proto uint8, frag uint16, body []byte) []byte {
	raw := make([]byte, 20, 20+len(body))
	raw[0] = 0x45
	binary.BigEndian.PutUint16(raw[2:], uint16(20+len(body)))
	binary.BigEndian.PutUint16(raw[6:], frag)
	raw[8] = 64
	raw[9] = proto
	s, d := peSrc4.As4(), peDst4.As4()
	copy(raw[12:], s[:])
	copy(raw[16:], d[:])
	return append(raw, body...)
}

// peHdr is an IPv6 extension header (its first byte is filled in).
type peHdr struct {
	typ uint8
	b   []byte
}

func peIPv6(hdrs []peHdr, proto uint8, body []byte) []byte {
	var pl []byte
	for i, h := range hdrs {
		b := append([]byte(nil), h.b...)
		b[0] = proto
		if i+1 < len(hdrs) {
			b[0] = hdrs[i+1].typ
		}
		pl = append(pl, b...)
	}
	pl = append(pl, body...)
	raw := make([]byte, 40, 40+len(pl))
	raw[0] = 0x60
	binary.BigEndian.PutUint16(raw[4:], uint16(len(pl)))
	raw[6] = proto
	if len(hdrs) > 0 {
		raw[6] = hdrs[0].typ
	}
	raw[7] = 64
	s, d := peSrc6.As16(), peDst6.As16()
	copy(raw[8:], s[:])
	copy(raw[24:], d[:])
	return append(raw, pl...)
}

func peFrag6(off uint16, more bool) peHdr {
	b := make([]byte, 8)
	fo := off << 3
	if more {
		fo |= 1
	}
	binary.BigEndian.PutUint16(b[2:], fo)
	binary.BigEndian.PutUint32(b[4:], 7)
	return peHdr{pkt.ProtoFragment, b}
}

// peAH6 is an AH header of (hl+2)*4 bytes with spi and reserved field.
func peAH6(hl uint8, spi uint32, res uint16) peHdr {
	b := make([]byte, (int(hl)+2)*4)
	b[1] = hl
	binary.BigEndian.PutUint16(b[2:], res)
	binary.BigEndian.PutUint32(b[4:], spi)
	return peHdr{pkt.ProtoAH, b}
}

// peTCP is a TCP header with ports, flags and options (padded to 4).
func peTCP(sp, dp uint16, flags uint8, opts ...byte) []byte {
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	h := make([]byte, 20, 20+len(opts))
	binary.BigEndian.PutUint16(h[0:], sp)
	binary.BigEndian.PutUint16(h[2:], dp)
	h[12] = byte((20+len(opts))/4) << 4
	h[13] = flags
	return append(h, opts...)
}

func peUDP(sp, dp uint16) []byte {
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h[0:], sp)
	binary.BigEndian.PutUint16(h[2:], dp)
	binary.BigEndian.PutUint16(h[4:], 8)
	return h
}

func peICMP(typ, code uint8) []byte { return []byte{typ, code, 0, 0, 0, 1, 0, 1} }

// peSCTP is an SCTP common header and chunks (type, flags, length; the
// chunk body is zeros, padded to 4).
func peSCTP(sp, dp uint16, chunks ...[3]int) []byte {
	h := make([]byte, 12)
	binary.BigEndian.PutUint16(h[0:], sp)
	binary.BigEndian.PutUint16(h[2:], dp)
	for _, c := range chunks {
		ch := make([]byte, (c[2]+3)&^3)
		if len(ch) < 4 {
			ch = make([]byte, 4)
		}
		ch[0], ch[1] = byte(c[0]), byte(c[1])
		binary.BigEndian.PutUint16(ch[2:], uint16(c[2]))
		h = append(h, ch...)
	}
	return h
}

// peDCCP is a DCCP header: type, X bit, data offset in words, options.
func peDCCP(sp, dp uint16, typ uint8, x bool, doff uint8, opts ...byte) []byte {
	n := 12
	if x {
		n += 4
	}
	switch typ {
	case 2:
	case 0:
		n += 4
	case 3, 4, 5, 6, 8, 9:
		n += 8
	default:
		n += 12
	}
	h := make([]byte, n, n+len(opts))
	binary.BigEndian.PutUint16(h[0:], sp)
	binary.BigEndian.PutUint16(h[2:], dp)
	h[4] = doff
	h[8] = typ << 1
	if x {
		h[8] |= 1
	}
	return append(h, opts...)
}

func peSPI(spi uint32, n int) []byte {
	b := make([]byte, n)
	binary.BigEndian.PutUint32(b, spi)
	return b
}

// peAH4 is an IPv4 AH header (12 bytes + ICV) with an SPI.
func peAH4(spi uint32) []byte {
	b := make([]byte, 24)
	b[1] = 4
	binary.BigEndian.PutUint32(b[4:], spi)
	return b
}

type peCase struct {
	name  string
	fam   ruleset.Family
	rule  string
	raw   []byte
	match bool
	drop  bool
}

func v4(proto uint8, body []byte) []byte { return peIPv4(proto, 0, body) }

func peCases() []peCase {
	const v6 = ruleset.IPv6
	const v4f = ruleset.IPv4
	tcp := func(sp, dp uint16, fl uint8, o ...byte) []byte { return v4(pkt.ProtoTCP, peTCP(sp, dp, fl, o...)) }
	udp := func(sp, dp uint16) []byte { return v4(pkt.ProtoUDP, peUDP(sp, dp)) }
	mss := []byte{2, 4, 5, 0xb4}
	return []peCase{
		// tcp, native: both single inverted ports are one 4-byte "!=".
		{"tcp merged != both equal", v4f, "-p tcp ! --sport 1 ! --dport 2", tcp(1, 2, 2), false, false},
		{"tcp merged != sport differs", v4f, "-p tcp ! --sport 1 ! --dport 2", tcp(1, 3, 2), true, false},
		{"tcp merged != dport differs", v4f, "-p tcp ! --sport 1 ! --dport 2", tcp(5, 2, 2), true, false},
		{"tcp merged != both differ", v4f, "-p tcp ! --sport 1 ! --dport 2", tcp(5, 6, 2), true, false},
		{"tcp two matches stay separate", v4f, "-p tcp -m tcp ! --sport 1 -m tcp ! --dport 2", tcp(1, 3, 2), false, false},
		{"tcp two matches both differ", v4f, "-p tcp -m tcp ! --sport 1 -m tcp ! --dport 2", tcp(5, 6, 2), true, false},
		{"tcp port 0 not merged", v4f, "-p tcp ! --sport 0 ! --dport 2", tcp(0, 5, 2), false, false},
		{"tcp port 0 not merged 2", v4f, "-p tcp ! --sport 0 ! --dport 2", tcp(3, 5, 2), true, false},
		{"tcp merged ==", v4f, "-p tcp --sport 1 --dport 2", tcp(1, 2, 2), true, false},
		{"tcp merged == miss", v4f, "-p tcp --sport 1 --dport 2", tcp(1, 3, 2), false, false},
		{"tcp mixed inversion", v4f, "-p tcp --sport 1 ! --dport 2", tcp(1, 3, 2), true, false},
		{"tcp mixed inversion miss", v4f, "-p tcp --sport 1 ! --dport 2", tcp(1, 2, 2), false, false},
		{"tcp range", v4f, "-p tcp --dport 1000:2000", tcp(9, 1500, 2), true, false},
		{"tcp ! 0:1023", v4f, "-p tcp ! --dport 0:1023", tcp(9, 1023, 2), false, false},
		{"tcp ! 0:1023 above", v4f, "-p tcp ! --dport 0:1023", tcp(9, 1024, 2), true, false},
		{"tcp syn", v4f, "-p tcp --syn", tcp(1, 2, pkt.ProtoTCP&0|0x02), true, false},
		{"tcp syn on syn-ack", v4f, "-p tcp --syn", tcp(1, 2, 0x12), false, false},
		{"tcp ! syn on syn-ack", v4f, "-p tcp ! --syn", tcp(1, 2, 0x12), true, false},
		{"tcp flags ignore ECE/CWR", v4f, "-p tcp --tcp-flags ALL SYN", tcp(1, 2, 0xc2), true, false},
		{"tcp native fragment offset 1: no match, no drop", v4f, "-p tcp --syn",
			peIPv4(pkt.ProtoTCP, 1, peTCP(1, 2, 2)[:8]), false, false},
		{"tcp native 4-byte tinygram: ports readable", v4f, "-p tcp --dport 22", v4(pkt.ProtoTCP, peTCP(1, 22, 0)[:4]), true, false},
		{"tcp native 3-byte tinygram", v4f, "-p tcp --dport 22", v4(pkt.ProtoTCP, peTCP(1, 22, 0)[:3]), false, false},
		{"tcp native flags need 14 bytes", v4f, "-p tcp --dport 22 --syn", v4(pkt.ProtoTCP, peTCP(1, 22, 2)[:13]), false, false},
		{"tcp native on udp (! -p tcp)", v4f, "! -p tcp -m tcp --dport 53", udp(9, 53), true, false},
		{"tcp native on udp other port", v4f, "! -p tcp -m tcp --dport 53", udp(9, 54), false, false},
		// tcp left to the xt module.
		{"tcp compat offset 1 drops", v4f, "-p tcp --tcp-option 2", peIPv4(pkt.ProtoTCP, 1, make([]byte, 8)), false, true},
		{"tcp compat offset 2 no drop", v4f, "-p tcp --tcp-option 2", peIPv4(pkt.ProtoTCP, 2, make([]byte, 8)), false, false},
		{"tcp compat all-zero offset 1 drops", v4f, "-p tcp -m tcp", peIPv4(pkt.ProtoTCP, 1, make([]byte, 8)), false, true},
		{"tcp compat tinygram drops", v4f, "-p tcp -m tcp", v4(pkt.ProtoTCP, peTCP(1, 2, 2)[:19]), false, true},
		{"tcp compat all-zero", v4f, "-p tcp -m tcp", tcp(1, 2, 2), true, false},
		{"tcp option found", v4f, "-p tcp --tcp-option 2", tcp(1, 2, 2, mss...), true, false},
		{"tcp option absent", v4f, "-p tcp --tcp-option 3", tcp(1, 2, 2, mss...), false, false},
		{"tcp option none", v4f, "-p tcp --tcp-option 2", tcp(1, 2, 2), false, false},
		{"tcp ! option none", v4f, "-p tcp ! --tcp-option 2", tcp(1, 2, 2), true, false},
		{"tcp option after zero length", v4f, "-p tcp --tcp-option 2", tcp(1, 2, 2, 5, 0, 2, 4), true, false},
		{"tcp option with ports and flags", v4f, "-p tcp --tcp-option 2 --dport 3 --syn", tcp(1, 2, 2, mss...), false, false},
		{"tcp options cut short drop", v4f, "-p tcp --tcp-option 2", v4(pkt.ProtoTCP, tcp(1, 2, 2, mss...)[20:42]), false, true},
		{"tcp bad doff drop", v4f, "-p tcp --tcp-option 2", v4(pkt.ProtoTCP, func() []byte { h := peTCP(1, 2, 2); h[12] = 4 << 4; return h }()), false, true},
		{"tcp v6 fragment: no drop", v6, "-p tcp --tcp-option 2", peIPv6([]peHdr{peFrag6(1, false)}, pkt.ProtoTCP, make([]byte, 8)), false, false},
		{"tcp v6 native", v6, "-p tcp ! --sport 1 ! --dport 2", peIPv6(nil, pkt.ProtoTCP, peTCP(1, 3, 0)), true, false},

		// udp.
		{"udp merged !=", v4f, "-p udp ! --sport 1 ! --dport 2", udp(1, 3), true, false},
		{"udp merged != equal", v4f, "-p udp ! --sport 1 ! --dport 2", udp(1, 2), false, false},
		{"udp separate", v4f, "-p udp -m udp ! --sport 1 -m udp ! --dport 2", udp(1, 3), false, false},
		{"udp dport", v4f, "-p udp --dport 53", udp(9, 53), true, false},
		{"udp dport miss", v4f, "-p udp --dport 53", udp(9, 54), false, false},
		{"udp native fragment", v4f, "-p udp --dport 53", peIPv4(pkt.ProtoUDP, 1, peUDP(9, 53)), false, false},
		{"udp native short", v4f, "-p udp --dport 53", v4(pkt.ProtoUDP, peUDP(9, 53)[:4]), true, false},
		{"udp compat short drops", v4f, "-p udp -m udp", v4(pkt.ProtoUDP, peUDP(9, 53)[:6]), false, true},
		{"udp compat fragment", v4f, "-p udp -m udp", peIPv4(pkt.ProtoUDP, 1, peUDP(9, 53)), false, false},
		{"udp compat", v4f, "-p udp -m udp", udp(9, 53), true, false},
		{"udp ! --sport : makes nothing", v4f, "-p udp -m udp ! --sport : --dport 5", udp(9, 5), true, false},
		{"udp range", v4f, "-p udp --sport 1024:65535", udp(1023, 5), false, false},
		{"udp v6", v6, "-p udp --dport 53", peIPv6([]peHdr{{pkt.ProtoDstOpts, make([]byte, 8)}}, pkt.ProtoUDP, peUDP(1, 53)), true, false},
		{"udp v6 non-first fragment", v6, "-p udp --dport 53", peIPv6([]peHdr{peFrag6(3, false)}, pkt.ProtoUDP, peUDP(1, 53)), false, false},

		// icmp.
		{"icmp any", v4f, "-p icmp --icmp-type any", v4(pkt.ProtoICMP, peICMP(3, 3)), true, false},
		{"icmp ! any", v4f, "-p icmp ! --icmp-type any", v4(pkt.ProtoICMP, peICMP(3, 3)), false, false},
		{"icmp echo-request", v4f, "-p icmp --icmp-type echo-request", v4(pkt.ProtoICMP, peICMP(8, 0)), true, false},
		{"icmp echo-request code 5", v4f, "-p icmp --icmp-type echo-request", v4(pkt.ProtoICMP, peICMP(8, 5)), true, false},
		{"icmp echo-reply miss", v4f, "-p icmp --icmp-type echo-reply", v4(pkt.ProtoICMP, peICMP(8, 0)), false, false},
		{"icmp 3/1", v4f, "-p icmp --icmp-type 3/1", v4(pkt.ProtoICMP, peICMP(3, 1)), true, false},
		{"icmp 3/1 miss", v4f, "-p icmp --icmp-type 3/1", v4(pkt.ProtoICMP, peICMP(3, 2)), false, false},
		{"icmp codes 1:4", v4f, "-p icmp --icmp-type 3/1:4", v4(pkt.ProtoICMP, peICMP(3, 4)), true, false},
		{"icmp ! port-unreachable on error", v4f, "-p icmp ! --icmp-type port-unreachable",
			v4(pkt.ProtoICMP, append(peICMP(3, 3), peIPv4(pkt.ProtoUDP, 0, peUDP(1, 2))...)), false, false},
		{"icmp short drops", v4f, "-p icmp --icmp-type any", v4(pkt.ProtoICMP, peICMP(8, 0)[:4]), false, true},
		{"icmp fragment", v4f, "-p icmp --icmp-type any", peIPv4(pkt.ProtoICMP, 2, peICMP(8, 0)), false, false},
		// icmp6: no "any".
		{"icmp6 echo-request", v6, "-p icmpv6 --icmpv6-type echo-request", peIPv6(nil, pkt.ProtoICMPv6, peICMP(128, 0)), true, false},
		{"icmp6 255 is no wildcard", v6, "-p icmpv6 --icmpv6-type 255", peIPv6(nil, pkt.ProtoICMPv6, peICMP(128, 0)), false, false},
		{"icmp6 1/3", v6, "-p icmpv6 --icmpv6-type address-unreachable", peIPv6(nil, pkt.ProtoICMPv6, peICMP(1, 3)), true, false},
		{"icmp6 ! 1/3 on 1/4", v6, "-p icmpv6 ! --icmpv6-type address-unreachable", peIPv6(nil, pkt.ProtoICMPv6, peICMP(1, 4)), true, false},
		{"icmp6 short drops", v6, "-p icmpv6 --icmpv6-type 1", peIPv6(nil, pkt.ProtoICMPv6, peICMP(1, 4)[:7]), false, true},
		{"icmp6 fragment", v6, "-p icmpv6 --icmpv6-type 128", peIPv6([]peHdr{peFrag6(1, false)}, pkt.ProtoICMPv6, peICMP(128, 0)), false, false},

		// multiport.
		{"multiport dports", v4f, "-p tcp -m multiport --dports 22,80:90,443", tcp(5, 85, 2), true, false},
		{"multiport dports miss", v4f, "-p tcp -m multiport --dports 22,80:90,443", tcp(85, 91, 2), false, false},
		{"multiport sports", v4f, "-p tcp -m multiport --sports 22,80:90", tcp(22, 1, 2), true, false},
		{"multiport ports either", v4f, "-p udp -m multiport --ports 53,123", udp(123, 9), true, false},
		{"multiport ! ports", v4f, "-p udp -m multiport ! --ports 53,123", udp(123, 9), false, false},
		{"multiport ! ports miss", v4f, "-p udp -m multiport ! --ports 53,123", udp(12, 9), true, false},
		{"multiport 4-byte tinygram", v4f, "-p tcp -m multiport --dports 22", v4(pkt.ProtoTCP, peTCP(1, 22, 0)[:4]), true, false},
		{"multiport 3-byte tinygram drops", v4f, "-p tcp -m multiport --dports 22", v4(pkt.ProtoTCP, peTCP(1, 22, 0)[:3]), false, true},
		{"multiport fragment", v4f, "-p tcp -m multiport --dports 22", peIPv4(pkt.ProtoTCP, 1, peTCP(1, 22, 0)[:8]), false, false},
		{"multiport v6", v6, "-p tcp -m multiport --dports 1024:65535", peIPv6(nil, pkt.ProtoTCP, peTCP(1, 5000, 2)), true, false},

		// esp.
		{"esp spi", v4f, "-p esp -m esp --espspi 5:10", v4(pkt.ProtoESP, peSPI(7, 16)), true, false},
		{"esp spi miss", v4f, "-p esp -m esp --espspi 5:10", v4(pkt.ProtoESP, peSPI(11, 16)), false, false},
		{"esp ! spi", v4f, "-p esp -m esp ! --espspi 5:10", v4(pkt.ProtoESP, peSPI(11, 16)), true, false},
		{"esp short drops", v4f, "-p esp -m esp --espspi 5", v4(pkt.ProtoESP, peSPI(5, 7)), false, true},
		{"esp fragment", v4f, "-p esp -m esp --espspi 5", peIPv4(pkt.ProtoESP, 3, peSPI(5, 16)), false, false},
		{"esp v6", v6, "-p esp -m esp --espspi 5", peIPv6([]peHdr{{pkt.ProtoHopOpts, make([]byte, 8)}}, pkt.ProtoESP, peSPI(5, 16)), true, false},

		// ah.
		{"ah4 spi", v4f, "-p ah -m ah --ahspi 500", v4(pkt.ProtoAH, peAH4(500)), true, false},
		{"ah4 spi miss", v4f, "-p ah -m ah --ahspi 500", v4(pkt.ProtoAH, peAH4(501)), false, false},
		{"ah4 short drops", v4f, "-p ah -m ah --ahspi 500", v4(pkt.ProtoAH, peAH4(500)[:11]), false, true},
		{"ah4 fragment", v4f, "-p ah -m ah --ahspi 500", peIPv4(pkt.ProtoAH, 1, peAH4(500)), false, false},
		{"ah6 spi any protocol", v6, "-m ah --ahspi 500", peIPv6([]peHdr{{pkt.ProtoHopOpts, make([]byte, 8)}, peAH6(4, 500, 0)}, pkt.ProtoTCP, peTCP(1, 2, 2)), true, false},
		{"ah6 no AH", v6, "-m ah --ahspi 500", peIPv6(nil, pkt.ProtoTCP, peTCP(1, 2, 2)), false, false},
		{"ah6 ! spi no AH", v6, "-m ah ! --ahspi 500", peIPv6(nil, pkt.ProtoTCP, peTCP(1, 2, 2)), false, false},
		{"ah6 len", v6, "-m ah --ahlen 24", peIPv6([]peHdr{peAH6(4, 1, 0)}, pkt.ProtoTCP, peTCP(1, 2, 2)), true, false},
		{"ah6 len miss", v6, "-m ah --ahlen 20", peIPv6([]peHdr{peAH6(4, 1, 0)}, pkt.ProtoTCP, peTCP(1, 2, 2)), false, false},
		{"ah6 ! len", v6, "-m ah ! --ahlen 20", peIPv6([]peHdr{peAH6(4, 1, 0)}, pkt.ProtoTCP, peTCP(1, 2, 2)), true, false},
		{"ah6 res", v6, "-m ah --ahres", peIPv6([]peHdr{peAH6(4, 1, 0)}, pkt.ProtoTCP, peTCP(1, 2, 2)), true, false},
		{"ah6 res set", v6, "-m ah --ahres", peIPv6([]peHdr{peAH6(4, 1, 9)}, pkt.ProtoTCP, peTCP(1, 2, 2)), false, false},
		{"ah6 after non-first fragment", v6, "-m ah --ahspi 1", peIPv6([]peHdr{peFrag6(2, false), peAH6(4, 1, 0)}, pkt.ProtoTCP, nil), false, false},
		{"ah6 after first fragment", v6, "-m ah --ahspi 1", peIPv6([]peHdr{peFrag6(0, true), peAH6(4, 1, 0)}, pkt.ProtoTCP, nil), true, false},
		{"ah6 cut header drops", v6, "-m ah --ahspi 1", peIPv6([]peHdr{{pkt.ProtoAH, []byte{0, 4, 0, 0, 0, 0, 0, 1}}}, pkt.ProtoTCP, nil), false, true},

		// sctp.
		{"sctp dport", v4f, "-p sctp --dport 80", v4(pkt.ProtoSCTP, peSCTP(5, 80, [3]int{0, 3, 20})), true, false},
		{"sctp ! sport", v4f, "-p sctp ! --sport 5", v4(pkt.ProtoSCTP, peSCTP(5, 80, [3]int{0, 3, 20})), false, false},
		{"sctp short drops", v4f, "-p sctp --dport 80", v4(pkt.ProtoSCTP, peSCTP(5, 80)[:11]), false, true},
		{"sctp fragment", v4f, "-p sctp --dport 80", peIPv4(pkt.ProtoSCTP, 1, peSCTP(5, 80)), false, false},
		{"sctp all present", v4f, "-p sctp --chunk-types all INIT,DATA", v4(pkt.ProtoSCTP, peSCTP(5, 80, [3]int{1, 0, 20}, [3]int{0, 0, 17})), true, false},
		{"sctp all missing one", v4f, "-p sctp --chunk-types all INIT,DATA", v4(pkt.ProtoSCTP, peSCTP(5, 80, [3]int{1, 0, 20}, [3]int{3, 0, 16})), false, false},
		{"sctp only", v4f, "-p sctp --chunk-types only DATA,SACK", v4(pkt.ProtoSCTP, peSCTP(5, 80, [3]int{0, 0, 17}, [3]int{3, 0, 16})), true, false},
		{"sctp only other", v4f, "-p sctp --chunk-types only DATA", v4(pkt.ProtoSCTP, peSCTP(5, 80, [3]int{0, 0, 17}, [3]int{3, 0, 16})), false, false},
		{"sctp any", v4f, "-p sctp --chunk-types any SACK,INIT", v4(pkt.ProtoSCTP, peSCTP(5, 80, [3]int{0, 0, 17}, [3]int{3, 0, 16})), true, false},
		{"sctp ! any", v4f, "-p sctp ! --chunk-types any SACK,INIT", v4(pkt.ProtoSCTP, peSCTP(5, 80, [3]int{0, 0, 17}, [3]int{3, 0, 16})), false, false},
		{"sctp any flags set", v4f, "-p sctp --chunk-types any DATA:B", v4(pkt.ProtoSCTP, peSCTP(5, 80, [3]int{0, 0x02, 17})), true, false},
		{"sctp any flags clear", v4f, "-p sctp --chunk-types any DATA:B", v4(pkt.ProtoSCTP, peSCTP(5, 80, [3]int{0, 0x00, 17})), false, false},
		{"sctp any flag must be clear", v4f, "-p sctp --chunk-types any DATA:e", v4(pkt.ProtoSCTP, peSCTP(5, 80, [3]int{0, 0x01, 17})), false, false},
		{"sctp only flags", v4f, "-p sctp --chunk-types only ABORT:T", v4(pkt.ProtoSCTP, peSCTP(5, 80, [3]int{6, 0x00, 4})), false, false},
		{"sctp zero length chunk drops", v4f, "-p sctp --chunk-types any DATA", v4(pkt.ProtoSCTP, peSCTP(5, 80, [3]int{3, 0, 0})), false, true},
		{"sctp no chunk drops", v4f, "-p sctp --chunk-types any DATA", v4(pkt.ProtoSCTP, peSCTP(5, 80)), false, true},
		{"sctp chunk length past end: walk stops", v4f, "-p sctp --chunk-types only INIT", v4(pkt.ProtoSCTP, func() []byte {
			b := peSCTP(5, 80, [3]int{1, 0, 20})
			binary.BigEndian.PutUint16(b[14:], 400)
			return b
		}()), true, false},
		{"sctp port mismatch skips walk", v4f, "-p sctp --dport 81 --chunk-types any DATA", v4(pkt.ProtoSCTP, peSCTP(5, 80)), false, false},
		{"sctp v6 all", v6, "-p sctp --chunk-types all ALL", peIPv6(nil, pkt.ProtoSCTP, peSCTP(5, 80, [3]int{0, 0, 17})), false, false},
		{"sctp v6 all NONE", v6, "-p sctp --chunk-types all NONE", peIPv6(nil, pkt.ProtoSCTP, peSCTP(5, 80, [3]int{0, 0, 17})), true, false},

		// dccp.
		{"dccp dport", v4f, "-p dccp --dport 5", v4(33, peDCCP(1, 5, 2, true, 4)), true, false},
		{"dccp dport miss", v4f, "-p dccp --dport 6", v4(33, peDCCP(1, 5, 2, true, 4)), false, false},
		{"dccp types", v4f, "-p dccp --dccp-types REQUEST,DATA", v4(33, peDCCP(1, 5, 0, true, 5)), true, false},
		{"dccp ! types", v4f, "-p dccp ! --dccp-types REQUEST,DATA", v4(33, peDCCP(1, 5, 3, true, 7)), true, false},
		{"dccp INVALID", v4f, "-p dccp --dccp-types INVALID", v4(33, peDCCP(1, 5, 12, true, 7)), true, false},
		{"dccp option", v4f, "-p dccp --dccp-option 3", v4(33, peDCCP(1, 5, 0, true, 6, 1, 3, 0, 0)), true, false},
		{"dccp option skip", v4f, "-p dccp --dccp-option 3", v4(33, peDCCP(1, 5, 0, true, 6, 40, 2, 3, 9)), true, false},
		{"dccp option jump over", v4f, "-p dccp --dccp-option 3", v4(33, peDCCP(1, 5, 0, true, 6, 40, 4, 3, 9)), false, false},
		{"dccp no options", v4f, "-p dccp --dccp-option 3", v4(33, peDCCP(1, 5, 0, true, 5)), false, false},
		{"dccp ! option none", v4f, "-p dccp ! --dccp-option 3", v4(33, peDCCP(1, 5, 0, true, 5)), true, false},
		{"dccp doff short drops", v4f, "-p dccp --dccp-option 3", v4(33, peDCCP(1, 5, 0, true, 4)), false, true},
		{"dccp options cut drop", v4f, "-p dccp --dccp-option 3", v4(33, peDCCP(1, 5, 2, false, 6, 1)), false, true},
		{"dccp no X bit", v4f, "-p dccp --dccp-option 3", v4(33, peDCCP(1, 5, 2, false, 4, 0, 0, 0, 3)), true, false},
		{"dccp short drops", v4f, "-p dccp --dport 5", v4(33, peDCCP(1, 5, 2, true, 4)[:11]), false, true},
		{"dccp fragment", v4f, "-p dccp --dport 5", peIPv4(33, 1, peDCCP(1, 5, 2, true, 4)), false, false},
	}
}

func TestProtocolMatchEval(t *testing.T) {
	for _, tc := range peCases() {
		r := peRule(t, tc.fam, tc.rule)
		m, d := peEval(t, r, tc.raw)
		if m != tc.match || d != tc.drop {
			t.Errorf("%s: %q: matched %v dropped %v, want %v %v", tc.name, tc.rule, m, d, tc.match, tc.drop)
		}
	}
}

// TestTCPNativeShape checks what the rule turns into: the merged 4-byte
// compare lives in the first tcp match, a later native tcp match vanishes.
func TestTCPNativeShape(t *testing.T) {
	for _, tc := range []struct {
		rule string
		n    int
	}{
		{"-p tcp ! --sport 1 ! --dport 2", 1},
		{"-p tcp -m tcp ! --sport 1 -m tcp ! --dport 2", 1},
		{"-p tcp -m tcp --tcp-option 2 -m tcp --dport 2", 2},
		{"-p tcp -m tcp", 1},
		{"-p tcp -m tcp ! --sport :", 0},
	} {
		r := peRule(t, ruleset.IPv4, tc.rule)
		if len(r.Matches) != tc.n {
			t.Errorf("%s: %d matches, want %d", tc.rule, len(r.Matches), tc.n)
		}
	}
}

func BenchmarkProtocolMatch(b *testing.B) {
	for _, bc := range []struct {
		name string
		fam  ruleset.Family
		rule string
		raw  []byte
	}{
		{"tcp-native", ruleset.IPv4, "-p tcp ! --sport 1 ! --dport 2 --syn", v4(pkt.ProtoTCP, peTCP(1, 3, 2))},
		{"tcp-option", ruleset.IPv4, "-p tcp --tcp-option 2", v4(pkt.ProtoTCP, peTCP(1, 3, 2, 1, 1, 2, 4, 5, 0xb4))},
		{"udp", ruleset.IPv4, "-p udp --dport 53", v4(pkt.ProtoUDP, peUDP(9, 53))},
		{"icmp", ruleset.IPv4, "-p icmp --icmp-type echo-request", v4(pkt.ProtoICMP, peICMP(8, 0))},
		{"icmp6", ruleset.IPv6, "-p icmpv6 --icmpv6-type echo-request", peIPv6(nil, pkt.ProtoICMPv6, peICMP(128, 0))},
		{"multiport", ruleset.IPv4, "-p tcp -m multiport --dports 22,80:90,443", v4(pkt.ProtoTCP, peTCP(1, 443, 2))},
		{"sctp", ruleset.IPv4, "-p sctp --chunk-types all INIT,DATA", v4(pkt.ProtoSCTP, peSCTP(5, 80, [3]int{1, 0, 20}, [3]int{0, 0, 17}))},
		{"ah6", ruleset.IPv6, "-m ah --ahspi 500", peIPv6([]peHdr{{pkt.ProtoHopOpts, make([]byte, 8)}, peAH6(4, 500, 0)}, pkt.ProtoTCP, peTCP(1, 2, 2))},
		{"dccp", ruleset.IPv4, "-p dccp --dccp-option 3", v4(33, peDCCP(1, 5, 0, true, 6, 40, 2, 3, 9))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := peRule(b, bc.fam, bc.rule)
			p := &pkt.Packet{}
			if err := p.Decode(bc.raw); err != nil {
				b.Fatal(err)
			}
			c := &pkt.Ctx{P: p}
			ms := make([]pkt.Matcher, len(r.Matches))
			for i, m := range r.Matches {
				ms[i] = m.(pkt.Matcher)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, m := range ms {
					if !m.Match(c) {
						b.Fatal("no match")
					}
				}
			}
		})
	}
}
