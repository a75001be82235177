package xt_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rampartfw/rampart/engine"
	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// rlT0 falls on a jiffy boundary (HZ=250).
var rlT0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const rlJiffy = 4 * time.Millisecond

// rlMatch parses one rule (the words after -A X) and returns its last
// extension match.
func rlMatch(tb testing.TB, f ruleset.Family, args string) pkt.Matcher {
	tb.Helper()
	words := append([]string{"-A", "X"}, strings.Fields(args)...)
	cmd, err := iptext.ParseCommand(words, iptext.ParseOptions{Family: f})
	if err != nil {
		tb.Fatalf("%s: %v", args, err)
	}
	ms := cmd.Rule.Matches
	if len(ms) == 0 {
		tb.Fatalf("%s: no match", args)
	}
	m, ok := ms[len(ms)-1].(pkt.Matcher)
	if !ok {
		tb.Fatalf("%s: %T is not a pkt.Matcher", args, ms[len(ms)-1])
	}
	return m
}

// rlPkt is one packet of a sequence: when (after rlT0), from where, how
// long (payload bytes beyond the headers), and what the match must say.
type rlPkt struct {
	at      time.Duration
	src     string
	sport   uint16
	payload int
	want    bool
	drop    bool // hotdrop expected
}

func rlSpec(src string, sport uint16, payload int) pkt.Spec {
	a := netip.MustParseAddr(src)
	dst := netip.MustParseAddr("198.51.100.1")
	if a.Is6() {
		dst = netip.MustParseAddr("2001:db8::1")
	}
	return pkt.Spec{Src: a, Dst: dst, Proto: pkt.ProtoUDP, SrcPort: sport, DstPort: 53,
		TTL: 64, Payload: make([]byte, payload)}
}

func rlCtx(tb testing.TB, s pkt.Spec, at time.Duration, st pkt.StateStore) *pkt.Ctx {
	tb.Helper()
	p := &pkt.Packet{}
	if err := p.Decode(pkt.Build(s)); err != nil {
		tb.Fatal(err)
	}
	return &pkt.Ctx{P: p, Hook: ruleset.LocalIn, In: "eth0", Now: rlT0.Add(at), Store: st}
}

// rlRun feeds the packets to the matches (packet i goes to rules[i %
// len(rules)]) in one store.
func rlRun(t *testing.T, name string, rules []pkt.Matcher, seq []rlPkt) {
	t.Helper()
	st := engine.NewStore()
	for i, q := range seq {
		c := rlCtx(t, rlSpec(q.src, q.sport, q.payload), q.at, st)
		got := rules[i%len(rules)].Match(c)
		if got != q.want || c.DropNow != q.drop || c.Undecided != "" {
			t.Errorf("%s: packet %d (%v from %s): got %v drop %v undecided %q, want %v drop %v",
				name, i, q.at, q.src, got, c.DropNow, c.Undecided, q.want, q.drop)
		}
	}
}

func TestLimitEval(t *testing.T) {
	a := "192.0.2.1"
	tests := []struct {
		args string
		seq  []rlPkt
	}{
		// nft_limit: 3/minute costs 20 s of tokens, the bucket holds 2.
		{"-m limit --limit 3/min --limit-burst 2", []rlPkt{
			{0, a, 1, 0, true, false}, {0, a, 1, 0, true, false}, {0, a, 1, 0, false, false},
			{20*time.Second - 1, a, 1, 0, false, false}, {20 * time.Second, a, 1, 0, true, false},
			{20 * time.Second, a, 1, 0, false, false},
			// A long pause refills only up to the burst.
			{time.Hour, a, 1, 0, true, false}, {time.Hour, a, 1, 0, true, false}, {time.Hour, a, 1, 0, false, false},
		}},
		// Default burst 5; 7/min costs 60e9/7 = 8571428571 ns.
		{"-m limit --limit 7/min", []rlPkt{
			{0, a, 1, 0, true, false}, {0, a, 1, 0, true, false}, {0, a, 1, 0, true, false},
			{0, a, 1, 0, true, false}, {0, a, 1, 0, true, false}, {0, a, 1, 0, false, false},
			{8571428570, a, 1, 0, false, false}, {8571428571, a, 1, 0, true, false},
		}},
		// 1000/sec: one packet per millisecond, burst 1.
		{"-m limit --limit 1000/sec --limit-burst 1", []rlPkt{
			{0, a, 1, 0, true, false}, {time.Millisecond / 2, a, 1, 0, false, false},
			{time.Millisecond, a, 1, 0, true, false}, {2 * time.Millisecond, a, 1, 0, true, false},
		}},
	}
	for _, tt := range tests {
		rlRun(t, tt.args, []pkt.Matcher{rlMatch(t, ruleset.IPv4, tt.args)}, tt.seq)
	}
}

func TestQuotaEval(t *testing.T) {
	a := "192.0.2.1"
	// UDP over IPv4: 28 bytes of headers.
	rlRun(t, "quota", []pkt.Matcher{rlMatch(t, ruleset.IPv4, "-m quota --quota 100")}, []rlPkt{
		{0, a, 1, 32, true, false}, // 60 bytes: 40 left
		{0, a, 1, 12, true, false}, // 40 bytes: 0 left
		{0, a, 1, 0, false, false}, // 28 > 0: empty for good
		{0, a, 1, 0, false, false},
	})
	rlRun(t, "quota inverted", []pkt.Matcher{rlMatch(t, ruleset.IPv4, "-m quota ! --quota 100")}, []rlPkt{
		{0, a, 1, 32, false, false}, {0, a, 1, 32, true, false}, {0, a, 1, 0, true, false},
	})
	// Two rules with the same quota count separately.
	rlRun(t, "quota per rule", []pkt.Matcher{rlMatch(t, ruleset.IPv4, "-m quota --quota 60"), rlMatch(t, ruleset.IPv4, "-m quota --quota 60")}, []rlPkt{
		{0, a, 1, 32, true, false}, {0, a, 1, 32, true, false}, {0, a, 1, 32, false, false}, {0, a, 1, 32, false, false},
	})
	// IPv6: 40 + 8 bytes of headers.
	rlRun(t, "quota v6", []pkt.Matcher{rlMatch(t, ruleset.IPv6, "-m quota --quota 100")}, []rlPkt{
		{0, "2001:db8::2", 1, 52, true, false}, {0, "2001:db8::2", 1, 0, false, false},
	})
}

func TestStatisticEval(t *testing.T) {
	a := "192.0.2.1"
	// every 3 from packet 1: the counter goes 2, 0, 1, 2, 0.
	rlRun(t, "nth", []pkt.Matcher{rlMatch(t, ruleset.IPv4, "-m statistic --mode nth --every 3 --packet 1")}, []rlPkt{
		{0, a, 1, 0, false, false}, {0, a, 1, 0, true, false}, {0, a, 1, 0, false, false},
		{0, a, 1, 0, false, false}, {0, a, 1, 0, true, false},
	})
	rlRun(t, "nth inverted", []pkt.Matcher{rlMatch(t, ruleset.IPv4, "-m statistic --mode nth ! --every 2 --packet 0")}, []rlPkt{
		{0, a, 1, 0, true, false}, {0, a, 1, 0, false, false}, {0, a, 1, 0, true, false},
	})
	rlRun(t, "nth every 1", []pkt.Matcher{rlMatch(t, ruleset.IPv4, "-m statistic --mode nth --every 1 --packet 0")}, []rlPkt{
		{0, a, 1, 0, true, false}, {0, a, 1, 0, true, false},
	})
	st := engine.NewStore()
	for _, tt := range []struct {
		args      string
		want      bool
		undecided bool
	}{
		{"-m statistic --mode random --probability 0", false, false},
		{"-m statistic --mode random --probability 1", true, false},
		{"-m statistic --mode random ! --probability 1", false, false},
		{"-m statistic --mode random ! --probability 0", true, false},
		{"-m statistic --mode random --probability 0.5", false, true},
	} {
		c := rlCtx(t, rlSpec(a, 1, 0), 0, st)
		got := rlMatch(t, ruleset.IPv4, tt.args).Match(c)
		if got != tt.want || (c.Undecided != "") != tt.undecided {
			t.Errorf("%s: got %v undecided %q, want %v undecided %v", tt.args, got, c.Undecided, tt.want, tt.undecided)
		}
	}
}

func TestHashlimitEval(t *testing.T) {
	a, b, a2 := "192.0.2.1", "192.0.2.99", "192.0.2.77"
	tests := []struct {
		args string
		seq  []rlPkt
	}{
		// 2/sec burst 3 per source: one credit comes back after 125
		// jiffies (the cost is 124.99999 jiffies of credit).
		{"-m hashlimit --hashlimit-upto 2/sec --hashlimit-burst 3 --hashlimit-mode srcip --hashlimit-name a", []rlPkt{
			{0, a, 1, 0, true, false}, {0, a, 1, 0, true, false}, {0, a, 1, 0, true, false}, {0, a, 1, 0, false, false},
			{0, b, 1, 0, true, false},
			{124 * rlJiffy, a, 1, 0, false, false}, {125 * rlJiffy, a, 1, 0, true, false}, {125 * rlJiffy, a, 1, 0, false, false},
		}},
		// above: the same bucket, inverted.
		{"-m hashlimit --hashlimit-above 2/sec --hashlimit-burst 1 --hashlimit-name b", []rlPkt{
			{0, a, 1, 0, false, false}, {0, b, 1, 0, true, false}, {125 * rlJiffy, a, 1, 0, false, false},
		}},
		// A /24 source mask puts both sources in one bucket.
		{"-m hashlimit --hashlimit-upto 1/min --hashlimit-burst 1 --hashlimit-mode srcip --hashlimit-srcmask 24 --hashlimit-name c", []rlPkt{
			{0, a, 1, 0, true, false}, {0, b, 1, 0, false, false},
		}},
		// Per source port.
		{"-m hashlimit --hashlimit-upto 1/min --hashlimit-burst 1 --hashlimit-mode srcport --hashlimit-name d", []rlPkt{
			{0, a, 1, 0, true, false}, {0, b, 1, 0, false, false}, {0, b, 2, 0, true, false},
		}},
		// htable-max 2 (with size 2: a max below the size is raised to
		// it): a third source is dropped (hotdrop) until the
		// garbage collection frees expired entries: expire 1000 ms, runs
		// every 500 ms from the table's creation.
		{"-m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 1 --hashlimit-mode srcip --hashlimit-name e --hashlimit-htable-size 2 --hashlimit-htable-max 2 --hashlimit-htable-expire 1000 --hashlimit-htable-gcinterval 500", []rlPkt{
			{0, a, 1, 0, true, false}, {100 * time.Millisecond, b, 1, 0, true, false},
			{200 * time.Millisecond, a2, 1, 0, false, true},
			{999 * time.Millisecond, a2, 1, 0, false, true},
			// The pass at 1000 ms frees a (expired at 1000 ms), not b.
			{1000 * time.Millisecond, a2, 1, 0, true, false},
			{1000 * time.Millisecond, a, 1, 0, false, true},
		}},
		// Bytes: 1kb/s with a 2kb burst (2 refills of the full credit)
		// allows three 1000-byte packets, then 235 jiffies to earn the
		// next.
		{"-m hashlimit --hashlimit-upto 1kb/s --hashlimit-burst 2kb --hashlimit-name f", []rlPkt{
			{0, a, 1, 972, true, false}, {0, a, 1, 972, true, false}, {0, a, 1, 972, true, false},
			{0, a, 1, 972, false, false},
			{234 * rlJiffy, a, 1, 972, false, false}, {235 * rlJiffy, a, 1, 972, true, false},
		}},
		// Rate match: 2/sec, burst 5: up to 7 packets in a 1 s window; a
		// window over the rate makes the next one fail whole. (The
		// default expire, 1 s, would let the garbage collection free the
		// entry at 1 s.)
		{"-m hashlimit --hashlimit-upto 2/sec --hashlimit-rate-match --hashlimit-name g --hashlimit-htable-expire 10000", []rlPkt{
			{0, a, 1, 0, true, false}, {0, a, 1, 0, true, false}, {0, a, 1, 0, true, false}, {0, a, 1, 0, true, false},
			{0, a, 1, 0, true, false}, {0, a, 1, 0, true, false}, {0, a, 1, 0, true, false}, {0, a, 1, 0, false, false},
			{time.Second, a, 1, 0, false, false},
			{2 * time.Second, a, 1, 0, true, false},
		}},
		// The same with the default expire: the entry is gone at 1 s.
		{"-m hashlimit --hashlimit-upto 2/sec --hashlimit-rate-match --hashlimit-name h", []rlPkt{
			{0, a, 1, 0, true, false}, {0, a, 1, 0, true, false}, {0, a, 1, 0, true, false}, {0, a, 1, 0, true, false},
			{0, a, 1, 0, true, false}, {0, a, 1, 0, true, false}, {0, a, 1, 0, true, false}, {0, a, 1, 0, false, false},
			{time.Second, a, 1, 0, true, false},
		}},
	}
	for _, tt := range tests {
		rlRun(t, tt.args, []pkt.Matcher{rlMatch(t, ruleset.IPv4, tt.args)}, tt.seq)
	}
	// Two rules of one name share the table; the first one's settings
	// (burst 2) size the buckets.
	r1 := rlMatch(t, ruleset.IPv4, "-m hashlimit --hashlimit-upto 1/min --hashlimit-burst 2 --hashlimit-name s")
	r2 := rlMatch(t, ruleset.IPv4, "-m hashlimit --hashlimit-upto 1/min --hashlimit-burst 9 --hashlimit-name s")
	rlRun(t, "shared", []pkt.Matcher{r1, r2}, []rlPkt{
		{0, a, 1, 0, true, false}, {0, a, 1, 0, true, false}, {0, a, 1, 0, false, false}, {0, a, 1, 0, false, false},
	})
	// The same name in IPv6 is another table.
	st := engine.NewStore()
	r4 := rlMatch(t, ruleset.IPv4, "-m hashlimit --hashlimit-upto 1/min --hashlimit-burst 1 --hashlimit-name fam")
	r6 := rlMatch(t, ruleset.IPv6, "-m hashlimit --hashlimit-upto 1/min --hashlimit-burst 1 --hashlimit-name fam")
	for i, want := range []bool{true, false} {
		if got := r4.Match(rlCtx(t, rlSpec(a, 1, 0), 0, st)); got != want {
			t.Errorf("fam v4 %d: got %v", i, got)
		}
		if got := r6.Match(rlCtx(t, rlSpec("2001:db8::5", 1, 0), 0, st)); got != want {
			t.Errorf("fam v6 %d: got %v", i, got)
		}
	}
	// IPv6 with dstport mode and a /64 source mask.
	r := rlMatch(t, ruleset.IPv6, "-m hashlimit --hashlimit-upto 1/min --hashlimit-burst 1 --hashlimit-mode srcip,dstport --hashlimit-srcmask 64 --hashlimit-name v6")
	rlRun(t, "v6", []pkt.Matcher{r}, []rlPkt{
		{0, "2001:db8::5", 1, 0, true, false}, {0, "2001:db8::6", 2, 0, false, false}, {0, "2001:db8:1::6", 2, 0, true, false},
	})
}

func TestHashlimitCheckFirst(t *testing.T) {
	// Loaded in this order, the burst-1 rule creates the table even if
	// the burst-3 rule sees the first packet.
	st := engine.NewStore()
	r1 := rlMatch(t, ruleset.IPv4, "-m hashlimit --hashlimit-upto 1/min --hashlimit-burst 1 --hashlimit-name k")
	r2 := rlMatch(t, ruleset.IPv4, "-m hashlimit --hashlimit-upto 1/min --hashlimit-burst 3 --hashlimit-name k")
	r1.(xt.Checker).Check(st, rlT0)
	r2.(xt.Checker).Check(st, rlT0)
	for i, want := range []bool{true, false} {
		if got := r2.Match(rlCtx(t, rlSpec("192.0.2.1", 1, 0), 0, st)); got != want {
			t.Errorf("packet %d: got %v, want %v", i, got, want)
		}
	}
}

// rlRecent drives recent rules: each step names the rule, the source, the
// time, and what the match must say.
type rlRecentStep struct {
	rule int
	at   time.Duration
	src  string
	ttl  uint8
	hook ruleset.Hook
	want bool
}

func rlRecentRun(t *testing.T, name string, rules []string, steps []rlRecentStep) {
	t.Helper()
	st := engine.NewStore()
	ms := make([]pkt.Matcher, len(rules))
	for i, r := range rules {
		ms[i] = rlMatch(t, ruleset.IPv4, r)
	}
	for i, s := range steps {
		spec := rlSpec(s.src, 1, 0)
		spec.TTL = s.ttl
		if spec.TTL == 0 {
			spec.TTL = 64
		}
		c := rlCtx(t, spec, s.at, st)
		c.Hook = s.hook
		if s.hook == ruleset.Forward {
			c.Out = "eth1"
		}
		if got := ms[s.rule].Match(c); got != s.want || c.Undecided != "" {
			t.Errorf("%s: step %d (%s at %v from %s): got %v (%q), want %v", name, i, rules[s.rule], s.at, s.src, got, c.Undecided, s.want)
		}
	}
}

func TestRecentEval(t *testing.T) {
	a, b := "192.0.2.1", "192.0.2.2"
	in := ruleset.LocalIn
	rlRecentRun(t, "set/rcheck", []string{
		"-m recent --set --name L",
		"-m recent --rcheck --name L --seconds 60 --hitcount 2",
		"-m recent --rcheck --name L",
		"-m recent ! --rcheck --name L",
		"-m recent --rcheck --name L --seconds 60",
	}, []rlRecentStep{
		{2, 0, a, 0, in, false}, {3, 0, a, 0, in, true},
		{0, 0, a, 0, in, true}, // set always matches
		{2, 0, a, 0, in, true}, {3, 0, a, 0, in, false},
		{1, time.Second, a, 0, in, false}, // one hit
		{0, 2 * time.Second, a, 0, in, true},
		{1, 3 * time.Second, a, 0, in, true}, // two hits within 60 s
		{1, 61 * time.Second, a, 0, in, false},
		// The window is seconds*HZ jiffies: the stamp at 2 s is in it at
		// 62 s, not one jiffy later.
		{4, 62 * time.Second, a, 0, in, true},
		{4, 62*time.Second + rlJiffy, a, 0, in, false},
		{2, 0, b, 0, in, false},
	})
	rlRecentRun(t, "update/remove", []string{
		"-m recent --set --name U",
		"-m recent --update --name U --seconds 10",
		"-m recent --remove --name U",
		"-m recent --rcheck --name U",
	}, []rlRecentStep{
		{0, 0, a, 0, in, true},
		{1, 9 * time.Second, a, 0, in, true},  // updates the stamp
		{1, 18 * time.Second, a, 0, in, true}, // 9 s after the update
		{1, 29 * time.Second, a, 0, in, false},
		{2, 30 * time.Second, a, 0, in, true},
		{3, 30 * time.Second, a, 0, in, false},
		{2, 30 * time.Second, a, 0, in, false},
	})
	// --rttl: the TTL of the set; a forwarded packet counts one more.
	rlRecentRun(t, "rttl", []string{
		"-m recent --set --name T",
		"-m recent --rcheck --rttl --name T",
	}, []rlRecentStep{
		{0, 0, a, 64, ruleset.Forward, true},
		{1, 0, a, 64, in, false},
		{1, 0, a, 65, in, true},
		{1, 0, a, 64, ruleset.Forward, true},
	})
	// The list's mask comes from the rule that created it.
	rlRecentRun(t, "mask", []string{
		"-m recent --set --name M --mask 255.255.255.0",
		"-m recent --rcheck --name M",
	}, []rlRecentStep{
		{0, 0, a, 0, in, true}, {1, 0, b, 0, in, true}, {1, 0, "192.0.3.1", 0, in, false},
	})
	// --reap removes the oldest entry when its last stamp left the window.
	rlRecentRun(t, "reap", []string{
		"-m recent --set --name R",
		"-m recent --rcheck --name R --seconds 5 --reap",
		"-m recent --rcheck --name R",
	}, []rlRecentStep{
		{0, 0, a, 0, in, true}, {0, 4 * time.Second, b, 0, in, true},
		{1, 6 * time.Second, b, 0, in, true}, // reaps a (stamp 0 < 1 s)
		{2, 6 * time.Second, a, 0, in, false},
		{2, 6 * time.Second, b, 0, in, true},
	})
	// Hit counts see the last 32 stamps (nstamps_max_mask 31).
	steps := []rlRecentStep{}
	for i := 0; i < 40; i++ {
		steps = append(steps, rlRecentStep{0, time.Duration(i) * time.Second, a, 0, in, true})
	}
	steps = append(steps, rlRecentStep{1, 40 * time.Second, a, 0, in, true}, rlRecentStep{2, 40 * time.Second, a, 0, in, false})
	rlRecentRun(t, "stamps", []string{
		"-m recent --set --name H",
		"-m recent --rcheck --name H --hitcount 20",
		"-m recent --rcheck --name H --hitcount 20 --seconds 15",
	}, steps)
}

func TestRecentListTot(t *testing.T) {
	// ip_list_tot = 100: the 101st address evicts the least recently
	// updated.
	st := engine.NewStore()
	set := rlMatch(t, ruleset.IPv4, "-m recent --set --name E")
	check := rlMatch(t, ruleset.IPv4, "-m recent --rcheck --name E")
	addr := func(i int) string { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String() }
	for i := 0; i < 100; i++ {
		set.Match(rlCtx(t, rlSpec(addr(i), 1, 0), time.Duration(i)*time.Millisecond, st))
	}
	set.Match(rlCtx(t, rlSpec(addr(0), 1, 0), time.Second, st)) // 0 is now the newest
	set.Match(rlCtx(t, rlSpec(addr(100), 1, 0), time.Second, st))
	for _, x := range []struct {
		i    int
		want bool
	}{{0, true}, {1, false}, {2, true}, {100, true}} {
		if got := check.Match(rlCtx(t, rlSpec(addr(x.i), 1, 0), 2*time.Second, st)); got != x.want {
			t.Errorf("address %d: got %v, want %v", x.i, got, x.want)
		}
	}
}

func BenchmarkRateLimitMatches(b *testing.B) {
	for _, args := range []string{
		"-m limit --limit 1000/sec",
		"-m quota --quota 1000000000000",
		"-m statistic --mode nth --every 3 --packet 0",
		"-m hashlimit --hashlimit-upto 100/sec --hashlimit-mode srcip,dstport --hashlimit-name bench",
		"-m recent --update --seconds 60 --name bench",
	} {
		b.Run(strings.Fields(args)[1], func(b *testing.B) {
			m := rlMatch(b, ruleset.IPv4, args)
			st := engine.NewStore()
			c := rlCtx(b, rlSpec("192.0.2.1", 1, 0), 0, st)
			rlMatch(b, ruleset.IPv4, "-m recent --set --name bench").Match(c)
			m.Match(c)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c.Now = rlT0.Add(time.Duration(i) * time.Microsecond)
				m.Match(c)
			}
		})
	}
}
