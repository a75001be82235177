package xt

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Recent command and modifier bits (struct xt_recent_mtinfo.check_set).
const (
	RecentCheck  uint8 = 1 << 0
	RecentSet    uint8 = 1 << 1
	RecentUpdate uint8 = 1 << 2
	RecentRemove uint8 = 1 << 3
	RecentTTL    uint8 = 1 << 4
	RecentReap   uint8 = 1 << 5
)

// Recent list sides.
const (
	RecentSource uint8 = 0
	RecentDest   uint8 = 1
)

const recentNameLen = 199 // char name[XT_RECENT_NAME_LEN=200], NUL-terminated

// Recent is the recent match, revision 1 (-m recent).
type Recent struct {
	CheckSet uint8 // Recent* bits
	Invert   bool
	Seconds  uint32
	HitCount uint32
	List     string // --name
	Side     uint8  // RecentSource or RecentDest
	Mask     netip.Addr

	key any // the store key of the list, recentKey boxed once
}

// recent option ids, in the order of libxt_recent's table.
const (
	rcSet = iota
	rcRcheck
	rcUpdate
	rcRemove
	rcSeconds
	rcReap
	rcHitcount
	rcRttl
	rcName
	rcRsource
	rcRdest
	rcMask
)

var recentOpts = []string{"set", "rcheck", "update", "remove", "seconds", "reap", "hitcount", "rttl", "name", "rsource", "rdest", "mask"}

type recentParser struct {
	m    Recent
	seen uint32
}

func init() {
	Register(&Def{Name: "recent", New: func() Parser { return &recentParser{} },
		Options: []Option{
			{Name: "set", Invert: true}, {Name: "rcheck", Invert: true},
			{Name: "update", Invert: true}, {Name: "remove", Invert: true},
			{Name: "seconds", Arg: ReqArg}, {Name: "reap"},
			{Name: "hitcount", Arg: ReqArg}, {Name: "rttl"},
			{Name: "name", Arg: ReqArg}, {Name: "rsource"}, {Name: "rdest"},
			{Name: "mask", Arg: ReqArg},
		}})
}

// Parse implements Parser.
func (p *recentParser) Parse(ctx *Context, opt, arg string, inv bool) error {
	id := 0
	for i, n := range recentOpts {
		if n == opt {
			id = i
		}
	}
	p.seen |= 1 << id
	m := &p.m
	switch id {
	case rcSet, rcRcheck, rcUpdate, rcRemove:
		m.CheckSet |= []uint8{RecentSet, RecentCheck, RecentUpdate, RecentRemove}[id]
		if inv {
			m.Invert = true
		}
	case rcSeconds:
		v, err := x6Uint("recent", opt, arg, 1, 1<<32-1)
		if err != nil {
			return err
		}
		m.Seconds = uint32(v)
	case rcHitcount:
		v, err := x6Uint("recent", opt, arg, 0, 1<<32-1)
		if err != nil {
			return err
		}
		m.HitCount = uint32(v)
	case rcReap:
		m.CheckSet |= RecentReap
	case rcRttl:
		m.CheckSet |= RecentTTL
	case rcName:
		if len(arg) > recentNameLen {
			arg = arg[:recentNameLen]
		}
		m.List = arg
	case rcRsource:
		m.Side = RecentSource
	case rcRdest:
		m.Side = RecentDest
	case rcMask:
		a, err := parseHostArg(arg, ctx.Family)
		if err != nil {
			return err
		}
		m.Mask = a
	}
	return nil
}

// parseHostArg parses an XTTYPE_HOST argument: an address of the family,
// or a name resolved as getaddrinfo would (it must give one address).
func parseHostArg(arg string, f ruleset.Family) (netip.Addr, error) {
	if a, ok := parseIPv6Numeric(arg); ok {
		if f == ruleset.IPv6 {
			return a, nil
		}
		return netip.Addr{}, Errorf("getaddrinfo: Address family for hostname not supported\n")
	}
	if a, ok := inetAtonAddr(arg); ok {
		if f == ruleset.IPv4 {
			return a, nil
		}
		return netip.Addr{}, Errorf("getaddrinfo: Address family for hostname not supported\n")
	}
	network := "ip4"
	if f == ruleset.IPv6 {
		network = "ip6"
	}
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(c, network, arg)
	if err != nil || len(ips) == 0 {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return netip.Addr{}, Errorf("getaddrinfo: Name or service not known\n")
		}
		return netip.Addr{}, Errorf("getaddrinfo: Temporary failure in name resolution\n")
	}
	for _, ip := range ips[1:] {
		if ip.Unmap() != ips[0].Unmap() {
			return netip.Addr{}, Errorf("%s resolves to more than one address\n", arg)
		}
	}
	a := ips[0]
	if f == ruleset.IPv4 {
		a = a.Unmap()
	}
	return a, nil
}

// Final implements Parser.
func (p *recentParser) Final(ctx *Context) (ruleset.Extension, error) {
	m := p.m
	if p.seen&(1<<rcName) == 0 {
		m.List = "DEFAULT"
	}
	if p.seen&(1<<rcMask) == 0 {
		if ctx.Family == ruleset.IPv6 {
			m.Mask = netip.IPv6Unspecified()
			b := m.Mask.As16()
			for i := range b {
				b[i] = 0xff
			}
			m.Mask = netip.AddrFrom16(b)
		} else {
			m.Mask = netip.AddrFrom4([4]byte{255, 255, 255, 255})
		}
	}
	const anyOp = 1<<rcSet | 1<<rcRcheck | 1<<rcUpdate | 1<<rcRemove
	if p.seen&anyOp == 0 {
		return nil, Errorf("recent: you must specify one of `--set', `--rcheck' `--update' or `--remove'")
	}
	// The option table: each command excludes the others, --reap needs
	// --seconds, --rttl excludes --set and --remove.
	for id := rcSet; id <= rcRemove; id++ {
		if p.seen&(1<<id) == 0 {
			continue
		}
		for o := rcSet; o <= rcRemove; o++ {
			if o != id && p.seen&(1<<o) != 0 {
				return nil, Errorf("recent: option \"--%s\" cannot be used together with \"--%s\".\n", recentOpts[id], recentOpts[o])
			}
		}
	}
	if p.seen&(1<<rcReap) != 0 && p.seen&(1<<rcSeconds) == 0 {
		return nil, Errorf("recent: option \"--reap\" also requires \"--seconds\".\n")
	}
	if p.seen&(1<<rcRttl) != 0 {
		for _, o := range []int{rcSet, rcRemove} {
			if p.seen&(1<<o) != 0 {
				return nil, Errorf("recent: option \"--rttl\" cannot be used together with \"--%s\".\n", recentOpts[o])
			}
		}
	}
	// The kernel's recent_mt_check.
	if m.CheckSet&(RecentSet|RecentRemove) != 0 && (m.Seconds != 0 || m.HitCount != 0 || m.CheckSet&(RecentTTL|RecentReap) != 0) {
		return nil, KernelInval()
	}
	if m.HitCount >= 65536 {
		return nil, KernelInval()
	}
	if m.List == "" || m.List == "." || m.List == ".." || strings.ContainsRune(m.List, '/') {
		return nil, KernelInval()
	}
	m.key = recentKey{m.List}
	return &m, nil
}

// Name implements ruleset.Extension.
func (m *Recent) Name() string { return "recent" }

// Save implements ruleset.Extension.
func (m *Recent) Save(b *strings.Builder, _ ruleset.Fmt) {
	if m.Invert {
		b.WriteString(" !")
	}
	for _, x := range []struct {
		bit  uint8
		name string
	}{{RecentSet, " --set"}, {RecentCheck, " --rcheck"}, {RecentUpdate, " --update"}, {RecentRemove, " --remove"}} {
		if m.CheckSet&x.bit != 0 {
			b.WriteString(x.name)
		}
	}
	if m.Seconds != 0 {
		b.WriteString(" --seconds " + Utoa(uint64(m.Seconds)))
	}
	if m.CheckSet&RecentReap != 0 {
		b.WriteString(" --reap")
	}
	if m.HitCount != 0 {
		b.WriteString(" --hitcount " + Utoa(uint64(m.HitCount)))
	}
	if m.CheckSet&RecentTTL != 0 {
		b.WriteString(" --rttl")
	}
	b.WriteString(" --name " + m.List + " --mask " + m.Mask.String())
	if m.Side == RecentSource {
		b.WriteString(" --rsource")
	} else {
		b.WriteString(" --rdest")
	}
}

// Print implements ruleset.Extension.
func (m *Recent) Print(b *strings.Builder, _ ruleset.Fmt) {
	if m.Invert {
		b.WriteString(" !")
	}
	b.WriteString(" recent:")
	for _, x := range []struct {
		bit  uint8
		name string
	}{{RecentSet, " SET"}, {RecentCheck, " CHECK"}, {RecentUpdate, " UPDATE"}, {RecentRemove, " REMOVE"}} {
		if m.CheckSet&x.bit != 0 {
			b.WriteString(x.name)
		}
	}
	if m.Seconds != 0 {
		b.WriteString(" seconds: " + Utoa(uint64(m.Seconds)))
	}
	if m.CheckSet&RecentReap != 0 {
		b.WriteString(" reap")
	}
	if m.HitCount != 0 {
		b.WriteString(" hit_count: " + Utoa(uint64(m.HitCount)))
	}
	if m.CheckSet&RecentTTL != 0 {
		b.WriteString(" TTL-Match")
	}
	b.WriteString(" name: " + m.List)
	if m.Side == RecentSource {
		b.WriteString(" side: source")
	} else {
		b.WriteString(" side: dest")
	}
	b.WriteString(" mask: " + m.Mask.String())
}

// Module parameters of xt_recent (as the kernel here has them).
var (
	// RecentListTot is ip_list_tot: the addresses one list remembers; a
	// new one evicts the least recently updated.
	RecentListTot = 100
	// RecentPktListTot is ip_pkt_list_tot: 0 (the default since Linux
	// 4.10; it was 20 before) lets each rule's --hitcount size the
	// timestamps kept per address (32 without one).
	RecentPktListTot uint32 = 0
)

// recentKey names a list: the kernel keeps one per name in each network
// namespace (a Store), shared by IPv4 and IPv6 rules.
type recentKey struct{ name string }

// recentEnt is struct recent_entry, linked in LRU order by index.
type recentEnt struct {
	addr       [16]byte
	v6         bool
	ttl        uint8
	index      uint16
	nstamps    uint16
	stamps     []uint64
	near       []bool // stamp taken within MarginalWindow of a jiffy boundary
	prev, next int32  // LRU neighbours (-1 none)
}

// recentTable is struct recent_table.
type recentTable struct {
	ok        bool
	mask      netip.Addr // from the rule that created the list
	stampMask uint16     // nstamps_max_mask
	ents      []recentEnt
	free      []int32
	idx       map[recentAddr]int32
	head      int32 // oldest (LRU head), -1 when empty
	tail      int32
}

// recentAddr is the lookup key: family and masked address.
type recentAddr struct {
	addr [16]byte
	v6   bool
}

func newRecentTable() any { return &recentTable{} }

func (m *Recent) storeKey() any {
	if m.key == nil {
		m.key = recentKey{m.List}
	}
	return m.key
}

// roundupPow2 is roundup_pow_of_two for 1 <= n <= 65535.
func roundupPow2(n uint32) uint32 {
	p := uint32(1)
	for p < n {
		p <<= 1
	}
	return p
}

// stampMask is the nstamp_mask recent_mt_check computes for this rule.
func (m *Recent) stampMask() uint16 {
	switch {
	case RecentPktListTot != 0 && m.HitCount < RecentPktListTot:
		return uint16(roundupPow2(RecentPktListTot) - 1)
	case m.HitCount != 0:
		return uint16(roundupPow2(m.HitCount) - 1)
	}
	return 31
}

// table is recent_mt_check's part on the list: find it or create it with
// this rule's mask; a rule that needs more timestamps than the list keeps
// flushes the list and raises its size.
func (m *Recent) table(s pkt.StateStore) *recentTable {
	t := s.Get(m.storeKey(), newRecentTable).(*recentTable)
	sm := m.stampMask()
	if !t.ok {
		t.ok = true
		t.mask = m.Mask
		t.stampMask = sm
		t.idx = map[recentAddr]int32{}
		t.head, t.tail = -1, -1
	} else if sm > t.stampMask {
		t.flush()
		t.stampMask = sm
	}
	return t
}

// Check implements Checker: recent_mt_check as the rule is loaded.
func (m *Recent) Check(s pkt.StateStore, _ time.Time) { m.table(s) }

func (t *recentTable) unlink(i int32) {
	e := &t.ents[i]
	if e.prev >= 0 {
		t.ents[e.prev].next = e.next
	} else {
		t.head = e.next
	}
	if e.next >= 0 {
		t.ents[e.next].prev = e.prev
	} else {
		t.tail = e.prev
	}
}

func (t *recentTable) linkTail(i int32) {
	e := &t.ents[i]
	e.prev, e.next = t.tail, -1
	if t.tail >= 0 {
		t.ents[t.tail].next = i
	} else {
		t.head = i
	}
	t.tail = i
}

// remove is recent_entry_remove.
func (t *recentTable) remove(i int32) {
	t.unlink(i)
	e := &t.ents[i]
	delete(t.idx, recentAddr{e.addr, e.v6})
	t.free = append(t.free, i)
}

func (t *recentTable) flush() {
	for t.head >= 0 {
		t.remove(t.head)
	}
}

// init is recent_entry_init: evict the oldest entry of a full list, then
// add the address with one timestamp.
func (t *recentTable) init(a recentAddr, ttl uint8, now uint64, near bool) int32 {
	if len(t.idx) >= RecentListTot && t.head >= 0 {
		t.remove(t.head)
	}
	var i int32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		t.ents = append(t.ents, recentEnt{})
		i = int32(len(t.ents) - 1)
	}
	e := &t.ents[i]
	size := int(t.stampMask) + 1
	if cap(e.stamps) < size {
		e.stamps = make([]uint64, size)
	}
	e.stamps = e.stamps[:size]
	if cap(e.near) < size {
		e.near = make([]bool, size)
	}
	e.near = e.near[:size]
	e.addr, e.v6, e.ttl = a.addr, a.v6, ttl
	e.stamps[0], e.near[0] = now, near
	e.nstamps, e.index = 1, 1
	t.idx[a] = i
	t.linkTail(i)
	return i
}

// update is recent_entry_update.
func (t *recentTable) update(i int32, now uint64, near bool) {
	e := &t.ents[i]
	e.index &= t.stampMask
	e.stamps[e.index], e.near[e.index] = now, near
	e.index++
	if e.index > e.nstamps {
		e.nstamps = e.index
	}
	t.unlink(i)
	t.linkTail(i)
}

// inetAddr is the address as a union nf_inet_addr holds it.
func inetAddr(a netip.Addr) (u [16]byte) {
	if a.Is4() {
		b := a.As4()
		copy(u[:], b[:])
		return u
	}
	if a.IsValid() {
		return a.As16()
	}
	return u
}

// timeAfter is time_after(a, b).
func timeAfter(a, b uint64) bool { return int64(b-a) < 0 }

// recentEdge reports whether a timestamp is at the edge of a --seconds
// window starting at jiffy since: it is in the window when stamp >= since,
// and each of the two times near a jiffy boundary (the packet's: near; the
// stamp's: stampNear) may be one jiffy off, so a stamp within that many
// jiffies of the edge may go either way.
func recentEdge(since, stamp uint64, near, stampNear bool) bool {
	r := int64(0)
	if near {
		r++
	}
	if stampNear {
		r++
	}
	x := int64(since - stamp)
	return -r < x && x <= r
}

// Match implements pkt.Matcher as xt_recent's recent_mt (revision 1). The
// list is shared by name in the store and masks addresses with the mask of
// the rule that created it; timestamps are jiffies at HZ=250 (rlJiffies).
// A packet that leaves through an output device and has no local socket
// (FORWARD, or POSTROUTING with an input device) counts its TTL one higher,
// as seen before forwarding; locally generated packets are taken as
// having a socket.
func (m *Recent) Match(c *pkt.Ctx) bool {
	p := c.P
	t := m.table(c.Store)
	now := rlJiffies(c.Now)
	ret := m.Invert
	a := p.Src
	if m.Side == RecentDest {
		a = p.Dst
	}
	ttl := p.TTL
	if c.Out != "" && c.In != "" {
		ttl++
	}
	// nf_inet_addr_mask over the 16-byte union: an IPv4 address or mask
	// fills the first 4 bytes.
	key := recentAddr{addr: inetAddr(a), v6: !a.Is4()}
	mk := inetAddr(t.mask)
	for i := range key.addr {
		key.addr[i] &= mk[i]
	}
	i, found := t.idx[key]
	if found && m.CheckSet&RecentTTL != 0 {
		if e := &t.ents[i]; ttl != e.ttl && ttl != 0 && e.ttl != 0 {
			found = false
		}
	}
	if !found {
		if m.CheckSet&RecentSet == 0 {
			return ret
		}
		t.init(key, ttl, now, nearJiffyBoundary(c.Now))
		return !ret
	}
	switch {
	case m.CheckSet&RecentSet != 0:
		ret = !ret
	case m.CheckSet&RecentRemove != 0:
		t.remove(i)
		return !ret
	case m.CheckSet&(RecentCheck|RecentUpdate) != 0:
		since := now - uint64(m.Seconds*hashlimitHZ) // u32 arithmetic
		e := &t.ents[i]
		if m.Seconds != 0 {
			near := nearJiffyBoundary(c.Now)
			for k := uint16(0); k < e.nstamps; k++ {
				if recentEdge(since, e.stamps[k], near, e.near[k]) {
					c.Marginal = true
					break
				}
			}
		}
		hits := uint32(0)
		for k := uint16(0); k < e.nstamps; k++ {
			if m.Seconds != 0 && timeAfter(since, e.stamps[k]) {
				continue
			}
			hits++
			if m.HitCount == 0 || hits >= m.HitCount {
				ret = !ret
				break
			}
		}
		if m.CheckSet&RecentReap != 0 {
			// recent_entry_reap: the oldest entry goes when its last
			// timestamp is before the window, unless it is the one
			// about to be updated.
			h := t.head
			if !(h == i && m.CheckSet&RecentUpdate != 0 && ret) {
				he := &t.ents[h]
				if recentEdge(since, he.stamps[he.index-1], nearJiffyBoundary(c.Now), he.near[he.index-1]) {
					c.Marginal = true
				}
				if timeAfter(since, he.stamps[he.index-1]) {
					t.remove(h)
					if h == i {
						return ret
					}
				}
			}
		}
	}
	if m.CheckSet&RecentSet != 0 || m.CheckSet&RecentUpdate != 0 && ret {
		t.update(i, now, nearJiffyBoundary(c.Now))
		t.ents[i].ttl = ttl
	}
	return ret
}
