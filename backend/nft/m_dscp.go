package nft

import (
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// tosExprs compares the IPv4 TOS byte or the IPv6 traffic class, masked
// with mask, with v: IPv4's is byte 1; IPv6's straddles bytes 0 and 1
// (bits 4..11 of the first 16), so both are shifted by 4 there.
func tosExprs(f ruleset.Family, mask, v uint8, inv bool) []expr.Any {
	if f == ruleset.IPv6 {
		return []expr.Any{
			load(expr.PayloadBaseNetworkHeader, 0, 2),
			&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 2, Mask: be16(uint16(mask) << 4), Xor: []byte{0, 0}},
			cmp(inv, be16(uint16(v)<<4)),
		}
	}
	return []expr.Any{
		load(expr.PayloadBaseNetworkHeader, 1, 1),
		&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 1, Mask: []byte{mask}, Xor: []byte{0}},
		cmp(inv, []byte{v}),
	}
}

// dscp: the upper six bits of the TOS byte / traffic class.
func init() {
	registerMatch("dscp", func(x *xlate, m ruleset.Match) ([]expr.Any, error) {
		d := m.(*xt.DSCP)
		return tosExprs(x.Fam, 0xfc, d.Value<<2, d.Invert), nil
	})
}
