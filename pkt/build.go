package pkt

import (
	"encoding/binary"
	"net/netip"
)

// Spec describes a packet to build, for tests and the explain command.
type Spec struct {
	Src, Dst         netip.Addr
	Proto            uint8
	SrcPort, DstPort uint16
	TCPFlags         uint8
	Seq, Ack         uint32
	Window           uint16
	ICMPType         uint8
	ICMPCode         uint8
	ICMPID, ICMPSeq  uint16
	TTL              uint8
	TOS              uint8
	ID               uint16
	FragOff          uint16 // in 8-byte units
	MoreFrags        bool
	Payload          []byte
}

// Build serializes the spec into an IPv4 or IPv6 packet (by Src's family)
// with correct lengths; checksums are left zero (netfilter does not check
// them for filtering).
func Build(s Spec) []byte {
	var l4 []byte
	switch s.Proto {
	case ProtoTCP:
		l4 = make([]byte, 20, 20+len(s.Payload))
		binary.BigEndian.PutUint16(l4[0:], s.SrcPort)
		binary.BigEndian.PutUint16(l4[2:], s.DstPort)
		binary.BigEndian.PutUint32(l4[4:], s.Seq)
		binary.BigEndian.PutUint32(l4[8:], s.Ack)
		l4[12] = 5 << 4
		l4[13] = s.TCPFlags
		w := s.Window
		if w == 0 {
			w = 65535
		}
		binary.BigEndian.PutUint16(l4[14:], w)
	case ProtoUDP, ProtoUDPLite:
		l4 = make([]byte, 8, 8+len(s.Payload))
		binary.BigEndian.PutUint16(l4[0:], s.SrcPort)
		binary.BigEndian.PutUint16(l4[2:], s.DstPort)
		binary.BigEndian.PutUint16(l4[4:], uint16(8+len(s.Payload)))
	case ProtoICMP, ProtoICMPv6:
		l4 = make([]byte, 8, 8+len(s.Payload))
		l4[0], l4[1] = s.ICMPType, s.ICMPCode
		binary.BigEndian.PutUint16(l4[4:], s.ICMPID)
		binary.BigEndian.PutUint16(l4[6:], s.ICMPSeq)
	}
	l4 = append(l4, s.Payload...)
	ttl := s.TTL
	if ttl == 0 {
		ttl = 64
	}
	if s.Src.Is4() {
		b := make([]byte, 20, 20+len(l4))
		b[0] = 0x45
		b[1] = s.TOS
		binary.BigEndian.PutUint16(b[2:], uint16(20+len(l4)))
		binary.BigEndian.PutUint16(b[4:], s.ID)
		ff := s.FragOff & 0x1fff
		if s.MoreFrags {
			ff |= 0x2000
		}
		binary.BigEndian.PutUint16(b[6:], ff)
		b[8] = ttl
		b[9] = s.Proto
		src, dst := s.Src.As4(), s.Dst.As4()
		copy(b[12:], src[:])
		copy(b[16:], dst[:])
		return append(b, l4...)
	}
	b := make([]byte, 40, 40+len(l4))
	b[0] = 0x60 | s.TOS>>4
	b[1] = s.TOS << 4
	binary.BigEndian.PutUint16(b[4:], uint16(len(l4)))
	b[6] = s.Proto
	b[7] = ttl
	src, dst := s.Src.As16(), s.Dst.As16()
	copy(b[8:], src[:])
	copy(b[24:], dst[:])
	return append(b, l4...)
}
