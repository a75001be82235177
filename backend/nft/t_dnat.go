package nft

import (
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// The DNAT target as a nat expression of type dnat (see natExprs); the
// kernel limits both to the nat table's prerouting and output hooks.
func init() {
	registerTarget("DNAT", func(x *xlate, t ruleset.Target) ([]expr.Any, error) {
		d := t.(*xt.Dnat)
		return natExprs(x, "DNAT", expr.NATTypeDestNAT, d.Family, &d.Range)
	})
}
