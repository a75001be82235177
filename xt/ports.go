package xt

import (
	"strconv"
	"strings"
)

// PortRange is an inclusive port range.
type PortRange struct{ Lo, Hi uint16 }

// Full reports whether the range is 0:65535.
func (r PortRange) Full() bool { return r.Lo == 0 && r.Hi == 0xFFFF }

// AnyPorts is the range 0:65535.
var AnyPorts = PortRange{0, 0xFFFF}

// ParsePort is xtables_parse_port: a service name for proto (from
// /etc/services), else a number 0-65535 (strtoul base 0).
func ParsePort(s, proto string) (uint16, error) {
	if p, ok := ServicePort(s, proto); ok {
		return p, nil
	}
	if v, ok := ParseUint(s, 0, 65535); ok {
		return uint16(v), nil
	}
	return 0, Errorf("invalid port/service `%s' specified", s)
}

// ParsePortRange parses PORT, LO:HI, LO: or :HI as the tcp and udp
// matches do.
func ParsePortRange(s, proto string) (PortRange, error) {
	lo, hi, ok := strings.Cut(s, ":")
	if !ok {
		p, err := ParsePort(s, proto)
		return PortRange{p, p}, err
	}
	r := PortRange{0, 0xFFFF}
	var err error
	if lo != "" {
		if r.Lo, err = ParsePort(lo, proto); err != nil {
			return r, err
		}
	}
	if hi != "" {
		if r.Hi, err = ParsePort(hi, proto); err != nil {
			return r, err
		}
	}
	if r.Lo > r.Hi {
		return r, Errorf("invalid portrange (min > max)")
	}
	return r, nil
}

// SaveRange appends " --NAME LO[:HI]" as iptables-save prints a port range.
func SaveRange(b *strings.Builder, name string, r PortRange, inv bool) {
	b.WriteString(Bang(inv))
	b.WriteString(" --" + name + " " + strconv.Itoa(int(r.Lo)))
	if r.Lo != r.Hi {
		b.WriteString(":" + strconv.Itoa(int(r.Hi)))
	}
}

// PortString is a port as -L prints it: a service name unless numeric.
func PortString(p uint16, proto string, numeric bool) string {
	if !numeric {
		if n, ok := ServiceName(p, proto); ok {
			return n
		}
	}
	return strconv.Itoa(int(p))
}

// PrintPorts is the tcp/udp -L form " spt:22", " dpts:!1:2".
func PrintPorts(b *strings.Builder, name string, r PortRange, inv bool, proto string, numeric bool) {
	if r.Full() && !inv {
		return
	}
	b.WriteString(" " + name)
	if r.Lo == r.Hi {
		b.WriteString(":" + BangL(inv) + PortString(r.Lo, proto, numeric))
		return
	}
	b.WriteString("s:" + BangL(inv) + PortString(r.Lo, proto, numeric) + ":" + PortString(r.Hi, proto, numeric))
}
