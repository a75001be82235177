package analyze

import (
	"fmt"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
)

// Packet is a concrete member of a set: a witness.
type Packet struct {
	Family       int
	Proto        uint8
	Src, Dst     netip.Addr
	SPort, DPort uint16
	Flags        uint8
	ICMPType     uint8
	ICMPCode     uint8
	In, Out      string
	State        uint8
	Fragment     bool // a non-first fragment
}

func pickIv(s ivs, prefs ...u128) u128 {
	for _, p := range prefs {
		if s.contains(p) {
			return p
		}
	}
	v := s[0].lo
	if v == (u128{}) && s[0].hi != v {
		v = num(1)
	}
	return v
}

// Witness returns a concrete packet in the set, preferring readable
// values; ok is false for an empty set.
func (an *analyzer) Witness(s Set) (Packet, bool) {
	for i := range s {
		if !s[i].empty() {
			return an.witnessBox(&s[i]), true
		}
	}
	return Packet{}, false
}

func (an *analyzer) witnessBox(b *Box) Packet {
	p := Packet{Family: an.fam}
	for _, pr := range []uint8{6, 17, 1, 58} {
		if protoHas(b.Proto, pr) {
			p.Proto = pr
			goto proto
		}
	}
	for k := 0; k < 4; k++ {
		if b.Proto[k] != 0 {
			p.Proto = uint8(k*64 + bits.TrailingZeros64(b.Proto[k]))
			break
		}
	}
proto:
	srcPref := []u128{addrVal(netip.MustParseAddr("203.0.113.7")), addrVal(netip.MustParseAddr("198.51.100.7")), addrVal(netip.MustParseAddr("127.0.0.1"))}
	dstPref := []u128{addrVal(netip.MustParseAddr("192.0.2.10")), addrVal(netip.MustParseAddr("127.0.0.1"))}
	if an.fam == 6 {
		srcPref = []u128{addrVal(netip.MustParseAddr("2001:db8::7")), addrVal(netip.MustParseAddr("::1"))}
		dstPref = []u128{addrVal(netip.MustParseAddr("2001:db8::10")), addrVal(netip.MustParseAddr("::1"))}
	}
	sportPref := []u128{num(40000), num(1024)}
	dportPref := []u128{num(22), num(80), num(443), num(40000)}
	if b.In == 1 {
		// Sent by the host itself (no input interface): from the host's
		// address, to a client's high port unless the box says otherwise.
		srcPref, dstPref = dstPref, srcPref
		dportPref = []u128{num(40000), num(1024), num(22), num(80), num(443)}
	}
	p.Src = valAddr(pickIv(b.Src, srcPref...), an.fam)
	p.Dst = valAddr(pickIv(b.Dst, dstPref...), an.fam)
	p.SPort = uint16(pickIv(b.SPort, sportPref...).lo)
	p.DPort = uint16(pickIv(b.DPort, dportPref...).lo)
	for _, st := range []uint8{stNew, stEstablished, stRelated, stInvalid, stUntracked} {
		if b.State&st != 0 {
			p.State = st
			break
		}
	}
	flagPrefs := []uint{0x02, 0x10, 0x12, 0x18}
	if p.State != stNew {
		flagPrefs = []uint{0x10, 0x18, 0x02}
	}
	for _, f := range flagPrefs {
		if b.Flags&(1<<f) != 0 {
			p.Flags = uint8(f)
			goto flags
		}
	}
	p.Flags = uint8(bits.TrailingZeros64(b.Flags))
flags:
	echo := num(8 << 8)
	if an.fam == 6 {
		echo = num(128 << 8)
	}
	ic := pickIv(b.ICMP, echo).lo
	p.ICMPType, p.ICMPCode = uint8(ic>>8), uint8(ic)
	p.In = an.ifs.witnessName(pickIface(b.In))
	p.Out = an.ifs.witnessName(pickIface(b.Out))
	p.Fragment = b.Frag&fragFirst == 0
	return p
}

func pickIface(m uint64) int {
	if m&(1<<2) != 0 { // "other"
		return 2
	}
	if m&1 != 0 && m&^1 == 0 {
		return 0
	}
	return bits.TrailingZeros64(m &^ 1)
}

var stateNames = map[uint8]string{stNew: "NEW", stEstablished: "ESTABLISHED", stRelated: "RELATED", stInvalid: "INVALID", stUntracked: "UNTRACKED"}

// String writes the packet as rampart explain reads it.
func (p Packet) String() string {
	var b strings.Builder
	ep := func(a netip.Addr, port uint16, withPort bool) string {
		if !withPort {
			return a.String()
		}
		return netip.AddrPortFrom(a, port).String()
	}
	ports := p.Proto == 6 || p.Proto == 17 || p.Proto == 132 || p.Proto == 33 || p.Proto == 136
	switch p.Proto {
	case 6:
		b.WriteString("tcp")
	case 17:
		b.WriteString("udp")
	case 1:
		b.WriteString("icmp")
	case 58:
		b.WriteString("icmpv6")
	default:
		b.WriteString(strconv.Itoa(int(p.Proto)))
	}
	if p.Fragment {
		ports = false
	}
	fmt.Fprintf(&b, " %s > %s", ep(p.Src, p.SPort, ports), ep(p.Dst, p.DPort, ports))
	if p.Proto == 6 && !p.Fragment {
		b.WriteString(" flags " + flagLetters(p.Flags))
	}
	if (p.Proto == 1 || p.Proto == 58) && !p.Fragment {
		fmt.Fprintf(&b, " type %d/%d", p.ICMPType, p.ICMPCode)
	}
	if p.In != "" {
		b.WriteString(" in " + p.In)
	}
	if p.Out != "" {
		b.WriteString(" out " + p.Out)
	}
	b.WriteString(" state " + stateNames[p.State])
	if p.Fragment {
		b.WriteString(" (non-first fragment)")
	}
	return b.String()
}

func flagLetters(f uint8) string {
	if f == 0 {
		return "NONE"
	}
	var s string
	for i, l := range "FSRPAU" {
		if f&(1<<i) != 0 {
			s += string(l)
		}
	}
	return s
}
