package xt

import (
	"net/netip"
	"os"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Netmap is the NETMAP target (-t nat): map addresses onto To, keeping
// the host part.
type Netmap struct {
	To  netip.Prefix // masked
	set bool
}

func init() {
	Register(&Def{Name: "NETMAP", Target: true, Options: []Option{{Name: "to", Arg: ReqArg}},
		New: func() Parser { return &Netmap{} }})
}

// Name implements ruleset.Extension.
func (t *Netmap) Name() string { return "NETMAP" }

// tgInetAton is the numeric part of getaddrinfo(AF_INET, AI_NUMERICHOST):
// inet_aton's a, a.b, a.b.c and a.b.c.d forms, each part base 0.
func tgInetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var vals []uint64
	for _, p := range parts {
		if p == "" || p[0] == '+' || p[0] == '-' || p[0] == ' ' {
			return netip.Addr{}, false
		}
		v, rest, ok := tgStrtoul(p)
		if !ok || rest != "" || v > 0xFFFFFFFF {
			return netip.Addr{}, false
		}
		vals = append(vals, v)
	}
	last := vals[len(vals)-1]
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 255 {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*uint(i))
	}
	if last >= 1<<(8*uint(5-len(vals))) && len(vals) > 1 {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// tgNumericHost parses a numeric address of the family as getaddrinfo
// with AI_NUMERICHOST does.
func tgNumericHost(s string, f ruleset.Family) (netip.Addr, bool) {
	if f == ruleset.IPv4 {
		return tgInetAton(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}

// tgHost resolves --to's address: numeric, or (IPv4) a name from
// /etc/hosts; other names fail as getaddrinfo does without DNS.
func tgHost(s string, f ruleset.Family) (netip.Addr, error) {
	if a, ok := tgNumericHost(s, f); ok {
		return a, nil
	}
	if f == ruleset.IPv4 && s != "" {
		if a, ok := tgHostsFile(s); ok {
			return a, nil
		}
	}
	// A numeric address of the other family.
	other := ruleset.IPv6
	if f == ruleset.IPv6 {
		other = ruleset.IPv4
	}
	if _, ok := tgNumericHost(s, other); ok {
		return netip.Addr{}, Errorf("getaddrinfo: Address family for hostname not supported\n")
	}
	hostname := s != ""
	digitsOnly := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			hostname = false
		}
		if !(c >= '0' && c <= '9' || c == '.') {
			digitsOnly = false
		}
	}
	if hostname && !digitsOnly {
		return netip.Addr{}, Errorf("getaddrinfo: Temporary failure in name resolution\n")
	}
	return netip.Addr{}, Errorf("getaddrinfo: Name or service not known\n")
}

// tgHostsFile looks an IPv4 name up in /etc/hosts.
func tgHostsFile(name string) (netip.Addr, bool) {
	data, err := os.ReadFile("/etc/hosts")
	if err != nil {
		return netip.Addr{}, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fs := strings.Fields(line)
		if len(fs) < 2 {
			continue
		}
		a, err := netip.ParseAddr(fs[0])
		if err != nil || !a.Is4() {
			continue
		}
		for _, n := range fs[1:] {
			if n == name {
				return a, true
			}
		}
	}
	return netip.Addr{}, false
}

// Parse implements Parser: ADDR[/MASK] as libxtables' XTTYPE_HOSTMASK
// (a prefix length, else a mask address; a mask with holes counts as a
// full one).
func (t *Netmap) Parse(ctx *Context, _, arg string, _ bool) error {
	return t.parse(ctx.Family, arg)
}

// parse does the work of Parse for family f.
func (t *Netmap) parse(f ruleset.Family, arg string) error {
	max := 32
	if f == ruleset.IPv6 {
		max = 128
	}
	host, mask, hasMask := strings.Cut(arg, "/")
	a, err := tgHost(host, f)
	if err != nil {
		return err
	}
	bits := max
	if hasMask {
		if v, rest, ok := tgStrtoul(mask); ok && rest == "" && v <= uint64(max) {
			bits = int(v)
		} else if m, ok := tgNumericHost(mask, f); ok {
			p := ruleset.AddrMask{Addr: a, Mask: m}
			if n := p.Bits(); n >= 0 {
				bits = n
			}
		} else {
			return Errorf("NETMAP: bad value for option \"--to\", neither a valid network mask nor valid CIDR (0-%d).\n", max)
		}
	}
	p, _ := a.Prefix(bits)
	t.To, t.set = p, true
	return nil
}

// Final implements Parser.
func (t *Netmap) Final(ctx *Context) (ruleset.Extension, error) {
	if !t.set {
		return nil, Errorf("NETMAP: option \"--to\" must be specified\n")
	}
	if err := tgKernelPlace(ctx, "nat"); err != nil {
		return nil, err
	}
	return t, nil
}

// Save implements ruleset.Extension.
func (t *Netmap) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" --to " + t.To.String())
}

// Print implements ruleset.Extension.
func (t *Netmap) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" to:" + t.To.String())
}

// Act implements pkt.Actor as xt_NETMAP's netmap_tg4 / netmap_tg6 do: at
// PREROUTING and OUTPUT the destination, at POSTROUTING and INPUT the
// source address of the packet's header keeps its host part and takes the
// network part of To (the mask is ~(min ^ max) of the range iptables
// passes, that is To's prefix); the single address is handed to
// nf_nat_setup_info (natBind) as DNAT or SNAT by the hook (HOOK2MANIP).
// The nat table's verdict is NF_ACCEPT.
func (t *Netmap) Act(c *pkt.Ctx) pkt.Verdict {
	dst := c.Hook != ruleset.PostRouting && c.Hook != ruleset.LocalIn
	a := c.P.Src
	if dst {
		a = c.P.Dst
	}
	if a.BitLen() != t.To.Addr().BitLen() {
		return pkt.Accept
	}
	na := netmapMerge(a, t.To)
	r := NATRange{Flags: NATMapIPs, MinAddr: na, MaxAddr: na}
	natBind(c, "NETMAP", dst, &r)
	return pkt.Accept
}

// netmapMerge returns (a AND NOT mask) OR (prefix AND mask).
func netmapMerge(a netip.Addr, p netip.Prefix) netip.Addr {
	if a.Is4() {
		x, y := a.As4(), p.Addr().As4()
		netmapBytes(x[:], y[:], p.Bits())
		return netip.AddrFrom4(x)
	}
	x, y := a.As16(), p.Addr().As16()
	netmapBytes(x[:], y[:], p.Bits())
	return netip.AddrFrom16(x)
}

func netmapBytes(x, y []byte, bitsLeft int) {
	for i := range x {
		m := byte(0)
		switch {
		case bitsLeft >= 8:
			m = 0xff
		case bitsLeft > 0:
			m = ^byte(0xff >> bitsLeft)
		}
		bitsLeft -= 8
		x[i] = x[i]&^m | y[i]&m
	}
}
