package nft

import (
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// iprange: each given range is a range comparison of the source or
// destination address (big-endian bytes compare as iprange_mt4's host
// order numbers and iprange_mt6's word-wise compare do), != when inverted.
func init() {
	registerMatch("iprange", func(x *xlate, m ruleset.Match) ([]expr.Any, error) {
		r := m.(*xt.IPRange)
		srcOff, dstOff, n := uint32(12), uint32(16), uint32(4)
		if x.Fam == ruleset.IPv6 {
			srcOff, dstOff, n = 8, 24, 16
		}
		var ex []expr.Any
		if r.Src {
			ex = append(ex, load(expr.PayloadBaseNetworkHeader, srcOff, n))
			ex = append(ex, rangeExprs(r.SrcMin.AsSlice(), r.SrcMax.AsSlice(), r.InvSrc)...)
		}
		if r.Dst {
			ex = append(ex, load(expr.PayloadBaseNetworkHeader, dstOff, n))
			ex = append(ex, rangeExprs(r.DstMin.AsSlice(), r.DstMax.AsSlice(), r.InvDst)...)
		}
		return ex, nil
	})
}
