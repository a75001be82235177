package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// MarkMatch is the mark match (-m mark --mark VALUE[/MASK]), revision 1:
// it matches when the packet's nfmark ANDed with Mask equals Mark.
type MarkMatch struct {
	Mark, Mask uint32
	Inv        bool
	set        bool
}

func init() {
	Register(&Def{Name: "mark", New: func() Parser { return &MarkMatch{} },
		Options: []Option{{Name: "mark", Arg: ReqArg, Invert: true}}})
}

// Name implements ruleset.Extension.
func (m *MarkMatch) Name() string { return "mark" }

// Parse implements Parser.
func (m *MarkMatch) Parse(_ *Context, opt, arg string, inv bool) error {
	v, mask, err := ParseMarkMask("mark", opt, arg)
	if err != nil {
		return err
	}
	m.Mark, m.Mask, m.Inv, m.set = v, mask, inv, true
	return nil
}

// Final implements Parser.
func (m *MarkMatch) Final(*Context) (ruleset.Extension, error) {
	if !m.set {
		return nil, Errorf("mark: option \"--mark\" must be specified\n")
	}
	return m, nil
}

// Save implements ruleset.Extension.
func (m *MarkMatch) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(Bang(m.Inv) + " --mark")
	writeMarkMask(b, m.Mark, m.Mask)
}

// Print implements ruleset.Extension.
func (m *MarkMatch) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" mark match")
	if m.Inv {
		b.WriteString(" !")
	}
	writeMarkMask(b, m.Mark, m.Mask)
}

// writeMarkMask appends " 0xMARK" or " 0xMARK/0xMASK" (mask not all ones),
// as the mark and connmark matches print their value.
func writeMarkMask(b *strings.Builder, mark, mask uint32) {
	b.WriteString(" " + Hex(uint64(mark)))
	if mask != 0xFFFFFFFF {
		b.WriteString("/" + Hex(uint64(mask)))
	}
}

// isSpaceC reports whether c is a C isspace() character.
func isSpaceC(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// StrtoulX emulates libxtables' xtables_strtoul with an end pointer:
// strtoumax(s, &end, 0) after leading white space, refusing a minus sign, a
// string without digits and overflow. It returns the value and the rest of
// the string after the digits.
func StrtoulX(s string) (v uint64, rest string, ok bool) {
	i := 0
	for i < len(s) && isSpaceC(s[i]) {
		i++
	}
	if i < len(s) && s[i] == '-' {
		return 0, s, false
	}
	if i < len(s) && s[i] == '+' {
		i++
	}
	base := uint64(10)
	if i+1 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && i+2 < len(s) && isHex(s[i+2]) {
		base = 16
		i += 2
	} else if i < len(s) && s[i] == '0' {
		base = 8
	}
	j := i
	overflow := false
	for j < len(s) && digitOK(s[j], int(base)) {
		d := uint64(markDigitVal(s[j]))
		if v > (^uint64(0)-d)/base {
			overflow = true
		}
		v = v*base + d
		j++
	}
	if j == i || overflow {
		return 0, s, false
	}
	return v, s[j:], true
}

func markDigitVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// ParseOptUint parses the argument of an x6 integer option (XTTYPE_UINT8
// to UINT64) within [min, max], with libxtables' message on failure.
func ParseOptUint(ext, opt, arg string, min, max uint64) (uint64, error) {
	v, rest, ok := StrtoulX(arg)
	if !ok || rest != "" || v < min || v > max {
		return 0, Errorf("%s: bad value for option \"--%s\", or out of range (%d-%d).\n", ext, opt, min, max)
	}
	return v, nil
}

// ParseMarkMask parses VALUE[/MASK] as libxtables' XTTYPE_MARKMASK32 does;
// the mask defaults to 0xffffffff.
func ParseMarkMask(ext, opt, arg string) (mark, mask uint32, err error) {
	bad := Errorf("%s: bad integer value for option \"--%s\", or out of range.\n", ext, opt)
	v, rest, ok := StrtoulX(arg)
	if !ok || v > 0xFFFFFFFF {
		return 0, 0, bad
	}
	mark, mask = uint32(v), 0xFFFFFFFF
	if strings.HasPrefix(rest, "/") {
		m, r, ok := StrtoulX(rest[1:])
		if !ok || m > 0xFFFFFFFF {
			return 0, 0, bad
		}
		mask, rest = uint32(m), r
	}
	if rest != "" {
		return 0, 0, Errorf("%s: trailing garbage after value for option \"--%s\".\n", ext, opt)
	}
	return mark, mask, nil
}

// exclOpt describes one option of an x6 option table for the exclusion
// check: its id and the ids (as a bit set) it cannot be combined with.
type exclOpt struct {
	name string
	id   uint
	excl uint32
}

// checkExclusive is libxtables' xtables_options_fcheck exclusion test:
// options in table order, each against the other given options in id order.
// set holds the ids of the options given.
func checkExclusive(ext string, table []exclOpt, set uint32) error {
	for _, e := range table {
		if set&(1<<e.id) == 0 {
			continue
		}
		for id := uint(0); id < 32; id++ {
			if id == e.id || set&(1<<id) == 0 || e.excl&(1<<id) == 0 {
				continue
			}
			for _, o := range table {
				if o.id == id {
					return Errorf("%s: option \"--%s\" cannot be used together with \"--%s\".\n", ext, e.name, o.name)
				}
			}
		}
	}
	return nil
}

// Match implements pkt.Matcher: iptables-nft 1.8.9 turns the mark match
// into native expressions (meta mark & MASK == MARK, or != when
// inverted), which test exactly what xt_mark's mark_mt does.
func (m *MarkMatch) Match(c *pkt.Ctx) bool {
	return (c.Mark&m.Mask == m.Mark) != m.Inv
}
