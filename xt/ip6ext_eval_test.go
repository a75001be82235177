package xt_test

import (
	"net/netip"
	"testing"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// ieCtx builds an IPv6 packet whose payload (after the IPv6 header) is
// hdrs, with next header next, in a context at INPUT.
func ieCtx(tb testing.TB, next uint8, hdrs ...[]byte) *pkt.Ctx {
	tb.Helper()
	var pl []byte
	for _, h := range hdrs {
		pl = append(pl, h...)
	}
	s := pkt.Spec{Src: netip.MustParseAddr("2001:db8::9"), Dst: netip.MustParseAddr("2001:db8::1"),
		Proto: next, Payload: pl}
	p := &pkt.Packet{}
	if err := p.Decode(pkt.Build(s)); err != nil {
		tb.Fatal(err)
	}
	return &pkt.Ctx{P: p, Hook: ruleset.LocalIn, In: "eth0"}
}

func ieAddr(s string) []byte {
	a := netip.MustParseAddr(s).As16()
	return a[:]
}

func ieCat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var ieUDP = []byte{0x03, 0xe8, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00}

type ieCase struct {
	args string
	c    *pkt.Ctx
	want bool
	drop bool
}

func ieRun(t *testing.T, cases []ieCase) {
	t.Helper()
	for _, tt := range cases {
		m := rlMatch(t, ruleset.IPv6, tt.args)
		tt.c.DropNow = false
		got := m.Match(tt.c)
		if got != tt.want || tt.c.DropNow != tt.drop {
			t.Errorf("%s on % x: got %v drop %v, want %v drop %v", tt.args, tt.c.P.Raw[40:], got, tt.c.DropNow, tt.want, tt.drop)
		}
	}
}

func TestIP6ExtEvalOpts(t *testing.T) {
	// Hop-by-hop: router alert (5, len 2), then PadN with no data.
	hbh := ieCtx(t, pkt.ProtoHopOpts, []byte{17, 0, 5, 2, 0, 0, 1, 0}, ieUDP)
	// Destination options, 16 bytes: Pad1, PadN(3), type 0xc9 len 8.
	dst := ieCtx(t, pkt.ProtoDstOpts, []byte{17, 1, 0, 1, 3, 0, 0, 0, 0xc9, 6, 1, 2, 3, 4, 5, 6}, ieUDP)
	plain := ieCtx(t, pkt.ProtoUDP, ieUDP)
	// A hop-by-hop header that claims 16 bytes in an 8-byte payload.
	short := ieCtx(t, pkt.ProtoHopOpts, []byte{59, 1, 1, 4, 0, 0, 0, 0})
	// A hop-by-hop header followed by a destination header cut to 1 byte.
	broken := ieCtx(t, pkt.ProtoHopOpts, []byte{60, 0, 1, 4, 0, 0, 0, 0, 17})
	ieRun(t, []ieCase{
		{"-m hbh", hbh, true, false},
		{"-m hbh", plain, false, false},
		{"-m hbh", dst, false, false},
		{"-m hbh --hbh-len 8", hbh, true, false},
		{"-m hbh --hbh-len 16", hbh, false, false},
		{"-m hbh ! --hbh-len 16", hbh, true, false},
		{"-m hbh --hbh-opts 5", hbh, true, false},
		{"-m hbh --hbh-opts 5:2,1:0", hbh, true, false},
		{"-m hbh --hbh-opts 5:3", hbh, false, false},
		{"-m hbh --hbh-opts 1", hbh, false, false},
		{"-m hbh --hbh-opts 5,1,1", hbh, false, false}, // runs out of header
		{"-m hbh --hbh-len 16 --hbh-opts 5", hbh, false, false},
		{"-m hbh", short, false, false},
		{"-m dst", broken, false, true},
		{"-m hbh", broken, true, false},
		{"-m dst", dst, true, false},
		{"-m dst --dst-len 16 --dst-opts 0,1:3,201:6", dst, true, false},
		{"-m dst --dst-opts 0,1:3,201:5", dst, false, false},
		{"-m dst --dst-opts 1", dst, false, false},
		{"-m dst ! --dst-len 16", dst, false, false},
		{"-m dst", hbh, false, false},
	})
}

func TestIP6ExtEvalRT(t *testing.T) {
	a1, a2 := ieAddr("2001:db8::a"), ieAddr("2001:db8::b")
	// Type 0, segments left 1, two addresses (40 bytes).
	rt0 := ieCtx(t, pkt.ProtoRouting, ieCat([]byte{17, 4, 0, 1, 0, 0, 0, 0}, a1, a2), ieUDP)
	rt0res := ieCtx(t, pkt.ProtoRouting, ieCat([]byte{17, 4, 0, 1, 0, 0, 0, 1}, a1, a2), ieUDP)
	// Behind a hop-by-hop header: type 2, one address.
	rt2 := ieCtx(t, pkt.ProtoHopOpts, []byte{43, 0, 1, 4, 0, 0, 0, 0}, ieCat([]byte{17, 2, 2, 0, 0, 0, 0, 0}, a1), ieUDP)
	trunc := ieCtx(t, pkt.ProtoHopOpts, []byte{43, 0, 1, 4, 0, 0, 0, 0, 17})
	ieRun(t, []ieCase{
		{"-m rt", rt0, true, false},
		{"-m rt", ieCtx(t, pkt.ProtoUDP, ieUDP), false, false},
		{"-m rt --rt-type 0", rt0, true, false},
		{"-m rt ! --rt-type 0", rt0, false, false},
		{"-m rt --rt-type 2", rt2, true, false},
		{"-m rt --rt-type 256", rt0, false, false},
		{"-m rt --rt-segsleft 1", rt0, true, false},
		{"-m rt --rt-segsleft 2:5", rt0, false, false},
		{"-m rt ! --rt-segsleft 2:5", rt0, true, false},
		{"-m rt ! --rt-segsleft 0:4294967295", rt0, false, false},
		{"-m rt --rt-len 40", rt0, true, false},
		{"-m rt --rt-len 24", rt2, true, false},
		{"-m rt ! --rt-len 40", rt0, false, false},
		{"-m rt --rt-type 0 --rt-0-res", rt0, true, false},
		{"-m rt --rt-type 0 --rt-0-res", rt0res, false, false},
		{"-m rt --rt-type 0 --rt-0-addrs 2001:db8::a,2001:db8::b", rt0, true, false},
		{"-m rt --rt-type 0 --rt-0-addrs 2001:db8::a", rt0, false, false}, // strict: whole list
		{"-m rt --rt-type 0 --rt-0-addrs 2001:db8::b --rt-0-not-strict", rt0, true, false},
		{"-m rt --rt-type 0 --rt-0-addrs 2001:db8::b,2001:db8::a --rt-0-not-strict", rt0, false, false},
		{"-m rt --rt-type 0 --rt-0-addrs 2001:db8::a,2001:db8::b,::1 --rt-0-not-strict", rt0, false, false},
		{"-m rt", trunc, false, true},
	})
}

func TestIP6ExtEvalSRH(t *testing.T) {
	s0, s1, s2 := ieAddr("2001:db8:0:1::"), ieAddr("2001:db8:0:2::"), ieAddr("2001:db8:0:3::")
	// Type 4, 3 segments, segments left 1, last entry 2, tag 7.
	srh := ieCtx(t, pkt.ProtoRouting, ieCat([]byte{17, 6, 4, 1, 2, 0, 0, 7}, s0, s1, s2), ieUDP)
	// Segments left 3 > last entry 2: never matches.
	bad := ieCtx(t, pkt.ProtoRouting, ieCat([]byte{17, 6, 4, 3, 2, 0, 0, 7}, s0, s1, s2), ieUDP)
	rt0 := ieCtx(t, pkt.ProtoRouting, ieCat([]byte{17, 2, 0, 1, 0, 0, 0, 0}, s0), ieUDP)
	ieRun(t, []ieCase{
		{"-m srh", srh, true, false},
		{"-m srh", bad, false, false},
		{"-m srh", rt0, false, false},
		{"-m srh --srh-next-hdr 17", srh, true, false},
		{"-m srh ! --srh-next-hdr 17", srh, false, false},
		{"-m srh --srh-hdr-len-eq 6", srh, true, false},
		{"-m srh --srh-hdr-len-gt 6", srh, false, false},
		{"-m srh --srh-hdr-len-lt 7", srh, true, false},
		{"-m srh ! --srh-hdr-len-lt 7", srh, false, false},
		{"-m srh --srh-segs-left-eq 1", srh, true, false},
		{"-m srh --srh-segs-left-gt 0 --srh-segs-left-lt 2", srh, false, false}, // one shared value: 2
		{"-m srh --srh-last-entry-eq 2", srh, true, false},
		{"-m srh --srh-last-entry-gt 2", srh, false, false},
		{"-m srh --srh-tag 7", srh, true, false},
		{"-m srh ! --srh-tag 7", srh, false, false},
		{"-m srh --srh-psid 2001:db8:0:3::/64", srh, true, false},
		{"-m srh --srh-psid 2001:db8:0:2::/64", srh, false, false},
		{"-m srh ! --srh-psid 2001:db8:0:2::/64", srh, true, false},
		{"-m srh --srh-nsid 2001:db8::/48", srh, true, false},
		{"-m srh --srh-nsid 2001:db8:0:1::", srh, true, false},
		{"-m srh --srh-nsid 2001:db8:0:2::", srh, false, false},
		{"-m srh --srh-lsid 2001:db8:0:1::/128", srh, true, false},
		{"-m srh ! --srh-lsid ::/0", srh, false, false},
	})
}

func TestIP6ExtEvalMH(t *testing.T) {
	bu := ieCtx(t, pkt.ProtoMH, []byte{59, 0, 5, 0, 0, 0, 0, 0})
	bad := ieCtx(t, pkt.ProtoMH, []byte{17, 0, 5, 0, 0, 0, 0, 0})
	short := ieCtx(t, pkt.ProtoMH, []byte{59, 0, 5})
	// A non-first fragment of a mobility header packet.
	frag := ieCtx(t, pkt.ProtoFragment, []byte{135, 0, 0, 8, 0, 0, 0, 1}, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	ieRun(t, []ieCase{
		{"-p mh -m mh", bu, true, false},
		{"-p mh -m mh --mh-type bu", bu, true, false},
		{"-p mh -m mh --mh-type 6", bu, false, false},
		{"-p mh -m mh ! --mh-type 6", bu, true, false},
		{"-p mh -m mh --mh-type 1:5", bu, true, false},
		{"-p mh -m mh ! --mh-type 0:255", bu, false, false},
		{"-p mh -m mh", bad, false, true},
		{"-p mh -m mh", short, false, true},
		{"-p mh -m mh", frag, false, false},
	})
}

func ieNPT(t *testing.T, args, src, dst string) (*pkt.Ctx, pkt.Verdict) {
	t.Helper()
	a := ceRule(t, ruleset.IPv6, "mangle", args).Target.(pkt.Actor)
	s := pkt.Spec{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 2}
	p := &pkt.Packet{}
	if err := p.Decode(pkt.Build(s)); err != nil {
		t.Fatal(err)
	}
	c := &pkt.Ctx{P: p, Hook: ruleset.PostRouting}
	return c, a.Act(c)
}

func TestIP6ExtEvalNPT(t *testing.T) {
	// RFC 6296 section 3.5's example.
	for _, tt := range []struct {
		args, src, dst   string
		verdict          pkt.Verdict
		wantSrc, wantDst string
	}{
		{"-j SNPT --src-pfx fd01:203:405::/48 --dst-pfx 2001:db8:1::/48", "fd01:203:405:1::1234", "2001:db8::5",
			pkt.Continue, "2001:db8:1:d550::1234", "2001:db8::5"},
		{"-j DNPT --src-pfx 2001:db8:1::/48 --dst-pfx fd01:203:405::/48", "2001:db8::5", "2001:db8:1:d550::1234",
			pkt.Continue, "2001:db8::5", "fd01:203:405:1::1234"},
		// /64: the adjustment goes into the first word after the prefix
		// that is not 0xffff.
		{"-j SNPT --src-pfx fd00:1:2:3::/64 --dst-pfx 2001:db8:0:1::/64", "fd00:1:2:3:ffff::1", "::1",
			pkt.Continue, "2001:db8:0:1:ffff:cf4c:0:1", "::1"}, // checksum-neutral: both sum to 0xfd07,
		{"-j SNPT --src-pfx fd00:1:2:3::/64 --dst-pfx 2001:db8:0:1::/64", "fd00:1:2:3:ffff:ffff:ffff:ffff", "::1",
			pkt.Drop, "", ""},
	} {
		c, v := ieNPT(t, tt.args, tt.src, tt.dst)
		if v != tt.verdict {
			t.Errorf("%s: verdict %v, want %v", tt.args, v, tt.verdict)
			continue
		}
		if v != pkt.Continue {
			continue
		}
		gs, gd := netip.AddrFrom16([16]byte(c.P.Raw[8:24])), netip.AddrFrom16([16]byte(c.P.Raw[24:40]))
		if gs.String() != tt.wantSrc || gd.String() != tt.wantDst || c.P.Src != gs || c.P.Dst != gd {
			t.Errorf("%s: %s -> %s, want %s -> %s", tt.args, gs, gd, tt.wantSrc, tt.wantDst)
		}
	}
}

func BenchmarkIP6ExtEval(b *testing.B) {
	s0 := ieAddr("2001:db8:0:1::")
	c := ieCtx(b, pkt.ProtoHopOpts, []byte{43, 0, 5, 2, 0, 0, 1, 0},
		ieCat([]byte{17, 2, 4, 0, 0, 0, 0, 7}, s0), ieUDP)
	for _, args := range []string{"-m hbh --hbh-len 8 --hbh-opts 5:2,1", "-m rt --rt-type 4 --rt-segsleft 0",
		"-m srh --srh-tag 7 --srh-lsid 2001:db8::/32", "-m dst"} {
		m := rlMatch(b, ruleset.IPv6, args)
		b.Run(args, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				m.Match(c)
			}
		})
	}
}
