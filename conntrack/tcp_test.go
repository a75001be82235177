package conntrack

import (
	"fmt"
	"testing"
	"time"

	"github.com/rampartfw/rampart/pkt"
)

// A TCP step: a packet in a direction after dt, and what conntrack says.
type tstep struct {
	dt      time.Duration
	dir     int
	flags   uint8
	seq     uint32
	ack     uint32
	win     uint16
	payload int
	opts    []byte // TCP options, if any

	state   uint8  // expected state bit
	tcp     string // expected TCP state afterwards ("" to skip)
	expires time.Duration
	status  uint32 // bits that must be set
	nostat  uint32 // bits that must be clear
	count   int    // expected table size afterwards (-1 to skip)
}

const (
	ci = 1000000  // client ISN
	si = 50000000 // server ISN
)

var (
	wscale7 = []byte{1, 3, 3, 7} // NOP, window scale 7
	sackOK  = []byte{4, 2}
)

// sackBlock is NOP, NOP, SACK with one block.
func sackBlock(l, r uint32) []byte {
	return []byte{1, 1, 5, 10, byte(l >> 24), byte(l >> 16), byte(l >> 8), byte(l), byte(r >> 24), byte(r >> 16), byte(r >> 8), byte(r)}
}

func runTCP(t *testing.T, name string, steps []tstep) {
	t.Helper()
	tbl := New(0)
	c := newConn(t, tbl, pkt.ProtoTCP)
	for i, st := range steps {
		c.now = c.now.Add(st.dt)
		s := c.spec(st.dir)
		s.TCPFlags, s.Seq, s.Ack, s.Window = st.flags, st.seq, st.ack, st.win
		s.Payload = make([]byte, st.payload)
		raw := pkt.Build(s)
		if st.opts != nil {
			raw = withTCPOptions(raw, st.opts)
		}
		r := c.pass(decode(t, raw))
		where := func() string { return fmt.Sprintf("%s step %d", name, i) }
		if r.State != st.state {
			t.Errorf("%s: state %s, want %s", where(), stateName(r.State), stateName(st.state))
			continue
		}
		if st.tcp != "" {
			if got := tbl.TCPState(r); got != st.tcp {
				t.Errorf("%s: TCP state %s, want %s", where(), got, st.tcp)
			}
		}
		if r.Conn != nil {
			if st.expires != 0 && r.Conn.Expires != st.expires {
				t.Errorf("%s: expires %v, want %v", where(), r.Conn.Expires, st.expires)
			}
			if r.Conn.Status&st.status != st.status {
				t.Errorf("%s: status %#x lacks %#x", where(), r.Conn.Status, st.status)
			}
			if r.Conn.Status&st.nostat != 0 {
				t.Errorf("%s: status %#x has %#x", where(), r.Conn.Status, r.Conn.Status&st.nostat)
			}
			if r.Dir != uint8(st.dir) && r.State != pkt.CTInvalid {
				t.Errorf("%s: direction %d, want %d", where(), r.Dir, st.dir)
			}
		} else if st.state != pkt.CTInvalid {
			t.Errorf("%s: no conn", where())
		}
		if st.count >= 0 {
			if n := tbl.Len(c.now); n != st.count {
				t.Errorf("%s: table has %d entries, want %d", where(), n, st.count)
			}
		}
	}
}

const (
	NEW = pkt.CTNew
	EST = pkt.CTEstablished
	INV = pkt.CTInvalid
)

// handshake is a three-way handshake without options.
func handshake() []tstep {
	return []tstep{
		{dir: 0, flags: fSYN, seq: ci, win: 64240, state: NEW, tcp: "SYN_SENT", expires: 120 * time.Second, status: IPS_CONFIRMED, nostat: IPS_SEEN_REPLY, count: 1},
		{dt: time.Millisecond, dir: 1, flags: fSYN | fACK, seq: si, ack: ci + 1, win: 65160, state: EST, tcp: "SYN_RECV", expires: 60 * time.Second, status: IPS_SEEN_REPLY, nostat: IPS_ASSURED, count: 1},
		{dt: time.Millisecond, dir: 0, flags: fACK, seq: ci + 1, ack: si + 1, win: 502, state: EST, tcp: "ESTABLISHED", expires: 5 * 24 * time.Hour, status: IPS_ASSURED, count: 1},
	}
}

func seq(steps ...[]tstep) []tstep {
	var out []tstep
	for _, s := range steps {
		out = append(out, s...)
	}
	return out
}

func TestTCPStateMachine(t *testing.T) {
	const day5 = 5 * 24 * time.Hour
	tests := []struct {
		name  string
		steps []tstep
	}{
		{"handshake", handshake()},
		{"data and close", seq(handshake(), []tstep{
			// 100 bytes unacknowledged: the UNACK timeout (300s).
			{dir: 0, flags: fACK | fPSH, seq: ci + 1, ack: si + 1, win: 502, payload: 100, state: EST, tcp: "ESTABLISHED", expires: 300 * time.Second, count: -1},
			// Acknowledged: back to 5 days.
			{dir: 1, flags: fACK, seq: si + 1, ack: ci + 101, win: 509, state: EST, tcp: "ESTABLISHED", expires: day5, count: -1},
			{dir: 0, flags: fFIN | fACK, seq: ci + 101, ack: si + 1, win: 502, state: EST, tcp: "FIN_WAIT", expires: 120 * time.Second, count: -1},
			{dir: 1, flags: fACK, seq: si + 1, ack: ci + 102, win: 509, state: EST, tcp: "CLOSE_WAIT", expires: 60 * time.Second, count: -1},
			{dir: 1, flags: fFIN | fACK, seq: si + 1, ack: ci + 102, win: 509, state: EST, tcp: "LAST_ACK", expires: 30 * time.Second, count: -1},
			{dir: 0, flags: fACK, seq: ci + 102, ack: si + 2, win: 502, state: EST, tcp: "TIME_WAIT", expires: 120 * time.Second, count: 1},
			// TIME_WAIT expires after 2 minutes.
			{dt: 120 * time.Second, dir: 0, flags: fACK, seq: ci + 102, ack: si + 2, win: 502, state: NEW, tcp: "ESTABLISHED", expires: 300 * time.Second, nostat: IPS_ASSURED, count: 1},
		})},
		{"SYN in TIME_WAIT reopens", seq(handshake(), []tstep{
			{dir: 0, flags: fFIN | fACK, seq: ci + 1, ack: si + 1, win: 502, state: EST, tcp: "FIN_WAIT", count: -1},
			{dir: 1, flags: fFIN | fACK, seq: si + 1, ack: ci + 2, win: 509, state: EST, tcp: "LAST_ACK", count: -1},
			{dir: 0, flags: fACK, seq: ci + 2, ack: si + 2, win: 502, state: EST, tcp: "TIME_WAIT", count: -1},
			{dt: time.Second, dir: 0, flags: fSYN, seq: ci + 100000, win: 64240, state: NEW, tcp: "SYN_SENT", expires: 120 * time.Second, nostat: IPS_SEEN_REPLY | IPS_ASSURED, count: 1},
			{dir: 1, flags: fSYN | fACK, seq: si + 7777, ack: ci + 100001, win: 65160, state: EST, tcp: "SYN_RECV", count: 1},
		})},
		{"RST closes", seq(handshake(), []tstep{
			{dir: 1, flags: fRST, seq: si + 1, state: EST, tcp: "CLOSE", expires: 10 * time.Second, count: 1},
			// CLOSE lasts 10 seconds.
			{dt: 10 * time.Second, dir: 0, flags: fSYN, seq: ci + 5000, win: 64240, state: NEW, tcp: "SYN_SENT", count: 1},
		})},
		{"RST with a wrong sequence keeps the state", seq(handshake(), []tstep{
			{dir: 0, flags: fACK | fPSH, seq: ci + 1, ack: si + 1, win: 502, payload: 10, state: EST, tcp: "ESTABLISHED", count: -1},
			// In window but not at td_maxack: challenge ACK expected,
			// state kept (the RST still refreshes with the close timeout).
			{dir: 1, flags: fRST, seq: si + 100, state: EST, tcp: "ESTABLISHED", expires: 10 * time.Second, count: -1},
		})},
		{"RST before the ACK of the SYN", []tstep{
			{dir: 0, flags: fSYN, seq: ci, win: 64240, state: NEW, tcp: "SYN_SENT", count: 1},
			// Refused: RST/ACK from the server. The entry dies at once.
			{dir: 1, flags: fRST | fACK, seq: 0, ack: ci + 1, state: EST, tcp: "CLOSE", count: 0},
			{dir: 0, flags: fSYN, seq: ci, win: 64240, state: NEW, tcp: "SYN_SENT", count: 1},
		}},
		{"retransmitted SYN keeps its timeout", []tstep{
			{dir: 0, flags: fSYN, seq: ci, win: 64240, state: NEW, tcp: "SYN_SENT", expires: 120 * time.Second, count: 1},
			{dt: time.Second, dir: 0, flags: fSYN, seq: ci, win: 64240, state: NEW, tcp: "SYN_SENT", expires: 119 * time.Second, count: 1},
			{dt: 2 * time.Second, dir: 0, flags: fSYN, seq: ci, win: 64240, state: NEW, tcp: "SYN_SENT", expires: 117 * time.Second, count: 1},
			// SYN_SENT expires.
			{dt: 117 * time.Second, dir: 0, flags: fSYN, seq: ci, win: 64240, state: NEW, tcp: "SYN_SENT", expires: 120 * time.Second, count: 1},
		}},
		{"simultaneous open", []tstep{
			{dir: 0, flags: fSYN, seq: ci, win: 64240, state: NEW, tcp: "SYN_SENT", count: 1},
			{dir: 1, flags: fSYN, seq: si, win: 64240, state: EST, tcp: "SYN_SENT2", expires: 120 * time.Second, count: 1},
			{dir: 0, flags: fSYN | fACK, seq: ci, ack: si + 1, win: 64240, state: EST, tcp: "SYN_RECV", expires: 60 * time.Second, count: 1},
			// The other SYN/ACK: ignored in SYN_RECV.
			{dir: 1, flags: fSYN | fACK, seq: si, ack: ci + 1, win: 64240, state: EST, tcp: "SYN_RECV", expires: 60 * time.Second, nostat: IPS_ASSURED, count: 1},
			// An ACK from the reply side after a simultaneous open establishes.
			{dir: 1, flags: fACK, seq: si + 1, ack: ci + 1, win: 64240, state: EST, tcp: "ESTABLISHED", status: IPS_ASSURED, count: 1},
		}},
		{"SYN-FIN", []tstep{{flags: fSYN | fFIN, seq: ci, state: INV, count: 0}}},
		{"NULL scan", []tstep{{flags: 0, seq: ci, state: INV, count: 0}}},
		{"XMAS scan", []tstep{{flags: fFIN | fPSH | fURG, seq: ci, state: INV, count: 0}}},
		{"FIN scan", []tstep{{flags: fFIN, seq: ci, state: INV, count: 0}}},
		{"all flags", []tstep{{flags: 0x3f, seq: ci, state: INV, count: 0}}},
		{"SYN-RST", []tstep{{flags: fSYN | fRST, seq: ci, state: INV, count: 0}}},
		{"SYN-URG is a valid SYN", []tstep{{flags: fSYN | fURG, seq: ci, state: NEW, tcp: "SYN_SENT", count: 1}}},
		{"SYN/ACK without SYN", []tstep{{flags: fSYN | fACK, seq: si, ack: 1, state: INV, count: 0}}},
		{"RST without entry", []tstep{{flags: fRST, seq: si, state: INV, count: 0}}},
		{"FIN/ACK without entry", []tstep{{flags: fFIN | fACK, seq: si, ack: 1, state: INV, count: 0}}},
		{"stray ACK picked up (loose)", []tstep{
			{dir: 0, flags: fACK, seq: 123456, ack: 654321, win: 500, state: NEW, tcp: "ESTABLISHED", expires: 300 * time.Second, nostat: IPS_SEEN_REPLY | IPS_ASSURED, count: 1},
			// The first reply: SEEN_REPLY, not yet ASSURED.
			// (SEEN_REPLY is set after the tracker ran: still the UNACK cap.)
			{dir: 1, flags: fACK, seq: 654321, ack: 123456, win: 500, state: EST, tcp: "ESTABLISHED", expires: 300 * time.Second, status: IPS_SEEN_REPLY, nostat: IPS_ASSURED, count: 1},
			{dir: 0, flags: fACK, seq: 123456, ack: 654321, win: 500, state: EST, tcp: "ESTABLISHED", expires: 5 * 24 * time.Hour, status: IPS_ASSURED, count: 1},
			// Liberal window tracking for picked-up entries: far
			// out-of-window data is still accepted.
			{dir: 0, flags: fACK | fPSH, seq: 123456 + 10000000, ack: 654321, win: 500, payload: 10, state: EST, tcp: "ESTABLISHED", count: 1},
		}},
		{"SYN/ACK to the client in ESTABLISHED is invalid", seq(handshake(), []tstep{
			{dir: 0, flags: fSYN | fACK, seq: ci + 1, ack: si + 1, state: INV, count: 1},
		})},
		{"SYN from the server in ESTABLISHED is invalid", seq(handshake(), []tstep{
			{dir: 1, flags: fSYN, seq: si + 1, state: INV, count: 1},
		})},
		{"SYN in ESTABLISHED is ignored", seq(handshake(), []tstep{
			{dir: 0, flags: fSYN, seq: ci + 999, win: 64240, state: EST, tcp: "ESTABLISHED", expires: 5 * 24 * time.Hour, count: 1},
		})},
		{"ACK in SYN_SENT", []tstep{
			{dir: 0, flags: fSYN, seq: ci, win: 64240, state: NEW, tcp: "SYN_SENT", count: 1},
			// From the client: invalid.
			{dir: 0, flags: fACK, seq: ci + 1, ack: si + 1, state: INV, count: 1},
			// From the server: ignored (half-open), yet a reply.
			{dir: 1, flags: fACK, seq: si + 1, ack: ci + 1, state: EST, tcp: "SYN_SENT", status: IPS_SEEN_REPLY, count: 1},
		}},
		{"out-of-window data", seq(handshake(), []tstep{
			// Beyond what the server advertised: SEQ is over upper bound.
			{dir: 0, flags: fACK | fPSH, seq: ci + 1 + 200000, ack: si + 1, win: 502, payload: 100, state: INV, count: 1},
			// ACK of data never sent: ACK is over upper bound.
			{dir: 1, flags: fACK, seq: si + 1, ack: ci + 5000, win: 509, state: INV, count: 1},
			// Already acknowledged data far behind: ignored, accepted
			// without changing anything.
			{dir: 0, flags: fACK | fPSH, seq: ci + 1 - 300000, ack: si + 1, win: 502, payload: 100, state: EST, tcp: "ESTABLISHED", expires: 5 * 24 * time.Hour, count: 1},
			// The connection is fine afterwards.
			{dir: 0, flags: fACK | fPSH, seq: ci + 1, ack: si + 1, win: 502, payload: 100, state: EST, tcp: "ESTABLISHED", expires: 300 * time.Second, count: 1},
		})},
		{"window scaling", []tstep{
			{dir: 0, flags: fSYN, seq: ci, win: 64240, opts: wscale7, state: NEW, tcp: "SYN_SENT", count: 1},
			{dir: 1, flags: fSYN | fACK, seq: si, ack: ci + 1, win: 65160, opts: wscale7, state: EST, tcp: "SYN_RECV", count: 1},
			{dir: 0, flags: fACK, seq: ci + 1, ack: si + 1, win: 502, state: EST, tcp: "ESTABLISHED", count: 1},
			// The server opens a scaled window: 1000 << 7 = 128000.
			{dir: 1, flags: fACK, seq: si + 1, ack: ci + 1, win: 1000, state: EST, count: 1},
			// Data 100000 bytes ahead is inside the scaled window.
			{dir: 0, flags: fACK | fPSH, seq: ci + 1 + 100000, ack: si + 1, win: 502, payload: 1000, state: EST, tcp: "ESTABLISHED", count: 1},
		}},
		{"window scaling needs both sides", []tstep{
			{dir: 0, flags: fSYN, seq: ci, win: 64240, opts: wscale7, state: NEW, tcp: "SYN_SENT", count: 1},
			{dir: 1, flags: fSYN | fACK, seq: si, ack: ci + 1, win: 65160, state: EST, tcp: "SYN_RECV", count: 1},
			{dir: 0, flags: fACK, seq: ci + 1, ack: si + 1, win: 502, state: EST, tcp: "ESTABLISHED", count: 1},
			{dir: 1, flags: fACK, seq: si + 1, ack: ci + 1, win: 1000, state: EST, count: 1},
			// Unscaled, the window ends 65160 bytes after the ACK: a
			// segment overshooting it by less than the receiver's
			// window is ignored (accepted), by more it is invalid.
			{dir: 0, flags: fACK | fPSH, seq: ci + 1 + 100000, ack: si + 1, win: 502, payload: 1000, state: EST, count: 1},
			{dir: 0, flags: fACK | fPSH, seq: ci + 1 + 150000, ack: si + 1, win: 502, payload: 1000, state: INV, count: 1},
		}},
		{"SACK right edge", []tstep{
			{dir: 0, flags: fSYN, seq: ci, win: 64240, opts: sackOK, state: NEW, count: 1},
			{dir: 1, flags: fSYN | fACK, seq: si, ack: ci + 1, win: 65160, opts: sackOK, state: EST, count: 1},
			{dir: 0, flags: fACK, seq: ci + 1, ack: si + 1, win: 502, state: EST, tcp: "ESTABLISHED", count: 1},
			{dir: 0, flags: fACK | fPSH, seq: ci + 1, ack: si + 1, win: 502, payload: 1000, state: EST, count: 1},
			// SACK block beyond the data sent: ACK over upper bound.
			{dir: 1, flags: fACK, seq: si + 1, ack: ci + 1, win: 509, opts: sackBlock(ci+1051, ci+1101), state: INV, count: 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runTCP(t, tt.name, tt.steps) })
	}
}

// An invalid packet on an existing connection changes nothing.
func TestTCPInvalidLeavesEntry(t *testing.T) {
	tbl := New(0)
	c := newConn(t, tbl, pkt.ProtoTCP)
	c.tcp(0, fSYN, ci, 0, 64240, 0)
	r := c.tcp(1, fSYN|fACK, si, ci+1, 65160, 0)
	before := *r.Conn
	st := tbl.TCPState(r)
	if r := c.tcp(0, fSYN|fFIN, ci+1, 0, 100, 0); r.State != pkt.CTInvalid || r.Conn != nil {
		t.Fatalf("SYN-FIN on a connection: %s", stateName(r.State))
	}
	r = c.tcp(0, fACK, ci+1, si+1, 502, 0)
	if r.Conn.Packets != [2]uint64{before.Packets[0] + 1, before.Packets[1]} {
		t.Errorf("packets %v after %v: the invalid packet was counted", r.Conn.Packets, before.Packets)
	}
	if st != "SYN_RECV" || tbl.TCPState(r) != "ESTABLISHED" {
		t.Errorf("states %s → %s", st, tbl.TCPState(r))
	}
}

func TestTCPCounters(t *testing.T) {
	tbl := New(0)
	c := newConn(t, tbl, pkt.ProtoTCP)
	c.tcp(0, fSYN, ci, 0, 64240, 0)
	c.tcp(1, fSYN|fACK, si, ci+1, 65160, 0)
	c.tcp(0, fACK, ci+1, si+1, 502, 0)
	r := c.tcp(0, fACK|fPSH, ci+1, si+1, 502, 60)
	if r.Conn.Packets != [2]uint64{3, 1} || r.Conn.Bytes != [2]uint64{40 + 40 + 100, 40} {
		t.Errorf("counters %v %v", r.Conn.Packets, r.Conn.Bytes)
	}
}

// IPv6 TCP works the same.
func TestTCPv6(t *testing.T) {
	tbl := New(0)
	c := newConn(t, tbl, pkt.ProtoTCP)
	c.c, c.s = cli6, srv6
	check := func(r Result, st uint8, tcp string) {
		t.Helper()
		if r.State != st || tbl.TCPState(r) != tcp {
			t.Errorf("%s %s, want %s %s", stateName(r.State), tbl.TCPState(r), stateName(st), tcp)
		}
	}
	check(c.tcp(0, fSYN, ci, 0, 64240, 0), NEW, "SYN_SENT")
	check(c.tcp(1, fSYN|fACK, si, ci+1, 65160, 0), EST, "SYN_RECV")
	check(c.tcp(0, fACK, ci+1, si+1, 502, 0), EST, "ESTABLISHED")
}
