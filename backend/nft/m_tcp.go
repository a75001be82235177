package nft

import (
	"fmt"

	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// tcp and udp matches that iptables-nft leaves to the xt module (the
// native ones, with ports or flags, are translate.go's portExprs).
//
// Without options, tcp_mt and udp_mt match every packet whose transport
// header is there: a non-first fragment does not match, and a packet too
// short for the header (20 bytes for TCP, 8 for UDP) is dropped (hotdrop),
// as is an IPv4 TCP fragment at offset 1. Loading the whole header from
// the transport header breaks on the same packets, so the rule does not
// match them: the drop of those malformed packets is the one difference
// (as for iptables-nft's own native port matches).
//
// --tcp-option is refused: nft's TCP option walk (exthdr) stops one byte
// before the end of the options and refuses an option that runs past
// them, where tcp_find_option finds its kind in either case, and a packet
// whose options are cut short is dropped by xt but matches "! --tcp-option"
// in nft.
func init() {
	registerMatch("tcp", func(_ *xlate, m ruleset.Match) ([]expr.Any, error) {
		t := m.(*xt.TCP)
		if t.Option != 0 || t.InvOption {
			return nil, fmt.Errorf("extension \"-m tcp\" option --tcp-option not supported (nft's option walk differs from tcp_find_option at the end of the options)")
		}
		if !t.Src.Full() || !t.Dst.Full() || t.InvSrc || t.InvDst || t.FlagMask != 0 || t.InvFlags {
			return nil, fmt.Errorf("extension \"-m tcp\": unexpected options for a match without a native encoding")
		}
		return []expr.Any{load(expr.PayloadBaseTransportHeader, 0, 20)}, nil
	})
	registerMatch("udp", func(_ *xlate, m ruleset.Match) ([]expr.Any, error) {
		u := m.(*xt.UDP)
		if !u.Src.Full() || !u.Dst.Full() || u.InvSrc || u.InvDst {
			return nil, fmt.Errorf("extension \"-m udp\": unexpected options for a match without a native encoding")
		}
		return []expr.Any{load(expr.PayloadBaseTransportHeader, 0, 8)}, nil
	})
}
