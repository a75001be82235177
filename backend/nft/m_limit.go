package nft

import (
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// limit: iptables-nft 1.8.9 encodes -m limit natively (add_nft_limit) as
// a limit expression of type packets, rate per unit as libxt_limit prints
// it, the burst as given (0 already became 5), never inverted (the option
// cannot be). The same expression here gives the kernel's very evaluation.
func init() {
	registerMatch("limit", func(_ *xlate, m ruleset.Match) ([]expr.Any, error) {
		l := m.(*xt.Limit)
		rate, unit := l.NftRate()
		return []expr.Any{&expr.Limit{Type: expr.LimitTypePkts, Rate: rate, Unit: expr.LimitTime(unit), Burst: l.Burst}}, nil
	})
}
