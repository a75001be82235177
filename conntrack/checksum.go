package conntrack

import (
	"encoding/binary"

	"github.com/rampartfw/rampart/pkt"
)

// sum adds b to the ones' complement sum s (unfolded).
func sum(s uint32, b []byte) uint32 {
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
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// l4ChecksumOK verifies the transport checksum over raw[dataoff:dataoff+n]
// (nf_ip_checksum / nf_ip6_checksum for CHECKSUM_NONE packets): with the
// pseudo header for TCP, UDP and ICMPv6, without it for ICMP. The pseudo
// header's length is the whole transport length.
func l4ChecksumOK(raw []byte, dataoff, n int, proto uint8, v6 bool) bool {
	if dataoff+n > len(raw) {
		return false
	}
	l4len := uint32(len(raw) - dataoff)
	var s uint32
	if proto != pkt.ProtoICMP {
		if v6 {
			s = sum(s, raw[8:40])
			s += l4len>>16 + l4len&0xffff
		} else {
			s = sum(s, raw[12:20])
			s += l4len
		}
		s += uint32(proto)
	}
	s = sum(s, raw[dataoff:dataoff+n])
	return fold(s) == 0xffff
}
