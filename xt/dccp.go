package xt

import (
	"encoding/binary"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// dccpTypeNames are the DCCP packet type names by number; INVALID (10)
// stands for types 10 to 15.
var dccpTypeNames = []string{"REQUEST", "RESPONSE", "DATA", "ACK", "DATAACK", "CLOSEREQ", "CLOSE", "RESET", "SYNC", "SYNCACK", "INVALID"}

// dccpInvalid is the type mask iptables 1.8.9 sets for INVALID.
const dccpInvalid uint16 = 0xFC00

// DCCP is the dccp match: ports, packet types and an option number.
type DCCP struct {
	Src, Dst       PortRange
	HasSrc, HasDst bool
	InvSrc, InvDst bool
	Types          uint16 // bit per packet type
	HasTypes       bool
	InvTypes       bool
	Option         uint8
	HasOption      bool
	InvOption      bool
}

func init() {
	Register(&Def{Name: "dccp", Legacy: true, New: func() Parser { return &DCCP{Src: AnyPorts, Dst: AnyPorts} },
		Options: []Option{
			{Name: "source-port", Arg: ReqArg, Invert: true}, {Name: "sport", Arg: ReqArg, Invert: true},
			{Name: "destination-port", Arg: ReqArg, Invert: true}, {Name: "dport", Arg: ReqArg, Invert: true},
			{Name: "dccp-types", Arg: ReqArg, Invert: true},
			{Name: "dccp-option", Arg: ReqArg, Invert: true},
		}})
}

// Name implements ruleset.Extension.
func (m *DCCP) Name() string { return "dccp" }

// Parse implements Parser.
func (m *DCCP) Parse(_ *Context, opt, arg string, inv bool) error {
	once := func(seen *bool, name string) error {
		if *seen {
			return Errorf("dccp: option \"--%s\" can only be used once.\n", name)
		}
		*seen = true
		return nil
	}
	var err error
	switch opt {
	case "source-port", "sport":
		if err = once(&m.HasSrc, "source-port"); err == nil {
			m.Src, err = ParsePortRC("dccp", "source-port", arg)
			m.InvSrc = inv
		}
	case "destination-port", "dport":
		if err = once(&m.HasDst, "destination-port"); err == nil {
			m.Dst, err = ParsePortRC("dccp", "destination-port", arg)
			m.InvDst = inv
		}
	case "dccp-types":
		if err = once(&m.HasTypes, "dccp-types"); err == nil {
			m.Types, err = parseDCCPTypes(arg)
			m.InvTypes = inv
		}
	case "dccp-option":
		if err = once(&m.HasOption, "dccp-option"); err == nil {
			v, rest, ok := xtStrtoulMax(arg, 255)
			if !ok || rest != "" || v < 1 {
				return Errorf("dccp: bad value for option \"--dccp-option\", or out of range (1-255).\n")
			}
			m.Option, m.InvOption = uint8(v), inv
		}
	}
	return err
}

func parseDCCPTypes(s string) (uint16, error) {
	var mask uint16
	for _, tok := range strings.Split(s, ",") {
		if tok == "" {
			continue // strtok skips empty tokens
		}
		found := false
		for i, n := range dccpTypeNames {
			if strings.EqualFold(n, tok) {
				if i == 10 {
					mask |= dccpInvalid
				} else {
					mask |= 1 << i
				}
				found = true
				break
			}
		}
		if !found {
			return 0, Errorf("Unknown DCCP type `%s'", tok)
		}
	}
	return mask, nil
}

// Final implements Parser.
func (m *DCCP) Final(ctx *Context) (ruleset.Extension, error) {
	// The kernel's dccp match wants -p dccp, not inverted.
	if ctx.Rule.Proto != 33 || ctx.Rule.Inv&ruleset.InvProto != 0 {
		return nil, KernelInval()
	}
	return m, nil
}

func dccpTypes(b *strings.Builder, types uint16, numeric bool) {
	b.WriteByte(' ')
	first := true
	for i := 0; i < 16; i++ {
		if types&(1<<i) == 0 {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		if numeric {
			b.WriteString(Utoa(uint64(i)))
			continue
		}
		if i >= 10 {
			b.WriteString("INVALID")
			return
		}
		b.WriteString(dccpTypeNames[i])
	}
}

// Save implements ruleset.Extension.
func (m *DCCP) Save(b *strings.Builder, f ruleset.Fmt) {
	if m.HasSrc {
		sctpRange(b, "sport", m.Src, m.InvSrc)
	}
	if m.HasDst {
		sctpRange(b, "dport", m.Dst, m.InvDst)
	}
	if m.HasTypes {
		b.WriteString(Bang(m.InvTypes) + " --dccp-types")
		if m.Types == 0 && f.Lossless {
			b.WriteString(` ""`) // iptables-save writes nothing
		} else {
			dccpTypes(b, m.Types, false)
		}
	}
	if m.HasOption {
		b.WriteString(Bang(m.InvOption) + " --dccp-option " + Utoa(uint64(m.Option)))
	}
}

// Print implements ruleset.Extension.
func (m *DCCP) Print(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(" dccp")
	if m.HasSrc {
		PrintPorts(b, "spt", m.Src, m.InvSrc, "dccp", f.Numeric)
	}
	if m.HasDst {
		PrintPorts(b, "dpt", m.Dst, m.InvDst, "dccp", f.Numeric)
	}
	if m.HasTypes {
		if m.InvTypes {
			b.WriteString(" !")
		}
		dccpTypes(b, m.Types, f.Numeric)
	}
	if m.HasOption && (m.Option != 0 || m.InvOption) {
		b.WriteString(" option=" + BangL(m.InvOption) + Utoa(uint64(m.Option)))
	}
}

// dccpPacketHdrLen is the kernel's dccp_packet_hdr_len: the type-specific
// part of the header after the generic one.
func dccpPacketHdrLen(t uint8) int {
	switch t {
	case 2: // DATA
		return 0
	case 4, 3, 8, 9, 6, 5: // DATAACK, ACK, SYNC, SYNCACK, CLOSE, CLOSEREQ
		return 8
	case 0: // REQUEST
		return 4
	}
	return 12 // RESPONSE, RESET and anything else
}

// Match implements pkt.Matcher as xt_dccp's dccp_mt (an xt match under
// iptables-nft): false on a non-first fragment, a drop when the 12-byte
// generic header is not in the packet; then, in order and only for the
// options given, source port, destination port, packet type and option.
func (m *DCCP) Match(c *pkt.Ctx) bool {
	p := c.P
	if p.FragOff != 0 {
		return false
	}
	h := xtHeader(p, 12)
	if h == nil {
		c.DropNow = true
		return false
	}
	if m.HasSrc && inRange(binary.BigEndian.Uint16(h[0:]), m.Src) == m.InvSrc {
		return false
	}
	if m.HasDst && inRange(binary.BigEndian.Uint16(h[2:]), m.Dst) == m.InvDst {
		return false
	}
	typ := h[8] >> 1 & 0x0f
	if m.HasTypes && (m.Types&(1<<typ) != 0) == m.InvTypes {
		return false
	}
	if m.HasOption && m.dccpFindOption(c, h) == m.InvOption {
		return false
	}
	return true
}

// dccpFindOption is xt_dccp's dccp_find_option: the options lie between
// the full header (__dccp_hdr_len: 12, +4 with the X bit, + the type's
// part) and the data offset; a data offset short of the header, or
// options cut by the end of the packet, drop the packet.
func (m *DCCP) dccpFindOption(c *pkt.Ctx, h []byte) bool {
	hdrLen := 12 + dccpPacketHdrLen(h[8]>>1&0x0f)
	if h[8]&1 != 0 {
		hdrLen += 4
	}
	doff := int(h[4]) * 4
	if doff < hdrLen {
		c.DropNow = true
		return false
	}
	optlen := doff - hdrLen
	if optlen == 0 {
		return false
	}
	start := TransportOff(c.P) + hdrLen
	if start+optlen > len(c.P.Raw) {
		c.DropNow = true
		return false
	}
	o := c.P.Raw[start : start+optlen]
	for i := 0; i < len(o); {
		if o[i] == m.Option {
			return true
		}
		if o[i] < 2 || i == len(o)-1 || o[i+1] == 0 {
			i++
		} else {
			i += int(o[i+1])
		}
	}
	return false
}
