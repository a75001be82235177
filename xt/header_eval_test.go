package xt_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// hdHost classifies addresses as a host with 192.0.2.1/24 on eth0,
// 2001:db8::1/64 on eth0 and the loopback would: the AddrType answer.
func hdHost(a netip.Addr, dev string) (uint16, bool) {
	if a.Is4() {
		b := a.As4()
		switch {
		case b[0] == 0 || a == netip.MustParseAddr("255.255.255.255"):
			return xt.AddrBroadcast, true
		case a.IsMulticast():
			return xt.AddrMulticast, true
		case b[0] == 127:
			if dev == "" || dev == "lo" {
				return xt.AddrLocal, true
			}
			return xt.AddrUnicast, true
		case a == netip.MustParseAddr("192.0.2.1"):
			if dev == "" || dev == "eth0" {
				return xt.AddrLocal, true
			}
			return xt.AddrUnicast, true
		case a == netip.MustParseAddr("192.0.2.255"):
			if dev == "" || dev == "eth0" {
				return xt.AddrBroadcast, true
			}
			return xt.AddrUnicast, true
		case b[0] == 10:
			return xt.AddrUnreachable, true // an unreachable route
		}
		return xt.AddrUnicast, true
	}
	switch a {
	case netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("::1"):
		return xt.AddrLocal, true
	case netip.MustParseAddr("2001:db8::"):
		return xt.AddrAnycast, true
	}
	if netip.MustParsePrefix("2001:db8:dead::/48").Contains(a) {
		return xt.AddrUnreachable, true
	}
	return 0, true
}

type hdCase struct {
	fam       ruleset.Family
	args      string
	c         *pkt.Ctx
	want      bool
	undecided bool
}

// hdCtx builds a context for a packet received on eth0 at INPUT.
func hdCtx(tb testing.TB, s pkt.Spec) *pkt.Ctx {
	tb.Helper()
	p := &pkt.Packet{}
	if err := p.Decode(pkt.Build(s)); err != nil {
		tb.Fatal(err)
	}
	return &pkt.Ctx{P: p, Hook: ruleset.LocalIn, In: "eth0", AddrType: hdHost}
}

func hdSpec(src, dst string) pkt.Spec {
	return pkt.Spec{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Proto: pkt.ProtoUDP,
		SrcPort: 1000, DstPort: 53, TTL: 64}
}

func hdRun(t *testing.T, cases []hdCase) {
	t.Helper()
	for _, tt := range cases {
		m := rlMatch(t, tt.fam, tt.args)
		tt.c.Undecided = ""
		got := m.Match(tt.c)
		if got != tt.want || (tt.c.Undecided != "") != tt.undecided {
			t.Errorf("%s (%s -> %s at %v in %q out %q): got %v undecided %q, want %v undecided %v",
				tt.args, tt.c.P.Src, tt.c.P.Dst, tt.c.Hook, tt.c.In, tt.c.Out, got, tt.c.Undecided, tt.want, tt.undecided)
		}
	}
}

func TestHeaderEvalLengthTTL(t *testing.T) {
	v4 := ruleset.IPv4
	v6 := ruleset.IPv6
	s := hdSpec("192.0.2.9", "192.0.2.1")
	s.Payload = make([]byte, 72) // 100 bytes
	p100 := hdCtx(t, s)
	s6 := hdSpec("2001:db8::9", "2001:db8::1")
	s6.Payload = make([]byte, 52) // 40 + 60
	s6.TTL = 1
	p6 := hdCtx(t, s6)
	s.TTL, s.TOS = 5, 0xb8 // DSCP 46 (EF), ECN 0
	ef := hdCtx(t, s)
	s6.TOS = 0x2a // DSCP 10 (AF11), ECN 2
	af11 := hdCtx(t, s6)
	hdRun(t, []hdCase{
		{v4, "-m comment --comment x", p100, true, false},
		{v4, "-m length --length 100", p100, true, false},
		{v4, "-m length --length 101:200", p100, false, false},
		{v4, "-m length --length :100", p100, true, false},
		{v4, "-m length ! --length 100", p100, false, false},
		{v6, "-m length --length 100", p6, true, false},
		{v6, "-m length --length 60", p6, false, false},
		{v4, "-m ttl --ttl-eq 64", p100, true, false},
		{v4, "-m ttl ! --ttl-eq 64", p100, false, false},
		{v4, "-m ttl --ttl-lt 64", p100, false, false},
		{v4, "-m ttl --ttl-lt 65", p100, true, false},
		{v4, "-m ttl --ttl-gt 63", p100, true, false},
		{v4, "-m ttl --ttl-gt 64", p100, false, false},
		{v4, "-m ttl --ttl-lt 6", ef, true, false},
		{v6, "-m hl --hl-eq 1", p6, true, false},
		{v6, "-m hl --hl-gt 1", p6, false, false},
		{v6, "-m hl --hl-lt 2", p6, true, false},
		{v6, "-m hl ! --hl-eq 1", p6, false, false},
		{v4, "-m tos --tos 0xb8", ef, true, false},
		{v4, "-m tos --tos 0x08/0x08", ef, true, false},
		{v4, "-m tos --tos 0x40/0x40", ef, false, false},
		{v4, "-m tos ! --tos 0x40/0x40", ef, true, false},
		{v4, "-m tos --tos Normal-Service", p100, true, false},
		{v6, "-m tos --tos 0x2a", af11, true, false},
		{v6, "-m tos --tos 0x28/0xfc", af11, true, false},
		{v4, "-m dscp --dscp 46", ef, true, false},
		{v4, "-m dscp --dscp-class EF", ef, true, false},
		{v4, "-m dscp ! --dscp 46", ef, false, false},
		{v4, "-m dscp --dscp 0", p100, true, false},
		{v6, "-m dscp --dscp-class AF11", af11, true, false},
		{v6, "-m dscp --dscp 11", af11, false, false},
	})
}

func TestHeaderEvalRangeMAC(t *testing.T) {
	v4, v6 := ruleset.IPv4, ruleset.IPv6
	c := hdCtx(t, hdSpec("192.0.2.9", "192.0.2.1"))
	c.HasMAC = true
	c.SrcMAC = [6]byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}
	noMAC := hdCtx(t, hdSpec("192.0.2.9", "192.0.2.1"))
	lo := hdCtx(t, hdSpec("127.0.0.1", "127.0.0.1"))
	lo.In = "lo"
	c6 := hdCtx(t, hdSpec("2001:db8::9", "2001:db8::1"))
	hdRun(t, []hdCase{
		{v4, "-m iprange --src-range 192.0.2.9-192.0.2.20", c, true, false},
		{v4, "-m iprange --src-range 192.0.2.10-192.0.2.20", c, false, false},
		{v4, "-m iprange --src-range 192.0.2.0-192.0.2.9", c, true, false},
		{v4, "-m iprange ! --src-range 192.0.2.10-192.0.2.20", c, true, false},
		{v4, "-m iprange --src-range 192.0.2.0-192.0.2.255 --dst-range 192.0.2.2-192.0.2.3", c, false, false},
		{v4, "-m iprange --src-range 192.0.2.0-192.0.2.255 ! --dst-range 192.0.2.2-192.0.2.3", c, true, false},
		{v4, "-m iprange --dst-range 192.0.2.1", c, true, false},
		{v6, "-m iprange --src-range 2001:db8::1-2001:db8::ff", c6, true, false},
		{v6, "-m iprange --src-range 2001:db8::a-2001:db8::ff", c6, false, false},
		{v4, "-m mac --mac-source 00:11:22:33:44:55", c, true, false},
		{v4, "-m mac --mac-source 00:11:22:33:44:56", c, false, false},
		{v4, "-m mac ! --mac-source 00:11:22:33:44:56", c, true, false},
		{v4, "-m mac --mac-source 00:11:22:33:44:55", noMAC, false, true},
		// lo is not Ethernet: never a match, inverted or not.
		{v4, "-m mac ! --mac-source 00:11:22:33:44:56", lo, false, false},
	})
}

func TestHeaderEvalPktType(t *testing.T) {
	v4, v6 := ruleset.IPv4, ruleset.IPv6
	uni := hdCtx(t, hdSpec("192.0.2.9", "192.0.2.1"))
	bcast := hdCtx(t, hdSpec("192.0.2.9", "255.255.255.255"))
	dbcast := hdCtx(t, hdSpec("192.0.2.9", "192.0.2.255"))
	mcast := hdCtx(t, hdSpec("192.0.2.9", "224.0.0.251"))
	mcast6 := hdCtx(t, hdSpec("fe80::9", "ff02::1"))
	uni6 := hdCtx(t, hdSpec("2001:db8::9", "2001:db8::1"))
	out := hdCtx(t, hdSpec("192.0.2.1", "255.255.255.255"))
	out.Hook, out.In, out.Out = ruleset.LocalOut, "", "eth0"
	post := hdCtx(t, hdSpec("192.0.2.1", "224.0.0.251"))
	post.Hook, post.In, post.Out = ruleset.PostRouting, "", "eth0"
	fwd := hdCtx(t, hdSpec("192.0.2.9", "224.0.0.251"))
	fwd.Hook, fwd.Out = ruleset.PostRouting, "eth1"
	noHost := hdCtx(t, hdSpec("192.0.2.9", "192.0.2.255"))
	noHost.AddrType = nil
	hdRun(t, []hdCase{
		{v4, "-m pkttype --pkt-type unicast", uni, true, false},
		{v4, "-m pkttype --pkt-type broadcast", uni, false, false},
		{v4, "-m pkttype --pkt-type broadcast", bcast, true, false},
		{v4, "-m pkttype --pkt-type broadcast", dbcast, true, false},
		{v4, "-m pkttype --pkt-type unicast", noHost, true, false},
		{v4, "-m pkttype --pkt-type multicast", mcast, true, false},
		{v4, "-m pkttype ! --pkt-type multicast", mcast, false, false},
		{v6, "-m pkttype --pkt-type multicast", mcast6, true, false},
		{v6, "-m pkttype --pkt-type unicast", uni6, true, false},
		{v4, "-m pkttype --pkt-type unicast", out, true, false},
		{v4, "-m pkttype --pkt-type broadcast", out, false, false},
		{v4, "-m pkttype --pkt-type unicast", post, true, false},
		{v4, "-m pkttype --pkt-type multicast", fwd, true, false},
		{v4, "-m pkttype --pkt-type otherhost", uni, false, false},
	})
}

func TestHeaderEvalAddrType(t *testing.T) {
	v4, v6 := ruleset.IPv4, ruleset.IPv6
	in := hdCtx(t, hdSpec("192.0.2.9", "192.0.2.1"))
	bc := hdCtx(t, hdSpec("192.0.2.1", "192.0.2.255"))
	lo := hdCtx(t, hdSpec("127.0.0.1", "127.0.0.1"))
	lo.In = "lo"
	unreach := hdCtx(t, hdSpec("192.0.2.9", "10.1.2.3"))
	unknown := hdCtx(t, hdSpec("192.0.2.9", "192.0.2.1"))
	unknown.AddrType = nil
	in6 := hdCtx(t, hdSpec("2001:db8::9", "2001:db8::1"))
	mc6 := hdCtx(t, hdSpec("::", "ff02::1"))
	any6 := hdCtx(t, hdSpec("2001:db8::9", "2001:db8::"))
	dead6 := hdCtx(t, hdSpec("2001:db8::9", "2001:db8:dead::1"))
	mapped6 := hdCtx(t, hdSpec("::ffff:192.0.2.9", "2001:db8::1"))
	unknown6 := hdCtx(t, hdSpec("2001:db8::9", "2001:db8::1"))
	unknown6.AddrType = nil
	hdRun(t, []hdCase{
		{v4, "-m addrtype --dst-type LOCAL", in, true, false},
		{v4, "-m addrtype --src-type LOCAL", in, false, false},
		{v4, "-m addrtype --src-type UNICAST --dst-type LOCAL", in, true, false},
		{v4, "-m addrtype ! --src-type LOCAL --dst-type LOCAL", in, true, false},
		{v4, "-m addrtype --dst-type LOCAL,BROADCAST", bc, true, false},
		{v4, "-m addrtype ! --dst-type BROADCAST", bc, false, false},
		{v4, "-m addrtype --dst-type LOCAL --limit-iface-in", in, true, false},
		{v4, "-m addrtype --dst-type LOCAL --limit-iface-in", lo, true, false},
		{v4, "-m addrtype --dst-type UNREACHABLE", unreach, true, false},
		{v4, "-m addrtype --dst-type LOCAL", unknown, false, true},
		{v6, "-m addrtype --dst-type LOCAL", in6, true, false},
		{v6, "-m addrtype --dst-type UNICAST", in6, true, false},
		{v6, "-m addrtype --dst-type MULTICAST", in6, false, false},
		{v6, "-m addrtype --dst-type MULTICAST", mc6, true, false},
		{v6, "-m addrtype --src-type UNSPEC", mc6, true, false},
		{v6, "-m addrtype --dst-type ANYCAST", any6, true, false},
		{v6, "-m addrtype --dst-type UNREACHABLE", dead6, true, false},
		{v6, "-m addrtype --dst-type UNREACHABLE", in6, false, false},
		// An IPv4-mapped address is neither unicast nor multicast.
		{v6, "-m addrtype --src-type UNICAST", mapped6, false, false},
		{v6, "-m addrtype ! --src-type UNICAST", mapped6, true, false},
		// Only LOCAL, ANYCAST and UNREACHABLE need the host.
		{v6, "-m addrtype --dst-type UNICAST", unknown6, true, false},
		{v6, "-m addrtype --dst-type LOCAL", unknown6, false, true},
	})
}

func BenchmarkHeaderMatches(b *testing.B) {
	c := hdCtx(b, hdSpec("192.0.2.9", "192.0.2.1"))
	c.HasMAC = true
	for _, args := range []string{
		"-m length --length 10:1000",
		"-m ttl --ttl-gt 3",
		"-m tos --tos 0x10/0x3f",
		"-m dscp --dscp 10",
		"-m iprange --src-range 192.0.2.1-192.0.2.20",
		"-m mac --mac-source 00:11:22:33:44:55",
		"-m pkttype --pkt-type broadcast",
		"-m addrtype --dst-type LOCAL",
		"-m comment --comment x",
	} {
		b.Run(strings.Fields(args)[1], func(b *testing.B) {
			m := rlMatch(b, ruleset.IPv4, args)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				m.Match(c)
			}
		})
	}
}
