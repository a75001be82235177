package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Rpfilter is the rpfilter match: reverse path filtering.
type Rpfilter struct {
	Loose, ValidMark, AcceptLocal, Invert bool
}

func init() {
	Register(&Def{Name: "rpfilter", New: func() Parser { return &Rpfilter{} },
		Options: []Option{{Name: "loose"}, {Name: "validmark"}, {Name: "accept-local"}, {Name: "invert"}}})
}

// Name implements ruleset.Extension.
func (m *Rpfilter) Name() string { return "rpfilter" }

// Parse implements Parser.
func (m *Rpfilter) Parse(_ *Context, opt, _ string, _ bool) error {
	switch opt {
	case "loose":
		m.Loose = true
	case "validmark":
		m.ValidMark = true
	case "accept-local":
		m.AcceptLocal = true
	case "invert":
		m.Invert = true
	}
	return nil
}

// Final implements Parser.
func (m *Rpfilter) Final(ctx *Context) (ruleset.Extension, error) {
	// xt_rpfilter: raw and mangle tables, PREROUTING only.
	if ctx.Table != "raw" && ctx.Table != "mangle" || !xtHookAllowed(ctx, ruleset.PreRouting) {
		return nil, KernelInval()
	}
	return m, nil
}

func (m *Rpfilter) write(b *strings.Builder, pre string) {
	if m.Loose {
		b.WriteString(" " + pre + "loose")
	}
	if m.ValidMark {
		b.WriteString(" " + pre + "validmark")
	}
	if m.AcceptLocal {
		b.WriteString(" " + pre + "accept-local")
	}
	if m.Invert {
		b.WriteString(" " + pre + "invert")
	}
}

// Save implements ruleset.Extension.
func (m *Rpfilter) Save(b *strings.Builder, _ ruleset.Fmt) { m.write(b, "--") }

// Print implements ruleset.Extension.
func (m *Rpfilter) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" rpfilter")
	m.write(b, "")
}

// Match implements pkt.Matcher as ipt_rpfilter/ip6t_rpfilter's
// rpfilter_mt do: packets from the loopback device pass; so do IPv4
// packets from 0.0.0.0/8 to the broadcast address or 224.0.0.0/24, and
// IPv6 packets from ::. Otherwise the reverse route lookup decides, which
// only c.Facts can answer. --invert inverts every outcome.
func (m *Rpfilter) Match(c *pkt.Ctx) bool {
	p := c.P
	if c.In == "lo" {
		return !m.Invert
	}
	if p.Family == ruleset.IPv6 {
		if p.Src.IsUnspecified() {
			return !m.Invert
		}
	} else {
		s, d := p.Src.As4(), p.Dst.As4()
		if s[0] == 0 && (d == [4]byte{255, 255, 255, 255} || d[0] == 224 && d[1] == 0 && d[2] == 0) {
			return !m.Invert
		}
	}
	if c.Facts == nil {
		return c.Undecide("rpfilter: no routes to look the source up in")
	}
	var flags uint8
	if m.Loose {
		flags |= 1
	}
	if m.ValidMark {
		flags |= 2
	}
	if m.AcceptLocal {
		flags |= 4
	}
	pass, ok := c.Facts.RPFilter(c, flags)
	if !ok {
		return c.Undecide("rpfilter: no routes to look the source up in")
	}
	return pass != m.Invert
}
