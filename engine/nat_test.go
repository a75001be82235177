package engine_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/rampartfw/rampart/engine"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// A port forward: the DNAT'd packet is routed again and crosses FORWARD,
// not INPUT; the reply is un-NATed on its way out.
func TestDNATPortForward(t *testing.T) {
	rules := "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n" +
		"-A PREROUTING -i eth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.1.2:80\nCOMMIT\n" +
		"*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
		"-A FORWARD -d 192.168.1.2/32 -p tcp -m tcp --dport 80 -j ACCEPT\n" +
		"-A FORWARD -m state --state ESTABLISHED -j ACCEPT\nCOMMIT\n"
	rs, _, err := ipt.Load("nat.rules", []byte(rules), ipt.LoadOptions{Family: ruleset.IPv4})
	if err != nil {
		t.Fatal(err)
	}
	host := engine.NewHost()
	host.AddIface("eth0=203.0.113.1/24")
	host.AddIface("eth1=192.168.1.1/24")
	host.AddRoute("0.0.0.0/0=eth0")
	e := engine.New(rs, nil, host, engine.NewConntrack(0))
	a := netip.MustParseAddr
	now := time.Unix(1700000000, 0)
	syn := decodeSpec(t, pkt.Spec{Src: a("198.51.100.7"), Dst: a("203.0.113.1"), Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 8080, TCPFlags: 0x02, Seq: 1})
	r := e.Process(syn, now, nil)
	if r.Verdict != pkt.Accept || r.Reason.Chain != "FORWARD" || r.Reason.Rule != 1 {
		t.Fatalf("SYN: %v by %+v, path %v", r.Verdict, r.Reason, r.Path.Steps())
	}
	if syn.Dst != a("192.168.1.2") || syn.DstPort != 80 {
		t.Errorf("SYN not rewritten: %v:%d", syn.Dst, syn.DstPort)
	}
	synack := decodeSpec(t, pkt.Spec{Src: a("192.168.1.2"), Dst: a("198.51.100.7"), Proto: pkt.ProtoTCP, SrcPort: 80, DstPort: 40000, TCPFlags: 0x12, Seq: 100, Ack: 2})
	r = e.Process(synack, now, nil)
	if r.Verdict != pkt.Accept || r.Reason.Chain != "FORWARD" || r.Reason.Rule != 2 || r.CTState != pkt.CTEstablished {
		t.Fatalf("SYN-ACK: %v by %+v state %d", r.Verdict, r.Reason, r.CTState)
	}
	if synack.Src != a("203.0.113.1") || synack.SrcPort != 8080 {
		t.Errorf("reply not un-NATed: %v:%d", synack.Src, synack.SrcPort)
	}
}

// Masquerading: the reply to the host's public address is un-NATed at
// PREROUTING and forwarded to the inside client.
func TestMasqueradeReply(t *testing.T) {
	rules := "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n" +
		"-A POSTROUTING -o eth0 -j MASQUERADE\nCOMMIT\n" +
		"*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
		"-A FORWARD -i eth1 -o eth0 -j ACCEPT\n-A FORWARD -i eth0 -o eth1 -m state --state ESTABLISHED -j ACCEPT\nCOMMIT\n"
	rs, _, err := ipt.Load("masq.rules", []byte(rules), ipt.LoadOptions{Family: ruleset.IPv4})
	if err != nil {
		t.Fatal(err)
	}
	host := engine.NewHost()
	host.AddIface("eth0=203.0.113.1/24")
	host.AddIface("eth1=192.168.1.1/24")
	host.AddRoute("0.0.0.0/0=eth0")
	e := engine.New(rs, nil, host, engine.NewConntrack(0))
	a := netip.MustParseAddr
	now := time.Unix(1700000000, 0)
	q := decodeSpec(t, pkt.Spec{Src: a("192.168.1.2"), Dst: a("8.8.8.8"), Proto: pkt.ProtoUDP, SrcPort: 5353, DstPort: 53})
	if r := e.Process(q, now, nil); r.Verdict != pkt.Accept || q.Src != a("203.0.113.1") {
		t.Fatalf("query: %v by %+v, source now %v", r.Verdict, r.Reason, q.Src)
	}
	resp := decodeSpec(t, pkt.Spec{Src: a("8.8.8.8"), Dst: a("203.0.113.1"), Proto: pkt.ProtoUDP, SrcPort: 53, DstPort: q.SrcPort})
	r := e.Process(resp, now, nil)
	if r.Verdict != pkt.Accept || r.Reason.Chain != "FORWARD" || r.Reason.Rule != 2 || resp.Dst != a("192.168.1.2") || resp.DstPort != 5353 {
		t.Fatalf("response: %v by %+v, to %v:%d, path %v", r.Verdict, r.Reason, resp.Dst, resp.DstPort, r.Path.Steps())
	}
}
