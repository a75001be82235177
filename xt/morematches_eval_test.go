package xt_test

import (
	"net/netip"
	"testing"

	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// mmMatch parses "-t TABLE -A CHAIN ARGS..." (IPv4) and returns the last
// match of the rule.
func mmMatch(tb testing.TB, table, chain string, args ...string) pkt.Matcher {
	tb.Helper()
	words := append([]string{"-t", table, "-A", chain}, args...)
	cmd, err := iptext.ParseCommand(words, iptext.ParseOptions{Family: ruleset.IPv4})
	if err != nil {
		tb.Fatalf("%v: %v", args, err)
	}
	ms := cmd.Rule.Matches
	if len(ms) == 0 {
		tb.Fatalf("%v: no match", args)
	}
	m, ok := ms[len(ms)-1].(pkt.Matcher)
	if !ok {
		tb.Fatalf("%v: %T is not a pkt.Matcher", args, ms[len(ms)-1])
	}
	return m
}

func mmCtx(tb testing.TB, s pkt.Spec) *pkt.Ctx {
	tb.Helper()
	p := &pkt.Packet{}
	if err := p.Decode(pkt.Build(s)); err != nil {
		tb.Fatal(err)
	}
	return &pkt.Ctx{P: p, Hook: ruleset.LocalIn, Table: "filter", In: "eth0"}
}

var (
	mmSrc  = netip.MustParseAddr("192.0.2.1")
	mmDst  = netip.MustParseAddr("198.51.100.7")
	mmTCP  = pkt.Spec{Src: mmSrc, Dst: mmDst, Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 22, TCPFlags: 0x02, TTL: 64}
	mmUDP  = pkt.Spec{Src: mmSrc, Dst: mmDst, Proto: pkt.ProtoUDP, SrcPort: 5353, DstPort: 53, TTL: 64}
	mmPing = pkt.Spec{Src: mmSrc, Dst: mmDst, Proto: pkt.ProtoICMP, ICMPType: 8, TTL: 64}
)

type mmCase struct {
	name  string
	m     pkt.Matcher
	spec  pkt.Spec
	want  bool
	undec bool
}

func mmRun(t *testing.T, cases []mmCase, prep func(*pkt.Ctx)) {
	t.Helper()
	for _, tc := range cases {
		c := mmCtx(t, tc.spec)
		if prep != nil {
			prep(c)
		}
		got := tc.m.Match(c)
		if got != tc.want || (c.Undecided != "") != tc.undec {
			t.Errorf("%s: got %v (undecided %q), want %v (undecided %v)", tc.name, got, c.Undecided, tc.want, tc.undec)
		}
	}
}

func TestU32Eval(t *testing.T) {
	u := func(inv bool, expr string) pkt.Matcher {
		if inv {
			return mmMatch(t, "filter", "INPUT", "-m", "u32", "!", "--u32", expr)
		}
		return mmMatch(t, "filter", "INPUT", "-m", "u32", "--u32", expr)
	}
	mmRun(t, []mmCase{
		{"version 4", u(false, "0>>28=4"), mmTCP, true, false},
		{"version 6", u(false, "0>>28=6"), mmTCP, false, false},
		{"proto tcp", u(false, "6&0xFF=6"), mmTCP, true, false},
		{"proto tcp on udp", u(false, "6&0xFF=6"), mmUDP, false, false},
		{"proto range list", u(false, "6&0xFF=1:5,17"), mmUDP, true, false},
		{"dport via @", u(false, "0>>22&0x3C@0&0xFFFF=22"), mmTCP, true, false},
		{"sport via @", u(false, "0>>22&0x3C@0>>16=40000"), mmTCP, true, false},
		{"two tests", u(false, "0>>28=4&&6&0xFF=17"), mmTCP, false, false},
		{"past the end", u(false, "40=0:0xffffffff"), mmTCP, false, false},
		{"inverted past the end", u(true, "40=0:0xffffffff"), mmTCP, true, false},
		{"@ past the end", u(false, "0>>22&0x3C@100=0:0xffffffff"), mmTCP, false, false},
		{"shift by 32 masks", u(false, "0>>32=0x45000028"), mmTCP, true, false},
		{"inverted", u(true, "0>>28=4"), mmTCP, false, false},
	}, nil)
}

func TestBPFEval(t *testing.T) {
	b := func(prog string) pkt.Matcher { return mmMatch(t, "filter", "INPUT", "-m", "bpf", "--bytecode", prog) }
	isTCP := b("4,48 0 0 9,21 0 1 6,6 0 0 1,6 0 0 0")
	mmRun(t, []mmCase{
		{"tcp program on tcp", isTCP, mmTCP, true, false},
		{"tcp program on udp", isTCP, mmUDP, false, false},
		// ld len; jeq 40 (IPv4 + TCP header)
		{"len", b("4,128 0 0 0,21 0 1 40,6 0 0 1,6 0 0 0"), mmTCP, true, false},
		// ldh [1000] past the end returns 0 at once
		{"out of range load", b("2,40 0 0 1000,6 0 0 1"), mmTCP, false, false},
		// ldxb 4*([0]&0xf); ldh [x+2] (dport)
		{"msh + ind", b("5,177 0 0 0,72 0 0 2,21 0 1 22,6 0 0 1,6 0 0 0"), mmTCP, true, false},
		// ldx #0; lda #5; div x -> returns 0
		{"div by zero X", b("4,1 0 0 0,0 0 0 5,60 0 0 0,6 0 0 1"), mmTCP, false, false},
		// ld #7; st M[3]; ld #0; ld M[3]; ret a
		{"scratch memory", b("5,0 0 0 7,2 0 0 3,0 0 0 0,96 0 0 3,22 0 0 0"), mmTCP, true, false},
		// ld mark (SKF_AD_OFF+20); ret a
		{"ancillary mark", b("2,32 0 0 4294963220,22 0 0 0"), mmTCP, true, false},
		// ldb [SKF_LL_OFF] without a MAC header
		{"link layer", b("2,48 0 0 4292870144,6 0 0 1"), mmTCP, false, true},
		// ldb [SKF_NET_OFF + 9]
		{"net offset", b("4,48 0 0 4293918729,21 0 1 17,6 0 0 1,6 0 0 0"), mmUDP, true, false},
	}, func(c *pkt.Ctx) { c.Mark = 9 })
	for _, prog := range []string{
		"2,21 5 0 1,6 0 0 0",          // jump past the end
		"2,96 0 0 1,6 0 0 0",          // load of scratch memory never stored
		"2,6 0 0 0,7 0 0 0",           // not ending in ret
		"2,52 0 0 0,6 0 0 0",          // div by constant 0
		"2,32 0 0 4294963264,6 0 0 0", // unknown ancillary (SKF_AD_OFF+64)
	} {
		words := []string{"-A", "INPUT", "-m", "bpf", "--bytecode", prog}
		cmd, err := iptext.ParseCommand(words, iptext.ParseOptions{Family: ruleset.IPv4})
		if err == nil {
			t.Errorf("%s: accepted: %v", prog, cmd.Rule.Matches)
		} else if e, ok := err.(*xt.Error); ok && !e.Kernel {
			t.Errorf("%s: %v, want a kernel refusal", prog, err)
		}
	}
}

func TestClusterEval(t *testing.T) {
	const n = 4
	var nodes [n]pkt.Matcher
	for i := range nodes {
		nodes[i] = mmMatch(t, "mangle", "PREROUTING", "-m", "cluster", "--cluster-total-nodes", "4",
			"--cluster-local-node", string(rune('1'+i)), "--cluster-hash-seed", "0xfeedcafe")
	}
	inv := mmMatch(t, "mangle", "PREROUTING", "-m", "cluster", "--cluster-total-nodes", "4",
		"!", "--cluster-local-node", "1", "--cluster-hash-seed", "0xfeedcafe")
	seen := map[int]int{}
	for i := 0; i < 64; i++ {
		src := netip.AddrFrom4([4]byte{10, 0, byte(i >> 3), byte(i * 37)})
		s := mmTCP
		s.Src = src
		hits := -1
		for k, m := range nodes {
			c := mmCtx(t, s)
			c.Conn = &pkt.Conn{Orig: pkt.Tuple{Src: src, Dst: mmDst, Proto: 6}}
			if m.Match(c) {
				if hits >= 0 {
					t.Fatalf("%v: nodes %d and %d both match", src, hits, k)
				}
				hits = k
			}
		}
		if hits < 0 {
			t.Fatalf("%v: no node matches", src)
		}
		seen[hits]++
		c := mmCtx(t, s)
		c.Conn = &pkt.Conn{Orig: pkt.Tuple{Src: src}}
		if inv.Match(c) == (hits == 0) {
			t.Errorf("%v: inverted node 1 disagrees", src)
		}
	}
	if len(seen) != n {
		t.Errorf("64 sources spread over %d of %d nodes: %v", len(seen), n, seen)
	}
	// No conntrack entry: no match, even inverted.
	if c := mmCtx(t, mmTCP); inv.Match(c) || c.Undecided != "" {
		t.Errorf("untracked packet matched")
	}
}

func TestConnlabelEval(t *testing.T) {
	has := mmMatch(t, "filter", "INPUT", "-m", "connlabel", "--label", "70")
	not := mmMatch(t, "filter", "INPUT", "-m", "connlabel", "!", "--label", "70")
	set := mmMatch(t, "filter", "INPUT", "-m", "connlabel", "--label", "70", "--set")
	conn := &pkt.Conn{}
	withConn := func(c *pkt.Ctx) { c.Conn = conn }
	mmRun(t, []mmCase{
		{"clear", has, mmTCP, false, false},
		{"clear inverted", not, mmTCP, true, false},
		{"set sets", set, mmTCP, true, false},
		{"now set", has, mmTCP, true, false},
		{"now set inverted", not, mmTCP, false, false},
	}, withConn)
	if conn.Labels[1] != 1<<6 || conn.Labels[0] != 0 {
		t.Errorf("labels %x, want bit 70", conn.Labels)
	}
	mmRun(t, []mmCase{
		{"no conntrack", has, mmTCP, false, false},
		{"no conntrack inverted", not, mmTCP, true, false},
	}, nil)
}

func TestFactMatchesEval(t *testing.T) {
	syn, ack := mmTCP, mmTCP
	ack.TCPFlags = 0x10
	sock := mmMatch(t, "mangle", "PREROUTING", "-m", "socket", "--transparent")
	osf := mmMatch(t, "filter", "INPUT", "-p", "tcp", "-m", "osf", "!", "--genre", "Linux")
	mmRun(t, []mmCase{
		{"socket tcp", sock, mmTCP, false, true},
		{"socket udp", sock, mmUDP, false, true},
		{"socket echo request", sock, mmPing, false, false},
		{"osf syn", osf, syn, false, true},
		{"osf ack", osf, ack, false, false},
		{"cgroup", mmMatch(t, "mangle", "INPUT", "-m", "cgroup", "--cgroup", "1"), mmTCP, false, true},
		{"ipvs", mmMatch(t, "filter", "INPUT", "-m", "ipvs", "--ipvs"), mmTCP, false, true},
		{"rateest", mmMatch(t, "filter", "INPUT", "-m", "rateest", "--rateest", "RE1", "--rateest-lt", "--rateest-pps", "5"), mmTCP, false, true},
	}, nil)
}

func BenchmarkMoreMatches(b *testing.B) {
	ms := map[string]pkt.Matcher{
		"u32":       mmMatch(b, "filter", "INPUT", "-m", "u32", "--u32", "0>>22&0x3C@0&0xFFFF=22&&6&0xFF=6"),
		"bpf":       mmMatch(b, "filter", "INPUT", "-m", "bpf", "--bytecode", "5,177 0 0 0,72 0 0 2,21 0 1 22,6 0 0 1,6 0 0 0"),
		"cluster":   mmMatch(b, "mangle", "PREROUTING", "-m", "cluster", "--cluster-total-nodes", "4", "--cluster-local-nodemask", "3", "--cluster-hash-seed", "1"),
		"connlabel": mmMatch(b, "filter", "INPUT", "-m", "connlabel", "--label", "3", "--set"),
	}
	for name, m := range ms {
		b.Run(name, func(b *testing.B) {
			c := mmCtx(b, mmTCP)
			c.Conn = &pkt.Conn{Orig: pkt.Tuple{Src: mmSrc}}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				m.Match(c)
			}
		})
	}
}
