package pkt

import (
	"net/netip"
	"testing"
)

func TestDecode(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name  string
		spec  Spec
		check func(p *Packet) bool
	}{
		{"tcp syn", Spec{Src: a("192.0.2.1"), Dst: a("192.0.2.2"), Proto: ProtoTCP, SrcPort: 40000, DstPort: 22, TCPFlags: 0x02, Seq: 7},
			func(p *Packet) bool {
				return p.Family == 4 && p.Len == 40 && p.SrcPort == 40000 && p.DstPort == 22 && p.TCPFlags == 2 && p.Seq == 7 && p.L4 == 20
			}},
		{"udp v6", Spec{Src: a("2001:db8::1"), Dst: a("2001:db8::2"), Proto: ProtoUDP, SrcPort: 53, DstPort: 5353, Payload: []byte("abc")},
			func(p *Packet) bool {
				return p.Family == 6 && p.Len == 51 && p.Proto == ProtoUDP && p.DstPort == 5353 && string(p.Payload()) == "abc"
			}},
		{"icmp echo", Spec{Src: a("192.0.2.1"), Dst: a("192.0.2.2"), Proto: ProtoICMP, ICMPType: 8, ICMPID: 9, ICMPSeq: 1},
			func(p *Packet) bool { return p.ICMPType == 8 && p.ICMPID == 9 && !p.IsICMPError() && p.Inner == -1 }},
		{"icmp error", Spec{Src: a("192.0.2.1"), Dst: a("192.0.2.2"), Proto: ProtoICMP, ICMPType: 3, ICMPCode: 3, Payload: make([]byte, 28)},
			func(p *Packet) bool { return p.IsICMPError() && p.Inner == 28 }},
		{"non-first fragment", Spec{Src: a("192.0.2.1"), Dst: a("192.0.2.2"), Proto: ProtoTCP, FragOff: 3, Payload: make([]byte, 8)},
			func(p *Packet) bool { return p.FragOff == 3 && p.L4 == -1 && p.SrcPort == 0 }},
	}
	for _, tt := range tests {
		var p Packet
		if err := p.Decode(Build(tt.spec)); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !tt.check(&p) {
			t.Errorf("%s: decoded %+v", tt.name, p)
		}
	}
}

func TestDecodeExtHeaders(t *testing.T) {
	raw := Build(Spec{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), Proto: ProtoTCP, DstPort: 80})
	// Insert a hop-by-hop header (8 bytes) before TCP.
	hbh := []byte{ProtoTCP, 0, 1, 4, 0, 0, 0, 0}
	b := append(append(append([]byte{}, raw[:40]...), hbh...), raw[40:]...)
	b[6] = ProtoHopOpts
	b[5] += 8
	var p Packet
	if err := p.Decode(b); err != nil {
		t.Fatal(err)
	}
	if p.Proto != ProtoTCP || p.DstPort != 80 || p.ExtHdrs&ExtHopOpts == 0 || p.L4 != 48 {
		t.Errorf("decoded %+v", p)
	}
}

func TestDecodeTruncated(t *testing.T) {
	raw := Build(Spec{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"), Proto: ProtoTCP})
	for n := 0; n < len(raw); n++ {
		var p Packet
		if err := p.Decode(raw[:n]); err == nil && n < 20 {
			t.Errorf("decoded %d bytes without error", n)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Build(Spec{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"), Proto: ProtoTCP}))
	f.Add(Build(Spec{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), Proto: ProtoICMPv6, ICMPType: 1, Payload: make([]byte, 48)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Packet
		if p.Decode(b) != nil {
			return
		}
		_ = p.Payload()
		if p.L4 > len(p.Raw) || p.Inner > len(p.Raw) {
			t.Fatalf("offsets out of range: L4=%d Inner=%d len=%d", p.L4, p.Inner, len(p.Raw))
		}
	})
}
