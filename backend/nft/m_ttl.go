package nft

import (
	"fmt"

	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// ttlExprs compares the one-byte field at off of the network header (IPv4
// ttl, IPv6 hop limit) as xt_ttl / xt_hl do: ==, !=, < or >.
func ttlExprs(off uint32, mode, v uint8) ([]expr.Any, error) {
	ops := map[uint8]expr.CmpOp{xt.TTLEq: expr.CmpOpEq, xt.TTLNe: expr.CmpOpNeq, xt.TTLLt: expr.CmpOpLt, xt.TTLGt: expr.CmpOpGt}
	op, ok := ops[mode]
	if !ok {
		return nil, fmt.Errorf("unknown comparison mode %d", mode)
	}
	return []expr.Any{load(expr.PayloadBaseNetworkHeader, off, 1), &expr.Cmp{Op: op, Register: reg, Data: []byte{v}}}, nil
}

// ttl (IPv4 ttl, byte 8) and hl (IPv6 hop limit, byte 7).
func init() {
	registerMatch("ttl", func(x *xlate, m ruleset.Match) ([]expr.Any, error) {
		t := m.(*xt.TTL)
		if x.Fam != ruleset.IPv4 {
			return nil, fmt.Errorf("extension \"-m ttl\" in an IPv6 ruleset")
		}
		return ttlExprs(8, t.Mode, t.Value)
	})
	registerMatch("hl", func(x *xlate, m ruleset.Match) ([]expr.Any, error) {
		h := m.(*xt.HL)
		if x.Fam != ruleset.IPv6 {
			return nil, fmt.Errorf("extension \"-m hl\" in an IPv4 ruleset")
		}
		return ttlExprs(7, h.Mode, h.Value)
	})
}
