package nft

import (
	"fmt"

	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// The MASQUERADE target as a masq expression: nft_masq_eval and
// masquerade_tg(6) both call nf_nat_masquerade_ipv4/ipv6 with the output
// interface, the ports and the flags. google/nftables sends either the
// flags or the port registers, never both: --to-ports with --random or
// --random-fully is refused, as is a port offset.
func init() {
	registerTarget("MASQUERADE", func(x *xlate, t ruleset.Target) ([]expr.Any, error) {
		m := t.(*xt.Masquerade)
		r := &m.Range
		if m.Family != x.Fam {
			return nil, fmt.Errorf("target MASQUERADE of family %s in a %s ruleset", m.Family, x.Fam)
		}
		if r.Flags&xt.NATProtoOffset != 0 {
			return nil, fmt.Errorf("target MASQUERADE with a port offset (/BASE) not supported")
		}
		e := &expr.Masq{
			Random:      r.Flags&xt.NATProtoRandom != 0,
			FullyRandom: r.Flags&xt.NATProtoRandomFull != 0,
			Persistent:  r.Flags&xt.NATPersistent != 0,
		}
		px, lo, hi := natPorts(r)
		if lo != 0 {
			if e.Random || e.FullyRandom || e.Persistent {
				return nil, fmt.Errorf("target MASQUERADE with --to-ports and --random/--random-fully not supported")
			}
			e.ToPorts, e.RegProtoMin, e.RegProtoMax = true, lo, hi
		}
		return append(px, e), nil
	})
}
