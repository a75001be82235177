package analyze

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rampartfw/rampart/engine"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// propMatches are rule bodies without a target: exact header matches and
// the matches the analyzer over-approximates.
var propMatches = []string{
	"",
	"-p tcp --dport 22",
	"-p tcp --sport 1024:65535 --dport 80",
	"-p tcp -m multiport --dports 80,443,8000:8080",
	"-p udp --dport 53",
	"-p udp ! --sport 53",
	"-p icmp --icmp-type echo-request",
	"-p icmp ! --icmp-type 3/4",
	"-p tcp --syn",
	"-p tcp --tcp-flags FIN,SYN,RST,ACK ACK",
	"-s 10.0.0.0/8",
	"! -s 10.1.0.0/16 -p tcp",
	"-d 192.0.2.0/25",
	"-s 203.0.113.0/24 -d 192.0.2.100",
	"-m iprange --src-range 10.1.2.0-10.1.2.10",
	"-m state --state ESTABLISHED,RELATED",
	"-m conntrack --ctstate NEW",
	"-m conntrack ! --ctstate INVALID,UNTRACKED",
	"-f",
	"! -f -p udp",
	"-p 47",
	"-m comment --comment hello",
	// over-approximated
	"-m limit --limit 2/sec --limit-burst 2",
	"-p tcp -m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 2 --hashlimit-mode srcip --hashlimit-name hl",
	"-m recent --set --name R",
	"-m recent --rcheck --seconds 30 --name R",
	"-m string --algo bm --string evil",
	"-m mark --mark 0x1/0xff",
	"-m length --length 0:60",
	"-m ttl --ttl-lt 64",
	"-m conntrack --ctstate NEW --ctproto tcp",
	"-p tcp -m tcp --tcp-option 2",
	"-m connmark --mark 0x0",
}

var propIfaces = []string{"eth0", "eth1", "ppp0", "lo", "wlan0"}
var propIfPatterns = []string{"eth0", "eth+", "ppp0", "lo", "wlan0", "ppp+"}

// propRuleset returns a random filter ruleset over the built-in chains
// and up to three user chains C0..C2 (Ci only jumps to Cj, j > i).
func propRuleset(r *rand.Rand) string {
	var b strings.Builder
	pol := func() string { return []string{"ACCEPT", "DROP"}[r.IntN(2)] }
	fmt.Fprintf(&b, "*filter\n:INPUT %s [0:0]\n:FORWARD %s [0:0]\n:OUTPUT %s [0:0]\n", pol(), pol(), pol())
	nu := r.IntN(4)
	for i := 0; i < nu; i++ {
		fmt.Fprintf(&b, ":C%d - [0:0]\n", i)
	}
	target := func(from int) string { // from: index of the user chain, -1 for built-ins
		k := r.IntN(100)
		switch {
		case k < 25:
			return "-j ACCEPT"
		case k < 45:
			return "-j DROP"
		case k < 52:
			return "-j REJECT"
		case k < 58:
			return "-j LOG"
		case k < 62:
			return "" // no target
		case k < 72 && from >= 0:
			return "-j RETURN"
		}
		if from+1 < nu {
			c := from + 1 + r.IntN(nu-from-1)
			if r.IntN(3) == 0 {
				return fmt.Sprintf("-g C%d", c)
			}
			return fmt.Sprintf("-j C%d", c)
		}
		return "-j ACCEPT"
	}
	body := func(chain string) string {
		m := propMatches[r.IntN(len(propMatches))]
		if r.IntN(3) == 0 {
			m2 := propMatches[r.IntN(len(propMatches))]
			if !strings.Contains(m, "-p ") || !strings.Contains(m2, "-p ") {
				m += " " + m2
			}
		}
		if chain != "OUTPUT" && r.IntN(4) == 0 {
			neg := ""
			if r.IntN(4) == 0 {
				neg = "! "
			}
			m = neg + "-i " + propIfPatterns[r.IntN(len(propIfPatterns))] + " " + m
		}
		if chain != "INPUT" && r.IntN(4) == 0 {
			m = "-o " + propIfPatterns[r.IntN(len(propIfPatterns))] + " " + m
		}
		if chain == "OUTPUT" && r.IntN(8) == 0 {
			m += " -m owner --uid-owner 0"
		}
		return m
	}
	for _, c := range []string{"INPUT", "FORWARD", "OUTPUT"} {
		for i, n := 0, r.IntN(8); i < n; i++ {
			fmt.Fprintf(&b, "-A %s %s %s\n", c, body(c), target(-1))
		}
	}
	for u := 0; u < nu; u++ {
		for i, n := 0, r.IntN(5); i < n; i++ {
			fmt.Fprintf(&b, "-A C%d %s %s\n", u, body("C"), target(u))
		}
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// propFacts answers the owner match for local packets and knows nothing
// else.
type propFacts struct{ uid uint32 }

func (f propFacts) Owner() (uint32, uint32, bool)              { return f.uid, f.uid, true }
func (f propFacts) Socket() (bool, bool, bool)                 { return true, true, true }
func (propFacts) InSet(string, netip.Addr) (bool, bool)        { return false, false }
func (propFacts) SupplGroups() ([]uint32, bool)                { return nil, false }
func (propFacts) SetTest(*pkt.Ctx, *pkt.SetQuery) (bool, bool) { return false, false }
func (propFacts) Bridge() (bool, string, string, bool)         { return false, "", "", true }
func (propFacts) RPFilter(*pkt.Ctx, uint8) (bool, bool)        { return false, false }
func (propFacts) CPU() (uint32, bool)                          { return 0, true }
func (propFacts) Xfrm(bool) ([]pkt.XfrmState, bool, bool)      { return nil, false, false }

// propStats counts the packets a property run compared.
type propStats struct {
	rulesets, refused, packets, exact, approx, undecided int
	// loose: the walk was bounded, so a packet in a Must set may also be
	// in other regions' (over-approximated) May sets
	loose bool
}

// checkPacket compares the engine's verdict on one packet at a built-in
// chain with the symbolic walk's regions: the verdict must lie in a
// region whose May set holds the packet, and when a Must set holds it
// that region is the only one and the engine's.
func checkPacket(t *testing.T, text string, res *Result, rs *ruleset.Ruleset, chain string, c *pkt.Ctx, w Packet, st *propStats) {
	t.Helper()
	v, why := engine.Table(rs.Table("filter"), chain, c, nil)
	if c.Undecided != "" {
		st.undecided++
		return
	}
	st.packets++
	hr := res.Hooks[chain]
	pt := Set{res.an.point(w)}
	var may, must []string
	for name, reg := range hr.Verdict {
		if !pt.Intersect(reg.May).IsEmpty() {
			may = append(may, name)
		}
		if !pt.Intersect(reg.Must).IsEmpty() {
			must = append(must, name)
		}
	}
	want := map[pkt.Verdict][]string{pkt.Accept: {VAccept}, pkt.Drop: {VDrop, VReject}, pkt.Queue: {VQueue}}[v]
	in := func(xs []string) bool {
		for _, x := range xs {
			for _, y := range want {
				if x == y {
					return true
				}
			}
		}
		return false
	}
	switch {
	case !in(may):
		t.Fatalf("ruleset:\n%s\n%s packet %v: engine %v (%s), symbolic May regions %v", text, chain, w, v, why.Why, may)
	case len(must) > 0 && (len(must) != 1 || (len(may) != 1 && !st.loose) || !in(must)):
		t.Fatalf("ruleset:\n%s\n%s packet %v: engine %v (%s), exact regions %v, May regions %v", text, chain, w, v, why.Why, must, may)
	case len(must) > 0:
		st.exact++
	default:
		st.approx++
	}
}

// TestPropertyBounded is TestPropertyAgainstEngine's check with the walk's
// set bounds lowered to a few boxes and intervals, so that sets are
// over-approximated
// (may) and under-approximated (must) on the way: the answers must stay
// sound.
func TestPropertyBounded(t *testing.T) {
	defer func(n, m int) { maxWalkBoxes, maxIvs = n, m }(maxWalkBoxes, maxIvs)
	maxWalkBoxes, maxIvs = 4, 2
	st := propRun(t, 300, 40, 13, true)
	if st.rulesets < 150 || st.exact == 0 || st.approx < 1000 {
		t.Errorf("too few cases: %+v", st)
	}
}

// TestPropertyLarge checks packets drawn from the address plan of the
// generated enterprise ruleset (genLargeRuleset) at INPUT, FORWARD and
// OUTPUT.
func TestPropertyLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	var st propStats
	for seed := uint64(1); seed <= 3; seed++ {
		text := genLargeRuleset(1500, 40, seed)
		rs, _, err := ipt.Load("g.rules", []byte(text), ipt.LoadOptions{Family: ruleset.IPv4})
		if err != nil {
			t.Fatal(err)
		}
		res := Analyze(rs, Options{File: "g.rules"})
		rs = rs.Clone()
		store := engine.NewStore()
		now := time.Unix(1700000000, 0)
		ifs := []string{"eth0", "vlan100", "vlan110", "vlan120", "tun0", "vlan140", "lo"}
		for k := 0; k < 3000; k++ {
			addr := func() netip.Addr {
				if r.IntN(4) == 0 {
					return netip.AddrFrom4([4]byte{byte(1 + r.IntN(223)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
				}
				return netip.AddrFrom4([4]byte{10, byte(16 + r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256))})
			}
			s := pkt.Spec{Src: addr(), Dst: addr(), Proto: []uint8{6, 6, 6, 17, 1}[r.IntN(5)],
				SrcPort: uint16(r.IntN(65536)), DstPort: uint16(genTCPPorts[r.IntN(len(genTCPPorts))]),
				TCPFlags: []uint8{0x02, 0x10, 0x12}[r.IntN(3)], ICMPType: []uint8{8, 0, 3}[r.IntN(3)], TTL: 64}
			if s.Proto == 17 {
				s.DstPort = uint16(genUDPPorts[r.IntN(len(genUDPPorts))])
			}
			st.add(t, text, res, rs, r, s, false, ifs, store, &now)
		}
	}
	t.Logf("generated rulesets: %d packets: %d exact, %d approximate; %d undecided by the engine", st.packets, st.exact, st.approx, st.undecided)
	if st.exact == 0 || st.approx == 0 {
		t.Errorf("too few cases: %+v", st)
	}
}

// TestPropertyAgainstEngine runs random rulesets (user chains, goto,
// RETURN, policies, -i/-o, fragments, conntrack states and the matches
// the analyzer over-approximates) and random packets through the engine
// at INPUT, FORWARD and OUTPUT and checks each verdict against the
// symbolic walk's regions (checkPacket).
func TestPropertyAgainstEngine(t *testing.T) {
	st := propRun(t, 400, 60, 7, false)
	if st.rulesets < 200 || st.exact < 5000 || st.approx < 1000 {
		t.Errorf("too few cases: %+v", st)
	}
}

// propRun checks npkt random packets on each of n random rulesets (loose:
// see propStats).
func propRun(t *testing.T, n, npkt int, seed uint64, loose bool) propStats {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 11))
	srcs := []string{"10.1.2.3", "10.1.2.200", "10.9.9.9", "192.168.1.1", "203.0.113.7", "127.0.0.1", "192.0.2.100"}
	dsts := []string{"192.0.2.10", "192.0.2.100", "192.0.2.200", "127.0.0.1", "10.1.2.5"}
	ports := []uint16{22, 53, 80, 443, 1500, 8000, 40000}
	st := propStats{loose: loose}
	for iter := 0; iter < n; iter++ {
		text := propRuleset(r)
		rs, _, err := ipt.Load("p.rules", []byte(text), ipt.LoadOptions{Family: ruleset.IPv4})
		if err != nil {
			st.refused++
			continue
		}
		st.rulesets++
		res := Analyze(rs, Options{File: "p.rules"})
		rs = rs.Clone()
		store := engine.NewStore()
		now := time.Unix(1700000000, 0)
		for k := 0; k < npkt; k++ {
			s := pkt.Spec{
				Src: netip.MustParseAddr(srcs[r.IntN(len(srcs))]), Dst: netip.MustParseAddr(dsts[r.IntN(len(dsts))]),
				Proto: []uint8{6, 6, 17, 1, 47}[r.IntN(5)], SrcPort: ports[r.IntN(len(ports))], DstPort: ports[r.IntN(len(ports))],
				TCPFlags: []uint8{0x02, 0x10, 0x12, 0x01, 0x18, 0x04}[r.IntN(6)], ICMPType: []uint8{8, 0, 3}[r.IntN(3)],
				ICMPCode: []uint8{0, 4}[r.IntN(2)], TTL: []uint8{1, 63, 64, 128}[r.IntN(4)],
			}
			if r.IntN(4) == 0 {
				s.Payload = []byte([]string{"GET / HTTP/1.0", "this is evil", strings.Repeat("x", 100)}[r.IntN(3)])
			}
			frag := !res.an.conntrack && r.IntN(5) == 0
			st.add(t, text, res, rs, r, s, frag, propIfaces, store, &now)
		}
	}
	t.Logf("%d rulesets (%d refused by iptables' checks), %d packets: %d exact, %d approximate; %d undecided by the engine",
		st.rulesets, st.refused, st.packets, st.exact, st.approx, st.undecided)
	return st
}

// add builds the packet s (a non-first fragment when frag) with a random
// hook, interfaces, conntrack state, mark and owner, and checks it.
func (st *propStats) add(t *testing.T, text string, res *Result, rs *ruleset.Ruleset, r *rand.Rand, s pkt.Spec, frag bool, ifaces []string, store pkt.StateStore, now *time.Time) {
	t.Helper()
	states := []uint8{pkt.CTNew, pkt.CTEstablished, pkt.CTRelated, pkt.CTInvalid, pkt.CTUntracked}
	chain := []string{"INPUT", "FORWARD", "OUTPUT"}[r.IntN(3)]
	if frag {
		s.FragOff = 8
	}
	var p pkt.Packet
	if err := p.Decode(pkt.Build(s)); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(time.Duration(r.IntN(1500)) * time.Millisecond)
	c := &pkt.Ctx{P: &p, Table: "filter", CTState: states[r.IntN(len(states))], Now: *now, Store: store,
		Mark: uint32(r.IntN(3)), Facts: propFacts{uid: uint32(r.IntN(2))}}
	if c.CTState&(pkt.CTNew|pkt.CTEstablished|pkt.CTRelated) != 0 {
		// a tracked packet has its connection (what the kernel's
		// conntrack match reads besides the state)
		c.Conn = &pkt.Conn{Orig: pkt.Tuple{Src: s.Src, Dst: s.Dst, SrcPort: s.SrcPort, DstPort: s.DstPort, Proto: s.Proto},
			Reply: pkt.Tuple{Src: s.Dst, Dst: s.Src, SrcPort: s.DstPort, DstPort: s.SrcPort, Proto: s.Proto}, Mark: uint32(r.IntN(2))}
	}
	switch chain {
	case "INPUT":
		c.Hook, c.In = ruleset.LocalIn, ifaces[r.IntN(len(ifaces))]
	case "FORWARD":
		c.Hook, c.In, c.Out = ruleset.Forward, ifaces[r.IntN(len(ifaces))], ifaces[r.IntN(len(ifaces))]
	default:
		c.Hook, c.Out = ruleset.LocalOut, ifaces[r.IntN(len(ifaces))]
	}
	w := Packet{Family: 4, Proto: s.Proto, Src: s.Src, Dst: s.Dst, In: c.In, Out: c.Out, State: c.CTState, Fragment: frag}
	if !frag {
		switch s.Proto {
		case 6:
			w.SPort, w.DPort, w.Flags = s.SrcPort, s.DstPort, s.TCPFlags
		case 17:
			w.SPort, w.DPort = s.SrcPort, s.DstPort
		case 1:
			w.ICMPType, w.ICMPCode = s.ICMPType, s.ICMPCode
		}
	}
	checkPacket(t, text, res, rs, chain, c, w, st)
}
