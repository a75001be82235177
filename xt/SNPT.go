package xt

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// NPT is the IPv6 network prefix translation target (RFC 6296,
// ip6t_NPT): SNPT rewrites the source prefix (mangle INPUT and
// POSTROUTING), DNPT (DNPT.go) the destination prefix (mangle PREROUTING
// and OUTPUT), checksum-neutrally.
type NPT struct {
	DNPT     bool
	Src, Dst CtAddr // --src-pfx, --dst-pfx: prefix address and length
	srcSet   bool
	dstSet   bool
	// adjust is the kernel's npt->adjustment, computed by Final.
	adjust uint16
}

func nptOptions() []Option {
	return []Option{{Name: "src-pfx", Arg: ReqArg}, {Name: "dst-pfx", Arg: ReqArg}}
}

func init() {
	Register(&Def{Name: "SNPT", Family: ruleset.IPv6, Target: true, New: func() Parser { return &NPT{} },
		Options: nptOptions()})
}

// Name implements ruleset.Extension.
func (t *NPT) Name() string {
	if t.DNPT {
		return "DNPT"
	}
	return "SNPT"
}

// Parse implements Parser.
func (t *NPT) Parse(_ *Context, opt, arg string, _ bool) error {
	a, err := ParseHostMask(t.Name(), opt, arg, ruleset.IPv6)
	if err != nil {
		return err
	}
	if opt == "src-pfx" {
		t.Src, t.srcSet = a, true
	} else {
		t.Dst, t.dstSet = a, true
	}
	return nil
}

// Final implements Parser: both prefixes are mandatory; the kernel takes
// the target in the mangle table only, at its two hooks, with prefixes of
// at most 64 bits that have no bits set past their length.
func (t *NPT) Final(ctx *Context) (ruleset.Extension, error) {
	if !t.srcSet {
		return nil, Errorf("%s: option \"--src-pfx\" must be specified\n", t.Name())
	}
	if !t.dstSet {
		return nil, Errorf("%s: option \"--dst-pfx\" must be specified\n", t.Name())
	}
	hooks := []string{"INPUT", "POSTROUTING"}
	if t.DNPT {
		hooks = []string{"PREROUTING", "OUTPUT"}
	}
	if err := tgKernelPlace(ctx, "mangle", hooks...); err != nil {
		return nil, err
	}
	for _, p := range []CtAddr{t.Src, t.Dst} {
		if p.Bits > 64 {
			return nil, KernelInval()
		}
		if pf, _ := p.Addr.Prefix(int(p.Bits)); pf.Addr() != p.Addr {
			return nil, KernelInval()
		}
	}
	src, dst := t.Src.Addr.As16(), t.Dst.Addr.As16()
	t.adjust = nptFold(nptSum(src[:]) + uint32(^nptFold(nptSum(dst[:]))))
	t.adjust = nptFold(uint32(t.adjust))
	return t, nil
}

// nptSum is the plain sum of the 16-bit big-endian words of b.
func nptSum(b []byte) uint32 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	return s
}

// nptFold folds a 32-bit one's-complement sum to 16 bits.
func nptFold(s uint32) uint16 {
	s = (s & 0xFFFF) + (s >> 16)
	s = (s & 0xFFFF) + (s >> 16)
	return uint16(s)
}

func (t *NPT) pfx(b *strings.Builder, p CtAddr) {
	b.WriteString(ip6Ntop(p.Addr) + "/" + Utoa(uint64(p.Bits)))
}

// Save implements ruleset.Extension: a prefix that is all zero (::/0) is
// left out, as iptables does (the lossless form keeps it).
func (t *NPT) Save(b *strings.Builder, f ruleset.Fmt) {
	if !t.Src.Addr.IsUnspecified() || t.Src.Bits != 0 || f.Lossless {
		b.WriteString(" --src-pfx ")
		t.pfx(b, t.Src)
	}
	if !t.Dst.Addr.IsUnspecified() || t.Dst.Bits != 0 || f.Lossless {
		b.WriteString(" --dst-pfx ")
		t.pfx(b, t.Dst)
	}
}

// Print implements ruleset.Extension.
func (t *NPT) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" " + t.Name() + " src-pfx ")
	t.pfx(b, t.Src)
	b.WriteString(" dst-pfx ")
	t.pfx(b, t.Dst)
}

// mapPfx is ip6t_npt_map_pfx on the address at a[0:16]: replace the
// prefix (the longer of the two lengths) by dst's and fix the checksum in
// word 3 (prefixes up to /48) or the first word after the prefix that is
// not 0xFFFF; false when there is none.
func (t *NPT) mapPfx(a []byte) bool {
	plen := int(max(t.Src.Bits, t.Dst.Bits))
	dst := t.Dst.Addr.As16()
	for i := 0; i < plen; i += 32 {
		var mask uint32
		if plen-i < 32 {
			mask = 1<<(32-(plen-i)) - 1
		}
		w := binary.BigEndian.Uint32(a[i/8:])
		w = w&mask | ^mask&binary.BigEndian.Uint32(dst[i/8:])
		binary.BigEndian.PutUint32(a[i/8:], w)
	}
	idx := 3
	if plen > 48 {
		for idx = 4; idx < 8; idx++ {
			if binary.BigEndian.Uint16(a[idx*2:]) != 0xFFFF {
				break
			}
		}
		if idx == 8 {
			return false
		}
	}
	sum := nptFold(uint32(binary.BigEndian.Uint16(a[idx*2:])) + uint32(t.adjust))
	if sum == 0xFFFF {
		sum = 0
	}
	binary.BigEndian.PutUint16(a[idx*2:], sum)
	return true
}

// Act implements pkt.Actor as ip6t_snpt_tg / ip6t_dnpt_tg do: map the
// source (SNPT) or destination (DNPT) address and go on; when no word can
// take the checksum adjustment the kernel sends a parameter problem and
// drops the packet. In an ICMPv6 error (directly after the IPv6 header)
// the quoted packet's destination (SNPT) or source (DNPT) is mapped back
// too when it lies in --src-pfx.
func (t *NPT) Act(c *pkt.Ctx) pkt.Verdict {
	p := c.P
	if p.Family != ruleset.IPv6 || len(p.Raw) < 40 {
		return pkt.Continue
	}
	// The outer source (SNPT) or destination (DNPT); in a quoted packet
	// (at 48) the other one.
	at, inner := 8, 48+24
	if t.DNPT {
		at, inner = 24, 48+8
	}
	if !t.mapPfx(p.Raw[at : at+16]) {
		return pkt.Drop
	}
	if t.DNPT {
		p.Dst = nptAddr(p.Raw[24:40])
	} else {
		p.Src = nptAddr(p.Raw[8:24])
	}
	if p.Raw[6] == pkt.ProtoICMPv6 && len(p.Raw) >= 88 && p.Raw[40] < 128 {
		a := p.Raw[inner : inner+16]
		if pf, _ := nptAddr(a).Prefix(int(t.Src.Bits)); pf.Addr() == t.Src.Addr {
			t.mapPfx(a)
		}
	}
	return pkt.Continue
}

// nptAddr is the IPv6 address in b[0:16].
func nptAddr(b []byte) netip.Addr { return netip.AddrFrom16([16]byte(b[:16])) }
