package xt

import (
	"strings"

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
