package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// tosSymbols are the TOS names libxtables knows (IPTOS_*).
var tosSymbols = []struct {
	value uint8
	name  string
}{
	{0x10, "Minimize-Delay"}, {0x08, "Maximize-Throughput"}, {0x04, "Maximize-Reliability"},
	{0x02, "Minimize-Cost"}, {0x00, "Normal-Service"},
}

// TOS is the tos match, revision 1 (-m tos [!] --tos VALUE[/MASK]|SYMBOL).
type TOS struct {
	Value, Mask uint8
	Invert      bool
}

type tosParser struct {
	m   TOS
	set bool
}

func init() {
	Register(&Def{Name: "tos", New: func() Parser { return &tosParser{} },
		Options: []Option{{Name: "tos", Arg: ReqArg, Invert: true}}})
}

// parseTOSMask parses an XTTYPE_TOSMASK argument: VALUE[/MASK] (mask 0xff
// by default) or a symbolic name (mask symMask).
func parseTOSMask(arg string, symMask uint8) (value, mask uint8, err error) {
	if v, rest, ok := cStrtoumaxPrefix(arg); ok && v <= 0xFF {
		value, mask = uint8(v), 0xFF
		if strings.HasPrefix(rest, "/") {
			m, r2, ok := cStrtoumaxPrefix(rest[1:])
			if !ok || m > 0xFF {
				return 0, 0, Errorf("Illegal value: \"%s\"", arg)
			}
			mask, rest = uint8(m), r2
		}
		if rest != "" {
			return 0, 0, Errorf("Illegal value: \"%s\"", arg)
		}
		return value, mask, nil
	}
	for _, s := range tosSymbols {
		if strings.EqualFold(arg, s.name) {
			return s.value, symMask, nil
		}
	}
	return 0, 0, Errorf("Symbolic name \"%s\" is unknown", arg)
}

// Parse implements Parser.
func (p *tosParser) Parse(_ *Context, _, arg string, inv bool) error {
	v, m, err := parseTOSMask(arg, 0x3F)
	if err != nil {
		return err
	}
	p.m.Value, p.m.Mask, p.set = v, m, true
	if inv {
		p.m.Invert = true
	}
	return nil
}

// Final implements Parser.
func (p *tosParser) Final(*Context) (ruleset.Extension, error) {
	if !p.set {
		return nil, Errorf("tos: option \"--tos\" must be specified\n")
	}
	m := p.m
	return &m, nil
}

// Name implements ruleset.Extension.
func (m *TOS) Name() string { return "tos" }

// lowerHex02 is C's "0x%02x".
func lowerHex02(v uint8) string {
	const digits = "0123456789abcdef"
	return "0x" + string([]byte{digits[v>>4], digits[v&15]})
}

// Save implements ruleset.Extension.
func (m *TOS) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(Bang(m.Invert) + " --tos " + lowerHex02(m.Value) + "/" + lowerHex02(m.Mask))
}

// Print implements ruleset.Extension.
func (m *TOS) Print(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(" tos match")
	if m.Invert {
		b.WriteString("!")
	}
	if !f.Numeric && m.Mask == 0x3F {
		for _, s := range tosSymbols {
			if s.value == m.Value {
				b.WriteString(" " + s.name)
				return
			}
		}
	}
	b.WriteString(lowerHex02(m.Value) + "/" + lowerHex02(m.Mask))
}

// Match implements pkt.Matcher as tos_mt (xt_dscp.c, revision 1): the IPv4
// TOS byte or the IPv6 traffic class, masked, equals the value.
func (m *TOS) Match(c *pkt.Ctx) bool {
	return (c.P.TOS&m.Mask == m.Value) != m.Invert
}
