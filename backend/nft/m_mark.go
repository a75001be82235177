package nft

import (
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// markExprs compares a 32-bit mark loaded into reg by load as iptables-nft
// encodes -m mark: "& MASK" only when the mask is not all ones, then == or
// != the value (host byte order, as meta and ct keep it).
func markExprs(load expr.Any, mark, mask uint32, inv bool) []expr.Any {
	ex := []expr.Any{load}
	if mask != 0xffffffff {
		ex = append(ex, &expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 4, Mask: le32(mask), Xor: le32(0)})
	}
	return append(ex, cmp(inv, le32(mark)))
}

// mark: iptables-nft 1.8.9 encodes -m mark natively (meta mark), which
// tests exactly what xt_mark does; this is the same encoding.
func init() {
	registerMatch("mark", func(_ *xlate, m ruleset.Match) ([]expr.Any, error) {
		mm := m.(*xt.MarkMatch)
		return markExprs(&expr.Meta{Key: expr.MetaKeyMARK, Register: reg}, mm.Mark, mm.Mask, mm.Inv), nil
	})
}
