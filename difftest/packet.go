package difftest

import (
	"encoding/binary"

	"github.com/rampartfw/rampart/pkt"
)

// build serializes a spec with pkt.Build and fills in every checksum (IPv4
// header, TCP, UDP, ICMP, ICMPv6), so that the kernel's stack and
// conntrack (nf_conntrack_checksum=1) accept the packet as a real one.
func build(s pkt.Spec) []byte {
	b := pkt.Build(s)
	fixChecksums(b)
	return b
}

// csum adds b to a running one's complement sum.
func csum(s uint32, b []byte) uint32 {
	for len(b) >= 2 {
		s += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// fixChecksums computes the checksums of a whole (unfragmented) IPv4 or
// IPv6 datagram without extension headers.
func fixChecksums(b []byte) {
	var hl int
	var proto uint8
	var pseudo uint32
	l4len := 0
	if b[0]>>4 == 4 {
		hl = int(b[0]&0x0f) * 4
		proto = b[9]
		b[10], b[11] = 0, 0
		binary.BigEndian.PutUint16(b[10:], fold(csum(0, b[:hl])))
		l4len = len(b) - hl
		pseudo = csum(0, b[12:20])
	} else {
		hl = 40
		proto = b[6]
		l4len = len(b) - hl
		pseudo = csum(0, b[8:40])
	}
	pseudo += uint32(proto) + uint32(l4len)
	l4 := b[hl:]
	var off int
	switch proto {
	case pkt.ProtoTCP:
		off = 16
	case pkt.ProtoUDP:
		off = 6
	case pkt.ProtoICMP:
		pseudo = 0 // ICMP has no pseudo-header
		off = 2
	case pkt.ProtoICMPv6:
		off = 2
	default:
		return
	}
	if len(l4) < off+2 {
		return
	}
	l4[off], l4[off+1] = 0, 0
	c := fold(csum(pseudo, l4))
	if c == 0 && proto == pkt.ProtoUDP {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(l4[off:], c)
}

// frag is one fragment to cut from a datagram: payload bytes [Off, Off+Len)
// of the transport part (Off a multiple of 8 except for the last one).
type fragPiece struct {
	Off, Len int
	More     bool
}

// fragment cuts a whole datagram (with checksums) into fragments. For IPv4
// the header is repeated with the offset and MF flag; for IPv6 a fragment
// header (id) is inserted after the fixed header.
func fragment(b []byte, id uint32, pieces []fragPiece) [][]byte {
	var out [][]byte
	if b[0]>>4 == 4 {
		hl := int(b[0]&0x0f) * 4
		data := b[hl:]
		for _, p := range pieces {
			end := min(p.Off+p.Len, len(data))
			f := append(append([]byte(nil), b[:hl]...), data[p.Off:end]...)
			binary.BigEndian.PutUint16(f[2:], uint16(len(f)))
			binary.BigEndian.PutUint16(f[4:], uint16(id))
			ff := uint16(p.Off / 8)
			if p.More {
				ff |= 0x2000
			}
			binary.BigEndian.PutUint16(f[6:], ff)
			f[10], f[11] = 0, 0
			binary.BigEndian.PutUint16(f[10:], fold(csum(0, f[:hl])))
			out = append(out, f)
		}
		return out
	}
	next := b[6]
	data := b[40:]
	for _, p := range pieces {
		end := min(p.Off+p.Len, len(data))
		f := append([]byte(nil), b[:40]...)
		f[6] = pkt.ProtoFragment
		fh := make([]byte, 8)
		fh[0] = next
		fo := uint16(p.Off/8) << 3
		if p.More {
			fo |= 1
		}
		binary.BigEndian.PutUint16(fh[2:], fo)
		binary.BigEndian.PutUint32(fh[4:], id)
		f = append(f, fh...)
		f = append(f, data[p.Off:end]...)
		binary.BigEndian.PutUint16(f[4:], uint16(len(f)-40))
		out = append(out, f)
	}
	return out
}

// ether wraps an IP packet in an Ethernet frame.
func ether(dst, src [6]byte, ip []byte) []byte {
	f := make([]byte, 14, 14+len(ip))
	copy(f[0:], dst[:])
	copy(f[6:], src[:])
	et := uint16(0x0800)
	if ip[0]>>4 == 6 {
		et = 0x86dd
	}
	binary.BigEndian.PutUint16(f[12:], et)
	return append(f, ip...)
}
