package iptext

import (
	"net/netip"
	"strings"
	"sync"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// HostsFile is consulted for host names in -s/-d (there is no DNS lookup).
var HostsFile = "/etc/hosts"

// ParseAddrList parses a comma-separated -s/-d argument as iptables does:
// each element is ADDR[/MASK] where ADDR is an address or a host name and
// MASK a prefix length or a dotted mask. Addresses are masked.
func ParseAddrList(idx int, s string, f ruleset.Family) ([]ruleset.AddrMask, error) {
	var out []ruleset.AddrMask
	for _, item := range strings.Split(s, ",") {
		host, maskStr, hasMask := cutLast(item, "/")
		mask, err := parseMask(idx, maskStr, hasMask, f)
		if err != nil {
			return nil, err
		}
		if mask.IsUnspecified() {
			if f == ruleset.IPv6 {
				host = "::"
			} else {
				host = "0.0.0.0"
			}
		}
		addrs, err := parseHost(idx, host, f)
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			am := ruleset.NewAddrMask(a, mask)
			dup := false
			for _, o := range out {
				if o == am {
					dup = true
				}
			}
			if !dup {
				out = append(out, am)
			}
		}
	}
	return out, nil
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

func parseMask(idx int, s string, has bool, f ruleset.Family) (netip.Addr, error) {
	if !has {
		return ruleset.MaskFromBits(f, f.AddrBits()), nil
	}
	if f == ruleset.IPv4 {
		if a, ok := parseDotted(s, true); ok {
			return a, nil
		}
		if n, ok := xt.ParseUint(s, 0, 32); ok {
			return ruleset.MaskFromBits(f, int(n)), nil
		}
	} else {
		if a, err := netip.ParseAddr(s); err == nil && a.Is6() && !a.Is4In6() && a.Zone() == "" {
			return a, nil
		}
		if n, ok := xt.ParseUint(s, 0, 128); ok {
			return ruleset.MaskFromBits(f, int(n)), nil
		}
	}
	e := perr(idx, "invalid mask `%s' specified", s)
	e.Token = s
	return netip.Addr{}, e
}

// parseDotted is iptables' __numeric_to_ipaddr: up to four dot-separated
// numbers (each as strtoul base 0, 0-255); an address with fewer parts is
// completed with zeros, a mask needs all four.
func parseDotted(s string, isMask bool) (netip.Addr, bool) {
	if len(s) > 19 {
		s = s[:19]
	}
	var b [4]byte
	parts := strings.SplitN(s, ".", 4)
	if len(parts) < 4 && isMask {
		return netip.Addr{}, false
	}
	for i, p := range parts {
		v, ok := xt.ParseUint(p, 0, 255)
		if !ok {
			return netip.Addr{}, false
		}
		b[i] = byte(v)
	}
	return netip.AddrFrom4(b), true
}

func parseHost(idx int, host string, f ruleset.Family) ([]netip.Addr, error) {
	if f == ruleset.IPv4 {
		if a, ok := parseDotted(host, false); ok {
			return []netip.Addr{a}, nil
		}
	} else if a, err := netip.ParseAddr(host); err == nil && a.Is6() && a.Zone() == "" {
		return []netip.Addr{a}, nil
	}
	if addrs := lookupHosts(host, f); len(addrs) > 0 {
		return addrs, nil
	}
	e := perr(idx, "host/network `%s' not found", host)
	e.Token = host
	if strings.ToUpper(host) == host && strings.Contains(host, "_") {
		e.Hint = "this looks like a placeholder: replace " + host + " with a real address"
	}
	return nil, e
}

func lookupHosts(name string, f ruleset.Family) []netip.Addr {
	if name == "" {
		return nil
	}
	var out []netip.Addr
	xt.ConfigFields(HostsFile, func(fs []string) bool {
		a, err := netip.ParseAddr(fs[0])
		if err != nil || a.Is4() != (f == ruleset.IPv4) {
			return false
		}
		for _, n := range fs[1:] {
			if n == name {
				out = append(out, a)
				break
			}
		}
		return false
	})
	return out
}

// NetworksFile is consulted for network names in -L without -n.
var NetworksFile = "/etc/networks"

var (
	namesOnce sync.Once
	hostNames map[netip.Addr]string
	netNames  map[uint32]string
)

// loadNames reads /etc/hosts and /etc/networks once.
func loadNames() {
	hostNames = map[netip.Addr]string{}
	netNames = map[uint32]string{}
	xt.ConfigFields(HostsFile, func(fs []string) bool {
		if a, err := netip.ParseAddr(fs[0]); err == nil {
			if _, dup := hostNames[a]; !dup {
				hostNames[a] = fs[1]
			}
		}
		return false
	})
	xt.ConfigFields(NetworksFile, func(fs []string) bool {
		if n, ok := inetNetwork(fs[1]); ok {
			if _, dup := netNames[n]; !dup {
				netNames[n] = fs[0]
			}
		}
		return false
	})
}

// hostName is the name -L (without -n) shows for an address: a name from
// /etc/hosts, else (IPv4) a network name from /etc/networks, else "".
func hostName(a netip.Addr) string {
	namesOnce.Do(loadNames)
	if n, ok := hostNames[a]; ok {
		return n
	}
	if !a.Is4() {
		return ""
	}
	b := a.As4()
	return netNames[uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3])]
}

// inetNetwork is inet_network(3): dotted parts packed into the low bytes.
func inetNetwork(s string) (uint32, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return 0, false
	}
	var v uint32
	for _, p := range parts {
		n, ok := xt.ParseUint(p, 0, 255)
		if !ok {
			return 0, false
		}
		v = v<<8 | uint32(n)
	}
	return v, true
}
