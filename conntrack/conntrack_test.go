package conntrack

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

func (c *conn) udp(dir int, dt time.Duration) Result {
	c.now = c.now.Add(dt)
	return c.pass(build(c.tb, c.spec(dir)))
}

func TestUDP(t *testing.T) {
	tests := []struct {
		name  string
		steps []struct {
			dt      time.Duration
			dir     int
			state   uint8
			expires time.Duration
			assured bool
		}
	}{
		{"request and quick reply", []struct {
			dt      time.Duration
			dir     int
			state   uint8
			expires time.Duration
			assured bool
		}{
			{0, 0, NEW, 30 * time.Second, false},
			{0, 0, NEW, 30 * time.Second, false},
			{time.Second, 1, EST, 30 * time.Second, false},
			// Replied but not older than 2 s: still 30 s, not assured.
			{time.Second, 0, EST, 30 * time.Second, false},
			// Older than 2 s: a stream, 120 s and ASSURED.
			{time.Millisecond, 1, EST, 120 * time.Second, true},
			{10 * time.Second, 0, EST, 120 * time.Second, true},
		}},
		{"unreplied expires after 30 s", []struct {
			dt      time.Duration
			dir     int
			state   uint8
			expires time.Duration
			assured bool
		}{
			{0, 0, NEW, 30 * time.Second, false},
			{29 * time.Second, 0, NEW, 30 * time.Second, false},
			{30 * time.Second, 0, NEW, 30 * time.Second, false},
			// The reply after expiry starts its own (reversed) entry.
			{30 * time.Second, 1, NEW, 30 * time.Second, false},
		}},
		{"stream expires after 120 s", []struct {
			dt      time.Duration
			dir     int
			state   uint8
			expires time.Duration
			assured bool
		}{
			{0, 0, NEW, 30 * time.Second, false},
			{3 * time.Second, 1, EST, 30 * time.Second, false},
			{time.Second, 0, EST, 120 * time.Second, true},
			{119 * time.Second, 1, EST, 120 * time.Second, true},
			{120 * time.Second, 1, NEW, 30 * time.Second, false},
		}},
	}
	for _, tt := range tests {
		tbl := New(0)
		c := newConn(t, tbl, pkt.ProtoUDP)
		c.sp = 53
		for i, st := range tt.steps {
			r := c.udp(st.dir, st.dt)
			if r.State != st.state || r.Conn == nil {
				t.Errorf("%s step %d: %s, want %s", tt.name, i, stateName(r.State), stateName(st.state))
				continue
			}
			if r.Conn.Expires != st.expires || (r.Conn.Status&IPS_ASSURED != 0) != st.assured {
				t.Errorf("%s step %d: expires %v assured %v, want %v %v", tt.name, i, r.Conn.Expires, r.Conn.Status&IPS_ASSURED != 0, st.expires, st.assured)
			}
		}
	}
}

func TestUDPMalformed(t *testing.T) {
	tbl := New(0)
	raw := pkt.Build(pkt.Spec{Src: cli, Dst: srv, Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 2, Payload: []byte("abcd")})
	binary.BigEndian.PutUint16(raw[24:], 100) // UDP length beyond the packet
	if r := tbl.Track(decode(t, raw), t0, ruleset.PreRouting); r.State != pkt.CTInvalid {
		t.Errorf("bad UDP length: %s", stateName(r.State))
	}
	binary.BigEndian.PutUint16(raw[24:], 7)
	if r := tbl.Track(decode(t, raw), t0, ruleset.PreRouting); r.State != pkt.CTInvalid {
		t.Errorf("UDP length 7: %s", stateName(r.State))
	}
	if n := tbl.Len(t0); n != 0 {
		t.Errorf("%d entries left", n)
	}
}

func TestUDPLite(t *testing.T) {
	tbl := New(0)
	c := newConn(t, tbl, pkt.ProtoUDPLite)
	// UDP-Lite mandates a checksum: pkt.Build leaves it zero.
	if r := c.udp(0, 0); r.State != pkt.CTInvalid {
		t.Errorf("UDP-Lite without checksum: %s", stateName(r.State))
	}
	s := c.spec(0)
	raw := pkt.Build(s)
	raw[27] = 1 // any non-zero checksum (not verified)
	r := c.pass(decode(t, raw))
	if r.State != pkt.CTNew || r.Conn.Expires != 30*time.Second {
		t.Errorf("UDP-Lite: %s %v", stateName(r.State), r.Conn)
	}
}

func icmpSpec(src, dst netip.Addr, typ, code uint8, id uint16) pkt.Spec {
	proto := uint8(pkt.ProtoICMP)
	if src.Is6() {
		proto = pkt.ProtoICMPv6
	}
	return pkt.Spec{Src: src, Dst: dst, Proto: proto, ICMPType: typ, ICMPCode: code, ICMPID: id, ICMPSeq: 1}
}

func TestICMPEcho(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		c, s := cli, srv
		req, rep := uint8(8), uint8(0)
		if v6 {
			c, s, req, rep = cli6, srv6, 128, 129
		}
		tbl := New(0)
		cc := newConn(t, tbl, 0)
		steps := []struct {
			name  string
			dt    time.Duration
			spec  pkt.Spec
			state uint8
			dir   uint8
		}{
			{"reply without request", 0, icmpSpec(s, c, rep, 0, 7), INV, 0},
			{"request", 0, icmpSpec(c, s, req, 0, 7), NEW, 0},
			{"request again", time.Second, icmpSpec(c, s, req, 0, 7), NEW, 0},
			{"reply", 0, icmpSpec(s, c, rep, 0, 7), EST, 1},
			{"reply with another id", 0, icmpSpec(s, c, rep, 0, 8), INV, 0},
			{"next request", time.Second, icmpSpec(c, s, req, 0, 7), EST, 0},
			{"after 30 s", 30 * time.Second, icmpSpec(s, c, rep, 0, 7), INV, 0},
		}
		for _, st := range steps {
			cc.now = cc.now.Add(st.dt)
			r := cc.pass(build(t, st.spec))
			if r.State != st.state || (r.Conn != nil && r.Dir != st.dir) {
				t.Errorf("v6=%v %s: %s dir %d, want %s dir %d", v6, st.name, stateName(r.State), r.Dir, stateName(st.state), st.dir)
			}
			if r.Conn != nil && r.Conn.Expires != 30*time.Second {
				t.Errorf("v6=%v %s: expires %v", v6, st.name, r.Conn.Expires)
			}
		}
		if n := tbl.Len(cc.now); n != 0 {
			t.Errorf("v6=%v: %d entries after expiry", v6, n)
		}
	}
}

func TestICMPOtherTypes(t *testing.T) {
	tests := []struct {
		name  string
		spec  pkt.Spec
		state uint8
	}{
		{"timestamp request", icmpSpec(cli, srv, 13, 0, 1), NEW},
		{"address mask request", icmpSpec(cli, srv, 17, 0, 1), NEW},
		{"info request", icmpSpec(cli, srv, 15, 0, 1), NEW},
		{"router advertisement", icmpSpec(cli, srv, 9, 0, 1), INV},
		{"type 19", icmpSpec(cli, srv, 19, 0, 1), INV},
		{"type 200", icmpSpec(cli, srv, 200, 0, 1), INV},
		{"unrelated error", icmpSpec(cli, srv, 3, 3, 0), INV},
		{"neighbour solicitation", icmpSpec(cli6, srv6, 135, 0, 0), pkt.CTUntracked},
		{"router solicitation", icmpSpec(cli6, srv6, 133, 0, 0), pkt.CTUntracked},
		{"MLDv2 report", icmpSpec(cli6, srv6, 143, 0, 0), pkt.CTUntracked},
		{"node information query", icmpSpec(cli6, srv6, 139, 0, 1), NEW},
		{"v6 echo reply alone", icmpSpec(cli6, srv6, 129, 0, 1), INV},
		{"v6 unrelated error", icmpSpec(cli6, srv6, 1, 4, 0), INV},
		{"v6 unknown informational", icmpSpec(cli6, srv6, 200, 0, 0), INV},
	}
	for _, tt := range tests {
		tbl := New(0)
		r := tbl.Track(build(t, tt.spec), t0, ruleset.PreRouting)
		if r.State != tt.state {
			t.Errorf("%s: %s, want %s", tt.name, stateName(r.State), stateName(tt.state))
		}
	}
}

// icmpError builds an ICMP error from src to dst quoting quoted.
func icmpError(tb testing.TB, src, dst netip.Addr, typ, code uint8, quoted []byte) *pkt.Packet {
	s := icmpSpec(src, dst, typ, code, 0)
	s.ICMPSeq = 0
	s.Payload = quoted
	return build(tb, s)
}

func TestICMPErrorRelated(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		tbl := New(0)
		c := newConn(t, tbl, pkt.ProtoTCP)
		router := rtr
		unreach, code := uint8(3), uint8(3)
		if v6 {
			c.c, c.s = cli6, srv6
			router = netip.MustParseAddr("2001:db8:ff::1")
			unreach, code = 1, 4
		}
		syn := c.spec(0)
		syn.TCPFlags, syn.Seq = fSYN, ci
		synRaw := pkt.Build(syn)
		c.pass(decode(t, synRaw))
		synack := c.spec(1)
		synack.TCPFlags, synack.Seq, synack.Ack = fSYN|fACK, si, ci+1
		synackRaw := pkt.Build(synack)
		before := *c.pass(decode(t, synackRaw)).Conn

		tests := []struct {
			name  string
			p     *pkt.Packet
			state uint8
			dir   uint8
		}{
			// A router on the way tells the client its SYN went nowhere.
			{"error to the client", icmpError(t, router, c.c, unreach, code, synRaw), pkt.CTRelated, DirReply},
			// The server's SYN/ACK bounced back to the server.
			{"error to the server", icmpError(t, router, c.s, unreach, code, synackRaw), pkt.CTRelated, DirOriginal},
			// Quoted flow fine but sent elsewhere: outer daddr check.
			{"error to a third host", icmpError(t, router, rtr6or4(v6), unreach, code, synRaw), pkt.CTInvalid, 0},
			{"error about another flow", icmpError(t, router, c.c, unreach, code, otherFlow(t, v6)), pkt.CTInvalid, 0},
			// Only the first 8 bytes of the quoted transport header are
			// sent: enough.
			{"short quote", icmpError(t, router, c.c, unreach, code, synRaw[:len(synRaw)-12]), pkt.CTRelated, DirReply},
			{"quote without ports", icmpError(t, router, c.c, unreach, code, synRaw[:len(synRaw)-18]), pkt.CTInvalid, 0},
		}
		for _, tt := range tests {
			r := c.t.Track(tt.p, c.now, ruleset.PreRouting)
			if r.State != tt.state || r.Dir != tt.dir {
				t.Errorf("v6=%v %s: %s dir %d, want %s dir %d", v6, tt.name, stateName(r.State), r.Dir, stateName(tt.state), tt.dir)
			}
			if r.State == pkt.CTRelated && (r.Conn.Packets != before.Packets || r.Conn.Status != before.Status) {
				t.Errorf("v6=%v %s: the error changed the entry", v6, tt.name)
			}
			if v := c.t.Confirm(&r, c.now); v != pkt.Accept {
				t.Errorf("confirm of a related packet: %v", v)
			}
		}
	}
}

func rtr6or4(v6 bool) netip.Addr {
	if v6 {
		return netip.MustParseAddr("2001:db8:99::9")
	}
	return netip.MustParseAddr("203.0.113.99")
}

func otherFlow(tb testing.TB, v6 bool) []byte {
	s := pkt.Spec{Src: cli, Dst: srv, Proto: pkt.ProtoTCP, SrcPort: 1111, DstPort: 80, TCPFlags: fSYN}
	if v6 {
		s.Src, s.Dst = cli6, srv6
	}
	return pkt.Build(s)
}

// An ICMP error quoting an echo request is related to the echo entry.
func TestICMPErrorQuotingEcho(t *testing.T) {
	tbl := New(0)
	c := newConn(t, tbl, 0)
	req := pkt.Build(icmpSpec(cli, srv, 8, 0, 42))
	c.pass(decode(t, req))
	r := tbl.Track(icmpError(t, rtr, cli, 11, 0, req), t0, ruleset.PreRouting)
	if r.State != pkt.CTRelated || r.Dir != DirReply {
		t.Errorf("time exceeded for a ping: %s dir %d", stateName(r.State), r.Dir)
	}
}

func TestGeneric(t *testing.T) {
	tbl := New(0)
	c := newConn(t, tbl, 47) // GRE
	for i, st := range []struct {
		dt    time.Duration
		dir   int
		state uint8
	}{
		{0, 0, NEW}, {time.Second, 1, EST}, {599 * time.Second, 0, EST}, {600 * time.Second, 1, NEW},
	} {
		r := c.udp(st.dir, st.dt)
		if r.State != st.state || r.Conn.Expires != 600*time.Second || r.Conn.Status&IPS_ASSURED != 0 {
			t.Errorf("step %d: %s %v %#x", i, stateName(r.State), r.Conn.Expires, r.Conn.Status)
		}
	}
}

func TestUnconfirmedDiscard(t *testing.T) {
	tbl := New(0)
	c := newConn(t, tbl, pkt.ProtoUDP)
	p := build(t, c.spec(0))
	r := tbl.Track(p, t0, ruleset.PreRouting)
	if r.State != pkt.CTNew || r.Conn.Status&IPS_CONFIRMED != 0 || r.Conn.Expires != 0 {
		t.Fatalf("unconfirmed: %s %#x %v", stateName(r.State), r.Conn.Status, r.Conn.Expires)
	}
	if n := tbl.Len(t0); n != 1 {
		t.Errorf("unconfirmed entries count: %d", n)
	}
	tbl.Discard(&r) // the packet was dropped
	if n := tbl.Len(t0); n != 0 {
		t.Errorf("%d entries after discard", n)
	}
	// A reply to the dropped packet finds nothing.
	if r := tbl.Track(build(t, c.spec(1)), t0, ruleset.PreRouting); r.State != pkt.CTNew || r.Dir != DirOriginal {
		t.Errorf("reply after discard: %s dir %d", stateName(r.State), r.Dir)
	}
}

func TestUntracked(t *testing.T) {
	r := Untracked()
	var c pkt.Ctx
	r.Apply(&c)
	if c.CTState != pkt.CTUntracked || c.Conn != nil {
		t.Errorf("untracked: %+v", c)
	}
	tbl := New(0)
	if tbl.Confirm(&r, t0) != pkt.Accept || tbl.Len(t0) != 0 {
		t.Error("confirming an untracked packet")
	}
}

func TestFragmentInvalid(t *testing.T) {
	tbl := New(0)
	p := build(t, pkt.Spec{Src: cli, Dst: srv, Proto: pkt.ProtoUDP, FragOff: 10})
	if r := tbl.Track(p, t0, ruleset.PreRouting); r.State != pkt.CTInvalid {
		t.Errorf("non-first fragment: %s", stateName(r.State))
	}
}

func TestTableFull(t *testing.T) {
	tbl := New(2)
	udp := func(port uint16, dt time.Duration) (*conn, Result) {
		c := newConn(t, tbl, pkt.ProtoUDP)
		c.cp = port
		return c, c.udp(0, dt)
	}
	a, _ := udp(1, 0)
	a.now = t0.Add(time.Second)
	udp(2, time.Second)
	// Full: the non-assured entry that expires first (1) goes.
	c3, r := udp(3, 2*time.Second)
	if r.Drop || r.State != pkt.CTNew {
		t.Fatalf("third flow: drop=%v %s", r.Drop, stateName(r.State))
	}
	if r := a.udp(0, time.Second); r.State != pkt.CTNew || r.Conn.Packets[0] != 1 {
		t.Errorf("flow 1 was not early-dropped: %s %v", stateName(r.State), r.Conn.Packets)
	}
	_ = c3

	// Assured entries are never early-dropped: the packet is.
	tbl = New(2)
	for port := uint16(1); port <= 2; port++ {
		c := newConn(t, tbl, pkt.ProtoTCP)
		c.cp = port
		c.tcp(0, fSYN, ci, 0, 64240, 0)
		c.tcp(1, fSYN|fACK, si, ci+1, 65160, 0)
		if r := c.tcp(0, fACK, ci+1, si+1, 502, 0); r.Conn.Status&IPS_ASSURED == 0 {
			t.Fatal("not assured")
		}
	}
	c := newConn(t, tbl, pkt.ProtoTCP)
	c.cp = 3
	if r := c.tcp(0, fSYN, ci, 0, 64240, 0); !r.Drop || r.Conn != nil {
		t.Errorf("table full of assured entries: drop=%v", r.Drop)
	}
	// Existing flows still pass.
	c.cp = 1
	if r := c.tcp(0, fACK, ci+1, si+1, 502, 0); r.Drop || r.State != pkt.CTEstablished {
		t.Errorf("existing flow in a full table: drop=%v %s", r.Drop, stateName(r.State))
	}
	// Expired entries make room.
	c.cp = 3
	c.now = c.now.Add(5 * 24 * time.Hour)
	if r := c.tcp(0, fSYN, ci, 0, 64240, 0); r.Drop || r.State != pkt.CTNew {
		t.Errorf("after expiry: drop=%v %s", r.Drop, stateName(r.State))
	}
}

func TestNAT(t *testing.T) {
	vip := netip.MustParseAddr("198.51.100.80")
	backend := netip.MustParseAddr("10.0.0.8")
	pub := netip.MustParseAddr("203.0.113.1")
	tbl := New(0)

	// DNAT: client → vip:80 becomes backend:8080.
	p := build(t, pkt.Spec{Src: cli, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 80, TCPFlags: fSYN, Seq: ci})
	r := tbl.Track(p, t0, ruleset.PreRouting)
	if !tbl.SetNAT(&r, DNAT, backend, 8080, 8080, t0) {
		t.Fatal("DNAT refused")
	}
	if tbl.Confirm(&r, t0) != pkt.Accept {
		t.Fatal("confirm")
	}
	if r.Conn.Status&(IPS_DST_NAT|IPS_DST_NAT_DONE) != IPS_DST_NAT|IPS_DST_NAT_DONE {
		t.Errorf("status %#x", r.Conn.Status)
	}
	if want := (pkt.Tuple{Src: backend, Dst: cli, SrcPort: 8080, DstPort: 40000, Proto: pkt.ProtoTCP}); r.Conn.Reply != want {
		t.Errorf("reply tuple %+v", r.Conn.Reply)
	}
	// The backend's SYN/ACK is the reply.
	p = build(t, pkt.Spec{Src: backend, Dst: cli, Proto: pkt.ProtoTCP, SrcPort: 8080, DstPort: 40000, TCPFlags: fSYN | fACK, Seq: si, Ack: ci + 1})
	if r := tbl.Track(p, t0, ruleset.PreRouting); r.State != pkt.CTEstablished || r.Dir != DirReply || tbl.TCPState(r) != "SYN_RECV" {
		t.Errorf("DNAT reply: %s dir %d %s", stateName(r.State), r.Dir, tbl.TCPState(r))
	}
	// No NAT on confirmed entries.
	if tbl.SetNAT(&r, SNAT, pub, 0, 0, t0) {
		t.Error("NAT on a confirmed entry")
	}

	// SNAT (masquerade) of two clients using the same source port: the
	// second one is remapped.
	var got []uint16
	for _, src := range []string{"10.0.0.1", "10.0.0.2"} {
		p := build(t, pkt.Spec{Src: netip.MustParseAddr(src), Dst: srv, Proto: pkt.ProtoUDP, SrcPort: 5000, DstPort: 53})
		r := tbl.Track(p, t0, ruleset.LocalOut)
		if !tbl.SetNAT(&r, SNAT, pub, 0, 0, t0) {
			t.Fatal("SNAT refused")
		}
		tbl.Confirm(&r, t0)
		got = append(got, r.Conn.Reply.DstPort)
		rp := build(t, pkt.Spec{Src: srv, Dst: pub, Proto: pkt.ProtoUDP, SrcPort: 53, DstPort: r.Conn.Reply.DstPort})
		rr := tbl.Track(rp, t0, ruleset.PreRouting)
		if rr.State != pkt.CTEstablished || rr.Conn.Orig.Src != netip.MustParseAddr(src) {
			t.Errorf("SNAT reply for %s: %s", src, stateName(rr.State))
		}
	}
	if got[0] != 5000 || got[1] == 5000 || got[1] < 1024 {
		t.Errorf("SNAT ports %v", got)
	}
}

// A TCP packet with a bad checksum is INVALID at PREROUTING when checksums
// are verified, and fine at OUTPUT.
func TestChecksum(t *testing.T) {
	tbl := New(0)
	tbl.Checksum = true
	raw := pkt.Build(pkt.Spec{Src: cli, Dst: srv, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 2, TCPFlags: fSYN, Payload: []byte("x")})
	if r := tbl.Track(decode(t, raw), t0, ruleset.PreRouting); r.State != pkt.CTInvalid {
		t.Errorf("bad checksum at PREROUTING: %s", stateName(r.State))
	}
	// Fill the checksum in.
	var s uint32
	s = sum(s, raw[12:20])
	s += uint32(len(raw)-20) + pkt.ProtoTCP
	s = sum(s, raw[20:])
	binary.BigEndian.PutUint16(raw[36:], ^fold(s))
	if r := tbl.Track(decode(t, raw), t0, ruleset.PreRouting); r.State != pkt.CTNew {
		t.Errorf("good checksum: %s", stateName(r.State))
	}
}

// BenchmarkEntrySize reports the memory of one connection: the entry and
// its two hash slots (key + uint32 value, plus the swiss table's control
// byte at the 7/8 maximum load).
func BenchmarkEntrySize(b *testing.B) {
	e, k := unsafe.Sizeof(entry{}), unsafe.Sizeof(key{})
	slot := (k + 4 + 3) &^ 3
	for b.Loop() {
	}
	b.ReportMetric(float64(e), "entry-bytes")
	b.ReportMetric(float64(e+2*(slot+1)*8/7), "bytes/connection")
	b.ReportMetric(float64(unsafe.Sizeof(pkt.Conn{})), "conn-view-bytes")
}

func BenchmarkTrackTCPEstablished(b *testing.B) {
	tbl := New(0)
	c := newConn(b, tbl, pkt.ProtoTCP)
	c.tcp(0, fSYN, ci, 0, 64240, 0)
	c.tcp(1, fSYN|fACK, si, ci+1, 65160, 0)
	c.tcp(0, fACK, ci+1, si+1, 502, 0)
	ds := c.spec(0)
	ds.TCPFlags, ds.Seq, ds.Ack, ds.Window, ds.Payload = fACK|fPSH, ci+1, si+1, 502, make([]byte, 100)
	data := decode(b, pkt.Build(ds))
	as := c.spec(1)
	as.TCPFlags, as.Seq, as.Ack, as.Window = fACK, si+1, ci+101, 509
	ack := decode(b, pkt.Build(as))
	sq := uint32(ci + 1)
	now := t0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		binary.BigEndian.PutUint32(data.Raw[24:], sq)
		sq += 100
		binary.BigEndian.PutUint32(ack.Raw[28:], sq)
		now = now.Add(time.Microsecond)
		r := tbl.Track(data, now, ruleset.PreRouting)
		tbl.Confirm(&r, now)
		r = tbl.Track(ack, now, ruleset.PreRouting)
		if r.State != pkt.CTEstablished {
			b.Fatal(stateName(r.State))
		}
	}
}

func BenchmarkTrackUDPEstablished(b *testing.B) {
	tbl := New(0)
	c := newConn(b, tbl, pkt.ProtoUDP)
	c.udp(0, 0)
	c.udp(1, 0)
	p := build(b, c.spec(0))
	now := t0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		now = now.Add(time.Microsecond)
		r := tbl.Track(p, now, ruleset.PreRouting)
		if r.State != pkt.CTEstablished {
			b.Fatal(stateName(r.State))
		}
	}
}

// New flows: allocation and confirmation into a growing table.
func BenchmarkTrackUDPNew(b *testing.B) {
	tbl := New(0)
	s := pkt.Spec{Src: cli, Dst: srv, Proto: pkt.ProtoUDP, DstPort: 53}
	p := build(b, s)
	now := t0
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		binary.BigEndian.PutUint16(p.Raw[20:], uint16(i))
		binary.BigEndian.PutUint16(p.Raw[12:], uint16(i>>16))
		r := tbl.Track(p, now, ruleset.PreRouting)
		tbl.Confirm(&r, now)
	}
}
