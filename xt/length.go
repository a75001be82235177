package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Length is the length match (-m length [!] --length MIN[:MAX]).
type Length struct {
	Min, Max uint16
	Invert   bool
}

type lengthParser struct {
	m   Length
	set bool
}

func init() {
	Register(&Def{Name: "length", New: func() Parser { return &lengthParser{} },
		Options: []Option{{Name: "length", Arg: ReqArg, Invert: true}}})
}

// parseUintRC parses an XTTYPE_UINT*RC argument ("a", "a:b", ":b", "a:")
// as xtopt_parse_mint does, with at most two components.
func parseUintRC(ext, opt, arg string, max uint64) ([]uint64, error) {
	var vals []uint64
	const lmin = 0
	s := arg
	for {
		if len(vals) == 2 {
			return nil, Errorf("%s: Too many components for option \"--%s\" (max: 2)\n", ext, opt)
		}
		var v uint64
		rest := s
		if s == "" || s[0] == ':' {
			if len(vals) == 1 {
				v = max
			} else {
				v = lmin
			}
		} else {
			var ok bool
			v, rest, ok = cStrtoumaxPrefix(s)
			if !ok || v < lmin || v > max {
				return nil, Errorf("%s: bad value for option \"--%s\" near \"%s\", or out of range (%d-%d).\n", ext, opt, s, lmin, max)
			}
			if rest != "" && rest[0] != ':' {
				return nil, Errorf("%s: Argument to \"--%s\" has unexpected characters near \"%s\".\n", ext, opt, rest)
			}
		}
		vals = append(vals, v)
		if rest == "" {
			break
		}
		s = rest[1:]
	}
	return vals, nil
}

// Parse implements Parser.
func (p *lengthParser) Parse(_ *Context, opt, arg string, inv bool) error {
	vals, err := parseUintRC("length", opt, arg, 0xFFFF)
	if err != nil {
		return err
	}
	p.m.Min, p.m.Max = uint16(vals[0]), uint16(vals[0])
	if len(vals) > 1 {
		p.m.Max = uint16(vals[1])
	}
	if inv {
		p.m.Invert = true
	}
	p.set = true
	return nil
}

// Final implements Parser.
func (p *lengthParser) Final(*Context) (ruleset.Extension, error) {
	if !p.set {
		return nil, Errorf("length: option \"--length\" must be specified\n")
	}
	m := p.m
	return &m, nil
}

// Name implements ruleset.Extension.
func (m *Length) Name() string { return "length" }

func (m *Length) rangeString() string {
	if m.Min == m.Max {
		return Utoa(uint64(m.Min))
	}
	return Utoa(uint64(m.Min)) + ":" + Utoa(uint64(m.Max))
}

// Save implements ruleset.Extension.
func (m *Length) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(Bang(m.Invert) + " --length " + m.rangeString())
}

// Print implements ruleset.Extension.
func (m *Length) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" length " + BangL(m.Invert) + m.rangeString())
}

// Match implements pkt.Matcher as xt_length does: the length is a u16,
// ntohs(tot_len) for IPv4 and ntohs(payload_len) + 40 for IPv6 (which
// wraps past 65535 as the kernel's u16 does).
func (m *Length) Match(c *pkt.Ctx) bool {
	n := uint16(c.P.Len)
	return (n >= m.Min && n <= m.Max) != m.Invert
}
