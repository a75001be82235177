package nft

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// arphrdEther is ARPHRD_ETHER.
const arphrdEther = 1

// metaKeySDIF is NFT_META_SDIF (google/nftables v0.3.0 has no name for it).
const metaKeySDIF expr.MetaKey = 33

// mac: xt_mac never matches (inverted or not) unless the input device is
// Ethernet and the frame has its MAC header; then it compares the Ethernet
// source. So: meta iiftype == ether (breaks without an input device),
// then the link-layer payload at 6, 6 bytes (breaks without a MAC header).
// The kernel takes xt_mac only in chains reached from PREROUTING, INPUT
// and FORWARD (iptables-restore fails otherwise). A "meta sdif" load
// first, whose result nothing reads, makes the kernel check the same: it
// refuses the batch when the rule can be reached from OUTPUT or
// POSTROUTING (nft_meta_get_validate_sdif), also through user chains.
func init() {
	registerMatch("mac", func(_ *xlate, m ruleset.Match) ([]expr.Any, error) {
		mm := m.(*xt.MAC)
		if len(mm.Addr) != 6 {
			return nil, fmt.Errorf("extension \"-m mac\": address of %d bytes", len(mm.Addr))
		}
		return []expr.Any{
			&expr.Meta{Key: metaKeySDIF, Register: reg},
			&expr.Meta{Key: expr.MetaKeyIIFTYPE, Register: reg},
			cmp(false, binary.NativeEndian.AppendUint16(nil, arphrdEther)),
			load(expr.PayloadBaseLLHeader, 6, 6),
			cmp(mm.Invert, []byte(mm.Addr)),
		}, nil
	})
}
