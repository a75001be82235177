package nft

import (
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// pkttype: meta pkttype gives what xt_pkttype computes: skb->pkt_type,
// and for a looped-back packet multicast (IPv4 to a multicast address, or
// any IPv6 packet) or else broadcast.
func init() {
	registerMatch("pkttype", func(_ *xlate, m ruleset.Match) ([]expr.Any, error) {
		p := m.(*xt.PktType)
		return []expr.Any{&expr.Meta{Key: expr.MetaKeyPKTTYPE, Register: reg}, cmp(p.Invert, []byte{p.Type})}, nil
	})
}
