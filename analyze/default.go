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
