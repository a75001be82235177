package xt

import (
	"strings"

	"github.com/rampartfw/rampart/ruleset"
)

// Frag flag bits (ip6t_frag.h).
const (
	FragIDs   uint8 = 0x01
	FragLen   uint8 = 0x02
	FragRes   uint8 = 0x04
	FragFirst uint8 = 0x08
	FragMore  uint8 = 0x10
	FragLast  uint8 = 0x20
)

// Frag is the IPv6 frag match: fragment header id range, length and flags.
type Frag struct {
	IDLo, IDHi     uint32
	HdrLen         uint32
	Flags          uint8
	InvIDs, InvLen bool
}

func init() {
	Register(&Def{Name: "frag", Family: ruleset.IPv6, New: func() Parser { return &Frag{IDHi: ^uint32(0)} },
		Options: []Option{
			{Name: "fragid", Arg: ReqArg, Invert: true},
			{Name: "fraglen", Arg: ReqArg, Invert: true},
			{Name: "fragres"}, {Name: "fragfirst"}, {Name: "fragmore"}, {Name: "fraglast"},
		}})
}

// Name implements ruleset.Extension.
func (m *Frag) Name() string { return "frag" }

// xtParseRange32 is the x6 UINT32RC/UINT16RC types: N, N:M, N:, :M or ":"
// (missing parts default to 0 and max), with the x6 error messages. n is
// the number of values given.
func xtParseRange32(ext, opt, arg string, max uint64) (lo, hi uint32, n int, err error) {
	vals := []uint32{0, uint32(max)}
	s := arg
	for {
		if n == 2 {
			return 0, 0, 0, Errorf("%s: Too many components for option \"--%s\" (max: %d)\n", ext, opt, 2)
		}
		var v uint64
		rest := s
		if s == "" || s[0] == ':' {
			if n == 1 {
				v = max
			}
		} else {
			var ok bool
			v, rest, ok = ParseUintPrefix(s)
			if !ok || v > max {
				return 0, 0, 0, Errorf("%s: bad value for option \"--%s\" near \"%s\", or out of range (0-%d).\n", ext, opt, s, max)
			}
			if rest != "" && rest[0] != ':' {
				return 0, 0, 0, Errorf("%s: Argument to \"--%s\" has unexpected characters near \"%s\".\n", ext, opt, rest)
			}
		}
		vals[n] = uint32(v)
		n++
		if rest == "" {
			break
		}
		s = rest[1:]
	}
	return vals[0], vals[1], n, nil
}

// Parse implements Parser.
func (m *Frag) Parse(_ *Context, opt, arg string, inv bool) error {
	switch opt {
	case "fragid":
		lo, hi, n, err := xtParseRange32("frag", opt, arg, 1<<32-1)
		if err != nil {
			return err
		}
		if n == 1 {
			hi = lo
		}
		m.IDLo, m.IDHi, m.InvIDs = lo, hi, inv
		m.Flags |= FragIDs
	case "fraglen":
		v, ok := ParseUint(arg, 0, 1<<32-1)
		if !ok {
			return Errorf("frag: bad value for option \"--fraglen\", or out of range (0-4294967295).\n")
		}
		m.HdrLen, m.InvLen = uint32(v), inv
		m.Flags |= FragLen
	case "fragres":
		m.Flags |= FragRes
	case "fragfirst":
		m.Flags |= FragFirst
	case "fragmore":
		m.Flags |= FragMore
	case "fraglast":
		m.Flags |= FragLast
	}
	return nil
}

// Final implements Parser.
func (m *Frag) Final(*Context) (ruleset.Extension, error) {
	if m.Flags&FragMore != 0 && m.Flags&FragLast != 0 {
		return nil, Errorf("frag: option \"--fragmore\" cannot be used together with \"--fraglast\".\n")
	}
	return m, nil
}

func (m *Frag) flags(b *strings.Builder, save bool) {
	names := []struct {
		bit         uint8
		save, print string
	}{{FragRes, "--fragres", "reserved"}, {FragFirst, "--fragfirst", "first"}, {FragMore, "--fragmore", "more"}, {FragLast, "--fraglast", "last"}}
	for _, n := range names {
		if m.Flags&n.bit != 0 {
			if save {
				b.WriteString(" " + n.save)
			} else {
				b.WriteString(" " + n.print)
			}
		}
	}
}

// Save implements ruleset.Extension.
func (m *Frag) Save(b *strings.Builder, _ ruleset.Fmt) {
	if m.IDLo != 0 || m.IDHi != ^uint32(0) {
		b.WriteString(Bang(m.InvIDs) + " --fragid " + Utoa(uint64(m.IDLo)))
		if m.IDLo != m.IDHi {
			b.WriteString(":" + Utoa(uint64(m.IDHi)))
		}
	}
	if m.Flags&FragLen != 0 {
		b.WriteString(Bang(m.InvLen) + " --fraglen " + Utoa(uint64(m.HdrLen)))
	}
	m.flags(b, true)
}

// Print implements ruleset.Extension.
func (m *Frag) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" frag ")
	if m.IDLo != 0 || m.IDHi != ^uint32(0) || m.InvIDs {
		if m.IDLo == m.IDHi {
			b.WriteString("id:" + BangL(m.InvIDs) + Utoa(uint64(m.IDLo)))
		} else {
			b.WriteString("ids:" + BangL(m.InvIDs) + Utoa(uint64(m.IDLo)) + ":" + Utoa(uint64(m.IDHi)))
		}
	}
	if m.Flags&FragLen != 0 {
		b.WriteString(" length:" + BangL(m.InvLen) + Utoa(uint64(m.HdrLen)))
	}
	m.flags(b, false)
}
