package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// ipvs option bits (XT_IPVS_*), in libxt_ipvs's option id order.
const (
	IPVSProperty uint8 = 1 << iota
	IPVSProto
	IPVSVAddr
	IPVSVPort
	IPVSDir
	IPVSMethod
	IPVSVPortCtl
	ipvsOnceMask = IPVSProto | IPVSVAddr | IPVSVPort | IPVSDir | IPVSMethod | IPVSVPortCtl
)

// IPVS forwarding methods (IP_VS_CONN_F_*).
const (
	IPVSMasq   uint32 = 0
	IPVSTunnel uint32 = 2
	IPVSDroute uint32 = 3
)

// IPVS is the ipvs match: properties of the IPVS connection a packet
// belongs to.
type IPVS struct {
	Bitmask, Invert uint8
	Proto           uint8
	VAddr           CtAddr
	VPort, VPortCtl uint16
	FwdMethod       uint32
	given           uint8
}

func init() {
	Register(&Def{Name: "ipvs", New: func() Parser { return &IPVS{} },
		Options: []Option{
			{Name: "ipvs", Invert: true},
			{Name: "vproto", Arg: ReqArg, Invert: true},
			{Name: "vaddr", Arg: ReqArg, Invert: true},
			{Name: "vport", Arg: ReqArg, Invert: true},
			{Name: "vdir", Arg: ReqArg},
			{Name: "vmethod", Arg: ReqArg, Invert: true},
			{Name: "vportctl", Arg: ReqArg, Invert: true},
		}})
}

// Name implements ruleset.Extension.
func (m *IPVS) Name() string { return "ipvs" }

func ipvsPort(opt, arg string) (uint16, error) {
	if v, ok := ParseUint(arg, 0, 65535); ok {
		return uint16(v), nil
	}
	if p, ok := ServicePort(arg, "tcp"); ok {
		return p, nil
	}
	if p, ok := ServicePort(arg, "udp"); ok {
		return p, nil
	}
	return 0, Errorf("ipvs: Port \"%s\" does not resolve to anything.\n", arg)
}

// Parse implements Parser (ipvs_mt_parse).
func (m *IPVS) Parse(ctx *Context, opt, arg string, inv bool) error {
	var bit uint8
	switch opt {
	case "ipvs":
		bit = IPVSProperty
	case "vproto":
		p, err := parseProtoXT(arg)
		if err != nil {
			return err
		}
		m.Proto, bit = p, IPVSProto
	case "vaddr":
		a, err := ParseHostMask("ipvs", opt, arg, ctx.Family)
		if err != nil {
			return err
		}
		m.VAddr, bit = a, IPVSVAddr
	case "vport", "vportctl":
		p, err := ipvsPort(opt, arg)
		if err != nil {
			return err
		}
		if opt == "vport" {
			m.VPort, bit = p, IPVSVPort
		} else {
			m.VPortCtl, bit = p, IPVSVPortCtl
		}
	case "vdir":
		switch {
		case strings.EqualFold(arg, "ORIGINAL"):
			m.Invert &^= IPVSDir
		case strings.EqualFold(arg, "REPLY"):
			m.Invert |= IPVSDir
		default:
			return Errorf("ipvs: Bad value for \"--vdir\" option: \"%s\"", arg)
		}
		bit = IPVSDir
	case "vmethod":
		switch {
		case strings.EqualFold(arg, "GATE"):
			m.FwdMethod = IPVSDroute
		case strings.EqualFold(arg, "IPIP"):
			m.FwdMethod = IPVSTunnel
		case strings.EqualFold(arg, "MASQ"):
			m.FwdMethod = IPVSMasq
		default:
			return Errorf("ipvs: Bad value for \"--vmethod\" option: \"%s\"", arg)
		}
		bit = IPVSMethod
	}
	m.Bitmask |= bit
	m.given |= bit
	if inv {
		m.Invert |= bit
	}
	return nil
}

// Final implements Parser (ipvs_mt_check). The kernel module may be
// missing on a host (iptables then fails with ENOENT); rampart models a
// kernel that has it.
func (m *IPVS) Final(*Context) (ruleset.Extension, error) {
	if m.given == 0 {
		return nil, Errorf("IPVS: At least one option is required")
	}
	if m.Bitmask&ipvsOnceMask != 0 {
		if m.Invert&IPVSProperty != 0 {
			return nil, Errorf("! --ipvs cannot be together with other options")
		}
		m.Bitmask |= IPVSProperty
	}
	return m, nil
}

func (m *IPVS) dump(b *strings.Builder, f ruleset.Family, numeric bool, pfx string) {
	bang := func(bit uint8) {
		if m.Invert&bit != 0 {
			b.WriteString(" !")
		}
	}
	if m.Bitmask == IPVSProperty {
		bang(IPVSProperty)
		b.WriteString(" " + pfx + "ipvs")
	}
	if m.Bitmask&IPVSProto != 0 {
		bang(IPVSProto)
		b.WriteString(" " + pfx + "vproto " + Utoa(uint64(m.Proto)))
	}
	if m.Bitmask&IPVSVAddr != 0 {
		bang(IPVSVAddr)
		b.WriteString(" " + pfx + "vaddr")
		ctWriteAddr(b, m.VAddr, f, numeric)
	}
	if m.Bitmask&IPVSVPort != 0 {
		bang(IPVSVPort)
		b.WriteString(" " + pfx + "vport " + Utoa(uint64(m.VPort)))
	}
	if m.Bitmask&IPVSDir != 0 {
		if m.Invert&IPVSDir != 0 {
			b.WriteString(" " + pfx + "vdir REPLY")
		} else {
			b.WriteString(" " + pfx + "vdir ORIGINAL")
		}
	}
	if m.Bitmask&IPVSMethod != 0 {
		bang(IPVSMethod)
		b.WriteString(" " + pfx + "vmethod")
		switch m.FwdMethod {
		case IPVSDroute:
			b.WriteString(" GATE")
		case IPVSTunnel:
			b.WriteString(" IPIP")
		case IPVSMasq:
			b.WriteString(" MASQ")
		default:
			b.WriteString(" UNKNOWN")
		}
	}
	if m.Bitmask&IPVSVPortCtl != 0 {
		bang(IPVSVPortCtl)
		b.WriteString(" " + pfx + "vportctl " + Utoa(uint64(m.VPortCtl)))
	}
}

// Save implements ruleset.Extension.
func (m *IPVS) Save(b *strings.Builder, f ruleset.Fmt) { m.dump(b, f.Family, true, "--") }

// Print implements ruleset.Extension.
func (m *IPVS) Print(b *strings.Builder, f ruleset.Fmt) { m.dump(b, f.Family, f.Numeric, "") }

// Match implements pkt.Matcher: ipvs_mt tests skb->ipvs_property and the
// IPVS connection's virtual service, state of the host's IPVS tables a
// capture lacks.
func (m *IPVS) Match(c *pkt.Ctx) bool {
	return c.Undecide("ipvs: the packet's IPVS connection is unknown")
}
