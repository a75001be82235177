package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// MarkTarget is the MARK target, revision 2: the packet's nfmark becomes
// (nfmark AND NOT Mask) XOR Mark. Every option form (--set-mark,
// --and-mark, ...) is stored as this pair, as the kernel keeps it.
type MarkTarget struct {
	Mark, Mask uint32
	set        uint32 // option ids given (parse time only)
}

// MARK option ids, as libxt_MARK numbers them.
const (
	markOptSet = iota
	markOptAnd
	markOptOr
	markOptXor
	markOptSetX
)

var markExcl = []exclOpt{
	{"set-xmark", markOptSetX, 0x1F}, {"set-mark", markOptSet, 0x1F}, {"and-mark", markOptAnd, 0x1F},
	{"or-mark", markOptOr, 0x1F}, {"xor-mark", markOptXor, 0x1F},
}

func init() {
	Register(&Def{Name: "MARK", Target: true, New: func() Parser { return &MarkTarget{} },
		Options: []Option{
			{Name: "set-xmark", Arg: ReqArg}, {Name: "set-mark", Arg: ReqArg},
			{Name: "and-mark", Arg: ReqArg}, {Name: "or-mark", Arg: ReqArg},
			{Name: "xor-mark", Arg: ReqArg},
		}})
}

// Name implements ruleset.Extension.
func (t *MarkTarget) Name() string { return "MARK" }

// Parse implements Parser.
func (t *MarkTarget) Parse(_ *Context, opt, arg string, _ bool) error {
	switch opt {
	case "set-xmark", "set-mark":
		mark, mask, err := ParseMarkMask("MARK", opt, arg)
		if err != nil {
			return err
		}
		if opt == "set-xmark" {
			t.Mark, t.Mask = mark, mask
			t.set |= 1 << markOptSetX
		} else {
			t.Mark, t.Mask = mark, mark|mask
			t.set |= 1 << markOptSet
		}
		return nil
	}
	v, err := ParseOptUint("MARK", opt, arg, 0, 0xFFFFFFFF)
	if err != nil {
		return err
	}
	u := uint32(v)
	switch opt {
	case "and-mark":
		t.Mark, t.Mask = 0, ^u
		t.set |= 1 << markOptAnd
	case "or-mark":
		t.Mark, t.Mask = u, u
		t.set |= 1 << markOptOr
	case "xor-mark":
		t.Mark, t.Mask = u, 0
		t.set |= 1 << markOptXor
	}
	return nil
}

// Final implements Parser.
func (t *MarkTarget) Final(*Context) (ruleset.Extension, error) {
	if t.set == 0 {
		return nil, Errorf("MARK: One of the --set-xmark, --{and,or,xor,set}-mark options is required")
	}
	if err := checkExclusive("MARK", markExcl, t.set); err != nil {
		return nil, err
	}
	t.set = 0
	return t, nil
}

// Save implements ruleset.Extension.
func (t *MarkTarget) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" --set-xmark " + Hex(uint64(t.Mark)) + "/" + Hex(uint64(t.Mask)))
}

// Print implements ruleset.Extension.
func (t *MarkTarget) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" MARK " + markOpString(t.Mark, t.Mask))
}

// markOpString names a (mark, mask) pair as the MARK and CONNMARK targets
// list it: "and 0x..", "or 0x..", "xor 0x..", "set 0x.." or "xset 0x../0x..".
func markOpString(mark, mask uint32) string {
	switch {
	case mark == 0:
		return "and " + Hex(uint64(^mask))
	case mark == mask:
		return "or " + Hex(uint64(mark))
	case mask == 0:
		return "xor " + Hex(uint64(mark))
	case mask == 0xFFFFFFFF:
		return "set " + Hex(uint64(mark))
	}
	return "xset " + Hex(uint64(mark)) + "/" + Hex(uint64(mask))
}

// Act implements pkt.Actor as xt_mark's mark_tg does: nfmark becomes
// (nfmark AND NOT Mask) XOR Mark; the rule goes on.
func (t *MarkTarget) Act(c *pkt.Ctx) pkt.Verdict {
	c.Mark = (c.Mark &^ t.Mask) ^ t.Mark
	return pkt.Continue
}
