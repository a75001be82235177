package xt

import (
	"encoding/binary"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// IPComp is the ipcomp match: the CPI of IP payload compression headers.
type IPComp struct {
	SPILo, SPIHi uint32
	Inv          bool
	Reserved     bool // --compres
}

func init() {
	Register(&Def{Name: "ipcomp", New: func() Parser { return &IPComp{} },
		Options: []Option{{Name: "ipcompspi", Arg: ReqArg, Invert: true}, {Name: "compres"}}})
}

// Name implements ruleset.Extension.
func (m *IPComp) Name() string { return "ipcomp" }

// Parse implements Parser.
func (m *IPComp) Parse(_ *Context, opt, arg string, inv bool) error {
	if opt == "compres" {
		m.Reserved = true
		return nil
	}
	lo, hi, n, err := xtParseRange32("ipcomp", opt, arg, 1<<32-1)
	if err != nil {
		return err
	}
	if n == 1 {
		hi = lo
	}
	m.SPILo, m.SPIHi, m.Inv = lo, hi, inv
	return nil
}

// Final implements Parser.
func (m *IPComp) Final(ctx *Context) (ruleset.Extension, error) {
	// The kernel match is registered for protocol ipcomp (108) only.
	if ctx.Rule.Proto != 108 || ctx.Rule.Inv&ruleset.InvProto != 0 {
		return nil, KernelInval()
	}
	return m, nil
}

// Save implements ruleset.Extension.
func (m *IPComp) Save(b *strings.Builder, _ ruleset.Fmt) {
	if !(m.SPILo == 0 && m.SPIHi == ^uint32(0)) {
		b.WriteString(Bang(m.Inv) + " --ipcompspi " + Utoa(uint64(m.SPILo)))
		if m.SPILo != m.SPIHi {
			b.WriteString(":" + Utoa(uint64(m.SPIHi)))
		}
	}
	if m.Reserved {
		b.WriteString(" --compres")
	}
}

// Print implements ruleset.Extension.
func (m *IPComp) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" comp")
	if m.SPILo != 0 || m.SPIHi != ^uint32(0) || m.Inv {
		if m.SPILo == m.SPIHi {
			b.WriteString(" spi:" + BangL(m.Inv) + Utoa(uint64(m.SPILo)))
		} else {
			b.WriteString(" spis:" + BangL(m.Inv) + Utoa(uint64(m.SPILo)) + ":" + Utoa(uint64(m.SPIHi)))
		}
	}
	if m.Reserved {
		b.WriteString(" reserved")
	}
}

// Match implements pkt.Matcher as xt_ipcomp's comp_mt does: not on a
// non-first fragment; the 16-bit CPI of the IPComp header in the range; a
// truncated header drops the packet (hotdrop). --compres is not compared:
// the kernel ignores it.
func (m *IPComp) Match(c *pkt.Ctx) bool {
	p := c.P
	thoff, fragoff, ok := xtkTHOff(p)
	if !ok || fragoff != 0 {
		return false
	}
	if thoff+4 > len(p.Raw) {
		c.DropNow = true
		return false
	}
	cpi := uint32(binary.BigEndian.Uint16(p.Raw[thoff+2:]))
	return (cpi >= m.SPILo && cpi <= m.SPIHi) != m.Inv
}
