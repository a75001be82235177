package nft

import (
	"fmt"

	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// The REDIRECT target as a redir expression: nft_redir_eval and
// redirect_tg4/tg6 both call nf_nat_redirect_ipv4/ipv6 with the ports and
// flags (the kernel adds NF_NAT_RANGE_PROTO_SPECIFIED for the port
// registers); both are limited to the nat table's prerouting and output
// hooks.
func init() {
	registerTarget("REDIRECT", func(x *xlate, t ruleset.Target) ([]expr.Any, error) {
		d := t.(*xt.Redirect)
		r := &d.Range
		if d.Family != x.Fam {
			return nil, fmt.Errorf("target REDIRECT of family %s in a %s ruleset", d.Family, x.Fam)
		}
		if r.Flags&xt.NATProtoOffset != 0 {
			return nil, fmt.Errorf("target REDIRECT with a port offset (/BASE) not supported")
		}
		px, lo, hi := natPorts(r)
		e := &expr.Redir{RegisterProtoMin: lo, RegisterProtoMax: hi,
			Flags: uint32(r.Flags & (xt.NATProtoRandom | xt.NATProtoRandomFull | xt.NATPersistent))}
		return append(px, e), nil
	})
}
