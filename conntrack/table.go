package conntrack

import (
	"net/netip"
	"time"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Conntrack status bits (enum ip_conntrack_status), for pkt.Conn.Status.
const (
	IPS_EXPECTED      uint32 = 1 << 0
	IPS_SEEN_REPLY    uint32 = 1 << 1
	IPS_ASSURED       uint32 = 1 << 2
	IPS_CONFIRMED     uint32 = 1 << 3
	IPS_SRC_NAT       uint32 = 1 << 4
	IPS_DST_NAT       uint32 = 1 << 5
	IPS_SEQ_ADJUST    uint32 = 1 << 6
	IPS_SRC_NAT_DONE  uint32 = 1 << 7
	IPS_DST_NAT_DONE  uint32 = 1 << 8
	IPS_DYING         uint32 = 1 << 9
	IPS_FIXED_TIMEOUT uint32 = 1 << 10
	IPS_TEMPLATE      uint32 = 1 << 11
	IPS_NAT_CLASH     uint32 = 1 << 12 // IPS_UNTRACKED_BIT, re-purposed in the kernel
	IPS_HELPER        uint32 = 1 << 13
	IPS_OFFLOAD       uint32 = 1 << 14
	IPS_HW_OFFLOAD    uint32 = 1 << 15
)

// Directions (enum ip_conntrack_dir).
const (
	DirOriginal uint8 = 0
	DirReply    uint8 = 1
)

// DefaultMax is a typical nf_conntrack_max. The kernel derives its default
// from the machine's memory (it equals nf_conntrack_buckets); set
// Table.Max to the value of the machine being modelled.
const DefaultMax = 262144

// key is a tuple as the hash table compares it: addresses, the
// protocol-specific part (ports; for ICMP the id in sport and type<<8|code
// in dport), the protocol and the family. Zones are not part of it.
type key struct {
	src, dst     [16]byte
	sport, dport uint16
	proto        uint8
	v6           bool
}

func addrBytes(a netip.Addr) (b [16]byte) {
	if a.Is4() {
		a4 := a.As4()
		copy(b[:], a4[:])
		return b
	}
	return a.As16()
}

func bytesAddr(b *[16]byte, v6 bool) netip.Addr {
	if v6 {
		return netip.AddrFrom16(*b)
	}
	return netip.AddrFrom4([4]byte(b[:4]))
}

// invert is nf_ct_invert_tuple: it fails for ICMP/ICMPv6 types that have no
// reply type.
func (k key) invert() (key, bool) {
	r := key{src: k.dst, dst: k.src, proto: k.proto, v6: k.v6}
	switch k.proto {
	case pkt.ProtoICMP:
		typ, ok := icmpInvert(uint8(k.dport >> 8))
		if !ok {
			return r, false
		}
		r.sport = k.sport
		r.dport = uint16(typ)<<8 | k.dport&0xff
		return r, true
	case pkt.ProtoICMPv6:
		typ, ok := icmp6Invert(uint8(k.dport >> 8))
		if !ok {
			return r, false
		}
		r.sport = k.sport
		r.dport = uint16(typ)<<8 | k.dport&0xff
		return r, true
	}
	r.sport, r.dport = k.dport, k.sport
	return r, true
}

func (k key) tuple() pkt.Tuple {
	return pkt.Tuple{Src: bytesAddr(&k.src, k.v6), Dst: bytesAddr(&k.dst, k.v6), SrcPort: k.sport, DstPort: k.dport, Proto: k.proto}
}

func tupleKey(t *pkt.Tuple) key {
	return key{src: addrBytes(t.Src), dst: addrBytes(t.Dst), sport: t.SrcPort, dport: t.DstPort, proto: t.Proto, v6: t.Src.Is6()}
}

// entry is one conntrack (struct nf_conn). It is a value in a chunk of the
// table's slab; Conn is the view rules get.
type entry struct {
	conn pkt.Conn
	// deadline is ct->timeout: the absolute expiry (Unix ns) once confirmed,
	// the relative timeout (ns) before.
	deadline int64
	// streamTS is UDP's proto.udp.stream_ts (Unix ns).
	streamTS int64
	tcp      tcpConn
	live     bool
	dying    bool
}

func (e *entry) confirmed() bool { return e.conn.Status&IPS_CONFIRMED != 0 }

const chunkBits = 8
const chunkSize = 1 << chunkBits

// Table is the connection tracking table of one network namespace
// (nf_conntrack_hash with its entries). It is not safe for concurrent use.
type Table struct {
	// Max is nf_conntrack_max; 0 means no limit.
	Max int
	// Checksum models nf_conntrack_checksum=1 for packets whose checksum
	// the NIC has not verified (CHECKSUM_NONE): at PREROUTING, TCP, UDP
	// (non-zero checksum), UDP-Lite, ICMP and ICMPv6 packets with a bad
	// checksum are INVALID. Off by default: captures and test packets often
	// carry offloaded (unfilled) checksums that the kernel never checks.
	Checksum bool

	m      map[key]uint32 // tuple → entry index<<1 | direction
	chunks [][]entry
	free   []uint32
	next   uint32
	count  int      // allocated entries, confirmed or not (cnet->count)
	dead   []uint32 // killed while their packet is still in flight
}

// New returns an empty table with room for max entries (0: unlimited).
func New(max int) *Table {
	return &Table{Max: max, m: make(map[key]uint32)}
}

// Len returns the number of live entries (confirmed and unconfirmed, as
// nf_conntrack_count counts them, without killed ones), after removing
// expired ones as of now.
func (t *Table) Len(now time.Time) int {
	t.reap(now.UnixNano())
	return t.count - len(t.dead)
}

func (t *Table) at(idx uint32) *entry {
	return &t.chunks[idx>>chunkBits][idx&(chunkSize-1)]
}

// alloc is __nf_conntrack_alloc: it counts the entry first and, when the
// table is over nf_conntrack_max, tries an early drop; false means the
// packet must be dropped ("nf_conntrack: table full, dropping packet").
func (t *Table) alloc(now int64, orig, reply key) (uint32, bool) {
	if t.Max > 0 && t.count+1 > t.Max && !t.earlyDrop(now) {
		return 0, false
	}
	var idx uint32
	if n := len(t.free); n > 0 {
		idx = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		idx = t.next
		t.next++
		if int(idx>>chunkBits) == len(t.chunks) {
			t.chunks = append(t.chunks, make([]entry, chunkSize))
		}
	}
	e := t.at(idx)
	*e = entry{live: true}
	e.conn.Orig = orig.tuple()
	e.conn.Reply = reply.tuple()
	t.count++
	return idx, true
}

// release frees an entry that is in no hash (nf_conntrack_free).
func (t *Table) release(idx uint32) {
	e := t.at(idx)
	if !e.live {
		return
	}
	*e = entry{}
	t.free = append(t.free, idx)
	t.count--
}

// unhash removes a confirmed entry from the hash (clean_from_lists).
func (t *Table) unhash(e *entry) {
	if !e.confirmed() || e.dying {
		return
	}
	delete(t.m, tupleKey(&e.conn.Orig))
	delete(t.m, tupleKey(&e.conn.Reply))
}

// kill is nf_ct_kill/nf_ct_delete: the entry leaves the hash at once and is
// freed once its packet is done (before the next Track).
func (t *Table) kill(idx uint32) {
	e := t.at(idx)
	if e.dying {
		return
	}
	t.unhash(e)
	e.dying = true
	e.conn.Status |= IPS_DYING
	t.dead = append(t.dead, idx)
}

func (t *Table) flushDead() {
	for _, idx := range t.dead {
		t.release(idx)
	}
	t.dead = t.dead[:0]
}

// expired is nf_ct_is_expired: (s32)(ct->timeout - nfct_time_stamp) <= 0.
func (e *entry) expired(now int64) bool {
	return e.confirmed() && e.deadline-now <= 0
}

// find is __nf_conntrack_find_get: only confirmed entries are found, and
// an expired entry met on the way is removed (nf_ct_gc_expired).
func (t *Table) find(k key, now int64) (uint32, uint8, bool) {
	v, ok := t.m[k]
	if !ok {
		return 0, 0, false
	}
	idx := v >> 1
	e := t.at(idx)
	if e.expired(now) {
		t.unhash(e)
		t.release(idx)
		return 0, 0, false
	}
	return idx, uint8(v & 1), true
}

// reap removes every expired entry (what the gc worker does eventually).
func (t *Table) reap(now int64) {
	for i := uint32(0); i < t.next; i++ {
		e := t.at(i)
		if e.live && !e.dying && e.expired(now) {
			t.unhash(e)
			t.release(i)
		}
	}
}

// earlyDrop makes room for one entry when the table is full. The kernel
// (early_drop) scans up to 8 hash buckets from the new tuple's bucket and
// deletes every confirmed, non-assured, unexpired entry of the first bucket
// holding one; its buckets depend on a random hash seed. This model first
// removes expired entries, then deletes the confirmed non-assured entry that
// expires first (lowest index on ties). It fails when every entry is
// assured (or unconfirmed), and the packet is then dropped.
func (t *Table) earlyDrop(now int64) bool {
	t.reap(now)
	if t.count+1 <= t.Max {
		return true
	}
	victim, found := uint32(0), false
	var best int64
	for i := uint32(0); i < t.next; i++ {
		e := t.at(i)
		if !e.live || e.dying || !e.confirmed() || e.conn.Status&IPS_ASSURED != 0 {
			continue
		}
		if !found || e.deadline < best {
			victim, best, found = i, e.deadline, true
		}
	}
	if !found {
		return false
	}
	e := t.at(victim)
	t.unhash(e)
	t.release(victim)
	return true
}

// refresh is __nf_ct_refresh_acct: a new timeout (relative until the entry
// is confirmed) and the per-direction packet and byte counters.
func (e *entry) refresh(now int64, timeout time.Duration, dir uint8, bytes uint32) {
	if e.conn.Status&IPS_FIXED_TIMEOUT == 0 {
		if e.confirmed() {
			e.deadline = now + int64(timeout)
		} else {
			e.deadline = int64(timeout)
		}
	}
	e.acct(dir, bytes)
}

func (e *entry) acct(dir uint8, bytes uint32) {
	e.conn.Packets[dir]++
	e.conn.Bytes[dir] += uint64(bytes)
}

// expires is nf_ct_expires: time left, 0 for an unconfirmed entry (whose
// ct->timeout still holds a relative value).
func (e *entry) expires(now int64) time.Duration {
	if !e.confirmed() || e.deadline <= now {
		return 0
	}
	return time.Duration(e.deadline - now)
}

// Confirm is nf_conntrack_confirm, run at POSTROUTING and INPUT for a
// packet that was accepted: a new entry enters the table, its timeout
// starts counting from now. It returns Drop when the entry clashes with one
// already in the table and the clash cannot be resolved (the kernel drops
// the packet); for UDP, an identical entry already in the table takes the
// packet over (r.Conn is updated). Confirming an already confirmed entry,
// an untracked or invalid packet, or a reply-direction packet does nothing.
func (t *Table) Confirm(r *Result, now time.Time) pkt.Verdict {
	if r.ref == 0 {
		return pkt.Accept
	}
	idx := r.ref - 1
	e := t.at(idx)
	if !e.live || e.confirmed() || r.Dir != DirOriginal {
		return pkt.Accept
	}
	ns := now.UnixNano()
	if e.dying {
		t.release(idx)
		r.ref, r.Conn = 0, nil
		return pkt.Drop
	}
	ok, rk := tupleKey(&e.conn.Orig), tupleKey(&e.conn.Reply)
	if cidx, _, found := t.find(ok, ns); found {
		return t.clash(r, idx, cidx)
	}
	if cidx, _, found := t.find(rk, ns); found {
		return t.clash(r, idx, cidx)
	}
	e.deadline += ns
	e.conn.Status |= IPS_CONFIRMED
	e.conn.Expires = e.expires(ns)
	t.m[ok] = idx << 1
	t.m[rk] = idx<<1 | 1
	return pkt.Accept
}

// clash is nf_ct_resolve_clash, simplified: protocols with allow_clash
// (UDP, UDP-Lite) whose clashing entries have identical tuples (or no NAT)
// share the entry in the table; everything else drops the packet.
func (t *Table) clash(r *Result, idx, cidx uint32) pkt.Verdict {
	e, c := t.at(idx), t.at(cidx)
	proto := e.conn.Orig.Proto
	if proto == pkt.ProtoUDP || proto == pkt.ProtoUDPLite {
		same := c.conn.Orig == e.conn.Orig && c.conn.Reply == e.conn.Reply
		if c.conn.Status&(IPS_SRC_NAT_DONE|IPS_DST_NAT_DONE) == 0 || same {
			// nf_ct_acct_merge: the loser's counters go to the winner.
			for d := range 2 {
				c.conn.Packets[d] += e.conn.Packets[d]
				c.conn.Bytes[d] += e.conn.Bytes[d]
			}
			t.release(idx)
			r.ref = cidx + 1
			r.Conn = &c.conn
			return pkt.Accept
		}
	}
	t.release(idx)
	r.ref, r.Conn = 0, nil
	return pkt.Drop
}

// Discard drops an unconfirmed entry whose packet did not make it to a
// confirm hook (dropped, stolen, queued and lost): the kernel frees it with
// the packet. It does nothing for confirmed entries.
func (t *Table) Discard(r *Result) {
	if r.ref == 0 {
		return
	}
	e := t.at(r.ref - 1)
	if e.live && !e.confirmed() {
		t.release(r.ref - 1)
		r.ref, r.Conn = 0, nil
	}
}

// Result is what conntrack attached to a packet (skb->_nfct and ctinfo).
type Result struct {
	State uint8     // one of pkt.CTNew, CTEstablished, CTRelated, CTInvalid, CTUntracked
	Dir   uint8     // DirOriginal or DirReply
	Conn  *pkt.Conn // nil when invalid or untracked
	// Drop is set when conntrack itself drops the packet (NF_DROP: table
	// full with nothing to early-drop). The packet sees no rules.
	Drop bool
	ref  uint32 // entry index + 1
}

// Untracked is the result for a packet marked NOTRACK (raw table
// -j NOTRACK / -j CT --notrack) before conntrack: the engine uses it
// instead of calling Track.
func Untracked() Result { return Result{State: pkt.CTUntracked} }

// Apply copies the result into a hook context.
func (r *Result) Apply(c *pkt.Ctx) {
	c.CTState, c.CTDir, c.Conn = r.State, r.Dir, r.Conn
}

// NAT kinds for SetNAT. MASQUERADE is SNAT to the output interface's
// address; REDIRECT is DNAT to the input interface's primary address (or
// ::1/127.0.0.1 at OUTPUT); the engine chooses the address.
type NATKind uint8

const (
	SNAT NATKind = iota
	DNAT
)

// SetNAT records a NAT binding on the new entry of r (nf_nat_setup_info):
// DNAT rewrites the source of the reply tuple, SNAT its destination, so
// that later packets of the flow are found in both directions. addr is the
// new address (invalid: keep), and ports the range for the new port (both
// 0: keep the port, or when the resulting reply tuple is taken, map it
// inside the kernel's default class: 1-511, 600-1023 or 1024-65535). The
// original port is kept when it is in the range and free; otherwise the
// lowest free port of the range is used (the kernel picks one from a hash);
// when none is free, the last one of the range, in use, as the kernel gives
// up with the last port it tried (the entry then clashes at confirmation).
// It returns false when the entry is confirmed or not new. now is the
// packet's time (expired entries do not hold tuples).
func (t *Table) SetNAT(r *Result, kind NATKind, addr netip.Addr, minPort, maxPort uint16, now time.Time) bool {
	if r.ref == 0 {
		return false
	}
	e := t.at(r.ref - 1)
	if !e.live || e.confirmed() || r.Dir != DirOriginal {
		return false
	}
	done := IPS_SRC_NAT_DONE
	if kind == DNAT {
		done = IPS_DST_NAT_DONE
	}
	if e.conn.Status&done != 0 {
		return false
	}
	rep := e.conn.Reply
	// For the reply tuple, DNAT manipulates the source, SNAT the
	// destination; ICMP carries its id in the source "port".
	hasPorts := false
	switch rep.Proto {
	case pkt.ProtoTCP, pkt.ProtoUDP, pkt.ProtoUDPLite, pkt.ProtoSCTP, pkt.ProtoICMP, pkt.ProtoICMPv6:
		hasPorts = true
	}
	icmp := rep.Proto == pkt.ProtoICMP || rep.Proto == pkt.ProtoICMPv6
	port := &rep.DstPort
	if kind == DNAT || icmp {
		port = &rep.SrcPort
	}
	if addr.IsValid() {
		if kind == DNAT {
			rep.Src = addr
		} else {
			rep.Dst = addr
		}
	}
	ns := now.UnixNano()
	taken := func(tp pkt.Tuple) bool {
		_, _, found := t.find(tupleKey(&tp), ns)
		return found
	}
	if hasPorts {
		lo, hi := minPort, maxPort
		if lo == 0 && hi == 0 {
			if !taken(rep) {
				goto ok
			}
			lo, hi = portClass(*port)
			if icmp {
				lo, hi = 0, 65535
			}
		}
		if *port >= lo && *port <= hi && !taken(rep) {
			goto ok
		}
		for p := uint32(lo); p <= uint32(hi); p++ {
			*port = uint16(p)
			if !taken(rep) {
				goto ok
			}
		}
		// No free port: nf_nat_l4proto_unique_tuple gives up with the
		// last one it tried; the tuple clashes at confirmation.
	}
ok:
	e.conn.Reply = rep
	if kind == DNAT {
		e.conn.Status |= IPS_DST_NAT | IPS_DST_NAT_DONE
	} else {
		e.conn.Status |= IPS_SRC_NAT | IPS_SRC_NAT_DONE
	}
	return true
}

// portClass is the range nf_nat_l4proto_unique_tuple maps a port into when
// no range is given.
func portClass(p uint16) (uint16, uint16) {
	switch {
	case p < 512:
		return 1, 511
	case p < 1024:
		return 600, 1023
	}
	return 1024, 65535
}

// TCPState returns the TCP conntrack state name of r's entry ("NONE",
// "SYN_SENT", ...), or "" when r has no TCP entry.
func (t *Table) TCPState(r Result) string {
	if r.ref == 0 {
		return ""
	}
	e := t.at(r.ref - 1)
	if !e.live || e.conn.Orig.Proto != pkt.ProtoTCP {
		return ""
	}
	return tcpStateNames[e.tcp.state]
}

// hookChecks reports whether conntrack verifies checksums at hook.
func (t *Table) hookChecks(hook ruleset.Hook) bool {
	return t.Checksum && hook == ruleset.PreRouting
}
