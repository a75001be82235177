package nft

import (
	"fmt"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// Registers of the NAT expressions' operands (16-byte NFT_REG_1..4, so
// that an IPv6 address fits): the lowest and highest address, the lowest
// and highest port.
const (
	regAddrMin  = 1
	regAddrMax  = 2
	regProtoMin = 3
	regProtoMax = 4
)

// natProto is the nat expression's NFTA_NAT_FAMILY of a ruleset family.
func natProto(f ruleset.Family) uint32 {
	if f == ruleset.IPv6 {
		return unix.NFPROTO_IPV6
	}
	return unix.NFPROTO_IPV4
}

// natPorts loads the range's ports (when given) into the port registers
// and returns the registers to name (0: none, as the kernel then takes
// the lowest for the highest).
func natPorts(r *xt.NATRange) (ex []expr.Any, lo, hi uint32) {
	if r.Flags&xt.NATProtoSpecified == 0 {
		return nil, 0, 0
	}
	ex = append(ex, &expr.Immediate{Register: regProtoMin, Data: be16(r.MinPort)})
	lo = regProtoMin
	if r.MaxPort != r.MinPort {
		ex = append(ex, &expr.Immediate{Register: regProtoMax, Data: be16(r.MaxPort)})
		hi = regProtoMax
	}
	return ex, lo, hi
}

// natExprs is the nat expression of an SNAT or DNAT range: nft_nat_eval
// builds the same nf_nat_range2 from the registers (adding
// NF_NAT_RANGE_MAP_IPS and NF_NAT_RANGE_PROTO_SPECIFIED for them) and the
// flags, and calls nf_nat_setup_info, whose result is the verdict, as
// xt_nat's targets do. A /BASE port offset (NF_NAT_RANGE_PROTO_OFFSET)
// cannot be sent: google/nftables has no flag for it, and the
// expression has no base port.
func natExprs(x *xlate, name string, typ expr.NATType, f ruleset.Family, r *xt.NATRange) ([]expr.Any, error) {
	if f != x.Fam {
		return nil, fmt.Errorf("target %s of family %s in a %s ruleset", name, f, x.Fam)
	}
	if r.Flags&xt.NATProtoOffset != 0 {
		return nil, fmt.Errorf("target %s with a port offset (/BASE) not supported", name)
	}
	var ex []expr.Any
	n := &expr.NAT{
		Type:        typ,
		Family:      natProto(f),
		Random:      r.Flags&xt.NATProtoRandom != 0,
		FullyRandom: r.Flags&xt.NATProtoRandomFull != 0,
		Persistent:  r.Flags&xt.NATPersistent != 0,
	}
	if r.Flags&xt.NATMapIPs != 0 {
		ex = append(ex, &expr.Immediate{Register: regAddrMin, Data: r.MinAddr.AsSlice()})
		n.RegAddrMin = regAddrMin
		if r.MaxAddr != r.MinAddr {
			ex = append(ex, &expr.Immediate{Register: regAddrMax, Data: r.MaxAddr.AsSlice()})
			n.RegAddrMax = regAddrMax
		}
	}
	px, lo, hi := natPorts(r)
	ex = append(ex, px...)
	n.RegProtoMin, n.RegProtoMax = lo, hi
	return append(ex, n), nil
}
