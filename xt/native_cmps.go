package xt

// NativeCmps returns the payload comparisons the kernel evaluates for a tcp
// match that iptables-nft translates to native expressions, and whether the
// match is such a native one (a match with --tcp-option, or with every option
// at its default, goes through nft_compat instead). Backends that build
// nftables expressions use it to make the kernel evaluate exactly what
// iptables-nft makes it evaluate.
func (m *TCP) NativeCmps() ([]NativeCmp, bool) {
	return m.cmps, m.native
}

// NativeCmps is TCP.NativeCmps for the udp match.
func (m *UDP) NativeCmps() ([]NativeCmp, bool) {
	return m.cmps, m.native
}
