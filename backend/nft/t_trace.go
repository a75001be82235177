package nft

import (
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
)

// The TRACE target as iptables-nft makes it, "meta nftrace set 1": like
// xt_TRACE it sets skb->nf_trace, and the rule goes on.
func init() {
	registerTarget("TRACE", func(*xlate, ruleset.Target) ([]expr.Any, error) {
		return []expr.Any{
			&expr.Immediate{Register: reg, Data: []byte{1}},
			&expr.Meta{Key: expr.MetaKeyNFTRACE, SourceRegister: true, Register: reg},
		}, nil
	})
}
