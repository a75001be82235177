package engine

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/rampartfw/rampart/ruleset"
)

// Iface is one interface of the simulated host.
type Iface struct {
	Name  string
	Addrs []netip.Prefix // its addresses with their connected prefixes
}

// Route sends a destination prefix out of an interface.
type Route struct {
	Prefix netip.Prefix
	Iface  string
}

// Host is the machine whose firewall is simulated: its interfaces, routes
// and whether it forwards. "lo" with 127.0.0.1/8 and ::1/128 is always
// present.
type Host struct {
	Ifaces     []Iface
	Routes     []Route
	Forwarding bool
}

// NewHost returns a host with only the loopback interface, forwarding on.
func NewHost() *Host {
	return &Host{
		Ifaces: []Iface{{Name: "lo", Addrs: []netip.Prefix{
			netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("::1/128")}}},
		Forwarding: true,
	}
}

// Iface implements pkt.Host: interface i with its addresses.
func (h *Host) Iface(i int) (string, []netip.Prefix, bool) {
	if i < 0 || i >= len(h.Ifaces) {
		return "", nil, false
	}
	return h.Ifaces[i].Name, h.Ifaces[i].Addrs, true
}

// AddIface adds (or extends) an interface from "NAME=ADDR/LEN[,ADDR/LEN...]".
func (h *Host) AddIface(spec string) error {
	name, addrs, ok := strings.Cut(spec, "=")
	if !ok || name == "" {
		return fmt.Errorf("interface %q: want NAME=ADDR/LEN[,ADDR/LEN...]", spec)
	}
	var ps []netip.Prefix
	for _, a := range strings.Split(addrs, ",") {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return fmt.Errorf("interface %s: %v", name, err)
		}
		ps = append(ps, p)
	}
	for i := range h.Ifaces {
		if h.Ifaces[i].Name == name {
			h.Ifaces[i].Addrs = append(h.Ifaces[i].Addrs, ps...)
			return nil
		}
	}
	h.Ifaces = append(h.Ifaces, Iface{Name: name, Addrs: ps})
	return nil
}

// AddRoute adds a route from "PREFIX=IFACE".
func (h *Host) AddRoute(spec string) error {
	pfx, iface, ok := strings.Cut(spec, "=")
	if !ok {
		return fmt.Errorf("route %q: want PREFIX=IFACE", spec)
	}
	p, err := netip.ParsePrefix(pfx)
	if err != nil {
		return fmt.Errorf("route %q: %v", spec, err)
	}
	h.Routes = append(h.Routes, Route{Prefix: p.Masked(), Iface: iface})
	return nil
}

// IsLocal reports whether a is one of the host's addresses (or in
// 127.0.0.0/8, which Linux treats as local on lo).
func (h *Host) IsLocal(a netip.Addr) bool {
	for _, ifc := range h.Ifaces {
		for _, p := range ifc.Addrs {
			if p.Addr() == a {
				return true
			}
			if ifc.Name == "lo" && p.Contains(a) {
				return true
			}
		}
	}
	return false
}

// Lookup returns the interface a packet to dst leaves by: the longest
// matching connected prefix or route; "" when there is no route.
func (h *Host) Lookup(dst netip.Addr) string {
	best, bits := "", -1
	for _, ifc := range h.Ifaces {
		for _, p := range ifc.Addrs {
			if p.Masked().Contains(dst) && p.Bits() > bits {
				best, bits = ifc.Name, p.Bits()
			}
		}
	}
	for _, r := range h.Routes {
		if r.Prefix.Contains(dst) && r.Prefix.Bits() > bits {
			best, bits = r.Iface, r.Prefix.Bits()
		}
	}
	return best
}

// Path is the hooks a packet crosses, with its interfaces.
type Path struct {
	steps   [4]HookStep
	n       int
	Routing string // why routing stops the packet early, "" when it does not
}

// Steps returns the hooks in order.
func (p *Path) Steps() []HookStep { return p.steps[:p.n] }

func mkPath(routing string, steps ...HookStep) Path {
	p := Path{Routing: routing, n: len(steps)}
	copy(p.steps[:], steps)
	return p
}

// HookStep is one hook on a packet's path.
type HookStep struct {
	Hook    ruleset.Hook
	In, Out string
}

// PathOf decides which hooks a packet crosses on this host, as Linux
// routing does: from a local address it is sent (OUTPUT, POSTROUTING; to a
// local address too, over lo, then PREROUTING and INPUT on lo); to a local
// address it is received (PREROUTING, INPUT) on the interface whose prefix
// holds the source, else the one of the route back; otherwise it is
// forwarded (PREROUTING, FORWARD, POSTROUTING) when forwarding is on.
// Martian sources (loopback addresses on another interface) never get past
// PREROUTING.
func (h *Host) PathOf(src, dst netip.Addr) Path {
	srcLocal, dstLocal := h.IsLocal(src), h.IsLocal(dst)
	if srcLocal {
		return h.LocalPath(dst)
	}
	in := h.Lookup(src)
	if in == "" {
		in = "eth0"
	}
	pre := HookStep{ruleset.PreRouting, in, ""}
	if src.Is6() {
		// ip6_rcv_core drops these before any hook sees them.
		if src.IsMulticast() || in != "lo" && (src.IsLoopback() || dst.IsLoopback()) {
			return mkPath("invalid IPv6 address on " + in)
		}
	} else if why := martian4(src, dst, in); why != "" {
		// ip_route_input_slow: after PREROUTING, before INPUT/FORWARD.
		return mkPath(why, pre)
	}
	if dstLocal || dst.IsMulticast() || isBroadcast(dst) || h.isDirectedBroadcast(dst) {
		return mkPath("", pre, HookStep{ruleset.LocalIn, in, ""})
	}
	if !h.Forwarding {
		return mkPath("forwarding is off", pre)
	}
	out := h.Lookup(dst)
	if out == "" {
		return mkPath("no route to "+dst.String(), pre)
	}
	return mkPath("", pre, HookStep{ruleset.Forward, in, out}, HookStep{ruleset.PostRouting, "", out})
}

// LocalPath is the path of a packet this host sends to dst, whatever its
// source address: OUTPUT and POSTROUTING on the route's interface, or over
// lo (then PREROUTING and INPUT) to a local address. REJECT's TCP resets
// for forwarded packets take it with a foreign source address.
func (h *Host) LocalPath(dst netip.Addr) Path {
	if h.IsLocal(dst) {
		return mkPath("", HookStep{ruleset.LocalOut, "", "lo"}, HookStep{ruleset.PostRouting, "", "lo"}, HookStep{ruleset.PreRouting, "lo", ""}, HookStep{ruleset.LocalIn, "lo", ""})
	}
	out := h.Lookup(dst)
	if out == "" {
		return mkPath("no route to " + dst.String())
	}
	return mkPath("", HookStep{ruleset.LocalOut, "", out}, HookStep{ruleset.PostRouting, "", out})
}

func isBroadcast(a netip.Addr) bool {
	return a.Is4() && a == netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// Route types (RTN_*) as inet_dev_addr_type reports them.
const (
	rtnUnicast     = 1
	rtnLocal       = 2
	rtnBroadcast   = 3
	rtnAnycast     = 4
	rtnMulticast   = 5
	rtnUnreachable = 7
)

// AddrType classifies a as the kernel's routing would for the addrtype
// and pkttype matches: for IPv4 the bit 1<<inet_dev_addr_type (a lookup in
// the local table, restricted to dev when it is not ""), for IPv6 the
// LOCAL, ANYCAST and UNREACHABLE bits of xt_addrtype's route lookup.
func (h *Host) AddrType(a netip.Addr, dev string) (uint16, bool) {
	if a.Is4() {
		b := a.As4()
		switch {
		case b[0] == 0 || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
			return 1 << rtnBroadcast, true
		case a.IsMulticast():
			return 1 << rtnMulticast, true
		}
		for _, ifc := range h.Ifaces {
			if dev != "" && ifc.Name != dev {
				continue
			}
			for _, p := range ifc.Addrs {
				if !p.Addr().Is4() {
					continue
				}
				if p.Addr() == a || ifc.Name == "lo" && p.Contains(a) {
					return 1 << rtnLocal, true
				}
				if p.Bits() < 31 && directedBroadcast(p) == a {
					return 1 << rtnBroadcast, true
				}
			}
		}
		return 1 << rtnUnicast, true
	}
	var t uint16
	for _, ifc := range h.Ifaces {
		if dev != "" && ifc.Name != dev {
			continue
		}
		for _, p := range ifc.Addrs {
			if p.Addr() == a {
				t |= 1 << rtnLocal
			}
			// The subnet-router anycast address of a connected prefix.
			if p.Addr().Is6() && p.Bits() < 127 && p.Masked().Addr() == a {
				t |= 1 << rtnAnycast
			}
		}
	}
	if t == 0 && h.Lookup(a) == "" && !a.IsLinkLocalUnicast() && !a.IsMulticast() {
		t |= 1 << rtnUnreachable
	}
	return t, true
}

func directedBroadcast(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := ^uint32(0) >> uint(p.Bits())
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// martian4 is ip_route_input_slow's address checks for a received IPv4
// packet (route_localnet off): a multicast or broadcast source, a 0/8
// source (except to the limited broadcast), a 0/8 destination, loopback
// addresses arriving on another interface.
func martian4(src, dst netip.Addr, in string) string {
	s, d := src.As4(), dst.As4()
	switch {
	case src.IsMulticast() || isBroadcast(src):
		return "martian source " + src.String() + " on " + in
	case isBroadcast(dst) || src.IsUnspecified() && dst.IsUnspecified():
		return ""
	case s[0] == 0:
		return "martian source " + src.String() + " on " + in
	case d[0] == 0:
		return "martian destination " + dst.String() + " on " + in
	case in != "lo" && dst.IsLoopback():
		return "martian destination " + dst.String() + " on " + in
	case in != "lo" && src.IsLoopback():
		return "martian source " + src.String() + " on " + in
	}
	return ""
}

// isDirectedBroadcast reports whether a is the broadcast address of one of
// the host's IPv4 subnets (delivered locally).
func (h *Host) isDirectedBroadcast(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	for _, ifc := range h.Ifaces {
		for _, p := range ifc.Addrs {
			if p.Addr().Is4() && p.Bits() < 31 && ifc.Name != "lo" && directedBroadcast(p) == a {
				return true
			}
		}
	}
	return false
}
