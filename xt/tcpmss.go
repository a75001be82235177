package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// TCPMSS is the tcpmss match: the MSS option of TCP SYN packets.
type TCPMSS struct {
	Min, Max uint16
	Inv      bool
	set      bool
}

func init() {
	Register(&Def{Name: "tcpmss", New: func() Parser { return &TCPMSS{} },
		Options: []Option{{Name: "mss", Arg: ReqArg, Invert: true}}})
}

// Name implements ruleset.Extension.
func (m *TCPMSS) Name() string { return "tcpmss" }

// Parse implements Parser.
func (m *TCPMSS) Parse(_ *Context, _, arg string, inv bool) error {
	lo, hi, n, err := xtParseRange32("tcpmss", "mss", arg, 0xFFFF)
	if err != nil {
		return err
	}
	if n == 1 {
		hi = lo
	} else if lo > hi {
		return Errorf("tcpmss: invalid range given")
	}
	m.Min, m.Max, m.Inv, m.set = uint16(lo), uint16(hi), inv, true
	return nil
}

// Final implements Parser.
func (m *TCPMSS) Final(ctx *Context) (ruleset.Extension, error) {
	if !m.set {
		return nil, Errorf("tcpmss: option \"--mss\" must be specified\n")
	}
	// The kernel match is registered for TCP only.
	if ctx.Rule.Proto != 6 || ctx.Rule.Inv&ruleset.InvProto != 0 {
		return nil, KernelInval()
	}
	return m, nil
}

func (m *TCPMSS) value() string {
	s := Utoa(uint64(m.Min))
	if m.Min != m.Max {
		s += ":" + Utoa(uint64(m.Max))
	}
	return s
}

// Save implements ruleset.Extension.
func (m *TCPMSS) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(Bang(m.Inv) + " --mss " + m.value())
}

// Print implements ruleset.Extension.
func (m *TCPMSS) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" tcpmss match " + BangL(m.Inv) + m.value())
}

// Match implements pkt.Matcher as xt_tcpmss's tcpmss_mt does: the first
// MSS option (kind 2, length 4) of any TCP packet (the kernel does not
// require SYN), in range; no MSS option matches only when inverted. A
// truncated header or options, or a data offset below 5, drops the packet
// (hotdrop). Like the kernel it does not look at fragments: a non-first
// fragment's payload is read as a TCP header.
func (m *TCPMSS) Match(c *pkt.Ctx) bool {
	p := c.P
	thoff, _, ok := xtkTHOff(p)
	if !ok {
		return false
	}
	raw := p.Raw
	if thoff+20 > len(raw) {
		c.DropNow = true
		return false
	}
	doff := int(raw[thoff+12]>>4) * 4
	if doff < 20 {
		c.DropNow = true
		return false
	}
	optlen := doff - 20
	if optlen == 0 {
		return m.Inv
	}
	if thoff+doff > len(raw) {
		c.DropNow = true
		return false
	}
	op := raw[thoff+20 : thoff+doff]
	for i := 0; i < optlen; {
		if op[i] == 2 && optlen-i >= 4 && op[i+1] == 4 {
			mss := uint16(op[i+2])<<8 | uint16(op[i+3])
			return (mss >= m.Min && mss <= m.Max) != m.Inv
		}
		switch {
		case op[i] < 2:
			i++
		case i+1 >= optlen:
			// The kernel reads the length past the options; any
			// step ends the loop.
			i = optlen
		case op[i+1] == 0:
			i++
		default:
			i += int(op[i+1])
		}
	}
	return m.Inv
}
