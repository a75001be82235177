package xt

import "time"

// MarginalWindow is how close to a token or jiffy boundary a rate
// decision (limit, hashlimit, recent --seconds) must fall for the match
// to call it marginal (pkt.Ctx.Marginal): moving the packet's time by
// less than this could flip it. Packet captures carry tens of
// microseconds of timestamp jitter.
var MarginalWindow = 250 * time.Microsecond

// nearJiffyBoundary reports whether t is within MarginalWindow of a jiffy
// boundary (HZ=250, ticking at JiffyPhase): moving it by less than the
// window could change rlJiffies(t).
func nearJiffyBoundary(t time.Time) bool {
	n := t.UnixNano() - int64(JiffyPhase%time.Duration(hashlimitJiffy))
	r := n % hashlimitJiffy
	if r < 0 {
		r += hashlimitJiffy
	}
	w := int64(MarginalWindow)
	return r < w || hashlimitJiffy-r <= w
}
