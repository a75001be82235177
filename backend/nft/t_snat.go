package nft

import (
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// The SNAT target as a nat expression of type snat (see natExprs); the
// kernel limits both to the nat table's postrouting and input hooks.
func init() {
	registerTarget("SNAT", func(x *xlate, t ruleset.Target) ([]expr.Any, error) {
		s := t.(*xt.Snat)
		return natExprs(x, "SNAT", expr.NATTypeSourceNAT, s.Family, &s.Range)
	})
}
