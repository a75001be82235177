package ruleset

// Family is an address family: IPv4 (iptables) or IPv6 (ip6tables).
type Family uint8

const (
	// IPv4 is the iptables family.
	IPv4 Family = 4
	// IPv6 is the ip6tables family.
	IPv6 Family = 6
)

// String returns "ipv4" or "ipv6".
func (f Family) String() string {
	if f == IPv6 {
		return "ipv6"
	}
	return "ipv4"
}

// Tool returns the name of the iptables tool for the family.
func (f Family) Tool() string {
	if f == IPv6 {
		return "ip6tables"
	}
	return "iptables"
}

// AddrBits is the address width in bits.
func (f Family) AddrBits() int {
	if f == IPv6 {
		return 128
	}
	return 32
}
