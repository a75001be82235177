package engine_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rampartfw/rampart/engine"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// rejectHost is fw of the kernel differential tests: two interfaces,
// forwarding on.
func rejectHost() *engine.Host {
	h := engine.NewHost()
	h.Ifaces = append(h.Ifaces,
		engine.Iface{Name: "vpeer", Addrs: []netip.Prefix{netip.MustParsePrefix("10.9.0.1/24"), netip.MustParsePrefix("fd00:9::1/64")}},
		engine.Iface{Name: "vfar", Addrs: []netip.Prefix{netip.MustParsePrefix("10.9.1.1/24"), netip.MustParsePrefix("fd00:9:1::1/64")}})
	h.Forwarding = true
	return h
}

// The OUTPUT rules count the conntrack state of what leaves fw.
const rejectRules = `*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p udp -m udp --dport 2000 -j NOTRACK
-A OUTPUT -p icmp -j NOTRACK
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p udp -j REJECT
-A INPUT -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset
-A FORWARD -p tcp -j REJECT --reject-with tcp-reset
-A OUTPUT -m conntrack --ctstate RELATED --ctdir REPLY
-A OUTPUT -m conntrack --ctstate RELATED --ctdir ORIGINAL
-A OUTPUT -m conntrack --ctstate INVALID
-A OUTPUT -m conntrack --ctstate NEW
-A OUTPUT -m conntrack --ctstate UNTRACKED
COMMIT
`

func rejectEngine(t *testing.T) (*engine.Engine, *ruleset.Ruleset) {
	t.Helper()
	rs, _, err := ipt.Load("reject.rules", []byte(rejectRules), ipt.LoadOptions{Family: ruleset.IPv4})
	if err != nil {
		t.Fatal(err)
	}
	return engine.New(rs, nil, rejectHost(), engine.NewConntrack(0)), rs
}

func decodeSpec(t *testing.T, s pkt.Spec) *pkt.Packet {
	t.Helper()
	p := &pkt.Packet{}
	if err := p.Decode(pkt.Build(s)); err != nil {
		t.Fatal(err)
	}
	return p
}

// unreach is the ICMP port unreachable fw sends for p.
func unreach(t *testing.T, p *pkt.Packet, from netip.Addr) *pkt.Packet {
	return decodeSpec(t, pkt.Spec{Src: from, Dst: p.Src, Proto: pkt.ProtoICMP, ICMPType: 3, ICMPCode: 3, Payload: p.Raw})
}

func outputCounts(rs *ruleset.Ruleset) []uint64 {
	var n []uint64
	for _, r := range rs.Table("filter").Chain("OUTPUT").Rules {
		n = append(n, r.Counters.Packets)
	}
	return n
}

func TestRejectAnswer(t *testing.T) {
	a := netip.MustParseAddr
	now := time.Unix(1700000000, 0)
	tests := []struct {
		name  string
		orig  pkt.Spec
		state uint8  // of the answer
		hooks string // the answer's path
		count int    // the OUTPUT rule that counts it
	}{
		// nf_ct_attach: the answer to the first packet of a flow carries its
		// (unconfirmed) entry, RELATED in the reply direction; NOTRACK in
		// raw OUTPUT leaves a packet that has an entry alone.
		{"icmp for a new flow", pkt.Spec{Src: a("10.9.0.2"), Dst: a("10.9.0.1"), Proto: pkt.ProtoUDP, SrcPort: 5000, DstPort: 53, ID: 4242}, pkt.CTRelated, "OUTPUT POSTROUTING", 0},
		// An UNTRACKED packet attaches a null entry, which conntrack
		// ignores: the error is tracked, and quotes nothing tracked.
		{"icmp for an untracked packet", pkt.Spec{Src: a("10.9.0.2"), Dst: a("10.9.0.1"), Proto: pkt.ProtoUDP, SrcPort: 5000, DstPort: 2000, ID: 4243}, pkt.CTInvalid, "OUTPUT POSTROUTING", 2},
	}
	for _, tt := range tests {
		e, rs := rejectEngine(t)
		p := decodeSpec(t, tt.orig)
		if res := e.Process(p, now, nil); res.Verdict != pkt.Drop || res.Reason.Why != "REJECT" {
			t.Fatalf("%s: original %v by %+v", tt.name, res.Verdict, res.Reason)
		}
		ans := unreach(t, p, tt.orig.Dst)
		res := e.Process(ans, now.Add(10*time.Microsecond), nil)
		var hooks []string
		for _, h := range res.Path.Steps() {
			hooks = append(hooks, h.Hook.String())
		}
		if res.CTState != tt.state || strings.Join(hooks, " ") != tt.hooks {
			t.Errorf("%s: answer state %d via %v, want %d via %s", tt.name, res.CTState, hooks, tt.state, tt.hooks)
		}
		if n := outputCounts(rs); n[tt.count] != 1 {
			t.Errorf("%s: OUTPUT counters %v, want rule %d", tt.name, n, tt.count+1)
		}
		// The rejected flow's entry is gone: its next packet is NEW.
		if res := e.Process(decodeSpec(t, tt.orig), now.Add(time.Millisecond), nil); tt.state == pkt.CTRelated && res.CTState != pkt.CTNew {
			t.Errorf("%s: next packet of the flow %d, want NEW", tt.name, res.CTState)
		}
	}
}

// A reset for a forwarded packet has the destination's address as source:
// it is still a local packet (OUTPUT, POSTROUTING), RELATED to the flow.
func TestRejectResetForwarded(t *testing.T) {
	a := netip.MustParseAddr
	now := time.Unix(1700000000, 0)
	e, rs := rejectEngine(t)
	syn := decodeSpec(t, pkt.Spec{Src: a("10.9.0.4"), Dst: a("10.9.1.2"), Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 443, TCPFlags: 0x02, Seq: 1000})
	if res := e.Process(syn, now, nil); res.Verdict != pkt.Drop {
		t.Fatalf("syn: %v", res.Verdict)
	}
	rst := decodeSpec(t, pkt.Spec{Src: a("10.9.1.2"), Dst: a("10.9.0.4"), Proto: pkt.ProtoTCP, SrcPort: 443, DstPort: 40000, TCPFlags: 0x14, Ack: 1001})
	res := e.Process(rst, now.Add(5*time.Microsecond), nil)
	if st := res.Path.Steps(); len(st) != 2 || st[0].Hook != ruleset.LocalOut || st[0].Out != "vpeer" {
		t.Fatalf("reset path %+v", st)
	}
	if res.CTState != pkt.CTRelated || res.Verdict != pkt.Accept {
		t.Errorf("reset: %v state %d, want ACCEPT RELATED", res.Verdict, res.CTState)
	}
	if n := outputCounts(rs); n[0] != 1 {
		t.Errorf("OUTPUT counters %v", n)
	}
	// The same packet when it is not an answer (no reject before it) is
	// forwarded traffic.
	res = e.Process(rst, now.Add(time.Second), nil)
	if st := res.Path.Steps(); st[0].Hook != ruleset.PreRouting {
		t.Errorf("unsolicited reset path %+v", st)
	}
}

// nf_send_reset moves the rejected packet's confirmed TCP entry to CLOSE
// (10 s).
func TestRejectResetCloses(t *testing.T) {
	a := netip.MustParseAddr
	now := time.Unix(1700000000, 0)
	rs, _, err := ipt.Load("r", []byte("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --tcp-flags PSH PSH -j REJECT --reject-with tcp-reset\n-A INPUT -m conntrack --ctexpire 0:10\nCOMMIT\n"), ipt.LoadOptions{Family: ruleset.IPv4})
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(rs, nil, rejectHost(), engine.NewConntrack(0))
	cli, srv := a("10.9.0.2"), a("10.9.0.1")
	seg := func(from bool, flags uint8, seq, ack uint32, data int) *pkt.Packet {
		s := pkt.Spec{Src: cli, Dst: srv, SrcPort: 40000, DstPort: 80, Proto: pkt.ProtoTCP, TCPFlags: flags, Seq: seq, Ack: ack, Window: 64240, Payload: make([]byte, data)}
		if !from {
			s.Src, s.Dst, s.SrcPort, s.DstPort = srv, cli, 80, 40000
		}
		return decodeSpec(t, s)
	}
	e.Process(seg(true, 0x02, 100, 0, 0), now, nil)
	e.Process(seg(false, 0x12, 500, 101, 0), now, nil)
	e.Process(seg(true, 0x10, 101, 501, 0), now, nil)
	res := e.Process(seg(true, 0x18, 101, 501, 10), now.Add(time.Second), nil)
	if res.Verdict != pkt.Drop {
		t.Fatalf("data: %v", res.Verdict)
	}
	e.Process(seg(false, 0x04, 501, 0, 0), now.Add(time.Second), nil) // the reset
	// The next packet finds the entry in CLOSE with at most 10 s left
	// (ESTABLISHED would have 5 days).
	expire := rs.Table("filter").Chain("INPUT").Rules[1]
	before := expire.Counters.Packets
	res = e.Process(seg(true, 0x10, 111, 501, 0), now.Add(2*time.Second), nil)
	if got := expire.Counters.Packets - before; got != 1 || res.CTState != pkt.CTEstablished {
		t.Errorf("after the reset: --ctexpire 0:10 counted %d, state %d; want 1, ESTABLISHED", got, res.CTState)
	}
}
