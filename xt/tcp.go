package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// TCP flag bits.
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
	URG = 0x20
)

var tcpFlagNames = []struct {
	name string
	bit  uint8
}{{"FIN", FIN}, {"SYN", SYN}, {"RST", RST}, {"PSH", PSH}, {"ACK", ACK}, {"URG", URG}, {"ALL", 0x3F}, {"NONE", 0}}

// TCP is the tcp match (-m tcp): ports, flags and an option kind.
type TCP struct {
	Src, Dst       PortRange
	FlagMask       uint8
	FlagComp       uint8
	Option         uint8
	InvSrc, InvDst bool
	InvFlags       bool
	InvOption      bool

	// native is set for a match rebuilt from nftables expressions, which
	// later natively translated tcp matches of the rule merge into.
	native bool
	// cmps are the payload comparisons of a native match: those of every
	// natively translated tcp match of the rule, in order.
	cmps []NativeCmp
	seen uint8
}

func init() {
	Register(&Def{Name: "tcp", Legacy: true, New: func() Parser { return &TCP{Src: AnyPorts, Dst: AnyPorts} },
		Options: []Option{
			{Name: "source-port", Arg: ReqArg, Invert: true}, {Name: "sport", Arg: ReqArg, Invert: true},
			{Name: "destination-port", Arg: ReqArg, Invert: true}, {Name: "dport", Arg: ReqArg, Invert: true},
			{Name: "syn", Invert: true}, {Name: "tcp-flags", Arg: ReqArg, Invert: true},
			{Name: "tcp-option", Arg: ReqArg, Invert: true},
		}})
}

const (
	tcpSeenSrc = 1 << iota
	tcpSeenDst
	tcpSeenFlags
	tcpSeenOption
)

// Name implements ruleset.Extension.
func (m *TCP) Name() string { return "tcp" }

// Parse implements Parser.
func (m *TCP) Parse(ctx *Context, opt, arg string, inv bool) error {
	var err error
	switch opt {
	case "source-port", "sport":
		if m.seen&tcpSeenSrc != 0 {
			return Errorf("Only one `--source-port' allowed")
		}
		m.seen |= tcpSeenSrc
		m.Src, err = ParsePortRange(arg, "tcp")
		m.InvSrc = inv
	case "destination-port", "dport":
		if m.seen&tcpSeenDst != 0 {
			return Errorf("Only one `--destination-port' allowed")
		}
		m.seen |= tcpSeenDst
		m.Dst, err = ParsePortRange(arg, "tcp")
		m.InvDst = inv
	case "syn":
		if m.seen&tcpSeenFlags != 0 {
			return Errorf("Only one of `--syn' or `--tcp-flags'  allowed")
		}
		m.seen |= tcpSeenFlags
		m.FlagMask, m.FlagComp = SYN|RST|ACK|FIN, SYN
		m.InvFlags = inv
	case "tcp-flags":
		if m.seen&tcpSeenFlags != 0 {
			return Errorf("Only one of `--syn' or `--tcp-flags'  allowed")
		}
		m.seen |= tcpSeenFlags
		comp, ok := ctx.Next()
		if !ok {
			return Errorf("--tcp-flags requires two args.")
		}
		if m.FlagMask, err = ParseTCPFlags(arg); err != nil {
			return err
		}
		if m.FlagComp, err = ParseTCPFlags(comp); err != nil {
			return err
		}
		m.InvFlags = inv
	case "tcp-option":
		if m.seen&tcpSeenOption != 0 {
			return Errorf("Only one `--tcp-option' allowed")
		}
		m.seen |= tcpSeenOption
		v, ok := ParseUint(arg, 1, 255)
		if !ok {
			return Errorf("Bad TCP option `%s'", arg)
		}
		m.Option = uint8(v)
		m.InvOption = inv
	}
	return err
}

// ParseTCPFlags parses a comma-separated list of TCP flag names.
func ParseTCPFlags(s string) (uint8, error) {
	var v uint8
	for _, f := range strings.Split(s, ",") {
		found := false
		for _, n := range tcpFlagNames {
			if strings.EqualFold(n.name, f) {
				v |= n.bit
				found = true
				break
			}
		}
		if !found {
			return 0, Errorf("Unknown TCP flag `%s'", f)
		}
	}
	return v, nil
}

// TCPFlagsString formats flags as iptables does: FIN,SYN,... or NONE.
func TCPFlagsString(flags uint8) string {
	if flags == 0 {
		return "NONE"
	}
	var parts []string
	for _, n := range tcpFlagNames[:6] {
		if flags&n.bit != 0 {
			parts = append(parts, n.name)
		}
	}
	return strings.Join(parts, ",")
}

// Final implements Parser.
func (m *TCP) Final(ctx *Context) (ruleset.Extension, error) {
	// A tcp match iptables-nft cannot translate (a --tcp-option, or all
	// defaults) goes to the kernel, which wants -p tcp not inverted; for a
	// translated one iptables checks the protocol number only.
	allZero := m.Src.Full() && m.Dst.Full() && m.FlagMask == 0 && m.FlagComp == 0 &&
		m.Option == 0 && !m.InvSrc && !m.InvDst && !m.InvFlags && !m.InvOption
	if allZero || m.Option != 0 || m.InvOption {
		if ctx.Rule.Proto != 6 || ctx.Rule.Inv&ruleset.InvProto != 0 {
			return nil, KernelInval()
		}
	} else if ctx.Rule.Proto != 6 {
		return nil, Errorf("TCP match requires '-p tcp'")
	}
	m.seen = 0
	if allZero || m.Option != 0 || m.InvOption {
		return m, nil
	}
	// iptables-nft translates the rest to native expressions (flags, then
	// ports; none for a full port range or a zero flag mask, inverted or
	// not) and reads all of a rule's back into its first tcp match: the
	// match merges into an earlier native one, or vanishes when it made
	// no expression.
	var host *TCP
	for _, x := range ctx.Rule.Matches {
		if t, ok := x.(*TCP); ok && t.native {
			host = t
			break
		}
	}
	fresh := host == nil
	if fresh {
		host = &TCP{Src: AnyPorts, Dst: AnyPorts, native: true}
	}
	made := false
	if m.FlagMask != 0 {
		host.FlagMask, host.FlagComp = m.FlagMask, m.FlagComp
		host.InvFlags = host.InvFlags || m.InvFlags
		host.cmps = append(host.cmps, NativeCmp{Kind: CmpFlags, Inv: m.InvFlags, Mask: m.FlagMask, Comp: m.FlagComp})
		made = true
	}
	host.cmps = AppendNativePorts(host.cmps, m.Src, m.InvSrc, m.Dst, m.InvDst)
	if ApplyNativePorts(&host.Src, &host.InvSrc, m.Src, m.InvSrc) {
		made = true
	}
	if ApplyNativePorts(&host.Dst, &host.InvDst, m.Dst, m.InvDst) {
		made = true
	}
	if fresh && made {
		return host, nil
	}
	return nil, nil
}

// RequireProto fails unless the rule's -p is proto and not inverted, as
// iptables checks for protocol matches.
func RequireProto(ctx *Context, proto uint8, msg string) error {
	if ctx.Rule.Proto != proto || ctx.Rule.Inv&ruleset.InvProto != 0 {
		return Errorf("%s", msg)
	}
	return nil
}

// Save implements ruleset.Extension.
func (m *TCP) Save(b *strings.Builder, _ ruleset.Fmt) {
	if !m.Src.Full() {
		SaveRange(b, "sport", m.Src, m.InvSrc)
	}
	if !m.Dst.Full() {
		SaveRange(b, "dport", m.Dst, m.InvDst)
	}
	if m.Option != 0 || m.InvOption {
		b.WriteString(Bang(m.InvOption) + " --tcp-option " + Utoa(uint64(m.Option)))
	}
	if m.FlagMask != 0 || m.InvFlags {
		b.WriteString(Bang(m.InvFlags) + " --tcp-flags " + TCPFlagsString(m.FlagMask) + " " + TCPFlagsString(m.FlagComp))
	}
}

// Print implements ruleset.Extension.
func (m *TCP) Print(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(" tcp")
	PrintPorts(b, "spt", m.Src, m.InvSrc, "tcp", f.Numeric)
	PrintPorts(b, "dpt", m.Dst, m.InvDst, "tcp", f.Numeric)
	if m.Option != 0 || m.InvOption {
		b.WriteString(" option=" + BangL(m.InvOption) + Utoa(uint64(m.Option)))
	}
	if m.FlagMask != 0 || m.InvFlags {
		b.WriteString(" flags:" + BangL(m.InvFlags))
		if f.Numeric {
			b.WriteString(hex02(m.FlagMask) + "/" + hex02(m.FlagComp))
		} else {
			b.WriteString(TCPFlagsString(m.FlagMask) + "/" + TCPFlagsString(m.FlagComp))
		}
	}
}

func hex02(v uint8) string {
	const digits = "0123456789ABCDEF"
	return "0x" + string([]byte{digits[v>>4], digits[v&15]})
}

// Match implements pkt.Matcher. A native match (ports, flags) is its
// payload comparisons (MatchNative: no match on a non-first fragment or a
// short packet, never a drop; both single ports inverted are one 4-byte
// "!=" that matches when either port differs). A match left to the xt
// module (all defaults, or --tcp-option) is the kernel's tcp_mt: an IPv4
// fragment at offset 1 is dropped, a packet without room for the 20-byte
// header is dropped, and so is one whose options are cut short.
func (m *TCP) Match(c *pkt.Ctx) bool {
	p := c.P
	if m.native {
		if m.cmps == nil {
			var buf [4]NativeCmp
			cm := buf[:0]
			if m.FlagMask != 0 {
				cm = append(cm, NativeCmp{Kind: CmpFlags, Inv: m.InvFlags, Mask: m.FlagMask, Comp: m.FlagComp})
			}
			return MatchNative(p, AppendNativePorts(cm, m.Src, m.InvSrc, m.Dst, m.InvDst))
		}
		return MatchNative(p, m.cmps)
	}
	if p.FragOff != 0 {
		if p.Family == ruleset.IPv4 && p.FragOff == 1 {
			c.DropNow = true // "Dropping evil TCP offset=1 frag."
		}
		return false
	}
	h := xtHeader(p, 20)
	if h == nil {
		c.DropNow = true
		return false
	}
	sp, dp := uint16(h[0])<<8|uint16(h[1]), uint16(h[2])<<8|uint16(h[3])
	if inRange(sp, m.Src) == m.InvSrc || inRange(dp, m.Dst) == m.InvDst {
		return false
	}
	if (h[13]&m.FlagMask == m.FlagComp) == m.InvFlags {
		return false
	}
	if m.Option == 0 {
		return true
	}
	doff := int(h[12]>>4) * 4
	if doff < 20 {
		c.DropNow = true
		return false
	}
	return tcpFindOption(c, m.Option, doff-20, m.InvOption)
}

func inRange(port uint16, r PortRange) bool { return port >= r.Lo && port <= r.Hi }

// tcpFindOption is xt_tcpudp's tcp_find_option: the options must all be
// in the packet (else a drop); a kind below 2 is one byte, any other
// advances by its length byte (0 counts as 1).
func tcpFindOption(c *pkt.Ctx, opt uint8, optlen int, invert bool) bool {
	if optlen == 0 {
		return invert
	}
	start := TransportOff(c.P) + 20
	if start+optlen > len(c.P.Raw) {
		c.DropNow = true
		return false
	}
	o := c.P.Raw[start : start+optlen]
	for i := 0; i < len(o); {
		if o[i] == opt {
			return !invert
		}
		if o[i] < 2 || i+1 >= len(o) {
			// The kernel reads one byte past the options here; any
			// step ends the walk.
			i++
			continue
		}
		if o[i+1] == 0 {
			i++
		} else {
			i += int(o[i+1])
		}
	}
	return invert
}
