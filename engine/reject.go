package engine

import (
	"encoding/binary"
	"net/netip"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// TCP flag bits of pkt.Packet.TCPFlags.
const (
	tcpFIN = 1 << 0
	tcpSYN = 1 << 1
	tcpRST = 1 << 2
	tcpACK = 1 << 4
)

// rejectAnswer is what the engine expects after REJECT drops a packet: the
// kernel builds and sends the answer inside the target (icmp_send /
// icmpv6_send, nf_send_reset / nf_send_reset6), so in a capture it is the
// very next packet, and it leaves through OUTPUT and POSTROUTING carrying
// the rejected packet's conntrack.
type rejectAnswer struct {
	ok     bool
	rst    bool // a TCP reset (--reject-with tcp-reset), else an ICMP error
	resets bool // nf_send_reset builds the reset (nf_ct_set_closing runs)
	fam    ruleset.Family
	// The rejected packet.
	src      netip.Addr
	proto    uint8
	sport    uint16
	seq, ack uint32
	flags    uint8
	datalen  uint32
	id       uint16 // IPv4 identification
	plen     uint16 // IPv6 payload length
	ctState  uint8
}

// expectAnswer describes the answer REJECT --reject-with with sends for p.
// ok is false when it sends none for certain (a non-first fragment; for a
// reset, a packet that is not TCP, or a RST).
func expectAnswer(p *pkt.Packet, with string, ctState uint8) rejectAnswer {
	a := rejectAnswer{fam: p.Family, src: p.Src, proto: p.Proto, sport: p.SrcPort, ctState: ctState}
	if p.FragOff != 0 || p.L4 < 0 {
		return a
	}
	a.rst = with == "tcp-reset"
	if p.Family == ruleset.IPv4 && len(p.Raw) >= 20 {
		a.id = binary.BigEndian.Uint16(p.Raw[4:])
	} else if len(p.Raw) >= 40 {
		a.plen = binary.BigEndian.Uint16(p.Raw[4:])
	}
	if !a.rst {
		a.ok = true
		return a
	}
	// nf_reject_ip_tcphdr_get / nf_reject_ip6_tcphdr_get
	if p.Proto != pkt.ProtoTCP || p.TCPFlags&tcpRST != 0 {
		return a
	}
	a.ok = true
	a.seq, a.ack, a.flags = p.Seq, p.Ack, p.TCPFlags
	if n := int(p.Len) - p.L4 - int(p.TCPHdrLen); n > 0 {
		a.datalen = uint32(n)
	}
	// nf_send_reset: no reset to a broadcast or multicast destination;
	// nf_send_reset6: both addresses unicast.
	a.resets = !p.Dst.IsMulticast() && !isBroadcast(p.Dst) && !(p.Family == ruleset.IPv6 && (p.Src.IsMulticast() || p.Src.IsUnspecified()))
	return a
}

// answeredBy reports whether p is the answer: a TCP reset to the rejected
// packet's source port with the sequence numbers nf_reject_ip_tcphdr_put
// gives it, or an ICMP destination-unreachable error (ICMPv6 type 1) to its
// source quoting it. Destination addresses and ports are not compared: NAT
// may have changed them before REJECT.
func (a *rejectAnswer) answeredBy(p *pkt.Packet) bool {
	if p.Family != a.fam || p.Dst != a.src {
		return false
	}
	if a.rst {
		if p.Proto != pkt.ProtoTCP || p.TCPFlags&tcpRST == 0 || p.DstPort != a.sport {
			return false
		}
		if a.flags&tcpACK != 0 {
			return p.Seq == a.ack
		}
		n := a.seq + a.datalen
		if a.flags&tcpSYN != 0 {
			n++
		}
		if a.flags&tcpFIN != 0 {
			n++
		}
		return p.TCPFlags&tcpACK != 0 && p.Ack == n
	}
	in := p.Inner
	if in < 0 {
		return false
	}
	if p.Family == ruleset.IPv4 {
		if p.Proto != pkt.ProtoICMP || p.ICMPType != 3 || len(p.Raw) < in+20 {
			return false
		}
		q := p.Raw[in:]
		return netip.AddrFrom4([4]byte(q[12:16])) == a.src && q[9] == a.proto && binary.BigEndian.Uint16(q[4:]) == a.id
	}
	if p.Proto != pkt.ProtoICMPv6 || p.ICMPType != 1 || len(p.Raw) < in+40 {
		return false
	}
	q := p.Raw[in:]
	return netip.AddrFrom16([16]byte(q[8:24])) == a.src && binary.BigEndian.Uint16(q[4:]) == a.plen
}
