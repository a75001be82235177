package nft

import (
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// length: xt_length compares the IP header's own length field, not the
// skb's length (meta len, which differs for GSO packets on output): IPv4's
// tot_len, or IPv6's payload_len + 40 as a u16 (wrapping). So the
// translation loads that field and compares it with the range moved back
// by 40 for IPv6, a circular interval when the range straddles the wrap.
func init() {
	registerMatch("length", func(x *xlate, m ruleset.Match) ([]expr.Any, error) {
		l := m.(*xt.Length)
		if x.Fam == ruleset.IPv6 {
			ex := []expr.Any{load(expr.PayloadBaseNetworkHeader, 4, 2)}
			return append(ex, circular16(l.Min-40, l.Max-40, l.Invert)...), nil
		}
		ex := []expr.Any{load(expr.PayloadBaseNetworkHeader, 2, 2)}
		return append(ex, circular16(l.Min, l.Max, l.Invert)...), nil
	})
}
