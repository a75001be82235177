package nft

import (
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// tos (revision 1): TOS byte / traffic class & mask == value.
func init() {
	registerMatch("tos", func(x *xlate, m ruleset.Match) ([]expr.Any, error) {
		t := m.(*xt.TOS)
		return tosExprs(x.Fam, t.Mask, t.Value, t.Invert), nil
	})
}
