package nft

import (
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// The TOS target: the TOS byte (IPv4, with the header checksum) or the
// traffic class (IPv6) becomes (old AND NOT Mask) XOR Value, as tos_tg(6)
// computes it; the xt target writes only when it changes, and writing the
// same value changes nothing.
func init() {
	registerTarget("TOS", func(x *xlate, t ruleset.Target) ([]expr.Any, error) {
		s := t.(*xt.TOSTarget)
		if x.Fam == ruleset.IPv6 {
			m := ^(uint16(s.Mask) << 4)
			v := uint16(s.Value) << 4
			return dsWrite(0, []byte{byte(m >> 8), byte(m)}, []byte{byte(v >> 8), byte(v)}, false), nil
		}
		return dsWrite(0, []byte{0xff, ^s.Mask}, []byte{0, s.Value}, true), nil
	})
}
