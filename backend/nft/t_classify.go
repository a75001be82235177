package nft

import (
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// The CLASSIFY target as "meta priority set MAJOR:MINOR": classify_tg sets
// skb->priority to the class, and so does the meta statement.
func init() {
	registerTarget("CLASSIFY", func(x *xlate, t ruleset.Target) ([]expr.Any, error) {
		c := t.(*xt.Classify)
		return []expr.Any{
			&expr.Immediate{Register: reg, Data: hostU32(c.Priority)},
			&expr.Meta{Key: expr.MetaKeyPRIORITY, SourceRegister: true, Register: reg},
		}, nil
	})
}
