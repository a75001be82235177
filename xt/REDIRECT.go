package xt

import (
	"net/netip"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Redirect is the REDIRECT target (-t nat, PREROUTING and OUTPUT).
type Redirect struct {
	Family ruleset.Family
	Range  NATRange
}

func init() {
	for _, f := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		fam := f
		Register(&Def{Name: "REDIRECT", Family: fam, Target: true,
			Options: []Option{{Name: "to-ports", Arg: ReqArg}, {Name: "random"}},
			New:     func() Parser { return &Redirect{Family: fam} }})
	}
}

// Name implements ruleset.Extension.
func (t *Redirect) Name() string { return "REDIRECT" }

// Parse implements Parser.
func (t *Redirect) Parse(ctx *Context, opt, arg string, _ bool) error {
	if opt == "to-ports" {
		return natParsePorts(arg, natPortOK(ctx), &t.Range)
	}
	natFlag(&t.Range, opt)
	return nil
}

// Final implements Parser.
func (t *Redirect) Final(ctx *Context) (ruleset.Extension, error) {
	if t.Range.Flags&NATProtoOffset != 0 {
		return nil, Errorf("Shifted portmap ranges not supported with this kernel")
	}
	if err := tgKernelPlace(ctx, "nat", "PREROUTING", "OUTPUT"); err != nil {
		return nil, err
	}
	return t, nil
}

// Save implements ruleset.Extension.
func (t *Redirect) Save(b *strings.Builder, f ruleset.Fmt) {
	t.Range.write(b, f, "--to-ports ", "--", true)
}

// Print implements ruleset.Extension.
func (t *Redirect) Print(b *strings.Builder, f ruleset.Fmt) {
	t.Range.write(b, f, "redir ports ", "", true)
}

// Act implements pkt.Actor as xt_REDIRECT's redirect_tg4/tg6 do
// (nf_nat_redirect_ipv4/ipv6): at OUTPUT the new destination is 127.0.0.1
// or ::1; otherwise it is the first address of the input interface's list
// (IPv4: ifa_list, primaries ordered by scope, host before universe, then
// in the order added; IPv6: addr_list, larger scope first and the newest
// first within a scope), and without one the packet is dropped (NF_DROP).
// The range's ports and flags go to nf_nat_setup_info as DNAT (natBind);
// the verdict is NF_ACCEPT. Approximation: the host model has no
// automatic IPv6 link-local addresses.
func (t *Redirect) Act(c *pkt.Ctx) pkt.Verdict {
	if c.Conn == nil || c.CTDir != 0 {
		return pkt.Accept
	}
	v6 := c.P.Family == ruleset.IPv6
	var dst netip.Addr
	switch {
	case c.Hook == ruleset.LocalOut && v6:
		dst = netip.IPv6Loopback()
	case c.Hook == ruleset.LocalOut:
		dst = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	case c.Host == nil:
		c.Undecide("REDIRECT: the host's addresses are unknown")
		return pkt.Accept
	default:
		addrs, _ := hostIface(c.Host, c.In)
		best := -1
		for i, p := range addrs {
			a := p.Addr()
			if v6 {
				// Newest first within a scope: a later address of the
				// same scope wins.
				if a.Is6() && !a.Is4In6() && (best < 0 || hostScope6(a) >= hostScope6(addrs[best].Addr())) {
					best = i
				}
			} else if a.Is4() && !hostSecondary4(addrs, i) && (best < 0 || hostScope4(a) > hostScope4(addrs[best].Addr())) {
				best = i
			}
		}
		if best < 0 {
			return pkt.Drop
		}
		dst = addrs[best].Addr()
	}
	r := t.Range
	r.Flags |= NATMapIPs
	r.MinAddr, r.MaxAddr = dst, dst
	natBind(c, "REDIRECT", true, &r)
	return pkt.Accept
}
