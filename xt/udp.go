package xt

import (
	"encoding/binary"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// UDP is the udp match (-m udp): source and destination port ranges.
//
// iptables-nft turns a udp match into native payload expressions unless it
// is all defaults (then the xt match itself goes to the kernel). Listing
// reads the expressions back into one udp match per rule, which is why
// several native udp matches of a rule merge into the first, and why some
// inverted ranges come back in another form (see ApplyNativePorts).
type UDP struct {
	Src, Dst       PortRange
	InvSrc, InvDst bool

	// native is set for a match built from payload expressions (the
	// host that later native udp matches of the same rule merge into).
	native bool
	// cmps are the payload comparisons the kernel evaluates for a native
	// match: those of every udp match of the rule merged into it, in
	// order (the fields above are only what listing reads back).
	cmps []NativeCmp
	seen uint8
}

const (
	udpSeenSrc = 1 << iota
	udpSeenDst
)

func init() {
	Register(&Def{Name: "udp", Legacy: true, New: func() Parser { return &UDP{Src: AnyPorts, Dst: AnyPorts} },
		Options: []Option{
			{Name: "source-port", Arg: ReqArg, Invert: true}, {Name: "sport", Arg: ReqArg, Invert: true},
			{Name: "destination-port", Arg: ReqArg, Invert: true}, {Name: "dport", Arg: ReqArg, Invert: true},
		}})
}

// Name implements ruleset.Extension.
func (m *UDP) Name() string { return "udp" }

// Parse implements Parser.
func (m *UDP) Parse(_ *Context, opt, arg string, inv bool) error {
	var err error
	switch opt {
	case "source-port", "sport":
		if m.seen&udpSeenSrc != 0 {
			return Errorf("udp: option \"--source-port\" can only be used once.\n")
		}
		m.seen |= udpSeenSrc
		m.Src, err = ParsePortRC("udp", "source-port", arg)
		m.InvSrc = inv
	case "destination-port", "dport":
		if m.seen&udpSeenDst != 0 {
			return Errorf("udp: option \"--destination-port\" can only be used once.\n")
		}
		m.seen |= udpSeenDst
		m.Dst, err = ParsePortRC("udp", "destination-port", arg)
		m.InvDst = inv
	}
	return err
}

// Final implements Parser.
func (m *UDP) Final(ctx *Context) (ruleset.Extension, error) {
	m.seen = 0
	if m.Src.Full() && m.Dst.Full() && !m.InvSrc && !m.InvDst {
		// All defaults: the xt match goes to the kernel, which wants
		// -p udp (not inverted).
		if ctx.Rule.Proto != 17 || ctx.Rule.Inv&ruleset.InvProto != 0 {
			return nil, KernelInval()
		}
		return m, nil
	}
	// Native translation: iptables checks the protocol number only.
	if ctx.Rule.Proto != 17 {
		return nil, Errorf("UDP match requires '-p udp'")
	}
	var host *UDP
	for _, x := range ctx.Rule.Matches {
		if u, ok := x.(*UDP); ok && u.native {
			host = u
			break
		}
	}
	fresh := host == nil
	if fresh {
		host = &UDP{Src: AnyPorts, Dst: AnyPorts, native: true}
	}
	a := ApplyNativePorts(&host.Src, &host.InvSrc, m.Src, m.InvSrc)
	b := ApplyNativePorts(&host.Dst, &host.InvDst, m.Dst, m.InvDst)
	host.cmps = AppendNativePorts(host.cmps, m.Src, m.InvSrc, m.Dst, m.InvDst)
	if fresh && (a || b) {
		return host, nil
	}
	return nil, nil
}

// ApplyNativePorts applies a port range option, as iptables-nft translates
// it to nftables and parses it back, to the range dst (with its inversion
// flag) of the transport match being rebuilt. It reports whether the option
// produced any expression (a full range, inverted or not, produces none).
//
// The translation: a single port is an (in)equality; 0:HI is "<= HI", or
// inverted "> HI", which reads back as HI+1:65535 not inverted; any other
// range is a range expression. Reading back only ever sets inversion flags.
func ApplyNativePorts(dst *PortRange, dinv *bool, r PortRange, inv bool) bool {
	switch {
	case r.Full():
		return false
	case r.Lo == r.Hi:
		*dst = r
		if inv {
			*dinv = true
		}
	case r.Lo == 0:
		if inv {
			dst.Lo = r.Hi + 1
		} else {
			dst.Hi = r.Hi
		}
	default:
		*dst = r
		if inv {
			*dinv = true
		}
	}
	return true
}

// Save implements ruleset.Extension.
func (m *UDP) Save(b *strings.Builder, _ ruleset.Fmt) {
	if !m.Src.Full() {
		SaveRange(b, "sport", m.Src, m.InvSrc)
	}
	if !m.Dst.Full() {
		SaveRange(b, "dport", m.Dst, m.InvDst)
	}
}

// Print implements ruleset.Extension.
func (m *UDP) Print(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(" udp")
	PrintPorts(b, "spt", m.Src, m.InvSrc, "udp", f.Numeric)
	PrintPorts(b, "dpt", m.Dst, m.InvDst, "udp", f.Numeric)
}

// ParsePortRC parses a port range as iptables' XTTYPE_PORTRC options do
// (udp, dccp): PORT, LO:HI, LO: or :HI, where an empty component takes
// its default (0 or 65535, a lone empty string is port 0) and each port is
// resolved by GetPortByName. No order check: 5:4 is kept as is.
func ParsePortRC(ext, opt, s string) (PortRange, error) {
	parts := strings.Split(s, ":")
	if len(parts) > 2 {
		return PortRange{}, Errorf("%s: Too many components for option \"--%s\" (max: 2)\n", ext, opt)
	}
	r := AnyPorts
	for i, p := range parts {
		if p == "" {
			continue
		}
		v, ok := GetPortByName(p)
		if !ok {
			return PortRange{}, Errorf("Port \"%s\" does not resolve to anything.\n", p)
		}
		if i == 0 {
			r.Lo = v
		} else {
			r.Hi = v
		}
	}
	if len(parts) == 1 {
		r.Hi = r.Lo
	}
	return r, nil
}

// GetPortByName resolves a port as iptables' xtables_getportbyname does
// through getaddrinfo: a decimal number (strtoul: leading blanks and a sign
// allowed, truncated to an int, negative refused, then to 16 bits), else
// a service name of any protocol in /etc/services.
func GetPortByName(s string) (uint16, bool) {
	v, rest, ok := portStrtoul(s, 10)
	if ok && rest == "" {
		n := int32(uint32(v))
		if n < 0 {
			return 0, false
		}
		return uint16(n), true
	}
	if !ok && rest == "" {
		return 0, false // overflow: ULONG_MAX, negative as an int
	}
	for _, proto := range []string{"tcp", "udp", "sctp", "dccp"} {
		if p, ok := ServicePort(s, proto); ok {
			return p, true
		}
	}
	return 0, false
}

// portIsSpace is C's isspace in the C locale.
func portIsSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// portStrtoul emulates C's strtoul(s, &end, base) for base 10 or 0: leading
// blanks, an optional sign (a minus negates modulo 2^64), then digits. ok
// is false when no digits were read (rest is then s) or on overflow
// (rest is ""); otherwise rest is what follows the number.
func portStrtoul(s string, base int) (v uint64, rest string, ok bool) {
	i := 0
	for i < len(s) && portIsSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if base == 0 {
		switch {
		case i+2 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && isHex(s[i+2]):
			base = 16
			i += 2
		case i < len(s) && s[i] == '0':
			base = 8
		default:
			base = 10
		}
	}
	j := i
	over := false
	for j < len(s) && digitOK(s[j], base) {
		d := uint64(portDigitVal(s[j]))
		if v > (^uint64(0)-d)/uint64(base) {
			over = true
		}
		v = v*uint64(base) + d
		j++
	}
	if j == i {
		return 0, s, false
	}
	if over {
		return ^uint64(0), "", false
	}
	if neg {
		v = -v
	}
	return v, s[j:], true
}

func portDigitVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// xtStrtoulMax emulates xtables_strtoul(s, &end, &v, 0, max): strtoul with
// base 0 where a minus sign (after blanks) is refused and the value must be
// at most max. rest is what follows the number.
func xtStrtoulMax(s string, max uint64) (v uint64, rest string, ok bool) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	if strings.HasPrefix(t, "-") {
		return 0, s, false
	}
	v, rest, ok = portStrtoul(s, 0)
	if !ok || v > max {
		return 0, rest, false
	}
	return v, rest, true
}

// Packet evaluation.
//
// iptables-nft 1.8.9 turns tcp and udp port (and tcp flag) options into
// nftables payload expressions; what stays an xt match (an all-default
// udp or tcp match, a tcp match with --tcp-option, and icmp, icmp6, sctp,
// dccp, esp, ah, multiport) runs the kernel module through nft_compat,
// which hands it nft's transport offset and fragment offset. The two
// behave differently on fragments and short packets: a payload expression
// on a non-first fragment or past the end of the packet just does not
// match, while the xt modules drop such packets (hotdrop) in some cases.

// Kinds of NativeCmp.
const (
	CmpSrc   uint8 = iota // source port (2 bytes at transport offset 0)
	CmpDst                // destination port (2 bytes at offset 2)
	CmpBoth               // both ports as one 4-byte compare
	CmpFlags              // tcp flags byte (offset 13), masked
)

// NativeCmp is one payload comparison iptables-nft made of a tcp/udp
// match option.
type NativeCmp struct {
	Kind uint8
	Inv  bool // != (or "range !=", or ">" for an inverted 0:HI)
	// Lo, Hi: port range (CmpSrc, CmpDst); CmpBoth: source port in Lo,
	// destination port in Hi.
	Lo, Hi     uint16
	Mask, Comp uint8 // CmpFlags
}

// AppendNativePorts appends the comparisons iptables 1.8.9's
// add_nft_tcpudp makes of one match's port ranges: when both ports are
// single and non-zero and inverted alike, ONE 4-byte compare of both
// ("!=" inverted: the rule matches when either port differs, not both);
// otherwise a compare per range that is not 0:65535 (an inverted full
// range makes none).
func AppendNativePorts(cmps []NativeCmp, src PortRange, invSrc bool, dst PortRange, invDst bool) []NativeCmp {
	if src.Lo != 0 && src.Lo == src.Hi && dst.Lo != 0 && dst.Lo == dst.Hi && invSrc == invDst {
		return append(cmps, NativeCmp{Kind: CmpBoth, Inv: invSrc, Lo: src.Lo, Hi: dst.Lo})
	}
	if src.Lo != 0 || src.Hi < 0xFFFF {
		cmps = append(cmps, NativeCmp{Kind: CmpSrc, Inv: invSrc, Lo: src.Lo, Hi: src.Hi})
	}
	if dst.Lo != 0 || dst.Hi < 0xFFFF {
		cmps = append(cmps, NativeCmp{Kind: CmpDst, Inv: invDst, Lo: dst.Lo, Hi: dst.Hi})
	}
	return cmps
}

// MatchNative evaluates payload comparisons as nft_payload and nft_cmp /
// nft_range / nft_bitwise do: on a non-first fragment, or when the bytes
// lie past the end of the packet, the expression breaks (no match, never a
// drop). The transport header is read from the raw bytes at nft's
// transport offset, whatever the protocol (the rule's -p may be inverted).
func MatchNative(p *pkt.Packet, cmps []NativeCmp) bool {
	th := TransportOff(p)
	if th < 0 {
		return false
	}
	b := p.Raw[th:]
	for i := range cmps {
		e := &cmps[i]
		var ok bool
		switch e.Kind {
		case CmpSrc, CmpDst:
			o := 0
			if e.Kind == CmpDst {
				o = 2
			}
			if len(b) < o+2 {
				return false
			}
			v := binary.BigEndian.Uint16(b[o:])
			ok = v >= e.Lo && v <= e.Hi
		case CmpBoth:
			if len(b) < 4 {
				return false
			}
			ok = binary.BigEndian.Uint16(b[0:]) == e.Lo && binary.BigEndian.Uint16(b[2:]) == e.Hi
		case CmpFlags:
			if len(b) < 14 {
				return false
			}
			ok = b[13]&e.Mask == e.Comp
		}
		if ok == e.Inv {
			return false
		}
	}
	return true
}

// TransportOff is nft's transport header offset in p.Raw (pkt->thoff), or
// -1 for a non-first fragment (pkt->fragoff != 0) or when IPv6's header
// chain cannot be walked. It may lie at or past the end of a truncated
// packet.
func TransportOff(p *pkt.Packet) int {
	if p.FragOff != 0 {
		return -1
	}
	if p.L4 >= 0 {
		return p.L4
	}
	if p.Family == ruleset.IPv4 {
		if len(p.Raw) < 20 {
			return -1
		}
		return int(p.Raw[0]&0x0f) * 4
	}
	off, _, err := FindHdr6(p.Raw, -1, true)
	if err != 0 {
		return -1
	}
	return off
}

// xtHeader returns the n bytes at the transport offset for an xt match
// run by nft_compat (par->thoff), or nil when the packet is too short.
// The caller has checked that p is not a non-first fragment.
func xtHeader(p *pkt.Packet, n int) []byte {
	th := TransportOff(p)
	if th < 0 || th+n > len(p.Raw) {
		return nil
	}
	return p.Raw[th : th+n]
}

// Errors of FindHdr6 (the kernel's -ENOENT and -EBADMSG).
const (
	Hdr6NoEnt  = 1
	Hdr6BadMsg = 2
)

func ipv6ExtHdr(nh uint8) bool {
	switch nh {
	case pkt.ProtoHopOpts, pkt.ProtoRouting, pkt.ProtoFragment, pkt.ProtoAH, pkt.ProtoNone, pkt.ProtoDstOpts:
		return true
	}
	return false
}

// FindHdr6 is the kernel's ipv6_find_hdr (flags without IP6_FH_F_SKIP_RH)
// on an IPv6 packet: with target < 0 it finds the transport header (with
// auth, IP6_FH_F_AUTH, stopping at AH as nftables does), else the
// extension header target. It returns the header's offset and type, or
// Hdr6NoEnt / Hdr6BadMsg.
func FindHdr6(raw []byte, target int, auth bool) (off int, nh uint8, err int) {
	if len(raw) < 40 {
		return 0, 0, Hdr6BadMsg
	}
	start := 40
	nh = raw[6]
	for {
		found := int(nh) == target
		if !ipv6ExtHdr(nh) || nh == pkt.ProtoNone {
			if target < 0 || found {
				return start, nh, 0
			}
			return 0, 0, Hdr6NoEnt
		}
		if start+2 > len(raw) {
			return 0, 0, Hdr6BadMsg
		}
		var hdrlen int
		switch nh {
		case pkt.ProtoRouting:
			if start+4 > len(raw) {
				return 0, 0, Hdr6BadMsg
			}
			hdrlen = (int(raw[start+1]) + 1) << 3
		case pkt.ProtoFragment:
			if start+4 > len(raw) {
				return 0, 0, Hdr6BadMsg
			}
			if binary.BigEndian.Uint16(raw[start+2:])&^7 != 0 {
				next := raw[start]
				if target < 0 && (!ipv6ExtHdr(next) || next == pkt.ProtoNone) {
					return start, next, 0 // a non-first fragment
				}
				if !found {
					return 0, 0, Hdr6NoEnt
				}
				return start, nh, 0
			}
			hdrlen = 8
		case pkt.ProtoAH:
			if auth && target < 0 {
				return start, nh, 0
			}
			hdrlen = (int(raw[start+1]) + 2) << 2
		default:
			hdrlen = (int(raw[start+1]) + 1) << 3
		}
		if found {
			return start, nh, 0
		}
		nh = raw[start]
		start += hdrlen
	}
}

// Match implements pkt.Matcher. A native match (port options) is its
// payload comparisons (MatchNative); an all-default match is the xt udp
// match (udp_mt): false on a non-first fragment, a drop when the packet
// has no room for the 8-byte header.
func (m *UDP) Match(c *pkt.Ctx) bool {
	p := c.P
	if m.native {
		if m.cmps == nil {
			// Built by hand: the fields as the translation makes them.
			var buf [3]NativeCmp
			return MatchNative(p, AppendNativePorts(buf[:0], m.Src, m.InvSrc, m.Dst, m.InvDst))
		}
		return MatchNative(p, m.cmps)
	}
	if p.FragOff != 0 {
		return false
	}
	h := xtHeader(p, 8)
	if h == nil {
		c.DropNow = true
		return false
	}
	sp, dp := binary.BigEndian.Uint16(h[0:]), binary.BigEndian.Uint16(h[2:])
	return inRange(sp, m.Src) != m.InvSrc && inRange(dp, m.Dst) != m.InvDst
}
