package xt_test

import (
	"testing"
	"time"

	"github.com/rampartfw/rampart/engine"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// mgPkt is one packet of a marginal-flag sequence: its time after rlT0,
// the rule (index) it meets, and what the match must say.
type mgPkt struct {
	at       time.Duration
	rule     int
	want     bool
	marginal bool
}

func mgRun(t *testing.T, name string, rules []pkt.Matcher, seq []mgPkt) {
	t.Helper()
	st := engine.NewStore()
	for i, q := range seq {
		c := rlCtx(t, rlSpec("192.0.2.1", 1000, 0), q.at, st)
		got := rules[q.rule].Match(c)
		if got != q.want || c.Marginal != q.marginal || c.Undecided != "" {
			t.Errorf("%s: packet %d (%v): got %v marginal %v undecided %q, want %v marginal %v",
				name, i, q.at, got, c.Marginal, c.Undecided, q.want, q.marginal)
		}
	}
}

const us = time.Microsecond

// nft limit: 10/sec costs 100 ms of tokens; with a burst of 1 the second
// packet is decided by how close to 100 ms after the first it comes.
func TestLimitMarginal(t *testing.T) {
	m := rlMatch(t, ruleset.IPv4, "-m limit --limit 10/sec --limit-burst 1")
	ms := time.Millisecond
	for _, tt := range []struct {
		name string
		at   time.Duration
		want bool
		marg bool
	}{
		{"well before", 50 * ms, false, false},
		{"just before", 100*ms - 100*us, false, true},
		{"just after", 100*ms + 200*us, true, true},
		{"exactly", 100 * ms, true, true},
		{"past the margin before", 100*ms - 300*us, false, false},
		{"past the margin after", 100*ms + 300*us, true, false},
		{"well after", 150 * ms, true, false},
	} {
		// The first packet finds the bucket full since the rule was
		// loaded: never marginal, even with a burst of 1.
		mgRun(t, tt.name, []pkt.Matcher{m}, []mgPkt{
			{0, 0, true, false},
			{tt.at, 0, tt.want, tt.marg},
		})
	}
}

// hashlimit 50/sec burst 1 at HZ=250: a packet costs just under 5 jiffies
// of credit, so after the first packet the bucket allows the next one from
// jiffy 5 (20 ms) on. Only a packet near a jiffy boundary whose credit is
// within one jiffy's worth of the cost is marginal.
func TestHashlimitMarginal(t *testing.T) {
	defer func(p time.Duration) { xt.JiffyPhase = p }(xt.JiffyPhase)
	xt.JiffyPhase = 0
	m := rlMatch(t, ruleset.IPv4, "-m hashlimit --hashlimit-upto 50/sec --hashlimit-burst 1 --hashlimit-mode srcip --hashlimit-name mg")
	ms := time.Millisecond
	for _, tt := range []struct {
		name string
		at   time.Duration
		want bool
		marg bool
	}{
		{"jiffy 5 near its start", 20*ms + 100*us, true, true},
		{"jiffy 5 mid", 22 * ms, true, false},
		{"jiffy 4 near its end", 20*ms - 100*us, false, true},
		{"jiffy 4 mid", 18 * ms, false, false},
		{"jiffy 2 near a boundary, far from the credit", 8*ms + 100*us, false, false},
		{"jiffy 5 just past the margin", 20*ms + 300*us, true, false},
		{"jiffy 6 near its start, a jiffy to spare", 24*ms + 100*us, true, false},
	} {
		// The first packet (a new entry) starts full whatever its jiffy.
		mgRun(t, tt.name, []pkt.Matcher{m}, []mgPkt{
			{100 * us, 0, true, false},
			{tt.at, 0, tt.want, tt.marg},
		})
	}
}

// recent --rcheck --seconds 1: a stamp at jiffy 0 is in the window of a
// packet at jiffy 250 and out of it at jiffy 251.
func TestRecentMarginal(t *testing.T) {
	defer func(p time.Duration) { xt.JiffyPhase = p }(xt.JiffyPhase)
	xt.JiffyPhase = 0
	set := rlMatch(t, ruleset.IPv4, "-m recent --set --name mg")
	chk := rlMatch(t, ruleset.IPv4, "-m recent --rcheck --seconds 1 --name mg")
	s := time.Second
	for _, tt := range []struct {
		name  string
		stamp time.Duration
		at    time.Duration
		want  bool
		marg  bool
	}{
		{"edge jiffy, mid", 2 * time.Millisecond, s + 2*time.Millisecond, true, false},
		{"edge jiffy, near its start", 2 * time.Millisecond, s + 100*us, true, true},
		{"past the edge, mid", 2 * time.Millisecond, s + 6*time.Millisecond, false, false},
		{"past the edge, near", 2 * time.Millisecond, s + 4*time.Millisecond + 100*us, false, true},
		{"stamp near, edge jiffy", 100 * us, s + 2*time.Millisecond, true, true},
		{"well inside", 2 * time.Millisecond, s / 2, true, false},
	} {
		mgRun(t, tt.name, []pkt.Matcher{set, chk}, []mgPkt{
			{tt.stamp, 0, true, false},
			{tt.at, 1, tt.want, tt.marg},
		})
	}
}

// Telling a marginal decision costs no allocation.
func TestMarginalAllocs(t *testing.T) {
	lim := rlMatch(t, ruleset.IPv4, "-m limit --limit 10/sec --limit-burst 1")
	hl := rlMatch(t, ruleset.IPv4, "-m hashlimit --hashlimit-upto 50/sec --hashlimit-burst 1 --hashlimit-mode srcip --hashlimit-name mga")
	rc := rlMatch(t, ruleset.IPv4, "-m recent --update --seconds 1 --name mga")
	st := engine.NewStore()
	c := rlCtx(t, rlSpec("192.0.2.1", 1000, 0), 0, st)
	for _, m := range []pkt.Matcher{lim, hl, rc} {
		m.Match(c)
	}
	rlSet := rlMatch(t, ruleset.IPv4, "-m recent --set --name mga")
	rlSet.Match(c)
	at := time.Duration(0)
	n := testing.AllocsPerRun(200, func() {
		at += 20*time.Millisecond - 100*us
		c.Now = rlT0.Add(at)
		c.Marginal = false
		for _, m := range []pkt.Matcher{lim, hl, rc} {
			m.Match(c)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per packet, want 0", n)
	}
}
