package nft

import (
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// The DSCP target as "ip dscp set" / "ip6 dscp set": the six DSCP bits of
// the TOS byte or traffic class become Value and the ECN bits stay, as
// dscp_tg(6)'s ipv4/ipv6_change_dsfield(0x03, Value << 2) do (the IPv4
// header checksum updated). The xt target writes only when the DSCP
// differs; writing the same value changes nothing.
func init() {
	registerTarget("DSCP", func(x *xlate, t ruleset.Target) ([]expr.Any, error) {
		d := t.(*xt.DSCPTarget)
		if x.Fam == ruleset.IPv6 {
			// Version (4 bits), traffic class (8), flow label (4 of 20):
			// the DSCP is bits 6-11 of the first 16-bit word.
			v := uint16(d.Value&0x3f) << 6
			return dsWrite(0, []byte{0xf0, 0x3f}, []byte{byte(v >> 8), byte(v)}, false), nil
		}
		return dsWrite(0, []byte{0xff, 0x03}, []byte{0, d.Value << 2}, true), nil
	})
}
