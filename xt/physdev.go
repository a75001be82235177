package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
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

// physdevName compares an interface name with a physdev pattern as
// ifname_compare_aligned does with iptables' mask: "NAME+" matches names
// that start with NAME, "" any name, anything else the exact name.
func physdevName(name, pat string) bool {
	if pat == "" {
		return true
	}
	if pat[len(pat)-1] == '+' {
		p := pat[:len(pat)-1]
		return len(name) >= len(p) && name[:len(p)] == p
	}
	return name == pat
}

// Match implements pkt.Matcher as xt_physdev's physdev_mt does. A packet
// without bridge info matches only when each option given is inverted; at
// LOCAL_OUT that is certain (local packets get none), elsewhere c.Facts
// says whether br_netfilter bridged the packet and through which ports.
// --physdev-is-bridged means "has an output bridge port"; --physdev-in
// passes when there is no input port; --physdev-out fails without an
// output port, inverted or not.
func (m *Physdev) Match(c *pkt.Ctx) bool {
	var bridged bool
	var in, out string
	if c.Hook != ruleset.LocalOut {
		if c.Facts == nil {
			return c.Undecide("physdev: the packet's bridge ports are unknown")
		}
		var ok bool
		if bridged, in, out, ok = c.Facts.Bridge(); !ok {
			return c.Undecide("physdev: the packet's bridge ports are unknown")
		}
	}
	if !bridged {
		return m.Mask&^m.Inv == 0
	}
	if m.Mask&PhysdevBridged != 0 && (out != "") == (m.Inv&PhysdevBridged != 0) {
		return false
	}
	if m.Mask&PhysdevIsIn != 0 && (in == "") != (m.Inv&PhysdevIsIn != 0) ||
		m.Mask&PhysdevIsOut != 0 && (out == "") != (m.Inv&PhysdevIsOut != 0) {
		return false
	}
	if m.Mask&PhysdevIn != 0 && in != "" && physdevName(in, m.In) == (m.Inv&PhysdevIn != 0) {
		return false
	}
	if m.Mask&PhysdevOut == 0 {
		return true
	}
	if out == "" {
		return false
	}
	return physdevName(out, m.Out) != (m.Inv&PhysdevOut != 0)
}
