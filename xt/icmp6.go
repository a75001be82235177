package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// ICMPv6Names is iptables 1.8.9's ICMPv6 type table, in its order.
var ICMPv6Names = []ICMPName{
	{"destination-unreachable", 1, 0, 0xFF},
	{"no-route", 1, 0, 0},
	{"communication-prohibited", 1, 1, 1},
	{"beyond-scope", 1, 2, 2},
	{"address-unreachable", 1, 3, 3},
	{"port-unreachable", 1, 4, 4},
	{"failed-policy", 1, 5, 5},
	{"reject-route", 1, 6, 6},
	{"packet-too-big", 2, 0, 0xFF},
	{"time-exceeded", 3, 0, 0xFF},
	{"ttl-exceeded", 3, 0, 0xFF},
	{"ttl-zero-during-transit", 3, 0, 0},
	{"ttl-zero-during-reassembly", 3, 1, 1},
	{"parameter-problem", 4, 0, 0xFF},
	{"bad-header", 4, 0, 0},
	{"unknown-header-type", 4, 1, 1},
	{"unknown-option", 4, 2, 2},
	{"echo-request", 128, 0, 0xFF},
	{"ping", 128, 0, 0xFF},
	{"echo-reply", 129, 0, 0xFF},
	{"pong", 129, 0, 0xFF},
	{"router-solicitation", 133, 0, 0xFF},
	{"router-advertisement", 134, 0, 0xFF},
	{"neighbour-solicitation", 135, 0, 0xFF},
	{"neighbor-solicitation", 135, 0, 0xFF},
	{"neighbour-advertisement", 136, 0, 0xFF},
	{"neighbor-advertisement", 136, 0, 0xFF},
	{"redirect", 137, 0, 0xFF},
}

// ICMP6 is the IPv6 icmp6 match (-m icmp6 --icmpv6-type; -p icmpv6 and
// -m icmpv6/ipv6-icmp load it too).
type ICMP6 struct {
	Type             uint8
	CodeMin, CodeMax uint8
	Inv              bool
	set              bool
}

func init() {
	Register(&Def{Name: "icmp6", Family: ruleset.IPv6, New: func() Parser { return &ICMP6{CodeMax: 0xFF} },
		Options: []Option{{Name: "icmpv6-type", Arg: ReqArg, Invert: true}}})
}

// Name implements ruleset.Extension.
func (m *ICMP6) Name() string { return "icmp6" }

// Parse implements Parser.
func (m *ICMP6) Parse(_ *Context, _, arg string, inv bool) error {
	t, lo, hi, err := ParseICMPType(ICMPv6Names, "ICMPv6", arg)
	if err != nil {
		return err
	}
	m.Type, m.CodeMin, m.CodeMax, m.Inv, m.set = t, lo, hi, inv, true
	return nil
}

// Final implements Parser.
func (m *ICMP6) Final(ctx *Context) (ruleset.Extension, error) {
	if !m.set {
		return nil, Errorf("icmp6: option \"--icmpv6-type\" must be specified\n")
	}
	// The kernel's icmp6 match wants -p ipv6-icmp, not inverted.
	if ctx.Rule.Proto != 58 || ctx.Rule.Inv&ruleset.InvProto != 0 {
		return nil, KernelInval()
	}
	return m, nil
}

// Save implements ruleset.Extension.
func (m *ICMP6) Save(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(Bang(m.Inv) + " --icmpv6-type " + Utoa(uint64(m.Type)))
	saveICMPCodes(b, m.CodeMin, m.CodeMax, f.Lossless)
}

// Print implements ruleset.Extension.
func (m *ICMP6) Print(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(" ipv6-icmp")
	printICMPType(b, ICMPv6Names, m.Type, m.CodeMin, m.CodeMax, m.Inv, f.Numeric)
}

// Match implements pkt.Matcher. iptables-nft 1.8.9 keeps every icmp6 match
// an xt match, so this is the kernel's icmp6_match: false on a non-first
// fragment, a drop when the 8-byte ICMPv6 header is not all there, else
// icmp6_type_code_match, which (unlike IPv4's) has no "any" type: 255 is
// just type 255.
func (m *ICMP6) Match(c *pkt.Ctx) bool {
	p := c.P
	if p.FragOff != 0 {
		return false
	}
	h := xtHeader(p, 8)
	if h == nil {
		c.DropNow = true
		return false
	}
	in := h[0] == m.Type && h[1] >= m.CodeMin && h[1] <= m.CodeMax
	return in != m.Inv
}
