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
	// held is the conntrack of the packet REJECT dropped last, kept for
	// the answer REJECT sends (Hold, Attach, Release).
	held    conntrack.Result
	holding bool
	// attached: the current packet is such an answer, carrying held.
	attached bool
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
	ct.attached = false
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

// Hold implements Attacher: the current packet, dropped by REJECT, keeps
// its conntrack for the answer REJECT sends (which holds a reference in
// the kernel) instead of losing it at once. closing is set when the answer
// is a TCP reset: nf_send_reset moves a confirmed TCP entry to CLOSE
// (nf_ct_set_closing). When the current packet is itself an answer that
// carries the held entry, the entry stays held.
func (ct *Conntrack) Hold(c *pkt.Ctx, closing bool) {
	var r conntrack.Result
	switch {
	case ct.attached:
		r = ct.cur
	case ct.has:
		r = ct.cur
	default:
		r = conntrack.Result{State: c.CTState}
	}
	if ct.holding && !ct.attached {
		ct.T.Discard(&ct.held)
	}
	ct.held, ct.holding, ct.has, ct.attached = r, true, false, false
	if closing {
		ct.T.SetClosing(r, c.Now)
	}
}

// Attach implements Attacher: the current packet is the answer to the held
// packet and gets its entry, RELATED, in the other direction
// (nf_conntrack_attach); conntrack does not look it up. false when the
// held packet had no entry (INVALID, UNTRACKED): the answer is tracked as
// usual.
func (ct *Conntrack) Attach(c *pkt.Ctx) bool {
	if !ct.holding {
		return false
	}
	r, ok := ct.T.Related(ct.held, c.Now)
	if !ok {
		return false
	}
	ct.cur, ct.has, ct.attached = r, false, true
	ct.cur.Apply(c)
	c.Conns = ct.T
	c.NAT = ct
	return true
}

// Release implements Attacher: the held packet and its answer are gone; an
// unconfirmed entry is freed with them.
func (ct *Conntrack) Release() {
	if ct.holding {
		ct.T.Discard(&ct.held)
	}
	ct.holding, ct.attached = false, false
	ct.held = conntrack.Result{}
}
