package conntrack

import (
	"bytes"
	"net/netip"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// ICMP types used by the trackers.
const (
	icmpEchoReply      = 0
	icmpEcho           = 8
	icmpTimestamp      = 13
	icmpTimestampReply = 14
	icmpInfoRequest    = 15
	icmpInfoReply      = 16
	icmpAddress        = 17
	icmpAddressReply   = 18
	nrICMPTypes        = 18

	icmp6EchoRequest = 128
	icmp6EchoReply   = 129
	icmp6NIQuery     = 139
	icmp6NIReply     = 140
	icmp6Redirect    = 137
)

// icmpInvert is the invmap of nf_conntrack_proto_icmp.c.
func icmpInvert(t uint8) (uint8, bool) {
	switch t {
	case icmpEcho:
		return icmpEchoReply, true
	case icmpEchoReply:
		return icmpEcho, true
	case icmpTimestamp:
		return icmpTimestampReply, true
	case icmpTimestampReply:
		return icmpTimestamp, true
	case icmpInfoRequest:
		return icmpInfoReply, true
	case icmpInfoReply:
		return icmpInfoRequest, true
	case icmpAddress:
		return icmpAddressReply, true
	case icmpAddressReply:
		return icmpAddress, true
	}
	return 0, false
}

// icmp6Invert is the invmap of nf_conntrack_proto_icmpv6.c.
func icmp6Invert(t uint8) (uint8, bool) {
	switch t {
	case icmp6EchoRequest:
		return icmp6EchoReply, true
	case icmp6EchoReply:
		return icmp6EchoRequest, true
	case icmp6NIQuery:
		return icmp6NIReply, true
	case icmp6NIReply:
		return icmp6NIQuery, true
	}
	return 0, false
}

// icmpValidNew: the types that may create an ICMP entry.
func icmpValidNew(t uint8) bool {
	return t == icmpEcho || t == icmpTimestamp || t == icmpInfoRequest || t == icmpAddress
}

func icmp6ValidNew(t uint8) bool {
	return t == icmp6EchoRequest || t == icmp6NIQuery
}

// icmp6NoTrack is noct_valid_new: neighbour discovery and multicast
// listener messages are never tracked.
func icmp6NoTrack(t uint8) bool {
	switch t {
	case 130, 131, 132, // MLD query, report, reduction
		133, 134, 135, 136, // router/neighbour solicitation/advertisement
		143,      // MLDv2 report
		151, 152: // multicast router advertisement, solicitation
		return true
	}
	return false
}

func icmpIsErr(t uint8) bool {
	switch t {
	case 3, 4, 5, 11, 12:
		return true
	}
	return false
}

// handleICMP is nf_conntrack_handle_icmp (icmp_error / icmpv6_error). done
// means the result is final: invalid, untracked, or related to an entry.
func (t *Table) handleICMP(raw []byte, dataoff int, proto uint8, v6 bool, hook ruleset.Hook, now int64) (Result, bool) {
	if !v6 && proto == pkt.ProtoICMP {
		if len(raw) < dataoff+8 {
			return invalid, true // short packet
		}
		if t.hookChecks(hook) && !l4ChecksumOK(raw, dataoff, len(raw)-dataoff, pkt.ProtoICMP, false) {
			return invalid, true
		}
		typ := raw[dataoff]
		if typ > nrICMPTypes {
			return invalid, true
		}
		if !icmpIsErr(typ) {
			return Result{}, false
		}
		return t.inetError(raw, dataoff+8, v6, now), true
	}
	if v6 && proto == pkt.ProtoICMPv6 {
		if len(raw) < dataoff+8 {
			return invalid, true
		}
		if t.hookChecks(hook) && !l4ChecksumOK(raw, dataoff, len(raw)-dataoff, pkt.ProtoICMPv6, true) {
			return invalid, true
		}
		typ := raw[dataoff]
		if icmp6NoTrack(typ) {
			return Untracked(), true
		}
		if typ == icmp6Redirect {
			return t.icmp6Redirect(raw, dataoff, now)
		}
		if typ >= 128 {
			return Result{}, false
		}
		return t.inetError(raw, dataoff+8, v6, now), true
	}
	return Result{}, false
}

// icmp6Redirect is nf_conntrack_icmpv6_redirect.
func (t *Table) icmp6Redirect(raw []byte, dataoff int, now int64) (Result, bool) {
	const rdMsg = 40 // icmp6hdr, target, destination
	if len(raw) < dataoff+rdMsg {
		return invalid, true // short redirect
	}
	if raw[dataoff+1] != 0 {
		return Result{}, false
	}
	src := netip.AddrFrom16([16]byte(raw[8:24]))
	if raw[7] != 255 || !src.IsLinkLocalUnicast() {
		return invalid, true
	}
	off := dataoff + rdMsg
	if len(raw) < off+2 || raw[off+1] == 0 {
		return invalid, true // redirect without options
	}
	if raw[off] != 4 { // ND_OPT_REDIRECT_HDR
		return Result{}, false
	}
	return t.inetError(raw, off+8, true, now), true
}

// inetError is nf_conntrack_inet_error: an ICMP error quoting a packet of a
// tracked connection is RELATED to it, in the direction the quoted packet
// answers; anything else is INVALID. Such packets are not counted on the
// entry and do not refresh it.
func (t *Table) inetError(raw []byte, inner int, v6 bool, now int64) Result {
	dataoff, proto, ok := l4proto(raw, inner, v6)
	if !ok {
		return invalid
	}
	orig, ok := getTuple(raw, inner, dataoff, proto, v6)
	if !ok {
		return invalid
	}
	// The quoted packet went the other way: look up its inverse.
	it, ok := orig.invert()
	if !ok {
		return invalid
	}
	idx, dir, found := t.find(it, now)
	if !found {
		return invalid
	}
	e := t.at(idx)
	// The entry's destination in that direction must be the error's
	// destination.
	ct := e.conn.Orig
	if dir == DirReply {
		ct = e.conn.Reply
	}
	var outer []byte
	if v6 {
		outer = raw[24:40]
	} else {
		outer = raw[16:20]
	}
	ctd := addrBytes(ct.Dst)
	if !bytes.Equal(outer, ctd[:len(outer)]) {
		return invalid
	}
	e.conn.Expires = e.expires(now)
	return Result{State: pkt.CTRelated, Dir: dir, Conn: &e.conn, ref: idx + 1}
}
