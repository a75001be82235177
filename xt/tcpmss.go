package xt

import (
	"strings"

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
