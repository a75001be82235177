package engine_test

import (
	"net/netip"
	"testing"

	"github.com/rampartfw/rampart/engine"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

const rules = `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:SCAN - [0:0]
:SSH - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -j SCAN
-A INPUT -p tcp -m tcp --dport 22 -g SSH
-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT
-A SCAN -p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE -j DROP
-A SCAN -p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN -m state --state NEW -j DROP
-A SSH -s 192.0.2.0/24 -j ACCEPT
-A SSH -j RETURN
COMMIT
`

func load(t *testing.T) *ruleset.Table {
	t.Helper()
	rs, _, err := ipt.Load("test.rules", []byte(rules), ipt.LoadOptions{Family: ruleset.IPv4})
	if err != nil {
		t.Fatal(err)
	}
	return rs.Table("filter")
}

func ctx(in string, state uint8, s pkt.Spec) *pkt.Ctx {
	p := &pkt.Packet{}
	if err := p.Decode(pkt.Build(s)); err != nil {
		panic(err)
	}
	return &pkt.Ctx{P: p, Hook: ruleset.LocalIn, In: in, CTState: state}
}

func TestTraverse(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name    string
		in      string
		state   uint8
		spec    pkt.Spec
		verdict pkt.Verdict
		chain   string
		rule    int
	}{
		{"loopback", "lo", pkt.CTNew, pkt.Spec{Src: a("127.0.0.1"), Dst: a("127.0.0.1"), Proto: pkt.ProtoUDP, DstPort: 53}, pkt.Accept, "INPUT", 1},
		{"established", "eth0", pkt.CTEstablished, pkt.Spec{Src: a("203.0.113.9"), Dst: a("10.0.0.1"), Proto: pkt.ProtoTCP, SrcPort: 443, DstPort: 40000, TCPFlags: 0x10}, pkt.Accept, "INPUT", 2},
		{"null scan", "eth0", pkt.CTNew, pkt.Spec{Src: a("203.0.113.9"), Dst: a("10.0.0.1"), Proto: pkt.ProtoTCP, DstPort: 80}, pkt.Drop, "SCAN", 1},
		{"new without syn", "eth0", pkt.CTNew, pkt.Spec{Src: a("203.0.113.9"), Dst: a("10.0.0.1"), Proto: pkt.ProtoTCP, DstPort: 80, TCPFlags: 0x10}, pkt.Drop, "SCAN", 2},
		{"http syn", "eth0", pkt.CTNew, pkt.Spec{Src: a("203.0.113.9"), Dst: a("10.0.0.1"), Proto: pkt.ProtoTCP, DstPort: 80, TCPFlags: 0x02}, pkt.Accept, "INPUT", 5},
		{"ssh from admin", "eth0", pkt.CTNew, pkt.Spec{Src: a("192.0.2.7"), Dst: a("10.0.0.1"), Proto: pkt.ProtoTCP, DstPort: 22, TCPFlags: 0x02}, pkt.Accept, "SSH", 1},
		// RETURN from a chain entered by goto returns past the caller: the policy.
		{"ssh from elsewhere", "eth0", pkt.CTNew, pkt.Spec{Src: a("198.51.100.1"), Dst: a("10.0.0.1"), Proto: pkt.ProtoTCP, DstPort: 22, TCPFlags: 0x02}, pkt.Drop, "INPUT", 0},
	}
	for _, tt := range tests {
		tbl := load(t)
		v, why := engine.Table(tbl, "INPUT", ctx(tt.in, tt.state, tt.spec), nil)
		if v != tt.verdict || why.Chain != tt.chain || why.Rule != tt.rule {
			t.Errorf("%s: got %v by %s rule %d (%s), want %v by %s rule %d", tt.name, v, why.Chain, why.Rule, why.Why, tt.verdict, tt.chain, tt.rule)
		}
	}
}

func TestCounters(t *testing.T) {
	tbl := load(t)
	a := netip.MustParseAddr
	c := ctx("eth0", pkt.CTNew, pkt.Spec{Src: a("198.51.100.1"), Dst: a("10.0.0.1"), Proto: pkt.ProtoTCP, DstPort: 22, TCPFlags: 0x02})
	engine.Table(tbl, "INPUT", c, nil)
	in := tbl.Chain("INPUT")
	if got := in.Rules[2].Counters; got != (ruleset.Counters{Packets: 1, Bytes: 40}) {
		t.Errorf("jump rule counters %+v", got)
	}
	if got := in.Counters; got != (ruleset.Counters{Packets: 1, Bytes: 40}) {
		t.Errorf("policy counters %+v", got)
	}
	if got := tbl.Chain("SSH").Rules[1].Counters.Packets; got != 1 {
		t.Errorf("RETURN rule packets %d", got)
	}
}

func BenchmarkTraverse(b *testing.B) {
	rs, _, _ := ipt.Load("test.rules", []byte(rules), ipt.LoadOptions{Family: ruleset.IPv4})
	tbl := rs.Table("filter")
	c := ctx("eth0", pkt.CTNew, pkt.Spec{Src: netip.MustParseAddr("203.0.113.9"), Dst: netip.MustParseAddr("10.0.0.1"), Proto: pkt.ProtoTCP, DstPort: 80, TCPFlags: 0x02})
	b.ReportAllocs()
	for b.Loop() {
		engine.Table(tbl, "INPUT", c, nil)
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
