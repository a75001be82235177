package engine_test

import (
	"testing"
	"time"

	"github.com/rampartfw/rampart/engine"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// fuzzRules exercises many matches and targets at once.
const fuzzRules = `*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p udp -m udp --dport 4789 -j NOTRACK
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1400
-A PREROUTING -m conntrack --ctstate NEW -j MARK --set-mark 0x1
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:SCAN - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -j SCAN
-A INPUT -p icmp -m icmp --icmp-type 8 -m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name f -j ACCEPT
-A INPUT -p udp -m multiport --dports 53,123 -m limit --limit 10/sec -j ACCEPT
-A INPUT -m recent --name bad --rcheck --seconds 60 --hitcount 3 -j DROP
-A INPUT -m length --length 1000:65535 -m string --string "attack" --algo bm -j LOG --log-prefix "big: "
-A INPUT -m iprange --src-range 10.0.0.1-10.0.0.9 -m ttl --ttl-gt 10 -j REJECT
-A INPUT -f -j DROP
-A SCAN -p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE -j DROP
-A SCAN -p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN -m conntrack --ctstate NEW -j DROP
-A SCAN -p tcp -m tcp --dport 22 -m connlimit --connlimit-above 3 -j REJECT --reject-with tcp-reset
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80
-A POSTROUTING -o eth1 -j MASQUERADE
COMMIT
`

// FuzzEngine feeds arbitrary bytes as packets through a host with a busy
// ruleset: the engine must never panic, whatever the packet.
func FuzzEngine(f *testing.F) {
	var sets []*ruleset.Ruleset
	for _, fam := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		text := fuzzRules
		if fam == ruleset.IPv6 {
			text = "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -m state --state ESTABLISHED -j ACCEPT\n-A INPUT -p ipv6-icmp -j ACCEPT\n-A INPUT -m frag --fragmore -j DROP\n-A INPUT -m ipv6header --header frag --soft -j DROP\nCOMMIT\n"
		}
		rs, _, err := ipt.Load("fuzz.rules", []byte(text), ipt.LoadOptions{Family: fam})
		if err != nil {
			f.Fatal(err)
		}
		sets = append(sets, rs)
	}
	for _, s := range []pkt.Spec{
		{Src: mustAddr("203.0.113.9"), Dst: mustAddr("10.0.0.1"), Proto: pkt.ProtoTCP, DstPort: 22, TCPFlags: 2},
		{Src: mustAddr("203.0.113.9"), Dst: mustAddr("10.0.0.1"), Proto: pkt.ProtoICMP, ICMPType: 3, Payload: make([]byte, 28)},
		{Src: mustAddr("2001:db8::9"), Dst: mustAddr("2001:db8::1"), Proto: pkt.ProtoICMPv6, ICMPType: 128},
		{Src: mustAddr("10.0.0.5"), Dst: mustAddr("10.0.0.1"), Proto: pkt.ProtoUDP, DstPort: 53, Payload: []byte("attack")},
	} {
		f.Add(pkt.Build(s))
	}
	host := engine.NewHost()
	host.AddIface("eth0=10.0.0.1/24,2001:db8::1/64")
	host.AddIface("eth1=198.51.100.1/24")
	e := engine.New(sets[0], sets[1], host, engine.NewConntrack(1024))
	defrag := engine.NewDefrag()
	now := time.Unix(1700000000, 0)
	f.Fuzz(func(t *testing.T, b []byte) {
		var p pkt.Packet
		if p.Decode(b) != nil {
			return
		}
		now = now.Add(time.Millisecond)
		whole := defrag.Add(&p, now)
		if whole == nil {
			return
		}
		if len(whole) != len(p.Raw) && p.Decode(whole) != nil {
			return
		}
		e.Process(&p, now, nil)
	})
}
