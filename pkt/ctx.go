package pkt

import (
	"net/netip"
	"time"

	"github.com/rampartfw/rampart/ruleset"
)

// Verdict is what a target decides for a packet.
type Verdict uint8

// Verdicts. Continue goes on with the next rule (non-terminal targets such
// as LOG and MARK).
const (
	Continue Verdict = iota
	Accept
	Drop
	Return
	Queue
	Stolen
)

// String names the verdict as iptables does.
func (v Verdict) String() string {
	return [...]string{"CONTINUE", "ACCEPT", "DROP", "RETURN", "QUEUE", "STOLEN"}[v]
}

// Conntrack states of a packet (the state/conntrack match bits).
const (
	CTInvalid     uint8 = 1 << 0
	CTEstablished uint8 = 1 << 1
	CTRelated     uint8 = 1 << 2
	CTNew         uint8 = 1 << 3
	CTUntracked   uint8 = 1 << 4
)

// Tuple is one direction of a connection.
type Tuple struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16 // ICMP: id in SrcPort, type/code folded by the tracker
	Proto            uint8
}

// Conn is what rules can see of a conntrack entry.
type Conn struct {
	Orig, Reply Tuple
	Status      uint32 // IPS_* bits (see conntrack package)
	Mark        uint32
	Zone        uint16
	Expires     time.Duration // time left at the moment of the packet
	Helper      string
	// Packets and bytes per direction, for connbytes.
	Packets, Bytes [2]uint64
	// Labels are the connection's 128 connlabel bits (nf_conn_labels):
	// bit n is Labels[n/64] bit n%64.
	Labels [2]uint64
}

// StateStore keeps the state of stateful matches (limit buckets, hashlimit
// tables, recent lists) across packets.
type StateStore interface {
	// Get returns the state stored under key, creating it with mk.
	Get(key any, mk func() any) any
}

// Ctx is one packet at one hook: what a match or target may look at and
// change.
type Ctx struct {
	P     *Packet
	Hook  ruleset.Hook
	Table string
	In    string // input interface name ("" at OUTPUT/POSTROUTING-only hooks)
	Out   string // output interface name ("" at PREROUTING/INPUT)
	// SrcMAC is the link-layer source of a received frame (HasMAC).
	SrcMAC [6]byte
	HasMAC bool
	// DstMAC is the link-layer destination of that frame (HasMAC), for
	// LOG's MAC= field.
	DstMAC [6]byte
	Mark   uint32 // skb->mark

	// NoTrack is set by NOTRACK / CT --notrack in the raw table: the
	// packet skips connection tracking (state UNTRACKED).
	NoTrack bool
	// DropNow is set when something below the rules (conntrack with a full
	// table) drops the packet, or a match drops it at once (the kernel's
	// hotdrop: connlimit).
	DropNow bool

	CTState uint8 // one of the CT* bits
	CTDir   uint8 // 0 original, 1 reply
	Conn    *Conn // nil when untracked or invalid
	// Conns is the conntrack table, for matches that look other entries
	// up (connlimit); nil without connection tracking.
	Conns ConnTable

	// Now is the packet's time (from the capture, never the wall clock).
	Now time.Time
	// Store holds the state of stateful matches.
	Store StateStore
	// Facts answers matches that need what a capture lacks (socket owner,
	// ipset contents, bridge ports); nil means "unknown".
	Facts Facts
	// AddrType classifies an address as the host's routing does, for the
	// addrtype and pkttype matches; dev "" means any device. IPv4: 1 <<
	// inet_dev_addr_type (RTN_* numbering); IPv6: the 1<<RTN_LOCAL,
	// 1<<RTN_ANYCAST and 1<<RTN_UNREACHABLE bits of xt_addrtype's
	// match_lookup_rt6. nil or !ok means unknown.
	AddrType func(a netip.Addr, dev string) (types uint16, ok bool)

	// Undecided is set by a match that cannot decide; the engine reports
	// it instead of guessing.
	Undecided string
	// Marginal is set by a stateful match (limit, hashlimit, recent)
	// whose decision would flip if the packet's time moved by less than a
	// small margin (xt.MarginalWindow): a token or jiffy boundary is that
	// close, so a capture's timestamp jitter can decide it.
	Marginal bool

	// Set by targets.
	QueueNum uint16
	// QueueBypass is NFQUEUE's --queue-bypass: with no program listening
	// on the queue the kernel goes on as if the table accepted, instead of
	// dropping.
	QueueBypass bool
	// NAT records a NAT target's binding on the packet's new conntrack
	// entry (set by the engine's conntrack; nil without it).
	NAT NATBinder
	// Host describes the simulated host's interfaces (MASQUERADE,
	// REDIRECT); nil when unknown.
	Host   Host
	Reject string // REJECT's --reject-with, for reports
	Log    []string
}

// Facts answers questions a packet capture cannot.
type Facts interface {
	// Owner returns the socket owner uid/gid of a local packet.
	Owner() (uid, gid uint32, ok bool)
	// InSet reports whether the key is in the named ipset.
	InSet(name string, key netip.Addr) (in, ok bool)

	// Socket reports whether a local packet has a full socket of this
	// network namespace, and whether that socket still has a file (whose
	// fsuid/fsgid Owner returns) - the owner match.
	Socket() (sock, file, ok bool)
	// SupplGroups returns the supplementary groups of the socket file's
	// credentials (owner --suppl-groups).
	SupplGroups() (gids []uint32, ok bool)
	// SetTest is the kernel's ip_set_test for the set match: the set's type
	// takes each key dimension from the packet's source or destination.
	SetTest(c *Ctx, q *SetQuery) (in, ok bool)
	// Bridge returns br_netfilter's bridge info of the packet (physdev):
	// bridged false when it has none; physIn/physOut "" when unset.
	Bridge() (bridged bool, physIn, physOut string, ok bool)
	// RPFilter is the rpfilter match's reverse route lookup
	// (rpfilter_lookup_reverse/6) for the packet arriving on c.In, before
	// invert; flags are XT_RPFILTER_* (1 loose, 2 validmark, 4 accept-local).
	RPFilter(c *Ctx, flags uint8) (pass, ok bool)
	// CPU returns the CPU that processes the packet (smp_processor_id).
	CPU() (cpu uint32, ok bool)
	// Xfrm returns the IPsec states of the packet for the policy match:
	// out false, the sec_path of decapsulation (sp->xvec order; has false
	// when the skb has none); out true, the dst bundle, outermost first.
	Xfrm(out bool) (states []XfrmState, has, ok bool)
}

// SetQuery is one set match test (ip_set_adt_opt): Dirs holds per
// dimension true for src, false for dst; ops are IPSET_COUNTER_* (0 none,
// 1 eq, 2 ne, 3 lt, 4 gt).
type SetQuery struct {
	Name                                         string
	Dirs                                         []bool
	ReturnNomatch, SkipCounters, SkipSubcounters bool
	PacketsOp, BytesOp                           uint8
	Packets, Bytes                               uint64
}

// XfrmState is what the policy match compares of an IPsec state.
type XfrmState struct {
	Src, Dst    netip.Addr
	Proto, Mode uint8 // Mode: 0 transport, 1 tunnel, 2 ro, 3 in_trigger, 4 beet
	SPI, ReqID  uint32
}

// ConnTable is what matches may ask the conntrack table (package
// conntrack implements it).
type ConnTable interface {
	// Lookup is nf_conntrack_find_get: the confirmed, unexpired entry with
	// tuple t in either direction at now; closed reports a TCP entry in
	// TIME_WAIT or CLOSE.
	Lookup(t Tuple, now time.Time) (conn *Conn, closed, ok bool)
	// PacketTuple is nf_ct_get_tuplepr: the tuple of the packet's headers.
	PacketTuple(p *Packet) (Tuple, bool)
}

// NATBinder is nf_nat_setup_info for the packet's new conntrack entry:
// dst selects DNAT (else SNAT), addr is the new address (invalid: keep),
// minPort-maxPort the range for the new port or ICMP id (both 0: keep it,
// or map it into the kernel's default class when the tuple is taken). It
// reports whether a binding was recorded.
type NATBinder interface {
	BindNAT(c *Ctx, dst bool, addr netip.Addr, minPort, maxPort uint16) bool
}

// Host is what targets may ask about the simulated host: Iface returns
// interface i (0, 1, ...) with its addresses in the order they were
// configured; ok is false past the last one.
type Host interface {
	Iface(i int) (name string, addrs []netip.Prefix, ok bool)
}

// Matcher is implemented by extension matches that can evaluate a packet.
type Matcher interface {
	Match(c *Ctx) bool
}

// Actor is implemented by extension targets.
type Actor interface {
	Act(c *Ctx) Verdict
}

// Undecide records that a match cannot decide and returns false.
func (c *Ctx) Undecide(why string) bool {
	if c.Undecided == "" {
		c.Undecided = why
	}
	return false
}
