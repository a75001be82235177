package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// ipv6HeaderFlags maps extension header protocol numbers to the match's
// mask bits, in print order.
var ipv6HeaderFlags = []struct{ proto, flag uint8 }{
	{0, 0x80}, {60, 0x40}, {43, 0x20}, {44, 0x10}, {51, 0x08}, {50, 0x04}, {59, 0x02}, {255, 0x01},
}

// ipv6HeaderNames are the built-in header names (used when /etc/protocols
// has none), first match wins when printing.
var ipv6HeaderNames = []struct {
	name  string
	proto uint8
}{
	{"hop-by-hop", 0}, {"protocol", 255}, {"hop", 0}, {"dst", 60}, {"route", 43}, {"frag", 44},
	{"auth", 51}, {"esp", 50}, {"none", 59}, {"prot", 255}, {"0", 0}, {"60", 60}, {"43", 43},
	{"44", 44}, {"51", 51}, {"50", 50}, {"59", 59}, {"255", 255},
}

// IPv6Header is the ipv6header match: which extension headers the packet
// has (exactly, or with --soft at least).
type IPv6Header struct {
	Mask uint8
	Inv  bool
	Soft bool
}

func init() {
	Register(&Def{Name: "ipv6header", Family: ruleset.IPv6, New: func() Parser { return &IPv6Header{} },
		Options: []Option{{Name: "header", Arg: ReqArg, Invert: true}, {Name: "soft"}}})
}

// Name implements ruleset.Extension.
func (m *IPv6Header) Name() string { return "ipv6header" }

// Parse implements Parser.
func (m *IPv6Header) Parse(_ *Context, opt, arg string, inv bool) error {
	if opt == "soft" {
		m.Soft = true
		return nil
	}
	var mask uint8
	for _, tok := range strings.Split(arg, ",") {
		if tok == "" {
			continue
		}
		proto, ok := ProtocolByName(tok)
		if !ok {
			for _, n := range ipv6HeaderNames {
				if n.name == tok {
					proto, ok = n.proto, true
					break
				}
			}
		}
		if !ok {
			return Errorf("unknown header `%s' specified", tok)
		}
		found := false
		for _, f := range ipv6HeaderFlags {
			if f.proto == proto {
				mask |= f.flag
				found = true
			}
		}
		if !found {
			return Errorf("unknown header `%d' specified", proto)
		}
	}
	if mask == 0 {
		return Errorf("ip6t_ipv6header: cannot parse header names")
	}
	m.Mask, m.Inv = mask, inv
	return nil
}

// Final implements Parser.
func (m *IPv6Header) Final(*Context) (ruleset.Extension, error) {
	if m.Mask == 0 {
		return nil, Errorf("ipv6header: option \"--header\" must be specified\n")
	}
	return m, nil
}

func (m *IPv6Header) names() string {
	var parts []string
	for _, f := range ipv6HeaderFlags {
		if m.Mask&f.flag == 0 {
			continue
		}
		name, ok := "", false
		if f.proto != 0 {
			name, ok = ProtocolName(f.proto)
		}
		if !ok {
			for _, n := range ipv6HeaderNames {
				if n.proto == f.proto {
					name = n.name
					break
				}
			}
		}
		parts = append(parts, name)
	}
	if len(parts) == 0 {
		return "NONE"
	}
	return strings.Join(parts, ",")
}

// Save implements ruleset.Extension.
func (m *IPv6Header) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(Bang(m.Inv) + " --header " + m.names())
	if m.Soft {
		b.WriteString(" --soft")
	}
}

// Print implements ruleset.Extension.
func (m *IPv6Header) Print(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(" ipv6header")
	if m.Mask != 0 || m.Inv {
		b.WriteString(" flags:" + BangL(m.Inv))
		if f.Numeric {
			const digits = "0123456789ABCDEF"
			b.WriteString("0x" + string([]byte{digits[m.Mask>>4], digits[m.Mask&15]}))
		} else {
			b.WriteString(m.names())
		}
	}
	if m.Soft {
		b.WriteString(" soft")
	}
}

// Match implements pkt.Matcher as ip6t_ipv6header's ipv6header_mt6 does:
// it walks the extension headers itself (through non-first fragments too,
// up to ESP or no-next-header), collects their mask bits plus "protocol"
// when an upper-layer header follows, and compares them with the rule's
// bits exactly, or with --soft only the bits the rule names.
func (m *IPv6Header) Match(c *pkt.Ctx) bool {
	raw := c.P.Raw
	if c.P.Family != ruleset.IPv6 || len(raw) < 40 {
		return false
	}
	next := raw[6]
	ptr := 40
	avail := len(raw) - ptr
	var temp uint8
	for ipv6HeaderExt(next) {
		if next == pkt.ProtoNone {
			temp |= 0x02
			break
		}
		if avail < 2 {
			return false
		}
		if next == pkt.ProtoESP {
			temp |= 0x04
			break
		}
		var hdrlen int
		switch next {
		case pkt.ProtoFragment:
			hdrlen = 8
		case pkt.ProtoAH:
			hdrlen = (int(raw[ptr+1]) + 2) << 2
		default:
			hdrlen = (int(raw[ptr+1]) + 1) << 3
		}
		switch next {
		case pkt.ProtoHopOpts:
			temp |= 0x80
		case pkt.ProtoRouting:
			temp |= 0x20
		case pkt.ProtoFragment:
			temp |= 0x10
		case pkt.ProtoAH:
			temp |= 0x08
		case pkt.ProtoDstOpts:
			temp |= 0x40
		}
		next = raw[ptr]
		avail -= hdrlen
		ptr += hdrlen
		if ptr > len(raw) {
			break
		}
	}
	if next != pkt.ProtoNone && next != pkt.ProtoESP {
		temp |= 0x01
	}
	if m.Soft {
		var inv uint8
		if m.Inv {
			inv = 0xFF
		}
		return (temp^m.Mask^inv)&m.Mask == 0
	}
	return (temp == m.Mask) != m.Inv
}

// ipv6HeaderExt is ip6t_ext_hdr: the extension headers (with ESP and
// no-next-header) the ipv6header match walks.
func ipv6HeaderExt(h uint8) bool {
	switch h {
	case pkt.ProtoHopOpts, pkt.ProtoRouting, pkt.ProtoFragment, pkt.ProtoESP, pkt.ProtoAH, pkt.ProtoNone, pkt.ProtoDstOpts:
		return true
	}
	return false
}
