package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// dscpClasses are the DiffServ class names dscp_helper.c knows.
var dscpClasses = []struct {
	name string
	dscp uint8
}{
	{"CS0", 0x00}, {"CS1", 0x08}, {"CS2", 0x10}, {"CS3", 0x18}, {"CS4", 0x20}, {"CS5", 0x28}, {"CS6", 0x30}, {"CS7", 0x38},
	{"BE", 0x00},
	{"AF11", 0x0a}, {"AF12", 0x0c}, {"AF13", 0x0e},
	{"AF21", 0x12}, {"AF22", 0x14}, {"AF23", 0x16},
	{"AF31", 0x1a}, {"AF32", 0x1c}, {"AF33", 0x1e},
	{"AF41", 0x22}, {"AF42", 0x24}, {"AF43", 0x26},
	{"EF", 0x2e},
}

// DSCPClass returns the codepoint of a DiffServ class name as
// class_to_dscp matches it: the argument must start with a class name
// (case-insensitive).
func DSCPClass(name string) (uint8, error) {
	for _, c := range dscpClasses {
		if len(name) >= len(c.name) && strings.EqualFold(name[:len(c.name)], c.name) {
			return c.dscp, nil
		}
	}
	return 0, Errorf("Invalid DSCP value `%s'", name)
}

// DSCP is the dscp match (-m dscp [!] --dscp N | --dscp-class NAME).
type DSCP struct {
	Value  uint8 // 0..63
	Invert bool
}

type dscpParser struct {
	m    DSCP
	seen uint8 // 1: --dscp, 2: --dscp-class
}

func init() {
	Register(&Def{Name: "dscp", New: func() Parser { return &dscpParser{} },
		Options: []Option{{Name: "dscp", Arg: ReqArg, Invert: true}, {Name: "dscp-class", Arg: ReqArg, Invert: true}}})
}

// Parse implements Parser.
func (p *dscpParser) Parse(_ *Context, opt, arg string, inv bool) error {
	if opt == "dscp" {
		v, err := x6Uint("dscp", opt, arg, 0, 0x3F)
		if err != nil {
			return err
		}
		p.m.Value = uint8(v)
		p.seen |= 1
	} else {
		v, err := DSCPClass(arg)
		if err != nil {
			return err
		}
		p.m.Value = v
		p.seen |= 2
	}
	if inv {
		p.m.Invert = true
	}
	return nil
}

// Final implements Parser.
func (p *dscpParser) Final(*Context) (ruleset.Extension, error) {
	if p.seen == 0 {
		return nil, Errorf("DSCP match: Parameter --dscp is required")
	}
	if p.seen == 3 {
		return nil, Errorf("dscp: option \"--dscp\" cannot be used together with \"--dscp-class\".\n")
	}
	m := p.m
	return &m, nil
}

// Name implements ruleset.Extension.
func (m *DSCP) Name() string { return "dscp" }

// Save implements ruleset.Extension.
func (m *DSCP) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(Bang(m.Invert) + " --dscp " + lowerHex02(m.Value))
}

// Print implements ruleset.Extension.
func (m *DSCP) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" DSCP match " + BangL(m.Invert) + lowerHex02(m.Value))
}

// Match implements pkt.Matcher as dscp_mt / dscp_mt6: the DSCP (the upper
// six bits of the TOS byte or traffic class) equals the value.
func (m *DSCP) Match(c *pkt.Ctx) bool {
	return (c.P.TOS>>2 == m.Value) != m.Invert
}
