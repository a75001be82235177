package xt

import (
	"encoding/binary"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// AH is the ah match: IPv4's libipt_ah (--ahspi, needs -p ah) and IPv6's
// libip6t_ah (--ahspi, --ahlen, --ahres, on the AH extension header, any
// protocol).
type AH struct {
	Family ruleset.Family
	SPI    SPIRange
	InvSPI bool
	Len    uint32 // IPv6 only: header length, 0 for any
	InvLen bool
	Res    bool // IPv6 only: reserved field must be zero
}

func init() {
	Register(&Def{Name: "ah", Family: ruleset.IPv4, New: func() Parser { return &AH{Family: ruleset.IPv4, SPI: AnySPI} },
		Options: []Option{{Name: "ahspi", Arg: ReqArg, Invert: true}}})
	Register(&Def{Name: "ah", Family: ruleset.IPv6, New: func() Parser { return &AH{Family: ruleset.IPv6, SPI: AnySPI} },
		Options: []Option{
			{Name: "ahspi", Arg: ReqArg, Invert: true},
			{Name: "ahlen", Arg: ReqArg, Invert: true},
			{Name: "ahres"},
		}})
}

// Name implements ruleset.Extension.
func (m *AH) Name() string { return "ah" }

// Parse implements Parser.
func (m *AH) Parse(_ *Context, opt, arg string, inv bool) error {
	switch opt {
	case "ahspi":
		r, err := ParseUint32RC("ah", "ahspi", arg)
		if err != nil {
			return err
		}
		m.SPI, m.InvSPI = r, inv
	case "ahlen":
		v, rest, ok := xtStrtoulMax(arg, 0xFFFFFFFF)
		if !ok || rest != "" {
			return Errorf("ah: bad value for option \"--ahlen\", or out of range (0-4294967295).\n")
		}
		m.Len, m.InvLen = uint32(v), inv
	case "ahres":
		m.Res = true
	}
	return nil
}

// Final implements Parser.
func (m *AH) Final(ctx *Context) (ruleset.Extension, error) {
	// The IPv4 kernel match wants -p ah, not inverted; IPv6's looks for
	// the extension header whatever the protocol.
	if m.Family == ruleset.IPv4 && (ctx.Rule.Proto != 51 || ctx.Rule.Inv&ruleset.InvProto != 0) {
		return nil, KernelInval()
	}
	return m, nil
}

// Save implements ruleset.Extension.
func (m *AH) Save(b *strings.Builder, f ruleset.Fmt) {
	saveSPIs(b, "ahspi", m.SPI, m.InvSPI, f.Lossless)
	if m.Len != 0 || m.InvLen {
		b.WriteString(Bang(m.InvLen) + " --ahlen " + Utoa(uint64(m.Len)))
	}
	if m.Res {
		b.WriteString(" --ahres")
	}
}

// Print implements ruleset.Extension.
func (m *AH) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" ah ")
	printSPIs(b, m.SPI, m.InvSPI)
	if m.Len != 0 || m.InvLen {
		b.WriteString("length:" + BangL(m.InvLen) + Utoa(uint64(m.Len)))
	}
	if m.Res {
		b.WriteString(" reserved")
	}
}

// Match implements pkt.Matcher. IPv4 is ipt_ah's ah_mt at nft's transport
// offset: false on a non-first fragment, a drop when the 12-byte AH header
// is not in the packet, else the SPI test. IPv6 is ip6t_ah's ah_mt6, which
// looks for the AH extension header itself (ipv6_find_hdr), whatever the
// protocol: none (or a non-first fragment before it) is no match, a
// malformed header chain or a cut AH header a drop; then the SPI, the
// length ((hdrlen+2)*4, when --ahlen is given) and --ahres (reserved
// field zero).
func (m *AH) Match(c *pkt.Ctx) bool {
	p := c.P
	var h []byte
	if p.Family == ruleset.IPv6 {
		off, _, err := FindHdr6(p.Raw, pkt.ProtoAH, false)
		if err != 0 {
			if err != Hdr6NoEnt {
				c.DropNow = true
			}
			return false
		}
		if off+12 > len(p.Raw) {
			c.DropNow = true
			return false
		}
		h = p.Raw[off : off+12]
	} else {
		if p.FragOff != 0 {
			return false
		}
		if h = xtHeader(p, 12); h == nil {
			c.DropNow = true
			return false
		}
	}
	if spiIn(m.SPI, binary.BigEndian.Uint32(h[4:])) == m.InvSPI {
		return false
	}
	if p.Family != ruleset.IPv6 {
		return true
	}
	hdrlen := (uint32(h[1]) + 2) << 2
	if m.Len != 0 && (m.Len == hdrlen) == m.InvLen {
		return false
	}
	return !(m.Res && (h[2] != 0 || h[3] != 0))
}
