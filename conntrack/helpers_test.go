package conntrack

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	cli  = netip.MustParseAddr("192.0.2.1")
	srv  = netip.MustParseAddr("198.51.100.2")
	rtr  = netip.MustParseAddr("203.0.113.254")
	cli6 = netip.MustParseAddr("2001:db8::1")
	srv6 = netip.MustParseAddr("2001:db8::2")
)

const (
	fFIN = 0x01
	fSYN = 0x02
	fRST = 0x04
	fPSH = 0x08
	fACK = 0x10
	fURG = 0x20
)

func decode(tb testing.TB, raw []byte) *pkt.Packet {
	tb.Helper()
	p := &pkt.Packet{}
	if err := p.Decode(raw); err != nil {
		tb.Fatal(err)
	}
	return p
}

func build(tb testing.TB, s pkt.Spec) *pkt.Packet {
	tb.Helper()
	return decode(tb, pkt.Build(s))
}

// withTCPOptions inserts TCP options (padded to 4 bytes) into a built
// IPv4/IPv6 TCP packet.
func withTCPOptions(raw []byte, opts []byte) []byte {
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	l4 := 20
	if raw[0]>>4 == 6 {
		l4 = 40
	}
	out := make([]byte, 0, len(raw)+len(opts))
	out = append(out, raw[:l4+20]...)
	out = append(out, opts...)
	out = append(out, raw[l4+20:]...)
	out[l4+12] = byte((20+len(opts))/4) << 4
	if l4 == 20 {
		binary.BigEndian.PutUint16(out[2:], uint16(len(out)))
	} else {
		binary.BigEndian.PutUint16(out[4:], uint16(len(out)-40))
	}
	return out
}

// conn drives one connection between a client (direction 0) and a server.
type conn struct {
	tb    testing.TB
	t     *Table
	proto uint8
	c, s  netip.Addr
	cp    uint16
	sp    uint16
	now   time.Time
}

func newConn(tb testing.TB, t *Table, proto uint8) *conn {
	return &conn{tb: tb, t: t, proto: proto, c: cli, s: srv, cp: 40000, sp: 80, now: t0}
}

func (c *conn) spec(dir int) pkt.Spec {
	if dir == 0 {
		return pkt.Spec{Src: c.c, Dst: c.s, Proto: c.proto, SrcPort: c.cp, DstPort: c.sp}
	}
	return pkt.Spec{Src: c.s, Dst: c.c, Proto: c.proto, SrcPort: c.sp, DstPort: c.cp}
}

// pass tracks the packet at PREROUTING and confirms it (the ruleset
// accepted it).
func (c *conn) pass(p *pkt.Packet) Result {
	r := c.t.Track(p, c.now, ruleset.PreRouting)
	if r.Drop {
		return r
	}
	if v := c.t.Confirm(&r, c.now); v != pkt.Accept {
		r.Drop = true
	}
	return r
}

func (c *conn) tcp(dir int, flags uint8, seq, ack uint32, win uint16, payload int) Result {
	s := c.spec(dir)
	s.TCPFlags, s.Seq, s.Ack, s.Window = flags, seq, ack, win
	s.Payload = make([]byte, payload)
	return c.pass(build(c.tb, s))
}

func stateName(s uint8) string {
	switch s {
	case pkt.CTNew:
		return "NEW"
	case pkt.CTEstablished:
		return "ESTABLISHED"
	case pkt.CTRelated:
		return "RELATED"
	case pkt.CTInvalid:
		return "INVALID"
	case pkt.CTUntracked:
		return "UNTRACKED"
	}
	return "?"
}
