package conntrack

import (
	"encoding/binary"
	"time"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Timeouts with default sysctls.
const (
	udpTimeout       = 30 * time.Second  // nf_conntrack_udp_timeout
	udpStreamTimeout = 120 * time.Second // nf_conntrack_udp_timeout_stream
	udpStreamAfter   = 2 * time.Second   // stream_ts: replied flows older than this become streams
	icmpTimeout      = 30 * time.Second  // nf_conntrack_icmp_timeout, icmpv6_timeout
	genericTimeout   = 600 * time.Second // nf_conntrack_generic_timeout
)

// ctinfo values (enum ip_conntrack_info).
const (
	ctEstablished = iota
	ctRelated
	ctNew
	ctIsReply
	ctEstablishedReply = ctEstablished + ctIsReply
	ctRelatedReply     = ctRelated + ctIsReply
)

func stateBit(ctinfo int) uint8 {
	switch ctinfo % ctIsReply {
	case ctEstablished:
		return pkt.CTEstablished
	case ctRelated:
		return pkt.CTRelated
	}
	return pkt.CTNew
}

var invalid = Result{State: pkt.CTInvalid}

// Track is nf_conntrack_in, run at PREROUTING (received packets) and
// OUTPUT (local packets) before the raw table's successors: it finds the
// packet's entry (or creates an unconfirmed one), runs the protocol tracker
// and returns the packet's state, direction and entry. now is the packet's
// time. The packet must be whole: the engine defragments first, as
// nf_defrag_ipv4/ipv6 do before conntrack (a non-first fragment is
// INVALID here). A new entry must be passed to Confirm once the packet
// reaches POSTROUTING or INPUT accepted, or to Discard when it is dropped.
// The returned Conn stays valid until the next Track call that frees it
// (expiry, early drop, a kill); the engine must not keep it across packets.
func (t *Table) Track(p *pkt.Packet, now time.Time, hook ruleset.Hook) Result {
	t.flushDead()
	if t.m == nil {
		t.m = make(map[key]uint32)
	}
	ns := now.UnixNano()
	raw := p.Raw
	v6 := p.Family == ruleset.IPv6
	dataoff, proto, ok := l4proto(raw, 0, v6)
	if !ok {
		return invalid
	}
	if proto == pkt.ProtoICMP || proto == pkt.ProtoICMPv6 {
		if r, done := t.handleICMP(raw, dataoff, proto, v6, hook, ns); done {
			return r
		}
	}
	for {
		k, ok := getTuple(raw, 0, dataoff, proto, v6)
		if !ok {
			return invalid
		}
		// resolve_normal_ct
		idx, dir, found := t.find(k, ns)
		if !found {
			rk, ok := k.invert()
			if !ok {
				return invalid
			}
			if idx, ok = t.alloc(ns, k, rk); !ok {
				return Result{State: pkt.CTInvalid, Drop: true}
			}
			dir = DirOriginal
		}
		e := t.at(idx)
		var ctinfo int
		switch {
		case dir == DirReply:
			ctinfo = ctEstablishedReply
		case e.conn.Status&IPS_SEEN_REPLY != 0:
			ctinfo = ctEstablished
		case e.conn.Status&IPS_EXPECTED != 0:
			ctinfo = ctRelated
		default:
			ctinfo = ctNew
		}
		res := t.handlePacket(e, idx, raw, dataoff, proto, v6, dir, hook, ns)
		switch res {
		case resRepeat:
			// The TCP tracker killed a closed connection that a SYN reopens.
			t.kill(idx)
			t.flushDead()
			continue
		case resInvalid:
			if !e.confirmed() {
				t.release(idx)
			}
			return invalid
		}
		if ctinfo == ctEstablishedReply {
			e.conn.Status |= IPS_SEEN_REPLY
		}
		e.conn.Expires = e.expires(ns)
		return Result{State: stateBit(ctinfo), Dir: dir, Conn: &e.conn, ref: idx + 1}
	}
}

type pres uint8

const (
	resAccept  pres = iota // NF_ACCEPT
	resInvalid             // -NF_ACCEPT: the packet goes on without conntrack
	resRepeat              // -NF_REPEAT: kill the entry and look up again
)

// handlePacket is nf_conntrack_handle_packet.
func (t *Table) handlePacket(e *entry, idx uint32, raw []byte, dataoff int, proto uint8, v6 bool, dir uint8, hook ruleset.Hook, now int64) pres {
	plen := uint32(len(raw))
	switch proto {
	case pkt.ProtoTCP:
		return t.tcpPacket(e, idx, raw, dataoff, v6, dir, hook, now)
	case pkt.ProtoUDP:
		if t.udpError(raw, dataoff, v6, hook) {
			return resInvalid
		}
		return udpPacket(e, dir, plen, now)
	case pkt.ProtoUDPLite:
		if t.udpliteError(raw, dataoff, v6, hook) {
			return resInvalid
		}
		// nf_conntrack_udplite_packet: no stream delay.
		if e.conn.Status&IPS_SEEN_REPLY != 0 {
			e.refresh(now, udpStreamTimeout, dir, plen)
			if e.conn.Status&IPS_NAT_CLASH == 0 {
				e.conn.Status |= IPS_ASSURED
			}
		} else {
			e.refresh(now, udpTimeout, dir, plen)
		}
		return resAccept
	case pkt.ProtoICMP:
		// nf_conntrack_icmp_packet
		if v6 || !icmpValidNew(uint8(e.conn.Orig.DstPort>>8)) {
			return resInvalid
		}
		e.refresh(now, icmpTimeout, dir, plen)
		return resAccept
	case pkt.ProtoICMPv6:
		// nf_conntrack_icmpv6_packet
		if !v6 {
			return resInvalid
		}
		if !e.confirmed() && !icmp6ValidNew(uint8(e.conn.Orig.DstPort>>8)) {
			return resInvalid
		}
		e.refresh(now, icmpTimeout, dir, plen)
		return resAccept
	}
	// generic_packet (also SCTP, GRE, DCCP here: see the package doc).
	e.refresh(now, genericTimeout, dir, plen)
	return resAccept
}

// udpPacket is nf_conntrack_udp_packet.
func udpPacket(e *entry, dir uint8, plen uint32, now int64) pres {
	status := e.conn.Status
	if status&IPS_CONFIRMED == 0 {
		e.streamTS = now + int64(udpStreamAfter)
	}
	if status&IPS_SEEN_REPLY != 0 {
		extra := udpTimeout
		stream := false
		// time_after(jiffies, stream_ts)
		if now-e.streamTS > 0 {
			extra = udpStreamTimeout
			stream = status&IPS_ASSURED == 0
		}
		e.refresh(now, extra, dir, plen)
		if status&IPS_NAT_CLASH != 0 {
			return resAccept
		}
		if stream {
			e.conn.Status |= IPS_ASSURED
		}
	} else {
		e.refresh(now, udpTimeout, dir, plen)
	}
	return resAccept
}

// udpError is udp_error.
func (t *Table) udpError(raw []byte, dataoff int, v6 bool, hook ruleset.Hook) bool {
	udplen := len(raw) - dataoff
	if udplen < 8 {
		return true // short packet
	}
	hl := int(binary.BigEndian.Uint16(raw[dataoff+4:]))
	if hl > udplen || hl < 8 {
		return true // truncated/malformed packet
	}
	if binary.BigEndian.Uint16(raw[dataoff+6:]) == 0 {
		return false // no checksum
	}
	return t.hookChecks(hook) && !l4ChecksumOK(raw, dataoff, len(raw)-dataoff, pkt.ProtoUDP, v6)
}

// udpliteError is udplite_error.
func (t *Table) udpliteError(raw []byte, dataoff int, v6 bool, hook ruleset.Hook) bool {
	udplen := len(raw) - dataoff
	if udplen < 8 {
		return true
	}
	cscov := int(binary.BigEndian.Uint16(raw[dataoff+4:]))
	if cscov == 0 {
		cscov = udplen
	} else if cscov < 8 || cscov > udplen {
		return true // invalid checksum coverage
	}
	if binary.BigEndian.Uint16(raw[dataoff+6:]) == 0 {
		return true // UDP-Lite mandates checksums
	}
	// The kernel passes IPPROTO_UDP to nf_checksum_partial here.
	return t.hookChecks(hook) && !l4ChecksumOK(raw, dataoff, cscov, pkt.ProtoUDP, v6)
}

// l4proto is get_l4proto for the IP header at nhoff: the transport
// header's offset and protocol number.
func l4proto(raw []byte, nhoff int, v6 bool) (int, uint8, bool) {
	if !v6 {
		// ipv4_get_l4proto
		if len(raw) < nhoff+20 {
			return 0, 0, false
		}
		if binary.BigEndian.Uint16(raw[nhoff+6:])&0x1fff != 0 {
			return 0, 0, false // a fragment (conntrack sees reassembled packets)
		}
		dataoff := nhoff + int(raw[nhoff]&0x0f)<<2
		if dataoff > len(raw) {
			return 0, 0, false
		}
		return dataoff, raw[nhoff+9], dataoff > 0
	}
	// ipv6_get_l4proto
	if len(raw) < nhoff+7 {
		return 0, 0, false
	}
	next := raw[nhoff+6]
	start := nhoff + 40
	var fragOff uint16
	// ipv6_skip_exthdr
	for isExtHdr(next) {
		if next == pkt.ProtoNone {
			return 0, 0, false
		}
		if len(raw) < start+2 {
			return 0, 0, false
		}
		var hdrlen int
		if next == pkt.ProtoFragment {
			if len(raw) < start+4 {
				return 0, 0, false
			}
			fragOff = binary.BigEndian.Uint16(raw[start+2:])
			if fragOff&^7 != 0 {
				break
			}
			hdrlen = 8
		} else if next == pkt.ProtoAH {
			hdrlen = (int(raw[start+1]) + 2) << 2
		} else {
			hdrlen = (int(raw[start+1]) + 1) << 3
		}
		next = raw[start]
		start += hdrlen
	}
	if fragOff&^7 != 0 {
		return 0, 0, false
	}
	return start, next, start > 0
}

func isExtHdr(h uint8) bool {
	switch h {
	case pkt.ProtoHopOpts, pkt.ProtoRouting, pkt.ProtoFragment, pkt.ProtoAH, pkt.ProtoNone, pkt.ProtoDstOpts:
		return true
	}
	return false
}

// getTuple is nf_ct_get_tuple for the IP header at nhoff and the transport
// header at dataoff.
func getTuple(raw []byte, nhoff, dataoff int, proto uint8, v6 bool) (key, bool) {
	var k key
	k.proto = proto
	k.v6 = v6
	if v6 {
		if len(raw) < nhoff+40 {
			return k, false
		}
		copy(k.src[:], raw[nhoff+8:nhoff+24])
		copy(k.dst[:], raw[nhoff+24:nhoff+40])
	} else {
		if len(raw) < nhoff+20 {
			return k, false
		}
		copy(k.src[:4], raw[nhoff+12:nhoff+16])
		copy(k.dst[:4], raw[nhoff+16:nhoff+20])
	}
	switch proto {
	case pkt.ProtoICMP, pkt.ProtoICMPv6:
		// icmp_pkt_to_tuple / icmpv6_pkt_to_tuple: the whole 8-byte header.
		if dataoff < 0 || len(raw) < dataoff+8 {
			return k, false
		}
		k.dport = uint16(raw[dataoff])<<8 | uint16(raw[dataoff+1])
		k.sport = binary.BigEndian.Uint16(raw[dataoff+4:])
	case pkt.ProtoTCP, pkt.ProtoUDP, pkt.ProtoUDPLite, pkt.ProtoSCTP:
		// nf_ct_get_tuple_ports: the first 4 bytes.
		if dataoff < 0 || len(raw) < dataoff+4 {
			return k, false
		}
		k.sport = binary.BigEndian.Uint16(raw[dataoff:])
		k.dport = binary.BigEndian.Uint16(raw[dataoff+2:])
	}
	return k, true
}
