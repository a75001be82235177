package nft

import (
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
)

// icmp "! --icmp-type any": icmp_match's type test passes for every type
// and is then inverted, so the match never holds (a non-first fragment
// does not match, a packet too short for the ICMP header is dropped; here
// it does not match). The other icmp matches are translate.go's.
func init() {
	registerMatch("icmp", func(_ *xlate, _ ruleset.Match) ([]expr.Any, error) {
		return append([]expr.Any{load(expr.PayloadBaseTransportHeader, 0, 1)}, never()...), nil
	})
}
