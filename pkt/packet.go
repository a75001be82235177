// Package pkt owns the packet as netfilter sees it at a hook: the decoded
// IPv4/IPv6 header, extension headers, transport header and payload, plus
// what the hook knows about it (interfaces, mark, conntrack entry). It
// decodes raw bytes without allocating, so that the engine can evaluate
// rules at line rate.
package pkt

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/rampartfw/rampart/ruleset"
)

// IP protocol numbers used here.
const (
	ProtoHopOpts  = 0
	ProtoICMP     = 1
	ProtoTCP      = 6
	ProtoUDP      = 17
	ProtoRouting  = 43
	ProtoFragment = 44
	ProtoESP      = 50
	ProtoAH       = 51
	ProtoICMPv6   = 58
	ProtoNone     = 59
	ProtoDstOpts  = 60
	ProtoMH       = 135
	ProtoSCTP     = 132
	ProtoUDPLite  = 136
)

// Packet is one decoded IP packet. Raw holds the bytes from the IP header
// on; the other fields are views of it.
type Packet struct {
	Family ruleset.Family
	Raw    []byte
	// Len is the packet length as netfilter counts bytes: the IP total
	// length (IPv4) or 40 + payload length (IPv6).
	Len uint32

	Src, Dst netip.Addr
	TTL      uint8 // TTL (IPv4) or hop limit (IPv6)
	TOS      uint8 // TOS byte (IPv4) or traffic class (IPv6)
	ID       uint32

	// Proto is the transport protocol: the IPv4 protocol field, or for IPv6
	// the first header that is not an extension header (as ipv6_find_hdr
	// finds it; ProtoNone when there is none).
	Proto uint8
	// Fragments (IPv4: flags and offset in 8-byte units; IPv6: from the
	// fragment header).
	FragOff   uint16
	MoreFrags bool
	DontFrag  bool
	Frag6     bool   // IPv6: a fragment header is present
	ExtHdrs   uint32 // IPv6: bit i set when extension header type i (see ExtBit) is present
	// L4 is the offset of the transport header in Raw, or -1 when the
	// packet carries none (a non-first fragment) or it is truncated.
	L4 int

	SrcPort, DstPort uint16
	TCPFlags         uint8
	Seq, Ack         uint32
	Window           uint16
	TCPHdrLen        uint8 // data offset in bytes
	ICMPType         uint8
	ICMPCode         uint8
	ICMPID           uint16
	ICMPSeq          uint16
	// Inner is the offset of the quoted packet of an ICMP error, or -1.
	Inner int
}

// Extension header bits for Packet.ExtHdrs.
const (
	ExtHopOpts uint32 = 1 << iota
	ExtDstOpts
	ExtRouting
	ExtFragment
	ExtAH
	ExtESP
	ExtNone
	ExtProto // a non-extension (upper-layer) header follows
)

// Errors from Decode.
var (
	ErrTruncated = errors.New("pkt: truncated packet")
	ErrVersion   = errors.New("pkt: not an IPv4/IPv6 packet")
)

// Decode parses raw (starting at the IP header) into p, reusing p. It never
// allocates and never panics; a malformed packet yields an error.
func (p *Packet) Decode(raw []byte) error {
	*p = Packet{Raw: raw, L4: -1, Inner: -1}
	if len(raw) < 1 {
		return ErrTruncated
	}
	switch raw[0] >> 4 {
	case 4:
		return p.decode4()
	case 6:
		return p.decode6()
	}
	return ErrVersion
}

func (p *Packet) decode4() error {
	b := p.Raw
	if len(b) < 20 {
		return ErrTruncated
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 || len(b) < ihl {
		return ErrTruncated
	}
	p.Family = ruleset.IPv4
	p.TOS = b[1]
	p.Len = uint32(binary.BigEndian.Uint16(b[2:4]))
	if int(p.Len) < ihl {
		return ErrTruncated
	}
	if int(p.Len) < len(b) {
		p.Raw = b[:p.Len]
		b = p.Raw
	} else if int(p.Len) > len(b) {
		return ErrTruncated
	}
	p.ID = uint32(binary.BigEndian.Uint16(b[4:6]))
	ff := binary.BigEndian.Uint16(b[6:8])
	p.DontFrag = ff&0x4000 != 0
	p.MoreFrags = ff&0x2000 != 0
	p.FragOff = ff & 0x1fff
	p.TTL = b[8]
	p.Proto = b[9]
	p.Src = netip.AddrFrom4([4]byte(b[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	if p.FragOff != 0 {
		return nil // no transport header in a non-first fragment
	}
	p.decodeL4(ihl)
	return nil
}

func (p *Packet) decode6() error {
	b := p.Raw
	if len(b) < 40 {
		return ErrTruncated
	}
	p.Family = ruleset.IPv6
	p.TOS = byte(binary.BigEndian.Uint16(b[0:2]) >> 4)
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	p.Len = uint32(40 + plen)
	if 40+plen < len(b) {
		p.Raw = b[:40+plen]
		b = p.Raw
	} else if 40+plen > len(b) {
		return ErrTruncated
	}
	p.TTL = b[7]
	p.Src = netip.AddrFrom16([16]byte(b[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	next := b[6]
	off := 40
	for {
		switch next {
		case ProtoHopOpts, ProtoRouting, ProtoDstOpts:
			if len(b) < off+8 {
				p.Proto = next
				return nil
			}
			p.ExtHdrs |= extBit(next)
			n := int(b[off+1])*8 + 8
			next = b[off]
			off += n
		case ProtoFragment:
			if len(b) < off+8 {
				p.Proto = next
				return nil
			}
			p.ExtHdrs |= ExtFragment
			p.Frag6 = true
			fo := binary.BigEndian.Uint16(b[off+2 : off+4])
			p.FragOff = fo >> 3
			p.MoreFrags = fo&1 != 0
			p.ID = binary.BigEndian.Uint32(b[off+4 : off+8])
			next = b[off]
			off += 8
			if p.FragOff != 0 {
				p.Proto = next
				return nil
			}
		case ProtoAH:
			// nftables' meta l4proto (what ip6tables-nft's -p becomes)
			// stops at AH: ipv6_find_hdr with IP6_FH_F_AUTH.
			p.ExtHdrs |= ExtAH
			p.Proto = next
			if off+8 <= len(b) {
				p.L4 = off
			}
			return nil
		case ProtoNone:
			p.ExtHdrs |= ExtNone
			p.Proto = next
			return nil
		default:
			if next == ProtoESP {
				p.ExtHdrs |= ExtESP
			} else {
				p.ExtHdrs |= ExtProto
			}
			p.Proto = next
			if off <= len(b) {
				p.decodeL4(off)
			}
			return nil
		}
		if off > len(b) {
			p.Proto = next
			return nil
		}
	}
}

func extBit(h uint8) uint32 {
	switch h {
	case ProtoHopOpts:
		return ExtHopOpts
	case ProtoDstOpts:
		return ExtDstOpts
	case ProtoRouting:
		return ExtRouting
	}
	return 0
}

// decodeL4 reads the transport header at off when it is complete.
func (p *Packet) decodeL4(off int) {
	b := p.Raw[off:]
	switch p.Proto {
	case ProtoTCP:
		if len(b) < 20 {
			return
		}
		p.SrcPort = binary.BigEndian.Uint16(b[0:2])
		p.DstPort = binary.BigEndian.Uint16(b[2:4])
		p.Seq = binary.BigEndian.Uint32(b[4:8])
		p.Ack = binary.BigEndian.Uint32(b[8:12])
		p.TCPHdrLen = (b[12] >> 4) * 4
		p.TCPFlags = b[13] & 0x3f
		p.Window = binary.BigEndian.Uint16(b[14:16])
	case ProtoUDP, ProtoUDPLite:
		if len(b) < 8 {
			return
		}
		p.SrcPort = binary.BigEndian.Uint16(b[0:2])
		p.DstPort = binary.BigEndian.Uint16(b[2:4])
	case ProtoSCTP:
		if len(b) < 12 {
			return
		}
		p.SrcPort = binary.BigEndian.Uint16(b[0:2])
		p.DstPort = binary.BigEndian.Uint16(b[2:4])
	case ProtoICMP, ProtoICMPv6:
		if len(b) < 8 {
			if len(b) >= 2 {
				p.ICMPType, p.ICMPCode = b[0], b[1]
			}
			return
		}
		p.ICMPType, p.ICMPCode = b[0], b[1]
		p.ICMPID = binary.BigEndian.Uint16(b[4:6])
		p.ICMPSeq = binary.BigEndian.Uint16(b[6:8])
		if p.IsICMPError() {
			p.Inner = off + 8
		}
	default:
		if len(b) >= 4 && (p.Proto == ProtoESP || p.Proto == ProtoAH) {
			// SPI and friends are read by their matches from Raw.
		}
	}
	p.L4 = off
}

// IsICMPError reports whether the packet is an ICMP/ICMPv6 error message
// (which quotes the packet that caused it).
func (p *Packet) IsICMPError() bool {
	if p.Proto == ProtoICMP {
		switch p.ICMPType {
		case 3, 4, 5, 11, 12:
			return true
		}
	}
	if p.Proto == ProtoICMPv6 {
		return p.ICMPType < 128
	}
	return false
}

// Payload returns the transport payload (after the TCP/UDP header), or nil.
func (p *Packet) Payload() []byte {
	if p.L4 < 0 {
		return nil
	}
	switch p.Proto {
	case ProtoTCP:
		if o := p.L4 + int(p.TCPHdrLen); o <= len(p.Raw) {
			return p.Raw[o:]
		}
	case ProtoUDP, ProtoUDPLite:
		if o := p.L4 + 8; o <= len(p.Raw) {
			return p.Raw[o:]
		}
	}
	return nil
}
