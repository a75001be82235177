package xt

import (
	"net/netip"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// TProxy is the TPROXY target (-t mangle PREROUTING, -p tcp or udp):
// divert the packet to a local socket on Port (and Addr), marking it
// (mark & ^MarkMask) ^ MarkValue.
type TProxy struct {
	Port                uint16
	Addr                netip.Addr // unspecified (0.0.0.0 / ::) when not given
	MarkValue, MarkMask uint32
	seen                bool
}

func init() {
	Register(&Def{Name: "TPROXY", Target: true, New: func() Parser { return &TProxy{} },
		Options: []Option{{Name: "on-port", Arg: ReqArg}, {Name: "on-ip", Arg: ReqArg}, {Name: "tproxy-mark", Arg: ReqArg}}})
}

// Name implements ruleset.Extension.
func (t *TProxy) Name() string { return "TPROXY" }

// Parse implements Parser.
func (t *TProxy) Parse(ctx *Context, opt, arg string, _ bool) error {
	switch opt {
	case "on-port":
		// xtables_getportbyname: getaddrinfo's numeric service keeps the
		// low 16 bits; else a name from /etc/services.
		if v, rest, ok := tgStrtoul(arg); ok && rest == "" && arg != "" && arg[0] >= '0' && arg[0] <= '9' {
			t.Port = uint16(v)
		} else if p, ok := ServicePort(arg, "tcp"); ok {
			t.Port = p
		} else if p, ok := ServicePort(arg, "udp"); ok {
			t.Port = p
		} else {
			return Errorf("Port \"%s\" does not resolve to anything.\n", arg)
		}
		t.seen = true
	case "on-ip":
		a, err := tgHost(arg, ctx.Family)
		if err != nil {
			return err
		}
		t.Addr = a
	case "tproxy-mark":
		v, m, err := ParseMarkMask("TPROXY", opt, arg)
		if err != nil {
			return err
		}
		t.MarkValue, t.MarkMask = v, m
	}
	return nil
}

// Final implements Parser: tproxy_tg4/6_check wants mangle PREROUTING and
// -p tcp or udp (not inverted).
func (t *TProxy) Final(ctx *Context) (ruleset.Extension, error) {
	if !t.seen {
		return nil, Errorf("TPROXY: option \"--on-port\" must be specified\n")
	}
	if !t.Addr.IsValid() {
		if ctx.Family == ruleset.IPv6 {
			t.Addr = netip.IPv6Unspecified()
		} else {
			t.Addr = netip.IPv4Unspecified()
		}
	}
	if err := tgKernelPlace(ctx, "mangle", "PREROUTING"); err != nil {
		return nil, err
	}
	p := ctx.Rule.Proto
	if p != pkt.ProtoTCP && p != pkt.ProtoUDP || ctx.Rule.Inv&ruleset.InvProto != 0 {
		return nil, KernelInval()
	}
	return t, nil
}

// Save implements ruleset.Extension.
func (t *TProxy) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" --on-port " + Utoa(uint64(t.Port)) + " --on-ip " + t.Addr.String() +
		" --tproxy-mark " + Hex(uint64(t.MarkValue)) + "/" + Hex(uint64(t.MarkMask)))
}

// Print implements ruleset.Extension.
func (t *TProxy) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" TPROXY redirect " + t.Addr.String() + ":" + Utoa(uint64(t.Port)) +
		" mark " + Hex(uint64(t.MarkValue)) + "/" + Hex(uint64(t.MarkMask)))
}

// Act implements pkt.Actor. tproxy_tg looks up a listening (or
// established) local socket: found, the packet is marked and accepted;
// none, it is dropped. Sockets are not part of the simulation, so the
// verdict is left undecided.
func (t *TProxy) Act(c *pkt.Ctx) pkt.Verdict {
	c.Undecide("TPROXY: local socket lookup not modelled")
	return pkt.Drop
}
