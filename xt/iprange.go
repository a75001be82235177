package xt

import (
	"net/netip"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// IPRange is the iprange match, revision 1 (-m iprange [!] --src-range
// A[-B] [!] --dst-range A[-B]).
type IPRange struct {
	Src, Dst       bool // which ranges are given
	SrcMin, SrcMax netip.Addr
	DstMin, DstMax netip.Addr
	InvSrc, InvDst bool
}

type ipRangeParser struct {
	m IPRange
}

func init() {
	Register(&Def{Name: "iprange", New: func() Parser { return &ipRangeParser{} },
		Options: []Option{{Name: "src-range", Arg: ReqArg, Invert: true}, {Name: "dst-range", Arg: ReqArg, Invert: true}}})
}

// numericToIPv4 is xtables_numeric_to_ipaddr: up to four dotted parts of
// 0..255 (decimal, octal or hex), missing trailing parts being zero.
func numericToIPv4(s string) (netip.Addr, bool) {
	if len(s) > 19 {
		s = s[:19]
	}
	parts := strings.SplitN(s, ".", 4)
	var b [4]byte
	for i, p := range parts {
		v, ok := ParseUint(p, 0, 255)
		if !ok {
			return netip.Addr{}, false
		}
		b[i] = byte(v)
	}
	return netip.AddrFrom4(b), true
}

// parseIPRange parses A[-B] for the family, with iptables' message.
func parseIPRange(arg, opt string, f ruleset.Family) (lo, hi netip.Addr, err error) {
	from, to, found := strings.Cut(arg, "-")
	if !found {
		to = from
	}
	for i, s := range []string{from, to} {
		var a netip.Addr
		var ok bool
		if f == ruleset.IPv6 {
			a, ok = parseIPv6Numeric(s)
		} else {
			a, ok = numericToIPv4(s)
		}
		if !ok {
			return lo, hi, Errorf("iprange: Bad value for \"%s\" option: \"%s\"", opt, s)
		}
		if i == 0 {
			lo = a
		} else {
			hi = a
		}
	}
	return lo, hi, nil
}

// Parse implements Parser.
func (p *ipRangeParser) Parse(ctx *Context, opt, arg string, inv bool) error {
	lo, hi, err := parseIPRange(arg, "--"+opt, ctx.Family)
	if err != nil {
		return err
	}
	if strings.Contains(arg, "-") && hi.Less(lo) && ctx.Warn != nil {
		from, to, _ := strings.Cut(arg, "-")
		ctx.Warn("xt_iprange: range " + from + "-" + to + " is reversed and will never match")
	}
	if opt == "src-range" {
		p.m.Src, p.m.SrcMin, p.m.SrcMax = true, lo, hi
		if inv {
			p.m.InvSrc = true
		}
	} else {
		p.m.Dst, p.m.DstMin, p.m.DstMax = true, lo, hi
		if inv {
			p.m.InvDst = true
		}
	}
	return nil
}

// Final implements Parser.
func (p *ipRangeParser) Final(*Context) (ruleset.Extension, error) {
	if !p.m.Src && !p.m.Dst {
		return nil, Errorf("iprange match: You must specify `--src-range' or `--dst-range'")
	}
	m := p.m
	return &m, nil
}

// Name implements ruleset.Extension.
func (m *IPRange) Name() string { return "iprange" }

// Save implements ruleset.Extension.
func (m *IPRange) Save(b *strings.Builder, _ ruleset.Fmt) {
	if m.Src {
		b.WriteString(Bang(m.InvSrc) + " --src-range " + m.SrcMin.String() + "-" + m.SrcMax.String())
	}
	if m.Dst {
		b.WriteString(Bang(m.InvDst) + " --dst-range " + m.DstMin.String() + "-" + m.DstMax.String())
	}
}

// Print implements ruleset.Extension.
func (m *IPRange) Print(b *strings.Builder, _ ruleset.Fmt) {
	if m.Src {
		b.WriteString(" source IP range" + Bang(m.InvSrc) + " " + m.SrcMin.String() + "-" + m.SrcMax.String())
	}
	if m.Dst {
		b.WriteString(" destination IP range" + Bang(m.InvDst) + " " + m.DstMin.String() + "-" + m.DstMax.String())
	}
}

// Match implements pkt.Matcher as iprange_mt4 / iprange_mt6: each given
// range holds the address (min <= addr <= max), xor its inversion.
func (m *IPRange) Match(c *pkt.Ctx) bool {
	if m.Src {
		a := c.P.Src
		in := a.Compare(m.SrcMin) >= 0 && a.Compare(m.SrcMax) <= 0
		if in == m.InvSrc {
			return false
		}
	}
	if m.Dst {
		a := c.P.Dst
		in := a.Compare(m.DstMin) >= 0 && a.Compare(m.DstMax) <= 0
		if in == m.InvDst {
			return false
		}
	}
	return true
}
