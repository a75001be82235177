package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// EUI64 is the IPv6 eui64 match: the source address's interface identifier
// is the EUI-64 of the sender's MAC address. It has no options.
type EUI64 struct{}

func init() {
	Register(&Def{Name: "eui64", Family: ruleset.IPv6, New: func() Parser { return &EUI64{} }})
}

// Name implements ruleset.Extension.
func (m *EUI64) Name() string { return "eui64" }

// Parse implements Parser.
func (m *EUI64) Parse(*Context, string, string, bool) error { return nil }

// Final implements Parser.
func (m *EUI64) Final(ctx *Context) (ruleset.Extension, error) {
	// xt_eui64: PREROUTING, INPUT and FORWARD only.
	if !xtHookAllowed(ctx, ruleset.PreRouting, ruleset.LocalIn, ruleset.Forward) {
		return nil, KernelInval()
	}
	return m, nil
}

// Save implements ruleset.Extension.
func (m *EUI64) Save(*strings.Builder, ruleset.Fmt) {}

// Print implements ruleset.Extension.
func (m *EUI64) Print(*strings.Builder, ruleset.Fmt) {}

// Match implements pkt.Matcher as ip6t_eui64's eui64_mt6 does: the low 64
// bits of the source address are the modified EUI-64 of the Ethernet
// source MAC. Without a link-layer header (c.HasMAC false: a local or
// non-Ethernet packet) it does not match, and a non-first fragment is
// dropped (hotdrop) as the kernel does. A frame with HasMAC is taken to be
// Ethernet with type IPv6.
func (m *EUI64) Match(c *pkt.Ctx) bool {
	p := c.P
	if p.Family != ruleset.IPv6 {
		return false
	}
	if !c.HasMAC {
		if _, fo, ok := xtkTHOff(p); ok && fo != 0 {
			c.DropNow = true
		}
		return false
	}
	mac := c.SrcMAC
	src := p.Src.As16()
	eui := [8]byte{mac[0] ^ 0x02, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]}
	return [8]byte(src[8:16]) == eui
}
