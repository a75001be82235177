package conntrack

import (
	"time"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

var _ pkt.ConnTable = (*Table)(nil)

// Lookup is nf_conntrack_find_get as connection counters (nf_conncount,
// behind the connlimit match) use it: the confirmed, unexpired entry one of
// whose tuples is tp, as of now. closed reports a TCP entry in TIME_WAIT or
// CLOSE (nf_conncount's already_closed). Like the kernel's lookup, it
// removes an expired entry it meets. Zones are not part of the tuple here
// (see the package doc).
func (t *Table) Lookup(tp pkt.Tuple, now time.Time) (conn *pkt.Conn, closed, ok bool) {
	if t.m == nil {
		return nil, false, false
	}
	idx, _, found := t.find(tupleKey(&tp), now.UnixNano())
	if !found {
		return nil, false, false
	}
	e := t.at(idx)
	closed = e.conn.Orig.Proto == pkt.ProtoTCP && (e.tcp.state == sTW || e.tcp.state == sCL)
	return &e.conn, closed, true
}

// PacketTuple is nf_ct_get_tuplepr: the tuple conntrack derives from the
// packet's own headers (addresses, protocol, ports or ICMP id, type and
// code), as the packet travels; false when there is none (a non-first
// fragment, a truncated transport header). It does not look at the table.
func (t *Table) PacketTuple(p *pkt.Packet) (pkt.Tuple, bool) {
	v6 := p.Family == ruleset.IPv6
	dataoff, proto, ok := l4proto(p.Raw, 0, v6)
	if !ok {
		return pkt.Tuple{}, false
	}
	k, ok := getTuple(p.Raw, 0, dataoff, proto, v6)
	if !ok {
		return pkt.Tuple{}, false
	}
	return k.tuple(), true
}
