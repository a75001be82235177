package xt

import (
	"strings"

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
	seen   uint8
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
