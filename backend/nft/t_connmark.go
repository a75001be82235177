package nft

import (
	"fmt"

	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// The CONNMARK target (connmark_tg_shift) with ct mark and meta mark
// expressions. Setting is "ct mark set ct mark and ~CTMASK xor CTMARK".
// Saving is ctmark = (ctmark AND NOT ctmask) XOR (nfmark AND nfmask), and
// restoring nfmark = (nfmark AND NOT nfmask) XOR (ctmark AND ctmask): the
// bitwise expression of google/nftables v0.3.0 combines a register with
// constants only, so they are translated when one side vanishes (the
// destination's mask of all ones: the copied bits alone; the source's mask
// zero: the destination masked), and refused otherwise. Shifts
// (--left-shift-mark/--right-shift-mark) are refused: the shift operations
// of the bitwise expression are not in google/nftables v0.3.0. Like the xt
// target, the ct mark statement does nothing to a packet without a
// conntrack entry; a restore loads the ct mark first, and without an entry
// that load breaks the rule (NFT_BREAK: the next rule, after the rule's
// counter), so the packet mark stays as the target leaves it. (nft_ct_set_eval also skips conntrack templates, which
// xt_connmark would change in the raw table; CONNMARK in the raw table
// after a CT target with a template is the one difference.)
func init() {
	registerTarget("CONNMARK", func(x *xlate, t ruleset.Target) ([]expr.Any, error) {
		c := t.(*xt.ConnmarkTarget)
		if c.ShiftBits != 0 {
			return nil, fmt.Errorf("target CONNMARK with --left-shift-mark/--right-shift-mark not supported")
		}
		ctLoad := &expr.Ct{Key: expr.CtKeyMARK, Register: reg}
		ctStore := &expr.Ct{Key: expr.CtKeyMARK, SourceRegister: true, Register: reg}
		metaLoad := &expr.Meta{Key: expr.MetaKeyMARK, Register: reg}
		metaStore := &expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: reg}
		switch c.Mode {
		case xt.ConnmarkSet:
			return markSet(ctLoad, ctStore, c.CtMark, c.CtMask), nil
		case xt.ConnmarkSave:
			return copyMark(metaLoad, c.NfMask, ctLoad, ctStore, c.CtMask, "--save-mark")
		case xt.ConnmarkRestore:
			return copyMark(ctLoad, c.CtMask, metaLoad, metaStore, c.NfMask, "--restore-mark")
		}
		return nil, fmt.Errorf("target CONNMARK mode %d not supported", c.Mode)
	})
}

// copyMark is dst = (dst AND NOT dstMask) XOR (src AND srcMask) where one
// of the two operands is a constant.
func copyMark(srcLoad expr.Any, srcMask uint32, dstLoad, dstStore expr.Any, dstMask uint32, opt string) ([]expr.Any, error) {
	and := func(m uint32) []expr.Any {
		if m == 0xFFFFFFFF {
			return nil
		}
		return []expr.Any{&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 4, Mask: hostU32(m), Xor: hostU32(0)}}
	}
	switch {
	case dstMask == 0xFFFFFFFF:
		return append(append([]expr.Any{srcLoad}, and(srcMask)...), dstStore), nil
	case srcMask == 0:
		var ex []expr.Any
		if _, fromCt := srcLoad.(*expr.Ct); fromCt {
			// Without a conntrack entry the target changes nothing: the
			// ct load breaks the rule first.
			ex = append(ex, srcLoad)
		}
		ex = append(ex, dstLoad)
		return append(append(ex, and(^dstMask)...), dstStore), nil
	}
	return nil, fmt.Errorf("target CONNMARK %s with --nfmask 0x%x --ctmask 0x%x not supported (two registers to combine)", opt, srcMask, dstMask)
}
