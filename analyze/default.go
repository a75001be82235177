package analyze

import _ "embed"

// DefaultRules is the embedded default ruleset `rampart check` examines
// when the system has no rules file: a secure IPv4 web-server firewall
// (loopback, established, rate-limited ping, SSH/HTTP/HTTPS in, DNS/NTP
// and HTTP(S) out, everything else dropped).
//
//go:embed default.rules
var DefaultRules []byte

// DefaultRulesName is the name findings on DefaultRules carry.
const DefaultRulesName = "(embedded default)"

// DefaultRules6 is the IPv6 half of the embedded default, checked with
// DefaultRules: the same web-server firewall, plus the ICMPv6 that IPv6
// cannot work without (neighbor discovery, router advertisements, packet
// too big and the other errors).
//
//go:embed default6.rules
var DefaultRules6 []byte

// DefaultRules6Name is the name findings on DefaultRules6 carry.
const DefaultRules6Name = "(embedded default, IPv6)"
