package xt

import (
	"encoding/binary"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// SRH flag bits (ip6t_srh.h), used for both given options and inversion.
const (
	SRHNextHdr uint16 = 1 << iota
	SRHLenEq
	SRHLenGt
	SRHLenLt
	SRHSegsEq
	SRHSegsGt
	SRHSegsLt
	SRHLastEq
	SRHLastGt
	SRHLastLt
	SRHTag
	SRHPSID
	SRHNSID
	SRHLSID
)

// srhOpts lists the options in flag-bit order with their -L names.
var srhOpts = []struct {
	opt, print string
}{
	{"srh-next-hdr", "next-hdr"}, {"srh-hdr-len-eq", "hdr-len-eq"}, {"srh-hdr-len-gt", "hdr-len-gt"},
	{"srh-hdr-len-lt", "hdr-len-lt"}, {"srh-segs-left-eq", "segs-left-eq"}, {"srh-segs-left-gt", "segs-left-gt"},
	{"srh-segs-left-lt", "segs-left-lt"}, {"srh-last-entry-eq", "last-entry-eq"},
	{"srh-last-entry-gt", "last-entry-gt"}, {"srh-last-entry-lt", "last-entry-lt"}, {"srh-tag", "tag"},
	{"srh-psid", "psid"}, {"srh-nsid", "nsid"}, {"srh-lsid", "lsid"},
}

// SRH is the IPv6 srh match (revision 1): fields of a segment routing
// header (routing header type 4). The eq/gt/lt options of one field share
// its value, as in the kernel structure (the last one given wins).
type SRH struct {
	Flags, Inv uint16
	NextHdr    uint8
	HdrLen     uint8
	SegsLeft   uint8
	LastEntry  uint8
	Tag        uint16
	// SID[0..2]: previous, next and last segment, address and prefix
	// length (the address is compared under the mask, kept unmasked).
	SID [3]CtAddr
	// sidMask holds the masks of SID, for matching without allocation.
	sidMask [3][16]byte
}

func init() {
	opts := make([]Option, len(srhOpts))
	for i, o := range srhOpts {
		opts[i] = Option{Name: o.opt, Arg: ReqArg, Invert: true}
	}
	Register(&Def{Name: "srh", Family: ruleset.IPv6, New: func() Parser { return &SRH{} }, Options: opts})
}

// Name implements ruleset.Extension.
func (m *SRH) Name() string { return "srh" }

// Parse implements Parser.
func (m *SRH) Parse(_ *Context, opt, arg string, inv bool) error {
	bit := -1
	for i, o := range srhOpts {
		if o.opt == opt {
			bit = i
		}
	}
	if bit < 0 {
		return nil
	}
	switch {
	case bit >= 11:
		a, err := ParseHostMask("srh", opt, arg, ruleset.IPv6)
		if err != nil {
			return err
		}
		m.SID[bit-11] = a
		m.sidMask[bit-11] = srhMask(a.Bits)
	case bit == 10:
		v, err := ParseOptUint("srh", opt, arg, 0, 0xFFFF)
		if err != nil {
			return err
		}
		m.Tag = uint16(v)
	default:
		v, err := ParseOptUint("srh", opt, arg, 0, 0xFF)
		if err != nil {
			return err
		}
		switch {
		case bit == 0:
			m.NextHdr = uint8(v)
		case bit <= 3:
			m.HdrLen = uint8(v)
		case bit <= 6:
			m.SegsLeft = uint8(v)
		default:
			m.LastEntry = uint8(v)
		}
	}
	m.Flags |= 1 << bit
	if inv {
		m.Inv |= 1 << bit
	}
	return nil
}

func srhMask(bits uint8) [16]byte {
	var mk [16]byte
	for i := 0; i < 16 && bits > 0; i++ {
		if bits >= 8 {
			mk[i] = 0xFF
			bits -= 8
		} else {
			mk[i] = ^byte(0xFF >> bits)
			bits = 0
		}
	}
	return mk
}

// Final implements Parser.
func (m *SRH) Final(*Context) (ruleset.Extension, error) { return m, nil }

// value returns the value of the field of flag bit i.
func (m *SRH) value(i int) uint64 {
	switch {
	case i == 0:
		return uint64(m.NextHdr)
	case i <= 3:
		return uint64(m.HdrLen)
	case i <= 6:
		return uint64(m.SegsLeft)
	case i <= 9:
		return uint64(m.LastEntry)
	}
	return uint64(m.Tag)
}

func (m *SRH) sid(i int) string {
	s := m.SID[i-11]
	return ip6Ntop(s.Addr) + "/" + Utoa(uint64(s.Bits))
}

// Save implements ruleset.Extension.
func (m *SRH) Save(b *strings.Builder, _ ruleset.Fmt) {
	for i, o := range srhOpts {
		if m.Flags&(1<<i) == 0 {
			continue
		}
		b.WriteString(Bang(m.Inv&(1<<i) != 0) + " --" + o.opt + " ")
		if i >= 11 {
			b.WriteString(m.sid(i))
		} else {
			b.WriteString(Utoa(m.value(i)))
		}
	}
}

// Print implements ruleset.Extension.
func (m *SRH) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" srh")
	for i, o := range srhOpts {
		if m.Flags&(1<<i) == 0 {
			continue
		}
		inv := m.Inv&(1<<i) != 0
		if i >= 11 {
			b.WriteString(" " + o.print + " " + BangL(inv) + " " + m.sid(i))
		} else {
			b.WriteString(" " + o.print + ":" + BangL(inv) + Utoa(m.value(i)))
		}
	}
}

// cmp8 compares an 8-bit field per the eq/gt/lt bits starting at bit.
func (m *SRH) cmp8(bit uint16, field, val uint8) bool {
	if m.Flags&bit != 0 && (field == val) == (m.Inv&bit != 0) {
		return false
	}
	if m.Flags&(bit<<1) != 0 && (field > val) == (m.Inv&(bit<<1) != 0) {
		return false
	}
	if m.Flags&(bit<<2) != 0 && (field < val) == (m.Inv&(bit<<2) != 0) {
		return false
	}
	return true
}

// sidOK compares the segment at off (must lie within the packet) with
// SID[i] under its mask, inverted as given.
func (m *SRH) sidOK(raw []byte, off, i int, bit uint16) bool {
	if off+16 > len(raw) {
		return false
	}
	differ := false
	a := m.SID[i].Addr.As16()
	for k := 0; k < 16; k++ {
		if (raw[off+k]^a[k])&m.sidMask[i][k] != 0 {
			differ = true
			break
		}
	}
	return differ == (m.Inv&bit != 0)
}

// Match implements pkt.Matcher as ip6t_srh's srh1_mt6 does: the first
// routing header ipv6_find_hdr finds must be whole and of type 4 with
// segments left <= last entry (any failure: no match, never a hotdrop);
// then each given field, and the previous, next and last SIDs of the
// segment list under their masks (a SID that does not exist: no match).
func (m *SRH) Match(c *pkt.Ctx) bool {
	raw := c.P.Raw
	if c.P.Family != ruleset.IPv6 || len(raw) < 40 {
		return false
	}
	off, _, _, err := xtkFindHdr6(raw, pkt.ProtoRouting, false)
	if err != 0 || off+8 > len(raw) {
		return false
	}
	if len(raw)-off < (int(raw[off+1])+1)<<3 || raw[off+2] != 4 {
		return false
	}
	next, hl, segs, last := raw[off], raw[off+1], raw[off+3], raw[off+4]
	tag := binary.BigEndian.Uint16(raw[off+6:])
	if segs > last {
		return false
	}
	if m.Flags&SRHNextHdr != 0 && (next == m.NextHdr) == (m.Inv&SRHNextHdr != 0) {
		return false
	}
	if !m.cmp8(SRHLenEq, hl, m.HdrLen) || !m.cmp8(SRHSegsEq, segs, m.SegsLeft) || !m.cmp8(SRHLastEq, last, m.LastEntry) {
		return false
	}
	if m.Flags&SRHTag != 0 && (tag == m.Tag) == (m.Inv&SRHTag != 0) {
		return false
	}
	if m.Flags&SRHPSID != 0 {
		if segs == last || !m.sidOK(raw, off+8+(int(segs)+1)*16, 0, SRHPSID) {
			return false
		}
	}
	if m.Flags&SRHNSID != 0 {
		if segs == 0 || !m.sidOK(raw, off+8+(int(segs)-1)*16, 1, SRHNSID) {
			return false
		}
	}
	if m.Flags&SRHLSID != 0 && !m.sidOK(raw, off+8, 2, SRHLSID) {
		return false
	}
	return true
}
