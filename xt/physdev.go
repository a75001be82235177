package xt

import (
	"strings"

	"github.com/rampartfw/rampart/ruleset"
)

// Physdev option bits, as in xt_physdev's bitmask and invert fields.
const (
	PhysdevIn      uint8 = 0x01
	PhysdevOut     uint8 = 0x02
	PhysdevIsIn    uint8 = 0x04
	PhysdevIsOut   uint8 = 0x08
	PhysdevBridged uint8 = 0x10
)

// Physdev is the physdev match: bridge port names and bridging state.
type Physdev struct {
	In, Out string // a trailing '+' is a wildcard
	Mask    uint8  // options given
	Inv     uint8  // options inverted
}

func init() {
	Register(&Def{Name: "physdev", New: func() Parser { return &Physdev{} },
		Options: []Option{
			{Name: "physdev-in", Arg: ReqArg, Invert: true},
			{Name: "physdev-out", Arg: ReqArg, Invert: true},
			{Name: "physdev-is-in", Invert: true},
			{Name: "physdev-is-out", Invert: true},
			{Name: "physdev-is-bridged", Invert: true},
		}})
}

// Name implements ruleset.Extension.
func (m *Physdev) Name() string { return "physdev" }

// Parse implements Parser.
func (m *Physdev) Parse(_ *Context, opt, arg string, inv bool) error {
	var bit uint8
	switch opt {
	case "physdev-in", "physdev-out":
		if len(arg) >= 16 {
			return Errorf("interface name `%s' must be shorter than IFNAMSIZ (%d)", arg, 15)
		}
		bit = PhysdevIn
		if opt == "physdev-out" {
			bit = PhysdevOut
			m.Out = arg
		} else {
			m.In = arg
		}
	case "physdev-is-in":
		bit = PhysdevIsIn
	case "physdev-is-out":
		bit = PhysdevIsOut
	case "physdev-is-bridged":
		bit = PhysdevBridged
	}
	m.Mask |= bit
	if inv {
		m.Inv |= bit
	}
	return nil
}

// Final implements Parser.
func (m *Physdev) Final(ctx *Context) (ruleset.Extension, error) {
	if m.Mask == 0 {
		return nil, Errorf("PHYSDEV: no physdev option specified")
	}
	// xt_physdev: --physdev-out/--physdev-is-out cannot be used in OUTPUT
	// unless the rule requires bridged traffic.
	if m.Mask&(PhysdevOut|PhysdevIsOut) != 0 && (m.Mask&PhysdevBridged == 0 || m.Inv&PhysdevBridged != 0) {
		if h, ok := xtChainHook(ctx); ok && h == ruleset.LocalOut {
			return nil, KernelInval()
		}
	}
	return m, nil
}

// Save implements ruleset.Extension.
func (m *Physdev) Save(b *strings.Builder, _ ruleset.Fmt) {
	item := func(bit uint8, s string) {
		if m.Mask&bit != 0 {
			b.WriteString(Bang(m.Inv&bit != 0) + " " + s)
		}
	}
	item(PhysdevIsIn, "--physdev-is-in")
	item(PhysdevIn, "--physdev-in "+m.In)
	item(PhysdevIsOut, "--physdev-is-out")
	item(PhysdevOut, "--physdev-out "+m.Out)
	item(PhysdevBridged, "--physdev-is-bridged")
}

// Print implements ruleset.Extension.
func (m *Physdev) Print(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(" PHYSDEV match")
	m.Save(b, f)
}
