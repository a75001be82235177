package xt

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// RT flag bits (ip6t_rt.h).
const (
	RTType    uint8 = 0x01
	RTSegs    uint8 = 0x02
	RTLen     uint8 = 0x04
	RTRes     uint8 = 0x08
	RTAddrs   uint8 = 0x10
	RTNStrict uint8 = 0x20
)

// RTHops is IP6T_RT_HOPS: how many --rt-0-addrs addresses fit.
const RTHops = 16

// RT is the IPv6 rt match: the routing header's type, segments left,
// length, and for type 0 the reserved field and the address list.
type RT struct {
	Type         uint32
	SegLo, SegHi uint32
	Len          uint32
	Flags        uint8 // RTType, RTSegs, ... as given
	Inv          uint8 // RTType, RTSegs, RTLen inverted
	NAddrs       uint8
	Addrs        [RTHops][16]byte
}

func init() {
	Register(&Def{Name: "rt", Family: ruleset.IPv6, New: func() Parser { return &RT{SegHi: ^uint32(0)} },
		Options: []Option{
			{Name: "rt-type", Arg: ReqArg, Invert: true},
			{Name: "rt-segsleft", Arg: ReqArg, Invert: true},
			{Name: "rt-len", Arg: ReqArg, Invert: true},
			{Name: "rt-0-res"},
			{Name: "rt-0-addrs", Arg: ReqArg},
			{Name: "rt-0-not-strict"},
		}})
}

// Name implements ruleset.Extension.
func (m *RT) Name() string { return "rt" }

func (m *RT) inv(bit uint8, inv bool) {
	m.Flags |= bit
	if inv {
		m.Inv |= bit
	}
}

// type0 reports whether --rt-type 0 (not inverted) came before.
func (m *RT) type0() bool { return m.Flags&RTType != 0 && m.Type == 0 && m.Inv&RTType == 0 }

// Parse implements Parser.
func (m *RT) Parse(_ *Context, opt, arg string, inv bool) error {
	switch opt {
	case "rt-type", "rt-len":
		v, err := ParseOptUint("rt", opt, arg, 0, 0xFFFFFFFF)
		if err != nil {
			return err
		}
		if opt == "rt-type" {
			m.Type = uint32(v)
			m.inv(RTType, inv)
		} else {
			m.Len = uint32(v)
			m.inv(RTLen, inv)
		}
	case "rt-segsleft":
		lo, hi, n, err := xtParseRange32("rt", opt, arg, 1<<32-1)
		if err != nil {
			return err
		}
		if n == 1 {
			hi = lo
		}
		m.SegLo, m.SegHi = lo, hi
		m.inv(RTSegs, inv)
	case "rt-0-res":
		if !m.type0() {
			return Errorf("`--rt-type 0' required before `--rt-0-res'")
		}
		m.Flags |= RTRes
	case "rt-0-addrs":
		if !m.type0() {
			return Errorf("`--rt-type 0' required before `--rt-0-addrs'")
		}
		cp, more := arg, true
		i := 0
		for ; more && i < RTHops; i++ {
			item := cp
			if j := strings.IndexByte(cp, ','); j >= 0 {
				item, cp = cp[:j], cp[j+1:]
			} else {
				more = false
			}
			a, err := netip.ParseAddr(item)
			if err != nil || !a.Is6() || a.Zone() != "" {
				return Errorf("bad address: %s", item)
			}
			m.Addrs[i] = a.As16()
		}
		if more {
			return Errorf("too many addresses specified")
		}
		m.NAddrs = uint8(i)
		m.Flags |= RTAddrs
	case "rt-0-not-strict":
		if m.Flags&RTAddrs == 0 {
			return Errorf("`--rt-0-addr ...' required before `--rt-0-not-strict'")
		}
		m.Flags |= RTNStrict
	}
	return nil
}

// Final implements Parser.
func (m *RT) Final(*Context) (ruleset.Extension, error) { return m, nil }

func (m *RT) addrs(b *strings.Builder) {
	for i := 0; i < int(m.NAddrs); i++ {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(ip6Ntop(netip.AddrFrom16(m.Addrs[i])))
	}
}

// Save implements ruleset.Extension. Like iptables, it drops the "!" of
// an inverted full --rt-segsleft range (kept in the lossless form).
func (m *RT) Save(b *strings.Builder, f ruleset.Fmt) {
	if m.Flags&RTType != 0 {
		b.WriteString(Bang(m.Inv&RTType != 0) + " --rt-type " + Utoa(uint64(m.Type)))
	}
	if m.SegLo != 0 || m.SegHi != ^uint32(0) || (f.Lossless && m.Inv&RTSegs != 0) {
		b.WriteString(Bang(m.Inv&RTSegs != 0) + " --rt-segsleft " + Utoa(uint64(m.SegLo)))
		if m.SegLo != m.SegHi {
			b.WriteString(":" + Utoa(uint64(m.SegHi)))
		}
	}
	if m.Flags&RTLen != 0 {
		b.WriteString(Bang(m.Inv&RTLen != 0) + " --rt-len " + Utoa(uint64(m.Len)))
	}
	if m.Flags&RTRes != 0 {
		b.WriteString(" --rt-0-res")
	}
	if m.Flags&RTAddrs != 0 {
		b.WriteString(" --rt-0-addrs")
	}
	m.addrs(b)
	if m.Flags&RTNStrict != 0 {
		b.WriteString(" --rt-0-not-strict")
	}
}

// Print implements ruleset.Extension.
func (m *RT) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" rt")
	if m.Flags&RTType != 0 {
		b.WriteString(" type:" + BangL(m.Inv&RTType != 0) + strconv.Itoa(int(int32(m.Type))))
	}
	if inv := m.Inv&RTSegs != 0; m.SegLo != 0 || m.SegHi != ^uint32(0) || inv {
		if m.SegLo == m.SegHi {
			b.WriteString(" segsleft:" + BangL(inv) + Utoa(uint64(m.SegLo)))
		} else {
			b.WriteString(" segslefts:" + BangL(inv) + Utoa(uint64(m.SegLo)) + ":" + Utoa(uint64(m.SegHi)))
		}
	}
	if m.Flags&RTLen != 0 {
		b.WriteString(" length:" + BangL(m.Inv&RTLen != 0) + Utoa(uint64(m.Len)))
	}
	if m.Flags&RTRes != 0 {
		b.WriteString(" reserved")
	}
	if m.Flags&RTAddrs != 0 {
		b.WriteString(" 0-addrs")
	}
	m.addrs(b)
	if m.Flags&RTNStrict != 0 {
		b.WriteString(" 0-not-strict")
	}
}

// Match implements pkt.Matcher as ip6t_rt's rt_mt6 does: the first
// routing header ipv6_find_hdr finds (none: no match; a malformed chain
// or a header shorter than 4 bytes: hotdrop; one longer than the packet:
// no match), its segments left, length and type, the type 0 reserved
// word, and the type 0 address list (strictly the whole list in order, or
// with --rt-0-not-strict as a subsequence).
func (m *RT) Match(c *pkt.Ctx) bool {
	raw := c.P.Raw
	if c.P.Family != ruleset.IPv6 || len(raw) < 40 {
		return false
	}
	off, _, _, err := xtkFindHdr6(raw, pkt.ProtoRouting, false)
	if err != 0 {
		if err != xtkENOENT {
			c.DropNow = true
		}
		return false
	}
	if off+4 > len(raw) {
		c.DropNow = true
		return false
	}
	hdrlen := (int(raw[off+1]) + 1) << 3
	if len(raw)-off < hdrlen {
		return false
	}
	typ, segs := raw[off+2], uint32(raw[off+3])
	ret := (segs >= m.SegLo && segs <= m.SegHi) != (m.Inv&RTSegs != 0) &&
		(m.Flags&RTLen == 0 || (m.Len == uint32(hdrlen)) != (m.Inv&RTLen != 0)) &&
		(m.Flags&RTType == 0 || (m.Type == uint32(typ)) != (m.Inv&RTType != 0))
	if ret && m.Flags&RTRes != 0 {
		ret = binary.BigEndian.Uint32(raw[off+4:]) == 0
	}
	if m.Flags&RTAddrs == 0 {
		return ret
	}
	room := (hdrlen - 8) / 16
	n := int(m.NAddrs)
	if n > room {
		return false
	}
	addr := func(i int) []byte { return raw[off+8+i*16 : off+24+i*16] }
	if m.Flags&RTNStrict != 0 {
		i := 0
		for t := 0; t < room; t++ {
			if string(addr(t)) == string(m.Addrs[i][:]) {
				i++
			}
			if i == n {
				break
			}
		}
		return i == n && ret
	}
	t := 0
	for ; t < n; t++ {
		if string(addr(t)) != string(m.Addrs[t][:]) {
			break
		}
	}
	return t == n && t == room && ret
}
