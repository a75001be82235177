package xt

import (
	"net/netip"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Masquerade is the MASQUERADE target (-t nat, POSTROUTING).
type Masquerade struct {
	Family ruleset.Family
	Range  NATRange
}

func init() {
	for _, f := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		fam := f
		Register(&Def{Name: "MASQUERADE", Family: fam, Target: true,
			Options: []Option{{Name: "to-ports", Arg: ReqArg}, {Name: "random"}, {Name: "random-fully"}},
			New:     func() Parser { return &Masquerade{Family: fam} }})
	}
}

// Name implements ruleset.Extension.
func (t *Masquerade) Name() string { return "MASQUERADE" }

// Parse implements Parser.
func (t *Masquerade) Parse(ctx *Context, opt, arg string, _ bool) error {
	if opt == "to-ports" {
		return natParsePorts(arg, natPortOK(ctx), &t.Range)
	}
	natFlag(&t.Range, opt)
	return nil
}

// Final implements Parser.
func (t *Masquerade) Final(ctx *Context) (ruleset.Extension, error) {
	if err := tgKernelPlace(ctx, "nat", "POSTROUTING"); err != nil {
		return nil, err
	}
	t.Range.NoBase = true
	return t, nil
}

// Save implements ruleset.Extension.
func (t *Masquerade) Save(b *strings.Builder, f ruleset.Fmt) {
	t.Range.write(b, f, "--to-ports ", "--", true)
}

// Print implements ruleset.Extension.
func (t *Masquerade) Print(b *strings.Builder, f ruleset.Fmt) {
	t.Range.write(b, f, "masq ports: ", "", true)
}

// Act implements pkt.Actor as xt_MASQUERADE's masquerade_tg(6) does
// (nf_nat_masquerade_ipv4/ipv6): an IPv4 entry whose original source is
// 0.0.0.0 is left alone; otherwise the new source is the address the
// output interface selects for the destination (inet_select_addr with
// RT_SCOPE_UNIVERSE, or ipv6_dev_get_saddr), and the range's ports and
// flags go with it to nf_nat_setup_info as SNAT (natBind). No address:
// NF_DROP ("ate my IP address"). Otherwise the verdict is NF_ACCEPT.
//
// Approximations: the host model has no gateways, so the next hop is the
// destination itself; IPv6 source selection applies RFC 6724 rules 1
// (same address), 2 (scope), 5 (outgoing interface) and 8 (longest
// matching prefix), not the label, preference, privacy and optimistic
// rules, and knows no automatic link-local addresses.
func (t *Masquerade) Act(c *pkt.Ctx) pkt.Verdict {
	conn := c.Conn
	if conn == nil || c.CTDir != 0 {
		return pkt.Accept
	}
	if conn.Orig.Src.Is4() && conn.Orig.Src == netip.IPv4Unspecified() {
		return pkt.Accept
	}
	if c.Host == nil {
		c.Undecide("MASQUERADE: the host's addresses are unknown")
		return pkt.Accept
	}
	var src netip.Addr
	if c.P.Family == ruleset.IPv6 {
		src = hostSelectAddr6(c.Host, c.Out, c.P.Dst)
	} else {
		src = hostSelectAddr4(c.Host, c.Out, c.P.Dst)
	}
	if !src.IsValid() {
		return pkt.Drop
	}
	r := t.Range
	r.Flags |= NATMapIPs
	r.MinAddr, r.MaxAddr = src, src
	natBind(c, "MASQUERADE", false, &r)
	return pkt.Accept
}

// hostIface returns the addresses of the named interface.
func hostIface(h pkt.Host, name string) ([]netip.Prefix, bool) {
	for i := 0; ; i++ {
		n, addrs, ok := h.Iface(i)
		if !ok {
			return nil, false
		}
		if n == name {
			return addrs, true
		}
	}
}

// hostScope4 is an IPv4 address's ifa_scope as ip(8) sets it: host for
// 127.0.0.0/8, universe (0) otherwise.
func hostScope4(a netip.Addr) int {
	if a.As4()[0] == 127 {
		return 254
	}
	return 0
}

// hostSecondary4 reports whether addrs[i] is a secondary address: an
// earlier IPv4 address of the interface has the same mask and subnet.
func hostSecondary4(addrs []netip.Prefix, i int) bool {
	for _, p := range addrs[:i] {
		if p.Addr().Is4() && p.Bits() == addrs[i].Bits() && p.Masked().Contains(addrs[i].Addr()) {
			return true
		}
	}
	return false
}

// hostSelectAddr4 is inet_select_addr(dev, dst, RT_SCOPE_UNIVERSE): the
// first primary universe-scope address of dev in dst's subnet, else its
// first primary universe-scope address, else the first primary
// universe-scope address of any interface (lo first); invalid when none.
func hostSelectAddr4(h pkt.Host, dev string, dst netip.Addr) netip.Addr {
	var addr netip.Addr
	if addrs, ok := hostIface(h, dev); ok {
		for i, p := range addrs {
			a := p.Addr()
			if !a.Is4() || hostSecondary4(addrs, i) || hostScope4(a) > 0 {
				continue
			}
			if p.Masked().Contains(dst) {
				return a
			}
			if !addr.IsValid() {
				addr = a
			}
		}
		if addr.IsValid() {
			return addr
		}
	}
	for i := 0; ; i++ {
		_, addrs, ok := h.Iface(i)
		if !ok {
			return netip.Addr{}
		}
		for j, p := range addrs {
			if a := p.Addr(); a.Is4() && !hostSecondary4(addrs, j) && hostScope4(a) == 0 {
				return a
			}
		}
	}
}

// hostScope6 is __ipv6_addr_src_scope: 1 loopback, 2 link-local (and
// link-local multicast), 5 site-local, 14 global.
func hostScope6(a netip.Addr) int {
	switch {
	case a.IsLoopback():
		return 1
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return 2
	case a.IsMulticast():
		return int(a.As16()[1] & 0x0f)
	case a.As16()[0] == 0xfe && a.As16()[1]&0xc0 == 0xc0:
		return 5
	}
	return 14
}

// hostSelectAddr6 approximates ipv6_dev_get_saddr (see Masquerade.Act).
func hostSelectAddr6(h pkt.Host, dev string, dst netip.Addr) netip.Addr {
	dscope := hostScope6(dst)
	onlyOif := dst.IsMulticast() || dscope <= 2
	var best netip.Addr
	var bestScore [4]int
	for i := 0; ; i++ {
		name, addrs, ok := h.Iface(i)
		if !ok {
			break
		}
		if onlyOif && name != dev {
			continue
		}
		for _, p := range addrs {
			a := p.Addr()
			if !a.Is6() || a.Is4In6() || a.IsUnspecified() || a.IsMulticast() {
				continue
			}
			var sc [4]int
			if a == dst {
				sc[0] = 1
			}
			s := hostScope6(a)
			if s >= dscope {
				sc[1] = -s
			} else {
				sc[1] = s - 128
			}
			if name == dev {
				sc[2] = 1
			}
			sc[3] = min(hostCommonPrefix(a, dst), p.Bits())
			if !best.IsValid() || hostBetter(sc, bestScore) {
				best, bestScore = a, sc
			}
		}
	}
	return best
}

func hostBetter(a, b [4]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return false
}

// hostCommonPrefix is ipv6_addr_diff: the length of the common prefix.
func hostCommonPrefix(a, b netip.Addr) int {
	x, y := a.As16(), b.As16()
	for i := range x {
		if d := x[i] ^ y[i]; d != 0 {
			n := i * 8
			for d&0x80 == 0 {
				d <<= 1
				n++
			}
			return n
		}
	}
	return 128
}
