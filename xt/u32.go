package xt

import (
	"encoding/binary"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// u32 operators between location numbers (xt_u32's XT_U32_*).
const (
	U32And uint8 = iota // &
	U32Shl              // <<
	U32Shr              // >>
	U32At               // @
)

// u32Max is XT_U32_MAXSIZE: at most this many tests, location numbers per
// test and value ranges per test.
const u32Max = 10

// U32Loc is one number of a location and the operator before it (ignored
// for the first).
type U32Loc struct {
	Op  uint8
	Num uint32
}

// U32Range is an inclusive value range.
type U32Range struct{ Min, Max uint32 }

// U32Test is one "location=values" test.
type U32Test struct {
	Loc    []U32Loc
	Values []U32Range
}

// U32 is the u32 match (-m u32 [!] --u32 TESTS): all tests must hold.
type U32 struct {
	Tests  []U32Test
	Invert bool
	set    bool
}

func init() {
	Register(&Def{Name: "u32", New: func() Parser { return &U32{} },
		Options: []Option{{Name: "u32", Arg: ReqArg, Invert: true}}})
}

// Name implements ruleset.Extension.
func (m *U32) Name() string { return "u32" }

// u32Number is libxt_u32's parse_number: xtables_strtoui base 0 with an
// end pointer.
func u32Number(s string, pos int) (uint32, string, error) {
	v, rest, ok := StrtoulX(s)
	if !ok || v > 0xFFFFFFFF {
		return 0, s, Errorf("u32: at char %d: not a number or out of range", pos)
	}
	return uint32(v), rest, nil
}

// Parse implements Parser, following u32_parse character by character.
func (m *U32) Parse(_ *Context, _, arg string, inv bool) error {
	var tests []U32Test
	var cur U32Test
	s := arg
	pos := func() int { return len(arg) - len(s) }
	state := 0
	for {
		for s != "" && isSpaceC(s[0]) {
			s = s[1:]
		}
		if s == "" {
			if state == 0 {
				return Errorf("u32: abrupt end of input after location specifier")
			}
			if len(cur.Values) == 0 {
				return Errorf("u32: test ended with no value specified")
			}
			tests = append(tests, cur)
			if len(tests) > u32Max {
				return Errorf("u32: at char %d: too many \"&&\"s", pos())
			}
			m.Tests, m.Invert, m.set = tests, inv, true
			return nil
		}
		if state == 0 {
			if s[0] == '=' {
				if len(cur.Loc) == 0 {
					return Errorf("u32: at char %d: location spec missing", pos())
				}
				s = s[1:]
				state = 1
				continue
			}
			var op uint8
			if len(cur.Loc) != 0 {
				switch s[0] {
				case '&':
					op = U32And
				case '<':
					s = s[1:]
					if s == "" || s[0] != '<' {
						return Errorf("u32: at char %d: a second '<' was expected", pos())
					}
					op = U32Shl
				case '>':
					s = s[1:]
					if s == "" || s[0] != '>' {
						return Errorf("u32: at char %d: a second '>' was expected", pos())
					}
					op = U32Shr
				case '@':
					op = U32At
				default:
					return Errorf("u32: at char %d: operator expected", pos())
				}
				s = s[1:]
			}
			n, rest, err := u32Number(s, pos())
			if err != nil {
				return err
			}
			s = rest
			cur.Loc = append(cur.Loc, U32Loc{op, n})
			if len(cur.Loc) > u32Max {
				return Errorf("u32: at char %d: too many operators", pos())
			}
			continue
		}
		if s[0] == '&' {
			s = s[1:]
			if s == "" || s[0] != '&' {
				return Errorf("u32: at char %d: a second '&' was expected", pos())
			}
			if len(cur.Values) == 0 {
				return Errorf("u32: at char %d: value spec missing", pos())
			}
			tests = append(tests, cur)
			cur = U32Test{}
			if len(tests) > u32Max {
				return Errorf("u32: at char %d: too many \"&&\"s", pos())
			}
			s = s[1:]
			state = 0
			continue
		}
		if len(cur.Values) > 0 {
			if s[0] != ',' {
				return Errorf("u32: at char %d: expected \",\" or \"&&\"", pos())
			}
			s = s[1:]
		}
		lo, rest, err := u32Number(s, pos())
		if err != nil {
			return err
		}
		s = rest
		for s != "" && isSpaceC(s[0]) {
			s = s[1:]
		}
		hi := lo
		if s != "" && s[0] == ':' {
			s = s[1:]
			if hi, rest, err = u32Number(s, pos()); err != nil {
				return err
			}
			s = rest
		}
		cur.Values = append(cur.Values, U32Range{lo, hi})
		if len(cur.Values) > u32Max {
			return Errorf("u32: at char %d: too many \",\"s", pos())
		}
	}
}

// Final implements Parser.
func (m *U32) Final(*Context) (ruleset.Extension, error) {
	if !m.set {
		return nil, Errorf("u32: option \"--u32\" must be specified\n")
	}
	return m, nil
}

func (m *U32) dump(b *strings.Builder) {
	b.WriteString(" \"")
	for i, t := range m.Tests {
		if i > 0 {
			b.WriteString("&&")
		}
		for j, l := range t.Loc {
			if j > 0 {
				b.WriteString([...]string{"&", "<<", ">>", "@"}[l.Op&3])
			}
			b.WriteString(Hex(uint64(l.Num)))
		}
		b.WriteByte('=')
		for j, v := range t.Values {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(Hex(uint64(v.Min)))
			if v.Min != v.Max {
				b.WriteString(":" + Hex(uint64(v.Max)))
			}
		}
	}
	b.WriteByte('"')
}

// Save implements ruleset.Extension.
func (m *U32) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(Bang(m.Invert) + " --u32")
	m.dump(b)
}

// Print implements ruleset.Extension.
func (m *U32) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" u32")
	if m.Invert {
		b.WriteString(" !")
	}
	m.dump(b)
}

// Match implements pkt.Matcher as xt_u32's u32_match_it does on the
// packet from its network header (skb->len is the IP packet's length).
// Shifts by 32 or more use only the low five bits of the count, as the
// x86 shift instructions the kernel's C compiles to do.
func (m *U32) Match(c *pkt.Ctx) bool {
	return u32Eval(m.Tests, c.P.Raw) != m.Invert
}

func u32Eval(tests []U32Test, b []byte) bool {
	n := uint32(len(b))
	for i := range tests {
		t := &tests[i]
		if len(t.Loc) == 0 {
			return false
		}
		var at uint32
		pos := t.Loc[0].Num
		if n < 4 || pos > n-4 {
			return false
		}
		val := binary.BigEndian.Uint32(b[pos:])
		for _, l := range t.Loc[1:] {
			switch l.Op {
			case U32And:
				val &= l.Num
			case U32Shl:
				val <<= l.Num & 31
			case U32Shr:
				val >>= l.Num & 31
			case U32At:
				if at+val < at {
					return false
				}
				at += val
				pos = l.Num
				if at+4 < at || n < at+4 || pos > n-at-4 {
					return false
				}
				val = binary.BigEndian.Uint32(b[at+pos:])
			}
		}
		ok := false
		for _, v := range t.Values {
			if v.Min <= val && val <= v.Max {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
