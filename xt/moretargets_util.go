package xt

import (
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/rampartfw/rampart/pkt"
)

// mtHex is C's "0x%0*x".
func mtHex(v uint64, width int) string { return fmt.Sprintf("0x%0*x", width, v) }

// mtHostName is the name iptables -L (without -n) shows for an address
// (xtables_ipaddr_to_anyname): the first /etc/hosts name, else numeric.
func mtHostName(a netip.Addr) string {
	data, err := os.ReadFile("/etc/hosts")
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = line[:i]
			}
			fs := strings.Fields(line)
			if len(fs) < 2 {
				continue
			}
			if h, err := netip.ParseAddr(fs[0]); err == nil && h == a {
				return fs[1]
			}
		}
	}
	return a.String()
}

// csumFold16 updates a 16-bit internet checksum at b[off:] for a 16-bit
// word changing from old to new (RFC 1624 incremental update).
func csumReplace16(b []byte, off int, old, new uint16) {
	if off+2 > len(b) {
		return
	}
	sum := uint32(^(uint16(b[off])<<8 | uint16(b[off+1])))
	sum += uint32(^old) + uint32(new)
	for sum>>16 != 0 {
		sum = sum&0xFFFF + sum>>16
	}
	c := ^uint16(sum)
	b[off], b[off+1] = byte(c>>8), byte(c)
}

// l4Whole reports whether the packet carries its whole TCP header (first
// fragment, header not truncated), the kernel's skb_header_pointer test.
func tcpHeader(c *pkt.Ctx) []byte {
	p := c.P
	if p == nil || p.Proto != pkt.ProtoTCP || p.L4 < 0 || p.L4+20 > len(p.Raw) {
		return nil
	}
	return p.Raw[p.L4:]
}
