package conntrack

import (
	"time"

	"github.com/rampartfw/rampart/pkt"
)

// Related is nf_conntrack_attach: what the packet REJECT sends in answer to
// a packet whose conntrack was r gets. icmp_send (icmp_glue_bits, for
// errors) / icmpv6_send (icmpv6_getfrag) and nf_send_reset /
// nf_send_reset6 copy the rejected skb's entry onto the new skb, in the
// other direction (ctinfo IP_CT_RELATED_REPLY when the rejected packet went
// in the original direction, IP_CT_RELATED otherwise): the answer is
// RELATED to the rejected packet's connection without being looked up,
// conntrack at OUTPUT leaves it alone ("previously seen"), and it is
// neither counted on the entry nor refreshes it. An unconfirmed entry (the
// rejected packet was the first of its flow) stays unconfirmed: confirming
// a reply-direction packet does nothing, and the entry dies with the two
// packets. ok is false when r has no entry (an INVALID or UNTRACKED
// packet): nothing is attached and the answer is tracked like any packet
// (for an untracked packet the kernel attaches a null entry that
// nf_conntrack_in ignores, with the same outcome).
func (t *Table) Related(r Result, now time.Time) (Result, bool) {
	if r.ref == 0 || r.Conn == nil {
		return Result{}, false
	}
	e := t.at(r.ref - 1)
	if !e.live {
		return Result{}, false
	}
	dir := DirReply
	if r.Dir == DirReply {
		dir = DirOriginal
	}
	e.conn.Expires = e.expires(now.UnixNano())
	return Result{State: pkt.CTRelated, Dir: dir, Conn: &e.conn, ref: r.ref}, true
}

// SetClosing is nf_ct_set_closing as nf_send_reset / nf_send_reset6 call
// it on the rejected packet's entry once the RST is built (Linux 6.8,
// backported to 6.1): a confirmed TCP entry moves to CLOSE with CLOSE's
// timeout (10 s) from now, unless it is already in CLOSE or has a fixed
// timeout (the state changes even then). Unconfirmed entries and other
// protocols are left alone.
func (t *Table) SetClosing(r Result, now time.Time) {
	if r.ref == 0 {
		return
	}
	e := t.at(r.ref - 1)
	if !e.live || e.dying || !e.confirmed() || e.conn.Orig.Proto != pkt.ProtoTCP {
		return
	}
	old := e.tcp.state
	e.tcp.state = sCL
	if old == sCL || e.conn.Status&IPS_FIXED_TIMEOUT != 0 {
		return
	}
	ns := now.UnixNano()
	e.deadline = ns + int64(tcpTimeouts[sCL])
	e.conn.Expires = e.expires(ns)
}
