package nft

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// The NETMAP target as a nat expression with NF_NAT_RANGE_NETMAP (nft's
// "snat/dnat prefix to"): nft_nat_setup_netmap merges the packet's address
// with the range exactly as netmap_tg4/tg6 do (the mask is ~(min ^ max),
// here the prefix), and nf_nat_setup_info gets the one address. The xt
// target chooses source or destination by the hook at run time; the
// expression's type is fixed, so NETMAP is translated in the nat table's
// built-in chains only (PREROUTING and OUTPUT: dnat; POSTROUTING and
// INPUT: snat) and refused in user chains.
func init() {
	registerTarget("NETMAP", func(x *xlate, t ruleset.Target) ([]expr.Any, error) {
		n := t.(*xt.Netmap)
		typ := expr.NATTypeDestNAT
		switch x.Chain {
		case "PREROUTING", "OUTPUT":
		case "POSTROUTING", "INPUT":
			typ = expr.NATTypeSourceNAT
		default:
			return nil, fmt.Errorf("target NETMAP in a user chain not supported (the nat type depends on the hook)")
		}
		p := n.To.Masked()
		if p.Addr().Is4() != (x.Fam == ruleset.IPv4) {
			return nil, fmt.Errorf("target NETMAP --to %s in a %s ruleset", n.To, x.Fam)
		}
		last := p.Addr().AsSlice()
		for i := range last {
			if bits := p.Bits() - 8*i; bits < 8 {
				if bits < 0 {
					bits = 0
				}
				last[i] |= byte(0xff >> bits)
			}
		}
		hi, _ := netip.AddrFromSlice(last)
		return []expr.Any{
			&expr.Immediate{Register: regAddrMin, Data: p.Addr().AsSlice()},
			&expr.Immediate{Register: regAddrMax, Data: hi.AsSlice()},
			&expr.NAT{Type: typ, Family: natProto(x.Fam), RegAddrMin: regAddrMin, RegAddrMax: regAddrMax, Prefix: true},
		}, nil
	})
}
