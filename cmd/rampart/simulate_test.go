package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampartfw/rampart/capture"
	"github.com/rampartfw/rampart/pkt"
)

func TestSimulateCounts(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "r.rules")
	os.WriteFile(rules, []byte("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"+
		"-A INPUT -p udp -j LOG --log-prefix \"udp: \"\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE -j DROP\nCOMMIT\n"), 0o644)
	capFile := filepath.Join(dir, "c.pcap")
	f, _ := os.Create(capFile)
	w, err := capture.NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	t0 := time.Unix(1700000000, 0)
	for i, s := range []pkt.Spec{
		{Src: a("203.0.113.9"), Dst: a("10.0.0.1"), Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 22, TCPFlags: 0x02},
		{Src: a("203.0.113.9"), Dst: a("10.0.0.1"), Proto: pkt.ProtoTCP, SrcPort: 40001, DstPort: 80},
		{Src: a("203.0.113.9"), Dst: a("10.0.0.1"), Proto: pkt.ProtoUDP, SrcPort: 5353, DstPort: 53},
		{Src: a("2001:db8::1"), Dst: a("2001:db8::2"), Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 2},
	} {
		w.Write(t0.Add(time.Duration(i)*time.Millisecond), pkt.Build(s))
	}
	f.Close()
	bin := buildRampart(t)
	verdicts := filepath.Join(dir, "v.jsonl")
	logFile := filepath.Join(dir, "log")
	r := runBin(t, bin, nil, "", "simulate", rules, "--pcap", capFile, "--iface", "eth0=10.0.0.1/24", "--verdicts", verdicts, "--log", logFile)
	if r.code != 0 {
		t.Fatalf("simulate: %+v", r)
	}
	for _, want := range []string{":INPUT DROP [1:28]", "[1:40] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT", "[1:40] -A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE -j DROP"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	// explain --pcap --index replays the capture up to the packet.
	ex := runBin(t, bin, nil, "", "explain", rules, "--pcap", capFile, "--index", "1", "--iface", "eth0=10.0.0.1/24")
	if ex.code != 0 || !strings.Contains(ex.stdout, "packet 1 at ") || !strings.Contains(ex.stdout, "matched    -A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE -j DROP") ||
		!strings.Contains(ex.stdout, "verdict: DROP (filter INPUT rule 3)") {
		t.Errorf("explain --pcap: %+v", ex)
	}
	lg, _ := os.ReadFile(logFile)
	if !strings.Contains(string(lg), "udp: IN=eth0 OUT= MAC= SRC=203.0.113.9 DST=10.0.0.1 LEN=28 ") || !strings.Contains(string(lg), "PROTO=UDP SPT=5353 DPT=53 LEN=8") {
		t.Errorf("LOG output:\n%s", lg)
	}
	v, _ := os.ReadFile(verdicts)
	if n := strings.Count(string(v), "\n"); n != 3 {
		t.Errorf("%d verdict lines, want 3 (the IPv6 packet is ignored):\n%s", n, v)
	}
	if !strings.Contains(string(v), `"index":0,`) || !strings.Contains(string(v), `"verdict":"ACCEPT","table":"filter","chain":"INPUT","rule":2`) {
		t.Errorf("verdicts:\n%s", v)
	}
}

// TestExplainStates: the state a packet description names is what state
// and conntrack matches see (a tracked state comes with a connection).
func TestExplainStates(t *testing.T) {
	bin := buildRampart(t)
	rules := filepath.Join(t.TempDir(), "ct.rules")
	os.WriteFile(rules, []byte("*filter\n:INPUT DROP [0:0]\n-A INPUT -m conntrack --ctstate NEW -j ACCEPT\n"+
		"-A INPUT -m state --state ESTABLISHED -j ACCEPT\n-A INPUT -m conntrack --ctstate INVALID -j REJECT\nCOMMIT\n"), 0o644)
	for _, tc := range []struct{ state, want string }{
		{"NEW", "verdict: ACCEPT (filter INPUT rule 1)"},
		{"ESTABLISHED", "verdict: ACCEPT (filter INPUT rule 2)"},
		{"INVALID", "verdict: DROP (filter INPUT rule 3)"},
		{"UNTRACKED", "verdict: DROP (filter INPUT policy)"},
	} {
		r := runBin(t, bin, nil, "", "explain", rules, "tcp 192.0.2.1:1000 > 192.0.2.2:22 flags S state "+tc.state)
		if !strings.Contains(r.stdout, tc.want) {
			t.Errorf("state %s: want %q in\n%s%s", tc.state, tc.want, r.stdout, r.stderr)
		}
	}
}
