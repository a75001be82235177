package conntrack

import (
	"testing"
	"time"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// REJECT's answer to the first packet of a flow shares its unconfirmed
// entry, RELATED in the reply direction; the entry never enters the table.
func TestRelatedUnconfirmed(t *testing.T) {
	tb := New(0)
	c := newConn(t, tb, pkt.ProtoUDP)
	r := tb.Track(build(t, c.spec(0)), c.now, ruleset.PreRouting)
	if r.State != pkt.CTNew {
		t.Fatalf("first packet: %s", stateName(r.State))
	}
	a, ok := tb.Related(r, c.now)
	if !ok || a.State != pkt.CTRelated || a.Dir != DirReply || a.Conn != r.Conn {
		t.Fatalf("answer: ok %v state %s dir %d", ok, stateName(a.State), a.Dir)
	}
	// Confirming the reply-direction answer does nothing.
	if v := tb.Confirm(&a, c.now); v != pkt.Accept {
		t.Fatal("confirm of the answer dropped it")
	}
	tb.Discard(&r)
	if n := tb.Len(c.now); n != 0 {
		t.Fatalf("%d entries left, want 0", n)
	}
	// The next packet of the flow is NEW again.
	if r := c.udp(0, time.Millisecond); r.State != pkt.CTNew {
		t.Fatalf("after the reject: %s", stateName(r.State))
	}
}

// An answer to a reply-direction packet is RELATED in the original
// direction; INVALID and UNTRACKED packets have nothing to attach.
func TestRelatedDirections(t *testing.T) {
	tb := New(0)
	c := newConn(t, tb, pkt.ProtoUDP)
	c.udp(0, 0)
	r := c.udp(1, time.Millisecond)
	if r.State != pkt.CTEstablished || r.Dir != DirReply {
		t.Fatalf("reply: %s dir %d", stateName(r.State), r.Dir)
	}
	if a, ok := tb.Related(r, c.now); !ok || a.State != pkt.CTRelated || a.Dir != DirOriginal {
		t.Fatalf("answer: ok %v state %s dir %d", ok, stateName(a.State), a.Dir)
	}
	if _, ok := tb.Related(invalid, c.now); ok {
		t.Error("attached to an INVALID packet")
	}
	if _, ok := tb.Related(Untracked(), c.now); ok {
		t.Error("attached to an UNTRACKED packet")
	}
}

// nf_send_reset moves a confirmed TCP entry to CLOSE with a 10 s timeout.
func TestSetClosing(t *testing.T) {
	tb := New(0)
	c := newConn(t, tb, pkt.ProtoTCP)
	const syn, ack = 0x02, 0x10
	c.tcp(0, syn, 100, 0, 64240, 0)
	c.tcp(1, syn|ack, 500, 101, 64240, 0)
	r := c.tcp(0, ack, 101, 501, 64240, 0)
	if got := tb.TCPState(r); got != "ESTABLISHED" {
		t.Fatalf("state %s", got)
	}
	c.now = c.now.Add(time.Second)
	tb.SetClosing(r, c.now)
	if got := tb.TCPState(r); got != "CLOSE" {
		t.Fatalf("after the reset: %s, want CLOSE", got)
	}
	if r.Conn.Expires != 10*time.Second {
		t.Errorf("expires %v, want 10s", r.Conn.Expires)
	}
	// Gone 10 s later.
	c.now = c.now.Add(10 * time.Second)
	if n := tb.Len(c.now); n != 0 {
		t.Errorf("%d entries after 10 s, want 0", n)
	}
	// Unconfirmed entries are left alone.
	u := tb.Track(build(t, pkt.Spec{Src: cli, Dst: srv, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 2, TCPFlags: syn}), c.now, ruleset.PreRouting)
	tb.SetClosing(u, c.now)
	if got := tb.TCPState(u); got != "SYN_SENT" {
		t.Errorf("unconfirmed entry: %s, want SYN_SENT", got)
	}
}
