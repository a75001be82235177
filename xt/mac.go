package xt

import (
	"net"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// MAC is the mac match (-m mac [!] --mac-source XX:XX:XX:XX:XX:XX).
type MAC struct {
	Addr   net.HardwareAddr // 6 bytes
	Invert bool
}

type macParser struct {
	m   MAC
	set bool
}

func init() {
	Register(&Def{Name: "mac", New: func() Parser { return &macParser{} },
		Options: []Option{{Name: "mac-source", Arg: ReqArg, Invert: true}}})
}

// ParseEtherMAC parses six ':'-separated hex bytes as libxtables'
// XTTYPE_ETHERMAC does (each part at most two characters, possibly empty).
func ParseEtherMAC(s string) (net.HardwareAddr, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 6 {
		return nil, false
	}
	out := make(net.HardwareAddr, 6)
	for i, p := range parts {
		if len(p) > 2 {
			return nil, false
		}
		var v byte
		for j := 0; j < len(p); j++ {
			c := p[j]
			switch {
			case c >= '0' && c <= '9':
				v = v<<4 | (c - '0')
			case c >= 'a' && c <= 'f':
				v = v<<4 | (c - 'a' + 10)
			case c >= 'A' && c <= 'F':
				v = v<<4 | (c - 'A' + 10)
			default:
				return nil, false
			}
		}
		out[i] = v
	}
	return out, true
}

// Parse implements Parser.
func (p *macParser) Parse(_ *Context, _, arg string, inv bool) error {
	a, ok := ParseEtherMAC(arg)
	if !ok {
		return Errorf("Invalid MAC address specified.")
	}
	p.m.Addr, p.set = a, true
	if inv {
		p.m.Invert = true
	}
	return nil
}

// Final implements Parser. The kernel allows the match only in
// PREROUTING, INPUT and FORWARD.
func (p *macParser) Final(ctx *Context) (ruleset.Extension, error) {
	if !p.set {
		return nil, Errorf("mac: option \"--mac-source\" must be specified\n")
	}
	if h, ok := ruleset.HookOf(ctx.Chain); ok && (h == ruleset.LocalOut || h == ruleset.PostRouting) {
		return nil, KernelInval()
	}
	m := p.m
	return &m, nil
}

// Name implements ruleset.Extension.
func (m *MAC) Name() string { return "mac" }

func (m *MAC) addrString() string {
	return m.Addr.String()
}

// Save implements ruleset.Extension.
func (m *MAC) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(Bang(m.Invert) + " --mac-source " + m.addrString())
}

// Print implements ruleset.Extension.
func (m *MAC) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" MAC" + Bang(m.Invert) + " " + m.addrString())
}

// Match implements pkt.Matcher as xt_mac's mac_mt: the Ethernet source of
// the received frame equals the address, xor the inversion. A device that
// is not Ethernet (lo) has no MAC header and never matches, inverted or
// not; a packet without a link-layer header in the capture (c.HasMAC
// false on another device) is undecided.
func (m *MAC) Match(c *pkt.Ctx) bool {
	if c.In == "lo" {
		return false
	}
	if !c.HasMAC {
		return c.Undecide("mac: the capture has no link-layer header")
	}
	return (len(m.Addr) == 6 && [6]byte(m.Addr) == c.SrcMAC) != m.Invert
}
