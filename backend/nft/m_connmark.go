package nft

import (
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// connmark: ct mark & MASK == MARK (or !=). Like xt_connmark, the ct
// expression finds no mark without a conntrack entry (untracked, or before
// conntrack) and breaks, so the rule does not match, inverted or not.
func init() {
	registerMatch("connmark", func(_ *xlate, m ruleset.Match) ([]expr.Any, error) {
		cm := m.(*xt.ConnmarkMatch)
		return markExprs(&expr.Ct{Key: expr.CtKeyMARK, Register: reg}, cm.Mark, cm.Mask, cm.Inv), nil
	})
}
