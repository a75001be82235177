package xt

import (
	"strings"

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
