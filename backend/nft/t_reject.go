package nft

import (
	"fmt"

	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// nf_tables reject types (enum nft_reject_types).
const (
	nftRejectICMPUnreach = 0 // NFT_REJECT_ICMP_UNREACH: the family's ICMP code
	nftRejectTCPRst      = 1 // NFT_REJECT_TCP_RST
)

// rejectCodes4 maps ipt_REJECT's reject types to the ICMP destination
// unreachable code reject_tg passes to nf_send_unreach.
var rejectCodes4 = map[uint8]uint8{
	xt.RejectNetUnreachable:   0,  // ICMP_NET_UNREACH
	xt.RejectHostUnreachable:  1,  // ICMP_HOST_UNREACH
	xt.RejectProtoUnreachable: 2,  // ICMP_PROT_UNREACH
	xt.RejectPortUnreachable:  3,  // ICMP_PORT_UNREACH
	xt.RejectNetProhibited:    9,  // ICMP_NET_ANO
	xt.RejectHostProhibited:   10, // ICMP_HOST_ANO
	xt.RejectAdminProhibited:  13, // ICMP_PKT_FILTERED
}

// rejectCodes6 maps ip6t_REJECT's reject types to the ICMPv6 destination
// unreachable code reject_tg6 passes to nf_send_unreach6.
var rejectCodes6 = map[uint8]uint8{
	xt.Reject6NoRoute:       0, // ICMPV6_NOROUTE
	xt.Reject6AdmProhibited: 1, // ICMPV6_ADM_PROHIBITED
	xt.Reject6NotNeighbour:  2, // ICMPV6_NOT_NEIGHBOUR
	xt.Reject6AddrUnreach:   3, // ICMPV6_ADDR_UNREACH
	xt.Reject6PortUnreach:   4, // ICMPV6_PORT_UNREACH
	xt.Reject6PolicyFail:    5, // ICMPV6_POLICY_FAIL
	xt.Reject6RejectRoute:   6, // ICMPV6_REJECT_ROUTE
}

// The REJECT target as the ip/ip6 family's reject expression: the family's
// ICMP type with the code reject_tg(6) sends (nft_reject_ipv4/ipv6_eval
// call the same nf_send_unreach(6) with it), or a TCP reset
// (nf_send_reset(6), which itself sends nothing for a packet that is not
// TCP). The expression's verdict is NF_DROP, as the target's. The ICMPx
// (inet) types are not used: they exist for the inet family's mixed
// tables. The echo-reply types drop without a reply in the xt target;
// iptables never makes them (the kernel refuses them), and here they are a
// plain drop. The kernel restricts the expression to the input, forward
// and output hooks (and prerouting), the xt target to the filter table's
// INPUT, FORWARD and OUTPUT chains, which the model's parser already
// enforces, with iptables' -p tcp requirement of tcp-reset.
func init() {
	registerTarget("REJECT", func(x *xlate, t ruleset.Target) ([]expr.Any, error) {
		r := t.(*xt.Reject)
		if r.Family != x.Fam {
			return nil, fmt.Errorf("target REJECT of family %s in a %s ruleset", r.Family, x.Fam)
		}
		reset, echo, codes := xt.RejectTCPReset, xt.RejectEchoReply, rejectCodes4
		if r.Family == ruleset.IPv6 {
			reset, echo, codes = xt.Reject6TCPReset, xt.Reject6EchoReply, rejectCodes6
		}
		switch r.With {
		case reset:
			return []expr.Any{&expr.Reject{Type: nftRejectTCPRst}}, nil
		case echo:
			return []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}, nil
		}
		code, ok := codes[r.With]
		if !ok {
			return nil, fmt.Errorf("target REJECT --reject-with %s not supported", r.WithName())
		}
		return []expr.Any{&expr.Reject{Type: nftRejectICMPUnreach, Code: code}}, nil
	})
}
