package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// mhNames is libip6t_mh's mobility header type table, in its order
// (aliases after their names).
var mhNames = []struct {
	name string
	typ  uint8
}{
	{"binding-refresh-request", 0}, {"brr", 0},
	{"home-test-init", 1}, {"hoti", 1},
	{"careof-test-init", 2}, {"coti", 2},
	{"home-test", 3}, {"hot", 3},
	{"careof-test", 4}, {"cot", 4},
	{"binding-update", 5}, {"bu", 5},
	{"binding-acknowledgement", 6}, {"ba", 6},
	{"binding-error", 7}, {"be", 7},
}

// MH is the IPv6 mh match: the mobility header type (range).
type MH struct {
	Lo, Hi uint8
	Inv    bool
}

func init() {
	Register(&Def{Name: "mh", Family: ruleset.IPv6, New: func() Parser { return &MH{Hi: 0xFF} },
		Options: []Option{{Name: "mh-type", Arg: ReqArg, Invert: true}}})
}

// Name implements ruleset.Extension.
func (m *MH) Name() string { return "mh" }

// mhType is libip6t_mh's name_to_type: a case-insensitive prefix of a
// name (the first one, unless a later one matches exactly), else a
// number 0-255.
func mhType(s string) (uint8, error) {
	match := -1
	for i, n := range mhNames {
		if len(s) <= len(n.name) && strings.EqualFold(n.name[:len(s)], s) {
			if match < 0 || len(n.name) == len(s) {
				match = i
			}
		}
	}
	if match >= 0 {
		return mhNames[match].typ, nil
	}
	v, rest, ok := StrtoulX(s)
	if !ok || rest != "" || v > 255 {
		return 0, Errorf("Invalid MH type `%s'", s)
	}
	return uint8(v), nil
}

// Parse implements Parser.
func (m *MH) Parse(_ *Context, _, arg string, inv bool) error {
	lo, hi, isRange := strings.Cut(arg, ":")
	var err error
	if !isRange {
		if m.Lo, err = mhType(arg); err != nil {
			return err
		}
		m.Hi = m.Lo
	} else {
		m.Lo, m.Hi = 0, 0xFF
		if lo != "" {
			if m.Lo, err = mhType(lo); err != nil {
				return err
			}
		}
		if hi != "" {
			if m.Hi, err = mhType(hi); err != nil {
				return err
			}
		}
		if m.Lo > m.Hi {
			return Errorf("Invalid MH type range (min > max)")
		}
	}
	m.Inv = inv
	return nil
}

// Final implements Parser.
func (m *MH) Final(ctx *Context) (ruleset.Extension, error) {
	// The kernel's mh match wants -p mobility-header, not inverted.
	if ctx.Rule.Proto != pkt.ProtoMH || ctx.Rule.Inv&ruleset.InvProto != 0 {
		return nil, KernelInval()
	}
	return m, nil
}

// Save implements ruleset.Extension. Like iptables 1.8.9 it writes
// nothing for the full range, even inverted (the lossless form keeps it).
func (m *MH) Save(b *strings.Builder, f ruleset.Fmt) {
	if m.Lo == 0 && m.Hi == 0xFF && !(f.Lossless && m.Inv) {
		return
	}
	b.WriteString(Bang(m.Inv) + " --mh-type " + Utoa(uint64(m.Lo)))
	if m.Lo != m.Hi {
		b.WriteString(":" + Utoa(uint64(m.Hi)))
	}
}

func mhTypeString(t uint8, numeric bool) string {
	if !numeric {
		for _, n := range mhNames {
			if n.typ == t {
				return n.name
			}
		}
	}
	return Utoa(uint64(t))
}

// Print implements ruleset.Extension.
func (m *MH) Print(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(" mh")
	if m.Lo == 0 && m.Hi == 0xFF && !m.Inv {
		return
	}
	b.WriteString(" " + BangL(m.Inv) + mhTypeString(m.Lo, f.Numeric))
	if m.Lo != m.Hi {
		b.WriteString(":" + mhTypeString(m.Hi, f.Numeric))
	}
}

// Match implements pkt.Matcher as ip6t_mh's mh_mt6 does (iptables-nft
// keeps it an xt match): no match on a non-first fragment; the mobility
// header at the transport offset nft_compat passes must be whole (6
// bytes) and carry payload proto IPPROTO_NONE, else the packet is dropped
// (hotdrop); then its type against the range.
func (m *MH) Match(c *pkt.Ctx) bool {
	p := c.P
	if p.Family != ruleset.IPv6 {
		return false
	}
	thoff, fragoff, ok := xtkTHOff(p)
	if !ok || fragoff != 0 {
		return false
	}
	if thoff+6 > len(p.Raw) || p.Raw[thoff] != pkt.ProtoNone {
		c.DropNow = true
		return false
	}
	t := p.Raw[thoff+2]
	return (t >= m.Lo && t <= m.Hi) != m.Inv
}
