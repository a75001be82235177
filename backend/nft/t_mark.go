package nft

import (
	"encoding/binary"

	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// hostU32 is a 32-bit value as the kernel keeps it in a register when it
// loads a host-order field (meta mark, ct mark, meta priority).
func hostU32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// markSet computes (old AND NOT mask) XOR mark in reg from load, and
// stores it with store: a mask of all ones needs no load.
func markSet(load, store expr.Any, mark, mask uint32) []expr.Any {
	if mask == 0xFFFFFFFF {
		return []expr.Any{&expr.Immediate{Register: reg, Data: hostU32(mark)}, store}
	}
	return []expr.Any{load,
		&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 4, Mask: hostU32(^mask), Xor: hostU32(mark)},
		store}
}

// The MARK target as "meta mark set meta mark and ~MASK xor MARK": mark_tg
// computes the same (skb->mark & ~mask) ^ mark, and both go on.
func init() {
	registerTarget("MARK", func(x *xlate, t ruleset.Target) ([]expr.Any, error) {
		m := t.(*xt.MarkTarget)
		return markSet(&expr.Meta{Key: expr.MetaKeyMARK, Register: reg},
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: reg}, m.Mark, m.Mask), nil
	})
}
