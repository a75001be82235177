package xt

import (
	"net/netip"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Packet types (PACKET_* of linux/if_packet.h).
const (
	PacketHost      uint8 = 0
	PacketBroadcast uint8 = 1
	PacketMulticast uint8 = 2
	PacketOtherHost uint8 = 3
)

var pktTypeNames = []struct {
	name string
	typ  uint8
}{
	{"unicast", PacketHost}, {"broadcast", PacketBroadcast}, {"multicast", PacketMulticast},
	{"otherhost", PacketOtherHost}, {"bcast", PacketBroadcast}, {"mcast", PacketMulticast}, {"host", PacketHost},
}

// PktType is the pkttype match (-m pkttype [!] --pkt-type TYPE).
type PktType struct {
	Type   uint8
	Invert bool
}

type pktTypeParser struct {
	m   PktType
	set bool
}

func init() {
	Register(&Def{Name: "pkttype", New: func() Parser { return &pktTypeParser{} },
		Options: []Option{{Name: "pkt-type", Arg: ReqArg, Invert: true}}})
}

// Parse implements Parser.
func (p *pktTypeParser) Parse(_ *Context, _, arg string, inv bool) error {
	for _, n := range pktTypeNames {
		if strings.EqualFold(arg, n.name) {
			p.m.Type, p.set = n.typ, true
			if inv {
				p.m.Invert = true
			}
			return nil
		}
	}
	return Errorf("Bad packet type '%s'", arg)
}

// Final implements Parser.
func (p *pktTypeParser) Final(*Context) (ruleset.Extension, error) {
	if !p.set {
		return nil, Errorf("pkttype: option \"--pkt-type\" must be specified\n")
	}
	m := p.m
	return &m, nil
}

// Name implements ruleset.Extension.
func (m *PktType) Name() string { return "pkttype" }

func (m *PktType) typeString() string {
	for _, n := range pktTypeNames {
		if n.typ == m.Type {
			return n.name
		}
	}
	return Utoa(uint64(m.Type))
}

// Save implements ruleset.Extension.
func (m *PktType) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(Bang(m.Invert) + " --pkt-type " + m.typeString())
}

// Print implements ruleset.Extension.
func (m *PktType) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" PKTTYPE " + BangL(m.Invert) + "= " + m.typeString())
}

// pktTypeOf is skb->pkt_type as xt_pkttype sees it, derived from the
// packet since a capture of the IP layer lacks the frame's destination
// MAC: a locally generated packet (OUTPUT, or POSTROUTING without an input
// device) is PACKET_HOST whatever its destination; a received one is
// PACKET_MULTICAST for a multicast destination (224.0.0.0/4, ff00::/8),
// PACKET_BROADCAST for 255.255.255.255 or an address c.AddrType calls
// RTN_BROADCAST on the input device (a directed broadcast, sent to the
// broadcast MAC), else PACKET_HOST (PACKET_OTHERHOST never reaches the
// hooks: ip_rcv and ipv6_rcv drop it). Multicast and broadcast sent by the
// host and looped back arrive as PACKET_LOOPBACK, which xt_pkttype maps to
// the same MULTICAST / BROADCAST.
func pktTypeOf(c *pkt.Ctx) uint8 {
	if c.Hook == ruleset.LocalOut || c.Hook == ruleset.PostRouting && c.In == "" {
		return PacketHost
	}
	d := c.P.Dst
	if d.IsMulticast() {
		return PacketMulticast
	}
	if d.Is4() {
		if d == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return PacketBroadcast
		}
		if c.AddrType != nil && d.As4()[0] != 0 {
			if t, ok := c.AddrType(d, c.In); ok && t&AddrBroadcast != 0 {
				return PacketBroadcast
			}
		}
	}
	return PacketHost
}

// Match implements pkt.Matcher as xt_pkttype's pkttype_mt, with the packet
// type derived as pktTypeOf says (exact for multicast, limited broadcast
// and unicast; a directed broadcast needs c.AddrType, else it counts as
// unicast; a unicast IP packet sent to a broadcast or multicast MAC is
// seen as unicast).
func (m *PktType) Match(c *pkt.Ctx) bool {
	return (pktTypeOf(c) == m.Type) != m.Invert
}
