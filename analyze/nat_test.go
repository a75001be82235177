package analyze

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

const natHead = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"

func TestDNATBypass(t *testing.T) {
	filter := func(fwd string, rules ...string) string {
		return "*filter\n:INPUT DROP [0:0]\n:FORWARD " + fwd + " [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
			"-A INPUT -i lo -j ACCEPT\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n" +
			strings.Join(rules, "") + "COMMIT\n"
	}
	dnat8080 := "-A PREROUTING -i eth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80\n"
	tests := []struct {
		name, text string
		kind       string // "" for no DNAT finding
	}{
		{"forward accepts by policy", natHead + dnat8080 + "COMMIT\n" + filter("ACCEPT"), "dnat-bypasses-input"},
		{"forward accepts by rule", natHead + dnat8080 + "COMMIT\n" + filter("DROP", "-A FORWARD -d 172.17.0.0/16 -j ACCEPT\n"), "dnat-bypasses-input"},
		{"through a user chain", natHead + ":DOCKER - [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n" +
			"-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80\nCOMMIT\n" + filter("ACCEPT"), "dnat-bypasses-input"},
		{"no filter table", natHead + dnat8080 + "COMMIT\n", "dnat-bypasses-input"},
		{"forward drops it", natHead + dnat8080 + "COMMIT\n" + filter("DROP"), "dnat-dropped"},
		{"input opens the same port", natHead + dnat8080 + "COMMIT\n" + filter("ACCEPT", "-A INPUT -p tcp -m tcp --dport 8080 -j ACCEPT\n"), ""},
		{"to loopback", natHead + "-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 127.0.0.1:80\nCOMMIT\n" + filter("ACCEPT"), ""},
		{"port only", natHead + "-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination :80\nCOMMIT\n" + filter("ACCEPT"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := check(t, "nat.rules", tc.text)
			var got *Finding
			for i, f := range rep.Findings {
				if strings.HasPrefix(f.Kind, "dnat") {
					got = &rep.Findings[i]
				}
			}
			switch {
			case tc.kind == "" && got != nil:
				t.Fatalf("unexpected %s: %s", got.Kind, got.Message)
			case tc.kind == "":
				return
			case got == nil || got.Kind != tc.kind:
				t.Fatalf("want %s, got %s", tc.kind, dump(rep))
			}
			if got.Kind == "dnat-bypasses-input" {
				confirmDNATWitness(t, tc.text, got.Witness)
			}
		})
	}
}

// confirmDNATWitness runs the witness through the engine on a host with
// eth0 outside and docker0 towards 172.17.0.0/16: it must be translated,
// forwarded and accepted, and the same packet without the DNAT rule must be
// dropped by INPUT.
func confirmDNATWitness(t *testing.T, text, witness string) {
	t.Helper()
	// witness: tcp 203.0.113.7:40000 > 192.0.2.10:8080 flags S in eth0 state NEW
	f := strings.Fields(witness)
	if len(f) < 4 || f[0] != "tcp" {
		t.Fatalf("witness %q", witness)
	}
	src, dst := netip.MustParseAddrPort(f[1]), netip.MustParseAddrPort(f[3])
	host := engine.NewHost()
	for _, s := range []string{"eth0=" + dst.Addr().String() + "/24", "docker0=172.17.0.1/16"} {
		if err := host.AddIface(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := host.AddRoute("0.0.0.0/0=eth0"); err != nil {
		t.Fatal(err)
	}
	run := func(text string) engine.Result {
		rs, _, err := ipt.Load("nat.rules", []byte(text), ipt.LoadOptions{Family: ruleset.IPv4})
		if err != nil {
			t.Fatal(err)
		}
		e := engine.New(rs, nil, host, engine.NewConntrack(1000))
		var p pkt.Packet
		if err := p.Decode(pkt.Build(pkt.Spec{Src: src.Addr(), Dst: dst.Addr(), Proto: 6, SrcPort: src.Port(), DstPort: dst.Port(), TCPFlags: 0x02, TTL: 64})); err != nil {
			t.Fatal(err)
		}
		return e.Process(&p, time.Unix(0, 0), nil)
	}
	r := run(text)
	if r.Verdict != pkt.Accept || r.Path.Routing != "" {
		t.Fatalf("engine: witness %s not forwarded and accepted: %+v", witness, r)
	}
	fwd := false
	for _, s := range r.Path.Steps() {
		fwd = fwd || s.Hook == ruleset.Forward
	}
	if !fwd {
		t.Fatalf("engine: witness %s did not go through FORWARD: %+v", witness, r.Path.Steps())
	}
	if i := strings.Index(text, "*filter"); i >= 0 {
		if r := run(text[i:]); r.Verdict != pkt.Drop {
			t.Fatalf("engine: without DNAT the witness is %v, want dropped by INPUT", r.Verdict)
		}
	}
}
