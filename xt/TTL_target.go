package xt

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// TTL/HL target modes (IPT_TTL_* / IP6T_HL_*).
const (
	TTLSet uint8 = iota
	TTLInc
	TTLDec
)

// TTLTarget is the TTL target (IPv4) and, with HL set, the HL target
// (IPv6): set, increment or decrement the TTL / hop limit (-t mangle).
type TTLTarget struct {
	HL    bool
	Mode  uint8
	Value uint8
	seen  map[string]bool
}

func init() {
	Register(&Def{Name: "TTL", Family: ruleset.IPv4, Target: true,
		Options: []Option{{Name: "ttl-set", Arg: ReqArg}, {Name: "ttl-dec", Arg: ReqArg}, {Name: "ttl-inc", Arg: ReqArg}},
		New:     func() Parser { return &TTLTarget{seen: map[string]bool{}} }})
}

func (t *TTLTarget) ext() string {
	if t.HL {
		return "HL"
	}
	return "TTL"
}

func (t *TTLTarget) opt(s string) string {
	if t.HL {
		return "hl-" + s
	}
	return "ttl-" + s
}

// Name implements ruleset.Extension.
func (t *TTLTarget) Name() string { return t.ext() }

// Parse implements Parser.
func (t *TTLTarget) Parse(_ *Context, opt, arg string, _ bool) error {
	t.seen[opt] = true
	min := uint64(1)
	switch opt {
	case t.opt("set"):
		t.Mode, min = TTLSet, 0
	case t.opt("inc"):
		t.Mode = TTLInc
	case t.opt("dec"):
		t.Mode = TTLDec
	}
	v, err := tgUint(t.ext(), opt, arg, min, 255)
	if err != nil {
		return err
	}
	t.Value = uint8(v)
	return nil
}

// Final implements Parser.
func (t *TTLTarget) Final(ctx *Context) (ruleset.Extension, error) {
	order := []string{t.opt("set"), t.opt("dec"), t.opt("inc")}
	excl := map[string][]string{}
	for _, n := range order {
		for _, o := range order {
			if o != n {
				excl[n] = append(excl[n], o)
			}
		}
	}
	if err := tgExcl(t.ext(), order, t.seen, excl); err != nil {
		return nil, err
	}
	if len(t.seen) == 0 {
		return nil, Errorf("%s: You must specify an action", t.ext())
	}
	if err := tgKernelPlace(ctx, "mangle"); err != nil {
		return nil, err
	}
	return t, nil
}

// Save implements ruleset.Extension.
func (t *TTLTarget) Save(b *strings.Builder, _ ruleset.Fmt) {
	op := [...]string{"set", "inc", "dec"}[t.Mode%3]
	b.WriteString(" --" + t.opt(op) + " " + strconv.Itoa(int(t.Value)))
}

// Print implements ruleset.Extension.
func (t *TTLTarget) Print(b *strings.Builder, _ ruleset.Fmt) {
	op := [...]string{"set to", "increment by", "decrement by"}[t.Mode%3]
	b.WriteString(" " + t.ext() + " " + op + " " + strconv.Itoa(int(t.Value)))
}

// Act implements pkt.Actor as xt_HL's ttl_tg (IPv4) and hl_tg6 (IPv6) do:
// the new TTL / hop limit is set, or the old one plus or minus Value
// saturated at 255 and 0; for IPv4 the header checksum is updated
// incrementally (csum_replace2 on the TTL/protocol word), and only when the
// TTL changes. The packet goes on with the next rule.
func (t *TTLTarget) Act(c *pkt.Ctx) pkt.Verdict {
	p := c.P
	var hl int
	switch t.Mode {
	case TTLSet:
		hl = int(t.Value)
	case TTLInc:
		hl = min(int(p.TTL)+int(t.Value), 255)
	case TTLDec:
		hl = max(int(p.TTL)-int(t.Value), 0)
	default:
		hl = int(p.TTL)
	}
	if p.Family == ruleset.IPv6 {
		if len(p.Raw) >= 40 {
			p.Raw[7] = uint8(hl)
		}
		p.TTL = uint8(hl)
		return pkt.Continue
	}
	if uint8(hl) != p.TTL && len(p.Raw) >= 20 {
		old := binary.BigEndian.Uint16(p.Raw[8:10])
		p.Raw[8] = uint8(hl)
		tgCsumReplace2(p.Raw[10:12], old, binary.BigEndian.Uint16(p.Raw[8:10]))
		p.TTL = uint8(hl)
	}
	return pkt.Continue
}

// tgCsumReplace2 is the kernel's csum_replace2 (RFC 1624, eqn. 3): the
// Internet checksum at sum (big-endian) after a 16-bit word of the covered
// data changed from old to new.
func tgCsumReplace2(sum []byte, old, new uint16) {
	tgCsumUpdate(sum, uint32(^old)+uint32(new))
}

// tgCsumUpdate adds the one's complement sum delta to the checksum at sum:
// HC' = ~(~HC + delta).
func tgCsumUpdate(sum []byte, delta uint32) {
	s := uint32(^binary.BigEndian.Uint16(sum)) + delta
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	binary.BigEndian.PutUint16(sum, ^uint16(s))
}
