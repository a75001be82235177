package xt

import (
	"net/netip"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Address type bits (1 << RTN_*), as the addrtype match uses them.
const (
	AddrUnspec      uint16 = 1 << 0
	AddrUnicast     uint16 = 1 << 1
	AddrLocal       uint16 = 1 << 2
	AddrBroadcast   uint16 = 1 << 3
	AddrAnycast     uint16 = 1 << 4
	AddrMulticast   uint16 = 1 << 5
	AddrBlackhole   uint16 = 1 << 6
	AddrUnreachable uint16 = 1 << 7
	AddrProhibit    uint16 = 1 << 8
	AddrThrow       uint16 = 1 << 9
	AddrNAT         uint16 = 1 << 10
	AddrXResolve    uint16 = 1 << 11
)

var rtnNames = []string{"UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST",
	"BLACKHOLE", "UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE"}

// AddrType is the addrtype match, revision 1 (-m addrtype).
type AddrType struct {
	Src, Dst       uint16 // Addr* bits
	InvSrc, InvDst bool
	LimitIn        bool // --limit-iface-in
	LimitOut       bool // --limit-iface-out
}

type addrTypeParser struct {
	m    AddrType
	seen uint8 // 1 src, 2 dst, 4 in, 8 out
}

func init() {
	Register(&Def{Name: "addrtype", New: func() Parser { return &addrTypeParser{} },
		Options: []Option{
			{Name: "src-type", Arg: ReqArg, Invert: true}, {Name: "dst-type", Arg: ReqArg, Invert: true},
			{Name: "limit-iface-in"}, {Name: "limit-iface-out"},
		}})
}

// addrTypeOne matches a type name as parse_type does: the argument may be
// any prefix of a name (case-insensitive), the first name in kernel order
// wins.
func addrTypeOne(name string) (uint16, bool) {
	for i, n := range rtnNames {
		if len(name) <= len(n) && strings.EqualFold(name, n[:len(name)]) {
			return 1 << i, true
		}
	}
	return 0, false
}

// ParseAddrTypes parses a comma-separated list of address types.
func ParseAddrTypes(arg string) (uint16, error) {
	var mask uint16
	for {
		i := strings.IndexByte(arg, ',')
		if i < 0 {
			break
		}
		v, ok := addrTypeOne(arg[:i])
		if i == 0 || !ok {
			return 0, Errorf("addrtype: bad type `%s'", arg)
		}
		mask |= v
		arg = arg[i+1:]
	}
	v, ok := addrTypeOne(arg)
	if arg == "" || !ok {
		return 0, Errorf("addrtype: bad type \"%s\"", arg)
	}
	return mask | v, nil
}

// AddrTypesString lists the types of a mask in kernel order.
func AddrTypesString(mask uint16) string {
	var parts []string
	for i, n := range rtnNames {
		if mask&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, ",")
}

// Parse implements Parser.
func (p *addrTypeParser) Parse(_ *Context, opt, arg string, inv bool) error {
	switch opt {
	case "src-type", "dst-type":
		v, err := ParseAddrTypes(arg)
		if err != nil {
			return err
		}
		if opt == "src-type" {
			p.m.Src |= v
			p.m.InvSrc = p.m.InvSrc || inv
			p.seen |= 1
		} else {
			p.m.Dst |= v
			p.m.InvDst = p.m.InvDst || inv
			p.seen |= 2
		}
	case "limit-iface-in":
		p.m.LimitIn = true
		p.seen |= 4
	case "limit-iface-out":
		p.m.LimitOut = true
		p.seen |= 8
	}
	return nil
}

// Final implements Parser: the extension's checks, then the kernel's
// addrtype_mt_checkentry_v1.
func (p *addrTypeParser) Final(ctx *Context) (ruleset.Extension, error) {
	if p.seen&3 == 0 {
		return nil, Errorf("addrtype: you must specify --src-type or --dst-type")
	}
	if p.seen&12 == 12 {
		return nil, Errorf("addrtype: option \"--limit-iface-in\" cannot be used together with \"--limit-iface-out\".\n")
	}
	m := p.m
	if h, ok := ruleset.HookOf(ctx.Chain); ok {
		if m.LimitOut && (h == ruleset.PreRouting || h == ruleset.LocalIn) {
			return nil, KernelInval()
		}
		if m.LimitIn && (h == ruleset.PostRouting || h == ruleset.LocalOut) {
			return nil, KernelInval()
		}
	}
	if ctx.Family == ruleset.IPv6 {
		t := m.Src | m.Dst
		if t&AddrBlackhole != 0 || t >= AddrProhibit || t&AddrBroadcast != 0 {
			return nil, KernelInval()
		}
	}
	return &m, nil
}

// Name implements ruleset.Extension.
func (m *AddrType) Name() string { return "addrtype" }

// Save implements ruleset.Extension.
func (m *AddrType) Save(b *strings.Builder, _ ruleset.Fmt) {
	if m.Src != 0 {
		b.WriteString(Bang(m.InvSrc) + " --src-type " + AddrTypesString(m.Src))
	}
	if m.Dst != 0 {
		b.WriteString(Bang(m.InvDst) + " --dst-type " + AddrTypesString(m.Dst))
	}
	if m.LimitIn {
		b.WriteString(" --limit-iface-in")
	}
	if m.LimitOut {
		b.WriteString(" --limit-iface-out")
	}
}

// Print implements ruleset.Extension.
func (m *AddrType) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" ADDRTYPE match")
	if m.Src != 0 {
		b.WriteString(" src-type " + BangL(m.InvSrc) + AddrTypesString(m.Src))
	}
	if m.Dst != 0 {
		b.WriteString(" dst-type " + BangL(m.InvDst) + AddrTypesString(m.Dst))
	}
	if m.LimitIn {
		b.WriteString(" limit-in")
	}
	if m.LimitOut {
		b.WriteString(" limit-out")
	}
}

// IPv6 address classes of ipv6_addr_type that addrtype_mt6 looks at.
const (
	ipv6AddrAny       = 0
	ipv6AddrUnicast   = 1
	ipv6AddrMulticast = 2
)

// ipv6AddrType is the part of __ipv6_addr_type that match_type6 uses:
// multicast (ff00::/8), the unspecified address, IPv4-mapped addresses
// (neither unicast nor multicast), and unicast for everything else.
func ipv6AddrType(a netip.Addr) int {
	b := a.As16()
	switch {
	case b[0]&0xe0 != 0 && b[0]&0xe0 != 0xe0:
		return ipv6AddrUnicast
	case b[0] == 0xff:
		return ipv6AddrMulticast
	}
	var hi, w2, w3 uint32
	for i := 0; i < 8; i++ {
		hi |= uint32(b[i])
	}
	w2 = uint32(b[8])<<24 | uint32(b[9])<<16 | uint32(b[10])<<8 | uint32(b[11])
	w3 = uint32(b[12])<<24 | uint32(b[13])<<16 | uint32(b[14])<<8 | uint32(b[15])
	if hi == 0 {
		if w2 == 0 && w3 == 0 {
			return ipv6AddrAny
		}
		if w2 == 0x0000ffff {
			return -1 // IPV6_ADDR_MAPPED
		}
	}
	return ipv6AddrUnicast
}

// addrTypeDev is the device the lookup is limited to (xt_addrtype's dev):
// the input device with --limit-iface-in, the output one with
// --limit-iface-out, else none ("").
func (m *AddrType) addrTypeDev(c *pkt.Ctx) string {
	switch {
	case m.LimitIn:
		return c.In
	case m.LimitOut:
		return c.Out
	}
	return ""
}

// matchType is match_type (IPv4: the address's inet_dev_addr_type is in
// the mask) or match_type6 (IPv6: the class checks of ipv6_addr_type,
// then the route lookup for LOCAL, ANYCAST and UNREACHABLE). ok is false
// when the host's routing is needed and c.AddrType cannot answer.
func (m *AddrType) matchType(c *pkt.Ctx, a netip.Addr, mask uint16) (match, ok bool) {
	dev := m.addrTypeDev(c)
	if a.Is4() {
		if c.AddrType == nil {
			return false, false
		}
		t, ok := c.AddrType(a, dev)
		return ok && mask&t != 0, ok
	}
	at := ipv6AddrType(a)
	if mask&AddrMulticast != 0 && at != ipv6AddrMulticast {
		return false, true
	}
	if mask&AddrUnicast != 0 && at != ipv6AddrUnicast {
		return false, true
	}
	if mask&AddrUnspec != 0 && at != ipv6AddrAny {
		return false, true
	}
	if mask&(AddrLocal|AddrAnycast|AddrUnreachable) == 0 {
		return true, true
	}
	if c.AddrType == nil {
		return false, false
	}
	t, ok := c.AddrType(a, dev)
	return ok && mask&t != 0, ok
}

// Match implements pkt.Matcher as addrtype_mt_v1 (iptables-nft keeps
// addrtype an xt match): the source type, then the destination type, each
// xor its inversion. The host's address classes come from c.AddrType;
// without it the match is undecided when it needs them.
func (m *AddrType) Match(c *pkt.Ctx) bool {
	if m.Src != 0 {
		r, ok := m.matchType(c, c.P.Src, m.Src)
		if !ok {
			return c.Undecide("addrtype: the host's address types are unknown")
		}
		if r == m.InvSrc {
			return false
		}
	}
	if m.Dst != 0 {
		r, ok := m.matchType(c, c.P.Dst, m.Dst)
		if !ok {
			return c.Undecide("addrtype: the host's address types are unknown")
		}
		if r == m.InvDst {
			return false
		}
	}
	return true
}
