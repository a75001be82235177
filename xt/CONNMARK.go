package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// CONNMARK target modes.
const (
	ConnmarkSet     uint8 = iota // ctmark = (ctmark AND NOT CtMask) XOR CtMark
	ConnmarkSave                 // copy nfmark to ctmark through the masks
	ConnmarkRestore              // copy ctmark to nfmark through the masks
)

// ConnmarkTarget is the CONNMARK target, revision 2. Every form of the set
// options (--set-mark, --and-mark, ...) is stored as CtMark/CtMask as the
// kernel keeps it; save and restore use NfMask and CtMask, and the mark
// copied may be shifted ShiftBits to the left or (ShiftRight) the right.
type ConnmarkTarget struct {
	Mode           uint8
	CtMark, CtMask uint32
	NfMask         uint32
	ShiftRight     bool
	ShiftBits      uint8
	set            uint32 // option ids given (parse time only)
}

// CONNMARK option ids, as libxt_CONNMARK numbers them.
const (
	cmOptSetMark = iota
	cmOptSaveMark
	cmOptRestoreMark
	cmOptAndMark
	cmOptOrMark
	cmOptXorMark
	cmOptLShift
	cmOptRShift
	cmOptSetXMark
	cmOptCtMask
	cmOptNfMask
	cmOptMask
)

const cmOpAny = 1<<cmOptSetMark | 1<<cmOptSaveMark | 1<<cmOptRestoreMark | 1<<cmOptAndMark |
	1<<cmOptOrMark | 1<<cmOptXorMark | 1<<cmOptSetXMark

var connmarkExcl = []exclOpt{
	{"set-xmark", cmOptSetXMark, cmOpAny}, {"set-mark", cmOptSetMark, cmOpAny},
	{"and-mark", cmOptAndMark, cmOpAny}, {"or-mark", cmOptOrMark, cmOpAny},
	{"xor-mark", cmOptXorMark, cmOpAny}, {"save-mark", cmOptSaveMark, cmOpAny},
	{"restore-mark", cmOptRestoreMark, cmOpAny}, {"left-shift-mark", cmOptLShift, 0},
	{"right-shift-mark", cmOptRShift, 0}, {"ctmask", cmOptCtMask, 1 << cmOptMask},
	{"nfmask", cmOptNfMask, 1 << cmOptMask}, {"mask", cmOptMask, 1<<cmOptCtMask | 1<<cmOptNfMask},
}

func init() {
	Register(&Def{Name: "CONNMARK", Target: true,
		New: func() Parser { return &ConnmarkTarget{CtMask: 0xFFFFFFFF, NfMask: 0xFFFFFFFF} },
		Options: []Option{
			{Name: "set-xmark", Arg: ReqArg}, {Name: "set-mark", Arg: ReqArg},
			{Name: "and-mark", Arg: ReqArg}, {Name: "or-mark", Arg: ReqArg},
			{Name: "xor-mark", Arg: ReqArg}, {Name: "save-mark"}, {Name: "restore-mark"},
			{Name: "left-shift-mark", Arg: ReqArg}, {Name: "right-shift-mark", Arg: ReqArg},
			{Name: "ctmask", Arg: ReqArg}, {Name: "nfmask", Arg: ReqArg}, {Name: "mask", Arg: ReqArg},
		}})
}

// Name implements ruleset.Extension.
func (t *ConnmarkTarget) Name() string { return "CONNMARK" }

// Parse implements Parser.
func (t *ConnmarkTarget) Parse(_ *Context, opt, arg string, _ bool) error {
	var u uint32
	switch opt {
	case "set-xmark", "set-mark":
		mark, mask, err := ParseMarkMask("CONNMARK", opt, arg)
		if err != nil {
			return err
		}
		t.Mode, t.CtMark = ConnmarkSet, mark
		if opt == "set-xmark" {
			t.CtMask = mask
			t.set |= 1 << cmOptSetXMark
		} else {
			t.CtMask = mark | mask
			t.set |= 1 << cmOptSetMark
		}
		return nil
	case "save-mark":
		t.Mode = ConnmarkSave
		t.set |= 1 << cmOptSaveMark
		return nil
	case "restore-mark":
		t.Mode = ConnmarkRestore
		t.set |= 1 << cmOptRestoreMark
		return nil
	case "left-shift-mark", "right-shift-mark":
		v, err := ParseOptUint("CONNMARK", opt, arg, 0, 32)
		if err != nil {
			return err
		}
		t.ShiftRight, t.ShiftBits = opt == "right-shift-mark", uint8(v)
		if t.ShiftRight {
			t.set |= 1 << cmOptRShift
		} else {
			t.set |= 1 << cmOptLShift
		}
		return nil
	}
	v, err := ParseOptUint("CONNMARK", opt, arg, 0, 0xFFFFFFFF)
	if err != nil {
		return err
	}
	u = uint32(v)
	switch opt {
	case "and-mark":
		t.Mode, t.CtMark, t.CtMask = ConnmarkSet, 0, ^u
		t.set |= 1 << cmOptAndMark
	case "or-mark":
		t.Mode, t.CtMark, t.CtMask = ConnmarkSet, u, u
		t.set |= 1 << cmOptOrMark
	case "xor-mark":
		t.Mode, t.CtMark, t.CtMask = ConnmarkSet, u, 0
		t.set |= 1 << cmOptXorMark
	case "ctmask":
		t.CtMask = u
		t.set |= 1 << cmOptCtMask
	case "nfmask":
		t.NfMask = u
		t.set |= 1 << cmOptNfMask
	case "mask":
		t.CtMask, t.NfMask = u, u
		t.set |= 1 << cmOptMask
	}
	return nil
}

// Final implements Parser.
func (t *ConnmarkTarget) Final(*Context) (ruleset.Extension, error) {
	if t.set&cmOpAny == 0 {
		return nil, Errorf("CONNMARK target: No operation specified")
	}
	if err := checkExclusive("CONNMARK", connmarkExcl, t.set); err != nil {
		return nil, err
	}
	if t.ShiftBits > 31 {
		return nil, KernelInval()
	}
	t.set = 0
	return t, nil
}

func (t *ConnmarkTarget) shiftName() string {
	if t.ShiftRight {
		return "right-shift-mark"
	}
	return "left-shift-mark"
}

// Save implements ruleset.Extension.
func (t *ConnmarkTarget) Save(b *strings.Builder, _ ruleset.Fmt) {
	switch t.Mode {
	case ConnmarkSet:
		b.WriteString(" --set-xmark " + Hex(uint64(t.CtMark)) + "/" + Hex(uint64(t.CtMask)))
	case ConnmarkSave:
		b.WriteString(" --save-mark --nfmask " + Hex(uint64(t.NfMask)) + " --ctmask " + Hex(uint64(t.CtMask)))
	case ConnmarkRestore:
		b.WriteString(" --restore-mark --nfmask " + Hex(uint64(t.NfMask)) + " --ctmask " + Hex(uint64(t.CtMask)))
	}
	if t.ShiftBits != 0 {
		b.WriteString(" --" + t.shiftName() + " " + Utoa(uint64(t.ShiftBits)))
	}
}

// Print implements ruleset.Extension.
func (t *ConnmarkTarget) Print(b *strings.Builder, _ ruleset.Fmt) {
	switch t.Mode {
	case ConnmarkSet:
		b.WriteString(" CONNMARK " + markOpString(t.CtMark, t.CtMask))
	case ConnmarkSave:
		switch {
		case t.NfMask == 0xFFFFFFFF && t.CtMask == 0xFFFFFFFF:
			b.WriteString(" CONNMARK save")
		case t.NfMask == t.CtMask:
			b.WriteString(" CONNMARK save mask " + Hex(uint64(t.NfMask)))
		default:
			b.WriteString(" CONNMARK save nfmask " + Hex(uint64(t.NfMask)) + " ctmask ~" + Hex(uint64(t.CtMask)))
		}
	case ConnmarkRestore:
		switch {
		case t.CtMask == 0xFFFFFFFF && t.NfMask == 0xFFFFFFFF:
			b.WriteString(" CONNMARK restore")
		case t.CtMask == t.NfMask:
			b.WriteString(" CONNMARK restore mask " + Hex(uint64(t.CtMask)))
		default:
			b.WriteString(" CONNMARK restore ctmask " + Hex(uint64(t.CtMask)) + " nfmask ~" + Hex(uint64(t.NfMask)))
		}
	}
	if t.ShiftBits != 0 {
		b.WriteString(" " + t.shiftName() + " " + Utoa(uint64(t.ShiftBits)))
	}
}

// shift moves v by the target's shift (right or left), as
// connmark_tg_shift does (ShiftBits is below 32).
func (t *ConnmarkTarget) shift(v uint32) uint32 {
	if t.ShiftRight {
		return v >> t.ShiftBits
	}
	return v << t.ShiftBits
}

// Act implements pkt.Actor as xt_connmark's connmark_tg_shift does; without
// a conntrack entry it does nothing. Note the kernel's order: in set mode
// the whole new ctmark is shifted, in save and restore mode the copied
// part only.
func (t *ConnmarkTarget) Act(c *pkt.Ctx) pkt.Verdict {
	ct := c.Conn
	if ct == nil {
		return pkt.Continue
	}
	switch t.Mode {
	case ConnmarkSet:
		ct.Mark = t.shift((ct.Mark &^ t.CtMask) ^ t.CtMark)
	case ConnmarkSave:
		ct.Mark = (ct.Mark &^ t.CtMask) ^ t.shift(c.Mark&t.NfMask)
	case ConnmarkRestore:
		c.Mark = (c.Mark &^ t.NfMask) ^ t.shift(ct.Mark&t.CtMask)
	}
	return pkt.Continue
}
