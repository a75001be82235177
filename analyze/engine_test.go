package analyze

import (
	"fmt"
	"math/rand"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rampartfw/rampart/engine"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

var ruleTemplates = []string{
	"-p tcp --dport 22 -j ACCEPT",
	"-p tcp --sport 53 -j ACCEPT",
	"-p udp --dport 53 -j DROP",
	"-s 10.0.0.0/8 -j DROP",
	"-i eth0 -j ACCEPT",
	"-i eth+ -p udp -j DROP",
	"! -i ppp0 -p tcp --dport 80 -j REJECT",
	"-m state --state ESTABLISHED,RELATED -j ACCEPT",
	"-m state ! --state NEW -j DROP",
	"-p tcp --tcp-flags SYN,ACK SYN -j DROP",
	"-p tcp ! --syn -j ACCEPT",
	"-p icmp --icmp-type echo-request -j ACCEPT",
	"-p icmp ! --icmp-type echo-reply -j DROP",
	"-p tcp -m multiport --dports 80,443 -j ACCEPT",
	"-m limit --limit 1/sec --limit-burst 1 -j ACCEPT",
	"-p tcp -m recent --rcheck --seconds 5 --name X -j DROP",
	"-p tcp -m recent --set --name X",
	"-m ttl --ttl-gt 100 -j DROP",
	"-p udp -m multiport --ports 53,1500 -j ACCEPT",
	"-m iprange --dst-range 192.0.2.1-192.0.2.50 -j REJECT",
	"-d 192.0.2.0/24 -p tcp ! --dport 1000:2000 -j ACCEPT",
	"! -s 192.168.0.0/16 -p tcp -j LOG",
	"-j C",
	"-g C",
	"-p udp -j C",
}

var chainTemplates = []string{
	"-s 10.0.0.0/8 -j RETURN",
	"! -s 192.168.0.0/16 -p tcp -j RETURN",
	"-p tcp --dport 443 -j ACCEPT",
	"-p udp --sport 53 -j DROP",
	"-i lo -j ACCEPT",
	"-m state --state NEW -j RETURN",
	"-j DROP",
}

func randRules(r *rand.Rand) string {
	var b strings.Builder
	pol := []string{"ACCEPT", "DROP"}[r.Intn(2)]
	fmt.Fprintf(&b, "*filter\n:INPUT %s [0:0]\n:C - [0:0]\n", pol)
	for i, n := 0, r.Intn(8); i < n; i++ {
		fmt.Fprintf(&b, "-A INPUT %s\n", ruleTemplates[r.Intn(len(ruleTemplates))])
	}
	for i, n := 0, r.Intn(4); i < n; i++ {
		fmt.Fprintf(&b, "-A C %s\n", chainTemplates[r.Intn(len(chainTemplates))])
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// TestAgainstEngine checks, for random rulesets and packets, that the
// engine's verdict at INPUT lies in the symbolic walk's region for it,
// and in no other region when the walk is exact.
func TestAgainstEngine(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	srcs := []string{"10.1.2.3", "192.168.1.1", "203.0.113.7", "127.0.0.1"}
	dsts := []string{"192.0.2.10", "192.0.2.100", "127.0.0.1"}
	ports := []uint16{22, 53, 80, 443, 1500, 40000}
	ifaces := []string{"eth0", "eth1", "ppp0", "lo", "wlan0"}
	states := []uint8{pkt.CTNew, pkt.CTEstablished, pkt.CTRelated, pkt.CTInvalid, pkt.CTUntracked}
	checked, loaded := 0, 0
	var st propStats
	defer func() {
		t.Logf("%d rulesets, %d packets: %d exact, %d approximate; %d undecided by the engine", loaded, st.packets, st.exact, st.approx, st.undecided)
		if st.packets < 1000 || loaded < 100 || st.exact == 0 || st.approx == 0 {
			t.Errorf("only %d packets on %d rulesets checked", checked, loaded)
		}
	}()
	for iter := 0; iter < 300; iter++ {
		text := randRules(r)
		rs, _, err := ipt.Load("r.rules", []byte(text), ipt.LoadOptions{Family: ruleset.IPv4})
		if err != nil {
			continue // e.g. a goto loop refused
		}
		loaded++
		res := Analyze(rs, Options{File: "r.rules"})
		rs = rs.Clone()
		store := engine.NewStore()
		now := time.Unix(1700000000, 0)
		for k := 0; k < 40; k++ {
			s := pkt.Spec{
				Src: netip.MustParseAddr(srcs[r.Intn(len(srcs))]), Dst: netip.MustParseAddr(dsts[r.Intn(len(dsts))]),
				Proto: []uint8{6, 17, 1, 47}[r.Intn(4)], SrcPort: ports[r.Intn(len(ports))], DstPort: ports[r.Intn(len(ports))],
				TCPFlags: []uint8{0x02, 0x10, 0x12, 0x01}[r.Intn(4)], ICMPType: []uint8{8, 0, 3}[r.Intn(3)], TTL: 64,
			}
			var p pkt.Packet
			if err := p.Decode(pkt.Build(s)); err != nil {
				t.Fatal(err)
			}
			now = now.Add(time.Duration(r.Intn(1500)) * time.Millisecond)
			c := &pkt.Ctx{P: &p, Hook: ruleset.LocalIn, Table: "filter", In: ifaces[r.Intn(len(ifaces))], CTState: states[r.Intn(len(states))], Now: now, Store: store}
			w := Packet{Family: 4, Proto: s.Proto, Src: s.Src, Dst: s.Dst, In: c.In, State: c.CTState}
			switch s.Proto {
			case 6:
				w.SPort, w.DPort, w.Flags = s.SrcPort, s.DstPort, s.TCPFlags
			case 17:
				w.SPort, w.DPort = s.SrcPort, s.DstPort
			case 1:
				w.ICMPType = s.ICMPType
			}
			checked++
			checkPacket(t, text, res, rs, "INPUT", c, w, &st)
		}
	}
}
