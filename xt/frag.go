package xt

import (
	"encoding/binary"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Frag flag bits (ip6t_frag.h).
const (
	FragIDs   uint8 = 0x01
	FragLen   uint8 = 0x02
	FragRes   uint8 = 0x04
	FragFirst uint8 = 0x08
	FragMore  uint8 = 0x10
	FragLast  uint8 = 0x20
)

// Frag is the IPv6 frag match: fragment header id range, length and flags.
type Frag struct {
	IDLo, IDHi     uint32
	HdrLen         uint32
	Flags          uint8
	InvIDs, InvLen bool
}

func init() {
	Register(&Def{Name: "frag", Family: ruleset.IPv6, New: func() Parser { return &Frag{IDHi: ^uint32(0)} },
		Options: []Option{
			{Name: "fragid", Arg: ReqArg, Invert: true},
			{Name: "fraglen", Arg: ReqArg, Invert: true},
			{Name: "fragres"}, {Name: "fragfirst"}, {Name: "fragmore"}, {Name: "fraglast"},
		}})
}

// Name implements ruleset.Extension.
func (m *Frag) Name() string { return "frag" }

// xtParseRange32 is the x6 UINT32RC/UINT16RC types: N, N:M, N:, :M or ":"
// (missing parts default to 0 and max), with the x6 error messages. n is
// the number of values given.
func xtParseRange32(ext, opt, arg string, max uint64) (lo, hi uint32, n int, err error) {
	vals := []uint32{0, uint32(max)}
	s := arg
	for {
		if n == 2 {
			return 0, 0, 0, Errorf("%s: Too many components for option \"--%s\" (max: %d)\n", ext, opt, 2)
		}
		var v uint64
		rest := s
		if s == "" || s[0] == ':' {
			if n == 1 {
				v = max
			}
		} else {
			var ok bool
			v, rest, ok = ParseUintPrefix(s)
			if !ok || v > max {
				return 0, 0, 0, Errorf("%s: bad value for option \"--%s\" near \"%s\", or out of range (0-%d).\n", ext, opt, s, max)
			}
			if rest != "" && rest[0] != ':' {
				return 0, 0, 0, Errorf("%s: Argument to \"--%s\" has unexpected characters near \"%s\".\n", ext, opt, rest)
			}
		}
		vals[n] = uint32(v)
		n++
		if rest == "" {
			break
		}
		s = rest[1:]
	}
	return vals[0], vals[1], n, nil
}

// Parse implements Parser.
func (m *Frag) Parse(_ *Context, opt, arg string, inv bool) error {
	switch opt {
	case "fragid":
		lo, hi, n, err := xtParseRange32("frag", opt, arg, 1<<32-1)
		if err != nil {
			return err
		}
		if n == 1 {
			hi = lo
		}
		m.IDLo, m.IDHi, m.InvIDs = lo, hi, inv
		m.Flags |= FragIDs
	case "fraglen":
		v, ok := ParseUint(arg, 0, 1<<32-1)
		if !ok {
			return Errorf("frag: bad value for option \"--fraglen\", or out of range (0-4294967295).\n")
		}
		m.HdrLen, m.InvLen = uint32(v), inv
		m.Flags |= FragLen
	case "fragres":
		m.Flags |= FragRes
	case "fragfirst":
		m.Flags |= FragFirst
	case "fragmore":
		m.Flags |= FragMore
	case "fraglast":
		m.Flags |= FragLast
	}
	return nil
}

// Final implements Parser.
func (m *Frag) Final(*Context) (ruleset.Extension, error) {
	if m.Flags&FragMore != 0 && m.Flags&FragLast != 0 {
		return nil, Errorf("frag: option \"--fragmore\" cannot be used together with \"--fraglast\".\n")
	}
	return m, nil
}

func (m *Frag) flags(b *strings.Builder, save bool) {
	names := []struct {
		bit         uint8
		save, print string
	}{{FragRes, "--fragres", "reserved"}, {FragFirst, "--fragfirst", "first"}, {FragMore, "--fragmore", "more"}, {FragLast, "--fraglast", "last"}}
	for _, n := range names {
		if m.Flags&n.bit != 0 {
			if save {
				b.WriteString(" " + n.save)
			} else {
				b.WriteString(" " + n.print)
			}
		}
	}
}

// Save implements ruleset.Extension.
func (m *Frag) Save(b *strings.Builder, _ ruleset.Fmt) {
	if m.IDLo != 0 || m.IDHi != ^uint32(0) {
		b.WriteString(Bang(m.InvIDs) + " --fragid " + Utoa(uint64(m.IDLo)))
		if m.IDLo != m.IDHi {
			b.WriteString(":" + Utoa(uint64(m.IDHi)))
		}
	}
	if m.Flags&FragLen != 0 {
		b.WriteString(Bang(m.InvLen) + " --fraglen " + Utoa(uint64(m.HdrLen)))
	}
	m.flags(b, true)
}

// Print implements ruleset.Extension.
func (m *Frag) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" frag ")
	if m.IDLo != 0 || m.IDHi != ^uint32(0) || m.InvIDs {
		if m.IDLo == m.IDHi {
			b.WriteString("id:" + BangL(m.InvIDs) + Utoa(uint64(m.IDLo)))
		} else {
			b.WriteString("ids:" + BangL(m.InvIDs) + Utoa(uint64(m.IDLo)) + ":" + Utoa(uint64(m.IDHi)))
		}
	}
	if m.Flags&FragLen != 0 {
		b.WriteString(" length:" + BangL(m.InvLen) + Utoa(uint64(m.HdrLen)))
	}
	m.flags(b, false)
}

// Errors of xtkFindHdr6, as ipv6_find_hdr returns them.
const (
	xtkENOENT  = -2
	xtkEBADMSG = -74
)

// xtkExtHdr6 is ipv6_ext_hdr: the headers ipv6_find_hdr walks over.
func xtkExtHdr6(h uint8) bool {
	switch h {
	case pkt.ProtoHopOpts, pkt.ProtoRouting, pkt.ProtoFragment, pkt.ProtoAH, pkt.ProtoNone, pkt.ProtoDstOpts:
		return true
	}
	return false
}

// xtkFindHdr6 is the kernel's ipv6_find_hdr on an IPv6 packet (raw from the
// IPv6 header, at least 40 bytes): the offset of header target (or, target
// < 0, of the transport header), the header type there, the fragment offset
// (bytes, non-zero for a non-first fragment) and an error (xtkENOENT,
// xtkEBADMSG) or 0. authStop is IP6_FH_F_AUTH (stop at AH when target <
// 0). Like the kernel, it leaves the offset 0 when it stops at a non-first
// fragment looking for the transport header.
func xtkFindHdr6(raw []byte, target int, authStop bool) (off int, nexthdr uint8, fragoff uint16, err int) {
	start := 40
	nexthdr = raw[6]
	for {
		found := int(nexthdr) == target
		if !xtkExtHdr6(nexthdr) || nexthdr == pkt.ProtoNone {
			if target < 0 || found {
				break
			}
			return 0, 0, 0, xtkENOENT
		}
		if start+2 > len(raw) {
			return 0, 0, 0, xtkEBADMSG
		}
		hpNext, hpLen := raw[start], raw[start+1]
		var hdrlen int
		switch nexthdr {
		case pkt.ProtoFragment:
			if start+4 > len(raw) {
				return 0, 0, 0, xtkEBADMSG
			}
			fo := binary.BigEndian.Uint16(raw[start+2:]) &^ 7
			if fo != 0 {
				if target < 0 && (!xtkExtHdr6(hpNext) || hpNext == pkt.ProtoNone) {
					return 0, hpNext, fo, 0
				}
				if !found {
					return 0, 0, 0, xtkENOENT
				}
				return start, nexthdr, fo, 0
			}
			hdrlen = 8
		case pkt.ProtoAH:
			if authStop && target < 0 {
				return start, nexthdr, 0, 0
			}
			hdrlen = (int(hpLen) + 2) << 2
		default:
			hdrlen = (int(hpLen) + 1) << 3
		}
		if found {
			break
		}
		nexthdr = hpNext
		start += hdrlen
	}
	return start, nexthdr, 0, 0
}

// xtkTHOff is the transport header offset and fragment offset that
// nft_compat hands an xt match (par->thoff, par->fragoff) under
// iptables-nft: IPv4, the IP header length and the fragment offset; IPv6,
// what nft_set_pktinfo_ipv6_validate gets from ipv6_find_hdr (stopping at
// AH; offset 0 for a non-first fragment). ok is false when nftables found
// no transport protocol (a rule with -p never reaches the match then).
func xtkTHOff(p *pkt.Packet) (thoff int, fragoff uint16, ok bool) {
	if p.Family == ruleset.IPv6 {
		if len(p.Raw) < 40 {
			return 0, 0, false
		}
		off, _, fo, err := xtkFindHdr6(p.Raw, -1, true)
		return off, fo, err == 0
	}
	if len(p.Raw) < 20 {
		return 0, 0, false
	}
	return int(p.Raw[0]&0x0f) * 4, p.FragOff, true
}

// Match implements pkt.Matcher as ip6t_frag's frag_mt6 does: the fields of
// the first fragment header that ipv6_find_hdr finds; a packet without one
// does not match, a malformed one is dropped (hotdrop). --fraglen is not
// compared: the kernel ignores it.
func (m *Frag) Match(c *pkt.Ctx) bool {
	p := c.P
	if p.Family != ruleset.IPv6 || len(p.Raw) < 40 {
		return false
	}
	off, _, _, err := xtkFindHdr6(p.Raw, pkt.ProtoFragment, false)
	if err != 0 {
		if err != xtkENOENT {
			c.DropNow = true
		}
		return false
	}
	if off+8 > len(p.Raw) {
		c.DropNow = true
		return false
	}
	reserved := p.Raw[off+1]
	fo := binary.BigEndian.Uint16(p.Raw[off+2:])
	id := binary.BigEndian.Uint32(p.Raw[off+4:])
	return (id >= m.IDLo && id <= m.IDHi) != m.InvIDs &&
		!(m.Flags&FragRes != 0 && (reserved != 0 || fo&6 != 0)) &&
		!(m.Flags&FragFirst != 0 && fo&^7 != 0) &&
		!(m.Flags&FragMore != 0 && fo&1 == 0) &&
		!(m.Flags&FragLast != 0 && fo&1 != 0)
}
