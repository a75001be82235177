package xt

import (
	"strings"

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
