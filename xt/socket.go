package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Socket is the socket match (revision 3): a local socket matches the
// packet's addresses and ports.
type Socket struct {
	Transparent, NoWildcard, RestoreSkmark bool
}

func init() {
	Register(&Def{Name: "socket", New: func() Parser { return &Socket{} },
		Options: []Option{{Name: "transparent"}, {Name: "nowildcard"}, {Name: "restore-skmark"}}})
}

// Name implements ruleset.Extension.
func (m *Socket) Name() string { return "socket" }

// Parse implements Parser.
func (m *Socket) Parse(_ *Context, opt, _ string, _ bool) error {
	switch opt {
	case "transparent":
		m.Transparent = true
	case "nowildcard":
		m.NoWildcard = true
	case "restore-skmark":
		m.RestoreSkmark = true
	}
	return nil
}

// Final implements Parser: xt_socket is valid at PREROUTING and INPUT.
func (m *Socket) Final(ctx *Context) (ruleset.Extension, error) {
	if !xtHookAllowed(ctx, ruleset.PreRouting, ruleset.LocalIn) {
		return nil, KernelInval()
	}
	return m, nil
}

// Save implements ruleset.Extension.
func (m *Socket) Save(b *strings.Builder, _ ruleset.Fmt) {
	if m.Transparent {
		b.WriteString(" --transparent")
	}
	if m.NoWildcard {
		b.WriteString(" --nowildcard")
	}
	if m.RestoreSkmark {
		b.WriteString(" --restore-skmark")
	}
}

// Print implements ruleset.Extension.
func (m *Socket) Print(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(" socket")
	m.Save(b, f)
}

// Match implements pkt.Matcher as far as the packet decides it: the
// kernel's socket lookup (nf_sk_lookup_slow_v4/v6) finds nothing for a
// packet that is neither TCP, UDP nor an ICMP/ICMPv6 error quoting one,
// so such a packet never matches. Otherwise whether a matching local
// socket exists (and its transparent flag, wildcard binding and mark) is
// host state a capture lacks.
func (m *Socket) Match(c *pkt.Ctx) bool {
	p := c.P
	switch p.Proto {
	case pkt.ProtoTCP, pkt.ProtoUDP:
		if p.L4 < 0 {
			return false // no transport header to look the socket up by
		}
	case pkt.ProtoICMP:
		switch p.ICMPType {
		case 3, 4, 5, 11, 12: // dest unreach, source quench, redirect, time exceeded, param problem
			if !socketInnerTCPUDP(p) {
				return false
			}
		default:
			return false
		}
	case pkt.ProtoICMPv6:
		if p.L4 < 0 || p.ICMPType >= 128 || !socketInnerTCPUDP(p) {
			return false
		}
	default:
		return false
	}
	return c.Undecide("socket: whether a local socket matches the packet is unknown")
}

// socketInnerTCPUDP reports whether an ICMP error quotes a TCP or UDP
// packet (extract_icmp4_fields / extract_icmp6_fields look only those up).
func socketInnerTCPUDP(p *pkt.Packet) bool {
	in := p.Inner
	if in < 0 || in >= len(p.Raw) {
		return false
	}
	b := p.Raw[in:]
	var proto byte
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return false
		}
		proto = b[9]
	case 6:
		if len(b) < 40 {
			return false
		}
		proto = b[6]
	default:
		return false
	}
	return proto == pkt.ProtoTCP || proto == pkt.ProtoUDP
}
