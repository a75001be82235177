package nft

import (
	"fmt"

	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// dsWrite rewrites n bytes of the network header at off as (old AND mask)
// XOR xor, with the IPv4 header checksum (at offset 10) updated when csum
// is set, as nft(8) writes header fields: a checksummed field is widened
// to the 16-bit word holding it, so that the incremental checksum update
// is exact.
func dsWrite(off uint32, mask, xor []byte, csum bool) []expr.Any {
	n := uint32(len(mask))
	w := &expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: reg,
		Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n}
	if csum {
		w.CsumType, w.CsumOffset = expr.CsumTypeInet, 10
	}
	return []expr.Any{
		load(expr.PayloadBaseNetworkHeader, off, n),
		&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: n, Mask: mask, Xor: xor},
		w,
	}
}

// The TTL and HL targets with --ttl-set/--hl-set as "ip ttl set N" (the
// TTL with the protocol byte, and the header checksum, as ttl_tg's
// csum_replace2) and "ip6 hoplimit set N". The increments and decrements
// saturate at 255 and 0 in the xt target; nf_tables has no saturating
// arithmetic, so they are refused.
func ttlTarget(x *xlate, t ruleset.Target) ([]expr.Any, error) {
	tt := t.(*xt.TTLTarget)
	if tt.Mode != xt.TTLSet {
		return nil, fmt.Errorf("target %s increment or decrement not supported (nf_tables cannot saturate at 0 and 255)", tt.Name())
	}
	if tt.HL {
		return []expr.Any{
			&expr.Immediate{Register: reg, Data: []byte{tt.Value}},
			&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: reg,
				Base: expr.PayloadBaseNetworkHeader, Offset: 7, Len: 1},
		}, nil
	}
	return dsWrite(8, []byte{0, 0xff}, []byte{tt.Value, 0}, true), nil
}

func init() {
	registerTarget("TTL", ttlTarget)
	registerTarget("HL", ttlTarget)
}
