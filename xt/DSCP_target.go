package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// dscpTgClasses are the names of --set-dscp-class.
var dscpTgClasses = []struct {
	name  string
	value uint8
}{
	{"CS0", 0x00}, {"CS1", 0x08}, {"CS2", 0x10}, {"CS3", 0x18}, {"CS4", 0x20}, {"CS5", 0x28},
	{"CS6", 0x30}, {"CS7", 0x38}, {"BE", 0x00}, {"AF11", 0x0a}, {"AF12", 0x0c}, {"AF13", 0x0e},
	{"AF21", 0x12}, {"AF22", 0x14}, {"AF23", 0x16}, {"AF31", 0x1a}, {"AF32", 0x1c}, {"AF33", 0x1e},
	{"AF41", 0x22}, {"AF42", 0x24}, {"AF43", 0x26}, {"EF", 0x2e},
}

// DSCPTarget is the DSCP target (-t mangle): set the DSCP field to Value.
type DSCPTarget struct {
	Value uint8
	seen  map[string]bool
}

func init() {
	Register(&Def{Name: "DSCP", Target: true,
		Options: []Option{{Name: "set-dscp", Arg: ReqArg}, {Name: "set-dscp-class", Arg: ReqArg}},
		New:     func() Parser { return &DSCPTarget{seen: map[string]bool{}} }})
}

// Name implements ruleset.Extension.
func (t *DSCPTarget) Name() string { return "DSCP" }

// Parse implements Parser.
func (t *DSCPTarget) Parse(_ *Context, opt, arg string, _ bool) error {
	t.seen[opt] = true
	if opt == "set-dscp" {
		v, err := tgUint("DSCP", opt, arg, 0, 63)
		if err != nil {
			return err
		}
		t.Value = uint8(v)
		return nil
	}
	for _, c := range dscpTgClasses {
		if strings.EqualFold(c.name, arg) {
			t.Value = c.value
			return nil
		}
	}
	return Errorf("Invalid DSCP value `%s'", arg)
}

// Final implements Parser.
func (t *DSCPTarget) Final(ctx *Context) (ruleset.Extension, error) {
	if t.seen["set-dscp"] && t.seen["set-dscp-class"] {
		return nil, Errorf("DSCP: option \"--set-dscp\" cannot be used together with \"--set-dscp-class\".\n")
	}
	if len(t.seen) == 0 {
		return nil, Errorf("DSCP target: Parameter --set-dscp is required")
	}
	if err := tgKernelPlace(ctx, "mangle"); err != nil {
		return nil, err
	}
	return t, nil
}

// Save implements ruleset.Extension.
func (t *DSCPTarget) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" --set-dscp " + tgHex02(t.Value))
}

// Print implements ruleset.Extension.
func (t *DSCPTarget) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" DSCP set " + tgHex02(t.Value))
}

// Act implements pkt.Actor as xt_DSCP's dscp_tg / dscp_tg6 do: when the
// packet's DSCP (the upper six bits of the TOS byte or traffic class)
// differs from Value, it is replaced, keeping the two ECN bits. The packet
// goes on.
func (t *DSCPTarget) Act(c *pkt.Ctx) pkt.Verdict {
	if c.P.TOS>>2 != t.Value {
		tgSetDSField(c.P, 0x03, t.Value<<2)
	}
	return pkt.Continue
}
