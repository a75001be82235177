package engine

import (
	"net/netip"
	"time"

	"github.com/rampartfw/rampart/conntrack"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// Tracker is connection tracking as the engine uses it (package conntrack
// implements it).
type Tracker interface {
	// Track is conntrack's step at PREROUTING/OUTPUT (priority -200): it
	// sets c.CTState, c.CTDir and c.Conn, unless the packet was marked
	// untracked (NOTRACK) in the raw table.
	Track(c *pkt.Ctx)
	// Confirm runs when an accepted packet leaves the path (after INPUT or
	// POSTROUTING): a new entry enters the table.
	Confirm(c *pkt.Ctx)
	// Abort forgets the unconfirmed entry of a dropped packet.
	Abort(c *pkt.Ctx)
}

// Attacher is implemented by trackers that give the packet REJECT sends
// the rejected packet's conntrack, as the kernel does (nf_ct_attach from
// icmp_send, icmpv6_send, nf_send_reset and nf_send_reset6): the answer
// passes OUTPUT and POSTROUTING RELATED to that connection, in the other
// direction, without being looked up.
type Attacher interface {
	// Hold keeps the conntrack of the current packet, which REJECT drops,
	// for its answer (instead of Abort). closing: the answer is a TCP reset
	// (nf_ct_set_closing moves a confirmed TCP entry to CLOSE).
	Hold(c *pkt.Ctx, closing bool)
	// Attach gives the current packet, the answer, the held conntrack;
	// false when there is none to attach (the rejected packet was INVALID
	// or UNTRACKED): the answer is then tracked as usual.
	Attach(c *pkt.Ctx) bool
	// Release forgets what Hold kept.
	Release()
}

// Engine is one simulated host: its rulesets, routing, connection tracking
// and the state of stateful matches.
type Engine struct {
	Rulesets map[ruleset.Family]*ruleset.Ruleset
	Host     *Host
	CT       Tracker
	Store    *Store

	ctx      pkt.Ctx // reused for each packet
	loaded   bool    // load-time checks done
	addrType func(netip.Addr, string) (uint16, bool)

	// answer describes what REJECT sent for the last packet it dropped:
	// the kernel sends it synchronously, so in a capture it is the next
	// packet.
	answer rejectAnswer
}

// New returns an engine over the rulesets (either may be nil).
func New(v4, v6 *ruleset.Ruleset, host *Host, ct Tracker) *Engine {
	if host == nil {
		host = NewHost()
	}
	e := &Engine{Rulesets: map[ruleset.Family]*ruleset.Ruleset{}, Host: host, CT: ct, Store: NewStore()}
	if v4 != nil {
		e.Rulesets[ruleset.IPv4] = v4
	}
	if v6 != nil {
		e.Rulesets[ruleset.IPv6] = v6
	}
	e.addrType = host.AddrType
	return e
}

// Result is what happened to a packet.
type Result struct {
	Verdict   pkt.Verdict
	Hook      ruleset.Hook // the hook that decided (the last one for accepted packets)
	Reason    Reason
	Path      Path
	CTState   uint8
	Undecided string
	// Marginal is set when a stateful match's decision for this packet
	// was within xt.MarginalWindow of flipping (pkt.Ctx.Marginal).
	Marginal bool
}

// Delivered reports whether the packet went all the way.
func (r Result) Delivered() bool { return r.Verdict == pkt.Accept && r.Path.Routing == "" }

type tableAt struct {
	name string
	nat  bool // consulted only for the first packet of a connection
}

// hookTables lists, for each hook, the tables in kernel priority order and
// where conntrack runs (after raw).
var hookTables = [5][]tableAt{
	ruleset.PreRouting:  {{"raw", false}, {"", false}, {"mangle", false}, {"nat", true}},
	ruleset.LocalIn:     {{"mangle", false}, {"filter", false}, {"security", false}, {"nat", true}},
	ruleset.Forward:     {{"mangle", false}, {"filter", false}, {"security", false}},
	ruleset.LocalOut:    {{"raw", false}, {"", false}, {"mangle", false}, {"nat", true}, {"filter", false}, {"security", false}},
	ruleset.PostRouting: {{"mangle", false}, {"nat", true}},
}

// load runs the load-time checks of stateful matches (hashlimit tables,
// recent lists) in the order the kernel loads the rules, at the time of
// the first packet (the rules are loaded just before the capture starts).
func (e *Engine) load(now time.Time) {
	e.loaded = true
	for _, f := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		rs := e.Rulesets[f]
		if rs == nil {
			continue
		}
		for _, t := range rs.Tables() {
			for _, c := range t.Chains {
				for _, r := range c.Rules {
					for _, m := range r.Matches {
						if ck, ok := m.(xt.Checker); ok {
							ck.Check(e.Store, now)
						}
					}
				}
			}
		}
	}
}

// Process runs one packet through the host at time now. The packet's
// family picks the ruleset; trace (may be nil) sees every rule visited.
func (e *Engine) Process(p *pkt.Packet, now time.Time, trace Tracer) Result {
	return e.ProcessFrame(p, now, Link{}, trace)
}

// Link is what a capture knows of a received frame's link layer.
type Link struct {
	Src, Dst [6]byte
	Has      bool
}

// ProcessFrame is Process for a packet whose link layer is known: matches
// see its MAC addresses while it is a received packet (not at OUTPUT).
//
// A packet that answers the previous one, dropped by REJECT (its ICMP
// error or TCP reset, which the kernel sends at once), is a locally
// generated packet, whatever its source address, and carries the rejected
// packet's conntrack (see Attacher).
func (e *Engine) ProcessFrame(p *pkt.Packet, now time.Time, link Link, trace Tracer) Result {
	prev := e.answer
	e.answer = rejectAnswer{}
	answer := prev.ok && prev.answeredBy(p)
	at, _ := e.CT.(Attacher)
	if !answer && at != nil {
		at.Release()
	}
	res := e.process(p, now, link, trace, answer, prev.ctState, at)
	res.Marginal = e.ctx.Marginal
	if answer && at != nil && !e.answer.ok {
		at.Release()
	}
	return res
}

// process runs one packet; answer: it is REJECT's answer to the previous
// packet, whose conntrack state was prevState.
func (e *Engine) process(p *pkt.Packet, now time.Time, link Link, trace Tracer, answer bool, prevState uint8, at Attacher) Result {
	res := Result{Path: e.Host.PathOf(p.Src, p.Dst), Verdict: pkt.Accept}
	if answer {
		res.Path = e.Host.LocalPath(p.Dst)
	}
	rs := e.Rulesets[p.Family]
	if !e.loaded {
		e.load(now)
	}
	e.ctx = pkt.Ctx{P: p, Now: now, Store: e.Store, Host: e.Host, AddrType: e.addrType, Log: e.ctx.Log[:0]}
	c := &e.ctx
	tracked := false
	var natDone [2]bool // destination, source manipulation set up
	for si := 0; si < res.Path.n; si++ {
		hs := res.Path.steps[si]
		c.Hook, c.In, c.Out = hs.Hook, hs.In, hs.Out
		res.Hook = hs.Hook
		received := hs.In != "" && hs.In != "lo"
		c.HasMAC = link.Has && received
		if c.HasMAC {
			c.SrcMAC, c.DstMAC = link.Src, link.Dst
		}
		for _, ta := range hookTables[hs.Hook] {
			if ta.name == "" {
				if !tracked {
					tracked = true
					if answer && prevState != pkt.CTInvalid {
						// The answer carries skb->_nfct from birth (for an
						// UNTRACKED rejected packet a null entry that
						// conntrack then ignores): NOTRACK and CT leave a
						// packet with _nfct set alone.
						c.NoTrack = false
					}
					if answer && at != nil && at.Attach(c) {
						// nf_conntrack_in: already has an entry.
					} else if e.CT != nil {
						e.CT.Track(c)
					} else {
						c.CTState = pkt.CTUntracked
					}
					if c.DropNow {
						res.Verdict, res.Reason = pkt.Drop, Reason{Why: "conntrack table full"}
						return res
					}
				}
				continue
			}
			if ta.nat {
				// The nat chains see only a connection's first packet;
				// the binding then applies to all of its packets.
				// Each kind of manipulation is set up once per
				// connection (nf_nat_initialized): a looped-back local
				// packet does not see PREROUTING/INPUT nat again.
				kind := 0
				if hs.Hook == ruleset.LocalIn || hs.Hook == ruleset.PostRouting {
					kind = 1
				}
				first := !natDone[kind]
				natDone[kind] = true
				// nf_nat_initialized: the connection's earlier NEW packets
				// (retransmits, unanswered datagrams) set it up already.
				doneBit := conntrack.IPS_DST_NAT_DONE
				if kind == 1 {
					doneBit = conntrack.IPS_SRC_NAT_DONE
				}
				if first && c.CTState == pkt.CTNew && rs != nil && (c.Conn == nil || c.Conn.Status&doneBit == 0) {
					if t := rs.Table("nat"); t != nil {
						c.Table = "nat"
						if v, why := Table(t, hs.Hook.String(), c, trace); v != pkt.Accept {
							res.Verdict, res.Reason, res.CTState = v, why, c.CTState
							if e.CT != nil {
								e.CT.Abort(c)
							}
							return res
						}
						if c.Conn != nil {
							c.Conn.Status |= doneBit // the null binding, when no target bound
						}
					}
				}
				if natManip(c) {
					// Routing again with the new destination.
					rest := e.Host.reroute(hs.Hook, hs.In, c.P.Dst)
					np := res.Path
					np.n = si + 1
					if hs.Hook == ruleset.LocalOut {
						np.steps[si].Out = e.Host.Lookup(c.P.Dst)
						if rest.n > 0 && rest.steps[0].Out == "lo" {
							np.steps[si].Out = "lo"
						}
						c.Out = np.steps[si].Out
					}
					for _, st := range rest.Steps() {
						if np.n < len(np.steps) {
							np.steps[np.n] = st
							np.n++
						}
					}
					np.Routing = rest.Routing
					res.Path = np
				}
				continue
			}
			if rs == nil {
				continue
			}
			t := rs.Table(ta.name)
			if t == nil {
				continue
			}
			c.Table = ta.name
			v, why := Table(t, hs.Hook.String(), c, trace)
			if c.Undecided != "" && res.Undecided == "" {
				res.Undecided = c.Undecided
			}
			if v == pkt.Queue && c.QueueBypass {
				// NFQUEUE --queue-bypass with no program on the queue (the
				// simulation's assumption): the next table goes on.
				v, c.QueueBypass = pkt.Accept, false
			}
			if v != pkt.Accept {
				res.Verdict, res.Reason, res.CTState = v, why, c.CTState
				if v == pkt.Drop && c.Reject != "" {
					e.answer = expectAnswer(p, c.Reject, c.CTState)
					if e.answer.ok && at != nil {
						at.Hold(c, e.answer.rst && e.answer.resets)
						return res
					}
				}
				if e.CT != nil {
					e.CT.Abort(c)
				}
				return res
			}
			res.Reason = why
		}
	}
	res.CTState = c.CTState
	if res.Path.Routing != "" {
		res.Verdict = pkt.Drop
		res.Reason = Reason{Why: "routing: " + res.Path.Routing}
		if e.CT != nil {
			e.CT.Abort(c)
		}
		return res
	}
	if e.CT != nil {
		e.CT.Confirm(c)
		if c.DropNow {
			res.Verdict, res.Reason = pkt.Drop, Reason{Why: "conntrack clash at confirmation"}
		}
	}
	return res
}

// Store keeps the state of stateful matches, keyed by the match (or by a
// name shared between rules, as hashlimit and recent do).
type Store struct {
	m map[any]any
}

// NewStore returns an empty store.
func NewStore() *Store { return &Store{m: map[any]any{}} }

// Get implements pkt.StateStore.
func (s *Store) Get(key any, mk func() any) any {
	if v, ok := s.m[key]; ok {
		return v
	}
	v := mk()
	s.m[key] = v
	return v
}

// LastLog returns the log lines (LOG, NFLOG) of the last packet processed,
// in the kernel's format; valid until the next packet.
func (e *Engine) LastLog() []string { return e.ctx.Log }
