package iptext

import (
	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// chainProtos is iptables' built-in protocol name table (xtables_chain_protos).
var chainProtos = []struct {
	name string
	num  uint8
}{
	{"tcp", 6}, {"sctp", 132}, {"udp", 17}, {"udplite", 136}, {"icmp", 1},
	{"icmpv6", 58}, {"ipv6-icmp", 58}, {"esp", 50}, {"ah", 51}, {"ipv6-mh", 135},
	{"mh", 135}, {"all", 0},
}

// ParseProtocol parses a -p argument: a number 0-255, "all", a name from
// /etc/protocols, or one of iptables' built-in names.
func ParseProtocol(idx int, s string) (uint8, error) {
	if v, ok := xt.ParseUint(s, 0, 255); ok {
		return uint8(v), nil
	}
	if s == "all" {
		return 0, nil
	}
	if n, ok := xt.ProtocolByName(s); ok {
		return n, nil
	}
	for _, p := range chainProtos {
		if p.name == s {
			return p.num, nil
		}
	}
	e := perr(idx, "unknown protocol \"%s\" specified", s)
	e.Token = s
	return 0, e
}

// ProtoName is iptables' proto_to_name with lookups off: the built-in name
// of a protocol number, or "" when it has none.
func ProtoName(n uint8, _ ruleset.Family) string {
	for _, p := range chainProtos {
		if p.num == n {
			return p.name
		}
	}
	return ""
}

// protoNameLookup is proto_to_name with lookups on (/etc/protocols first).
func protoNameLookup(n uint8) string {
	if n != 0 {
		if s, ok := xt.ProtocolName(n); ok {
			return s
		}
	}
	return ProtoName(n, 0)
}
