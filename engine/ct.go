package engine

import (
	"net/netip"

	"github.com/rampartfw/rampart/conntrack"
	"github.com/rampartfw/rampart/pkt"
)

// Conntrack adapts a conntrack.Table to the engine's Tracker: one packet
// at a time, keeping that packet's result between its hooks.
type Conntrack struct {
	T   *conntrack.Table
	cur conntrack.Result
	has bool
}

// NewConntrack returns a tracker over a table of at most max entries
// (0: the kernel's default nf_conntrack_max for this machine size).
func NewConntrack(max int) *Conntrack {
	if max <= 0 {
		max = 262144
	}
	return &Conntrack{T: conntrack.New(max)}
}

// Track implements Tracker.
func (ct *Conntrack) Track(c *pkt.Ctx) {
	if c.NoTrack {
		ct.cur, ct.has = conntrack.Untracked(), false
	} else {
		ct.cur, ct.has = ct.T.Track(c.P, c.Now, c.Hook), true
	}
	if ct.cur.Drop {
		c.DropNow = true
	}
	ct.cur.Apply(c)
	c.Conns = ct.T
	c.NAT = ct
}

// BindNAT implements pkt.NATBinder on the current packet's entry.
func (ct *Conntrack) BindNAT(c *pkt.Ctx, dst bool, addr netip.Addr, minPort, maxPort uint16) bool {
	kind := conntrack.SNAT
	if dst {
		kind = conntrack.DNAT
	}
	return ct.has && ct.T.SetNAT(&ct.cur, kind, addr, minPort, maxPort, c.Now)
}

// Confirm implements Tracker.
func (ct *Conntrack) Confirm(c *pkt.Ctx) {
	if ct.has {
		if ct.T.Confirm(&ct.cur, c.Now) == pkt.Drop {
			c.DropNow = true
		}
		ct.has = false
	}
}

// Abort implements Tracker.
func (ct *Conntrack) Abort(c *pkt.Ctx) {
	if ct.has {
		ct.T.Discard(&ct.cur)
		ct.has = false
	}
}
