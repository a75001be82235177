package xt

import (
	"net/netip"
	"testing"

	"github.com/rampartfw/rampart/pkt"
)

func mtPacket(t testing.TB, proto, flags, tos uint8) *pkt.Ctx {
	t.Helper()
	raw := pkt.Build(pkt.Spec{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
		Proto: proto, SrcPort: 1000, DstPort: 80, TCPFlags: flags, TTL: 64, TOS: tos})
	p := &pkt.Packet{}
	if err := p.Decode(raw); err != nil {
		t.Fatal(err)
	}
	return &pkt.Ctx{P: p}
}

func TestECNAct(t *testing.T) {
	tests := []struct {
		tg        ECNTarget
		flags     uint8
		tos       uint8
		wantFlags uint8
		wantTOS   uint8
	}{
		{ECNTarget{Op: ecnOpSetECE | ecnOpSetCWR}, 0xC2, 0x03, 0x02, 0x03},
		{ECNTarget{Op: ecnOpSetIP, IPECT: 1}, 0xC2, 0x03, 0xC2, 0x01},
		{ECNTarget{Op: ecnOpSetCWR, CWR: 1}, 0x02, 0x00, 0x82, 0x00},
	}
	for i, tt := range tests {
		c := mtPacket(t, pkt.ProtoTCP, tt.flags, tt.tos)
		if v := tt.tg.Act(c); v != pkt.Continue {
			t.Errorf("%d: verdict %v", i, v)
		}
		if c.P.Raw[c.P.L4+13] != tt.wantFlags || c.P.Raw[1] != tt.wantTOS {
			t.Errorf("%d: flags %#x tos %#x, want %#x %#x", i, c.P.Raw[c.P.L4+13], c.P.Raw[1], tt.wantFlags, tt.wantTOS)
		}
	}
}

func TestSynproxyAct(t *testing.T) {
	tests := []struct {
		flags     uint8
		want      pkt.Verdict
		undecided bool
	}{
		{0x02, pkt.Stolen, false},
		{0x10, pkt.Drop, true},
		{0x12, pkt.Continue, false},
		{0x11, pkt.Continue, false},
	}
	for _, tt := range tests {
		c := mtPacket(t, pkt.ProtoTCP, tt.flags, 0)
		if v := (&Synproxy{}).Act(c); v != tt.want || (c.Undecided != "") != tt.undecided {
			t.Errorf("flags %#x: %v %q, want %v", tt.flags, v, c.Undecided, tt.want)
		}
	}
}

func TestTCPOptStripAct(t *testing.T) {
	c := mtPacket(t, pkt.ProtoTCP, 0x02, 0)
	// Grow the TCP header by an MSS option (kind 2, len 4) in place.
	raw := append([]byte{}, c.P.Raw...)
	l4 := c.P.L4
	opt := []byte{2, 4, 5, 0xb4}
	raw = append(raw[:l4+20], append(opt, raw[l4+20:]...)...)
	raw[l4+12] = 6 << 4
	raw[3] += 4
	if err := c.P.Decode(raw); err != nil {
		t.Fatal(err)
	}
	tg := &TCPOptStrip{}
	tg.Strip[0] = 1 << 2
	if v := tg.Act(c); v != pkt.Continue {
		t.Fatal(v)
	}
	for i := 0; i < 4; i++ {
		if c.P.Raw[l4+20+i] != 1 {
			t.Fatalf("option byte %d = %d, want NOP", i, c.P.Raw[l4+20+i])
		}
	}
}

func TestUndecidedTargets(t *testing.T) {
	for _, a := range []pkt.Actor{&TProxy{}, &HMark{}, &ClusterIP{}} {
		c := mtPacket(t, pkt.ProtoUDP, 0, 0)
		a.Act(c)
		if c.Undecided == "" {
			t.Errorf("%T: decided", a)
		}
	}
	for _, a := range []pkt.Actor{&Tee{}, &RateEst{}, &IdleTimer{}, &LED{}, &Secmark{}, &ConnSecmark{}} {
		c := mtPacket(t, pkt.ProtoUDP, 0, 0)
		if v := a.Act(c); v != pkt.Continue || c.Undecided != "" {
			t.Errorf("%T: %v %q", a, v, c.Undecided)
		}
	}
}

func BenchmarkECNAct(b *testing.B) {
	c := mtPacket(b, pkt.ProtoTCP, 0xC2, 3)
	tg := &ECNTarget{Op: ecnOpSetECE | ecnOpSetCWR}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c.P.Raw[c.P.L4+13] = 0xC2
		tg.Act(c)
	}
}
