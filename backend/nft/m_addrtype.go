package nft

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// addrtype (revision 1), IPv4: addrtype_mt_v1 asks inet_dev_addr_type for
// the address's route type (in the table of the input device with
// --limit-iface-in, of the output device with --limit-iface-out, else the
// main one) and tests it against the type bits. "fib saddr/daddr type"
// (with iif / oif) is that very call (nft_fib4_eval_type), and the bits
// become a lookup of the type in an anonymous set (a cmp for one type),
// inverted by "!".
//
// IPv6 is refused: addrtype_mt6 is not a route-type lookup (it requires
// every named class, from ipv6_addr_type and an rt6 lookup), which
// nft's fib6 type does not reproduce.
func init() {
	registerMatch("addrtype", func(x *xlate, m ruleset.Match) ([]expr.Any, error) {
		a := m.(*xt.AddrType)
		if x.Fam != ruleset.IPv4 {
			return nil, fmt.Errorf("extension \"-m addrtype\" in an IPv6 ruleset not supported (addrtype_mt6 differs from fib type)")
		}
		var ex []expr.Any
		for _, side := range []struct {
			mask uint16
			inv  bool
			dst  bool
		}{{a.Src, a.InvSrc, false}, {a.Dst, a.InvDst, true}} {
			if side.mask == 0 {
				continue
			}
			ex = append(ex, &expr.Fib{Register: reg, ResultADDRTYPE: true, FlagSADDR: !side.dst, FlagDADDR: side.dst,
				FlagIIF: a.LimitIn, FlagOIF: !a.LimitIn && a.LimitOut})
			var types []uint32
			for t := uint32(0); t < 16; t++ {
				if side.mask&(1<<t) != 0 {
					types = append(types, t)
				}
			}
			if len(types) == 1 {
				ex = append(ex, cmp(side.inv, le32(types[0])))
				continue
			}
			var elems []nftables.SetElement
			for _, t := range types {
				elems = append(elems, nftables.SetElement{Key: le32(t)})
			}
			s := &nftables.Set{KeyType: nftables.TypeInteger}
			ex = append(ex, x.addAnonSet(s, elems, reg, side.inv))
		}
		return ex, nil
	})
}
