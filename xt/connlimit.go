package xt

import (
	"strings"
	"time"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// ConnlimitMatch is the connlimit match (revision 1): the number of
// connections from the packet's source (or, with Daddr, to its
// destination) network of prefix length Bits is above Limit, or with Upto
// at most Limit.
type ConnlimitMatch struct {
	Limit  uint32
	Upto   bool // --connlimit-upto, or an inverted --connlimit-above
	Daddr  bool
	Bits   uint8
	Family ruleset.Family
	set    uint32
}

// connlimit option ids.
const (
	clOptUpto = iota
	clOptAbove
	clOptMask
	clOptSaddr
	clOptDaddr
)

var connlimitExcl = []exclOpt{
	{"connlimit-upto", clOptUpto, 1 << clOptAbove}, {"connlimit-above", clOptAbove, 1 << clOptUpto},
	{"connlimit-mask", clOptMask, 0}, {"connlimit-saddr", clOptSaddr, 1 << clOptDaddr},
	{"connlimit-daddr", clOptDaddr, 1 << clOptSaddr},
}

func init() {
	Register(&Def{Name: "connlimit", New: func() Parser { return &ConnlimitMatch{Bits: 255} },
		Options: []Option{
			{Name: "connlimit-upto", Arg: ReqArg, Invert: true},
			{Name: "connlimit-above", Arg: ReqArg, Invert: true},
			{Name: "connlimit-mask", Arg: ReqArg}, {Name: "connlimit-saddr"}, {Name: "connlimit-daddr"},
		}})
}

// Name implements ruleset.Extension.
func (m *ConnlimitMatch) Name() string { return "connlimit" }

// Parse implements Parser.
func (m *ConnlimitMatch) Parse(ctx *Context, opt, arg string, inv bool) error {
	switch opt {
	case "connlimit-upto", "connlimit-above":
		v, err := ParseOptUint("connlimit", opt, arg, 0, 0xFFFFFFFF)
		if err != nil {
			return err
		}
		m.Limit = uint32(v)
		if inv == (opt == "connlimit-above") {
			m.Upto = true
		}
		if opt == "connlimit-upto" {
			m.set |= 1 << clOptUpto
		} else {
			m.set |= 1 << clOptAbove
		}
	case "connlimit-mask":
		bits, err := ParsePlenMask("connlimit", opt, arg, ctx.Family)
		if err != nil {
			return err
		}
		m.Bits = bits
		m.set |= 1 << clOptMask
	case "connlimit-saddr":
		m.Daddr = false
		m.set |= 1 << clOptSaddr
	case "connlimit-daddr":
		m.Daddr = true
		m.set |= 1 << clOptDaddr
	}
	return nil
}

// Final implements Parser.
func (m *ConnlimitMatch) Final(ctx *Context) (ruleset.Extension, error) {
	if m.set&(1<<clOptUpto|1<<clOptAbove) == 0 {
		return nil, Errorf("You must specify \"--connlimit-above\" or \"--connlimit-upto\".")
	}
	if err := checkExclusive("connlimit", connlimitExcl, m.set); err != nil {
		return nil, err
	}
	m.Family = ctx.Family
	if m.Bits == 255 {
		m.Bits = uint8(ctx.Family.AddrBits())
	}
	m.set = 0
	return m, nil
}

func (m *ConnlimitMatch) dirName() string {
	if m.Daddr {
		return "dst"
	}
	return "src"
}

// Save implements ruleset.Extension.
func (m *ConnlimitMatch) Save(b *strings.Builder, _ ruleset.Fmt) {
	if m.Upto {
		b.WriteString(" --connlimit-upto ")
	} else {
		b.WriteString(" --connlimit-above ")
	}
	b.WriteString(Utoa(uint64(m.Limit)) + " --connlimit-mask " + Utoa(uint64(m.Bits)))
	if m.Daddr {
		b.WriteString(" --connlimit-daddr")
	} else {
		b.WriteString(" --connlimit-saddr")
	}
}

// Print implements ruleset.Extension.
func (m *ConnlimitMatch) Print(b *strings.Builder, _ ruleset.Fmt) {
	op := ">"
	if m.Upto {
		op = "<="
	}
	b.WriteString(" #conn " + m.dirName() + "/" + Utoa(uint64(m.Bits)) + " " + op + " " + Utoa(uint64(m.Limit)))
}

// connlimit evaluation: nf_conncount as Linux 6.18 has it
// (nf_conncount_count_skb). Each rule keeps its own tree of keys (the
// masked source or destination address of the packet's IP header, and the
// conntrack zone), each with a list of the tuples of the connections it
// counted. Lists are cleaned lazily, at most once per jiffy, by looking the
// tuples up in the conntrack table.

// clGCMax is CONNCOUNT_GC_MAX_NODES.
const clGCMax = 8

// clKey is the key nf_conncount compares: the masked address and the
// zone id.
type clKey struct {
	addr [16]byte
	zone uint16
}

// clConn is struct nf_conncount_tuple: a counted connection.
type clConn struct {
	tuple   pkt.Tuple
	zone    uint16
	jiffies uint32
}

// clList is struct nf_conncount_list.
type clList struct {
	conns  []clConn
	lastGC uint32
}

// clState is one rule's nf_conncount_data.
type clState struct {
	lists map[clKey]*clList
}

func newCLState() any { return &clState{lists: map[clKey]*clList{}} }

// clJiffies is (u32)jiffies at HZ=250 for the packet's time. The kernel's
// jiffies count from boot with an arbitrary phase; here they count from the
// Unix epoch, which keeps what nf_conncount compares (two times in the same
// jiffy or not).
func clJiffies(now time.Time) uint32 {
	return uint32(floorDiv(now.UnixNano(), ctJiffy))
}

// clErr is what __nf_conncount_add returns.
type clErr uint8

const (
	clOK    clErr = iota
	clExist       // -EEXIST: the packet's connection is already confirmed
	clNoEnt       // -ENOENT: the packet has no tuple
)

// ctOrTuple is get_ct_or_tuple_from_skb: the packet's connection (its
// original tuple), or the tuple of its headers and the confirmed entry
// that has it, if any.
func ctOrTuple(c *pkt.Ctx) (tp pkt.Tuple, ct *pkt.Conn, ok bool) {
	if c.Conn != nil {
		return c.Conn.Orig, c.Conn, true
	}
	tp, ok = c.Conns.PacketTuple(c.P)
	if !ok {
		return tp, nil, false
	}
	ct, _, _ = c.Conns.Lookup(tp, c.Now)
	return tp, ct, true
}

// remove is conn_free.
func (l *clList) remove(i int) {
	copy(l.conns[i:], l.conns[i+1:])
	l.conns = l.conns[:len(l.conns)-1]
}

// add is __nf_conncount_add. The model runs on one CPU, so a counted tuple
// that conntrack no longer has is always evicted (find_or_evict).
func (l *clList) add(c *pkt.Ctx, zone uint16, now uint32) clErr {
	tp, ct, ok := ctOrTuple(c)
	if !ok {
		return clNoEnt
	}
	if ct != nil && ct.Status&ipsConfirmed != 0 {
		return clExist
	}
	if now != l.lastGC {
		collect := 0
		for i := 0; i < len(l.conns); {
			if collect > clGCMax {
				break
			}
			cc := &l.conns[i]
			found, closed, ok := c.Conns.Lookup(cc.tuple, c.Now)
			if !ok {
				l.remove(i)
				collect++
				continue
			}
			if cc.tuple == tp && found.Zone == zone {
				return clOK // already counted
			}
			if closed {
				l.remove(i)
				collect++
				continue
			}
			i++
		}
		l.lastGC = now
	}
	l.conns = append(l.conns, clConn{tuple: tp, zone: zone, jiffies: now})
	return clOK
}

// gc is __nf_conncount_gc_list.
func (l *clList) gc(c *pkt.Ctx, now uint32) {
	if now == l.lastGC {
		return
	}
	collected := 0
	for i := 0; i < len(l.conns); {
		_, closed, ok := c.Conns.Lookup(l.conns[i].tuple, c.Now)
		if !ok || closed {
			l.remove(i)
			collected++
			continue
		}
		i++
		if collected > clGCMax {
			break
		}
	}
	l.lastGC = now
}

// count is count_tree (with insert_tree): the number of connections counted
// under the packet's key after counting the packet's own; 0 means the
// kernel drops the packet (hotdrop).
func (s *clState) count(c *pkt.Ctx, k clKey, now uint32) int {
	l := s.lists[k]
	if l == nil {
		// insert_tree: a new node with the packet's tuple, even when its
		// connection is already confirmed.
		tp, _, ok := ctOrTuple(c)
		if !ok {
			return 0
		}
		l = &clList{lastGC: now}
		l.conns = append(l.conns, clConn{tuple: tp, zone: k.zone, jiffies: now})
		s.lists[k] = l
		return 1
	}
	if len(l.conns) == 0 {
		// count_tree defers an emptied node to insert_tree, which finds
		// it again and adds without cleaning on -EEXIST: a confirmed
		// connection then counts 0 and is dropped.
		if err := l.add(c, k.zone, now); err != clOK && err != clExist {
			return 0
		}
		return len(l.conns)
	}
	switch l.add(c, k.zone, now) {
	case clOK:
	case clExist:
		l.gc(c, now)
	default:
		return 0
	}
	return len(l.conns)
}

// Match implements pkt.Matcher as xt_connlimit's connlimit_mt does on
// Linux 6.18: it counts the packet's connection under its key and
// compares. A count of 0 (the packet has no tuple, or its key's list
// emptied while its connection is already confirmed) is a hotdrop: the
// packet is dropped at once (c.DropNow).
func (m *ConnlimitMatch) Match(c *pkt.Ctx) bool {
	if c.Conns == nil {
		return c.Undecide("connlimit: no conntrack table")
	}
	if c.Store == nil {
		return c.Undecide("connlimit: no state store")
	}
	var k clKey
	a := c.P.Src
	if m.Daddr {
		a = c.P.Dst
	}
	if a.Is4() {
		b := a.As4()
		copy(k.addr[:4], b[:])
	} else {
		k.addr = a.As16()
	}
	n := int(m.Bits)
	for i := range k.addr {
		switch {
		case n >= 8:
			n -= 8
		case n > 0:
			k.addr[i] &= byte(0xFF) << (8 - n)
			n = 0
		default:
			k.addr[i] = 0
		}
	}
	if c.Conn != nil {
		k.zone = c.Conn.Zone
	}
	s := c.Store.Get(m, newCLState).(*clState)
	conns := s.count(c, k, clJiffies(c.Now))
	if conns == 0 {
		c.DropNow = true
		return false
	}
	return (uint64(conns) > uint64(m.Limit)) != m.Upto
}
