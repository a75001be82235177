package xt

import (
	"strings"

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
