package xt

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/rampartfw/rampart/ruleset"
)

// NAT range flags (NF_NAT_RANGE_*).
const (
	NATMapIPs          uint16 = 1 << 0
	NATProtoSpecified  uint16 = 1 << 1
	NATProtoRandom     uint16 = 1 << 2
	NATPersistent      uint16 = 1 << 3
	NATProtoRandomFull uint16 = 1 << 4
	NATProtoOffset     uint16 = 1 << 5
)

// NATRange is the address and port range of the NAT targets (SNAT, DNAT,
// MASQUERADE, REDIRECT), as nf_nat_range2.
type NATRange struct {
	Flags            uint16
	MinAddr, MaxAddr netip.Addr
	MinPort, MaxPort uint16
	BasePort         uint16 // with NATProtoOffset
	// NoBase is set for the targets whose kernel structure has no base
	// port (SNAT, MASQUERADE): iptables shows the offset as "/0". The
	// parsed base is kept for lossless (state file) output only.
	NoBase bool
}

// natPortOK reports whether a rule's protocol allows a port range: the
// protocol number as given, inverted or not, as iptables checks it.
func natPortOK(ctx *Context) bool {
	switch ctx.Rule.Proto {
	case 6, 17, 132, 33, 1:
		return true
	}
	return false
}

// natServicePort is getservbyname(name, NULL).
func natServicePort(name string) (uint16, bool) {
	for _, p := range []string{"tcp", "udp", "sctp", "dccp"} {
		if v, ok := ServicePort(name, p); ok {
			return v, true
		}
	}
	return 0, false
}

// natParsePorts parses PORT[-PORT[/BASE]] into r, as libxt_NAT's parse_ports.
func natParsePorts(arg string, portOK bool, r *NATRange) error {
	if !portOK {
		return Errorf("Need TCP, UDP, SCTP or DCCP with port specification")
	}
	r.Flags |= NATProtoSpecified
	port, end, ok := tgStrtoul(arg)
	if !ok || port > 0xFFFF {
		p, found := natServicePort(arg)
		if !found {
			return Errorf("Port `%s' not valid", arg)
		}
		port, end = uint64(p), ""
	}
	switch {
	case end == "":
		r.MinPort, r.MaxPort = uint16(port), uint16(port)
		return nil
	case end[0] == '-':
		arg = end[1:]
	case end[0] == ':':
		return Errorf("Invalid port:port syntax - use dash")
	default:
		return Errorf("Garbage after port value: `%s'", end)
	}
	maxPort, end, ok := tgStrtoul(arg)
	if !ok || maxPort > 0xFFFF {
		return Errorf("Port `%s' not valid", arg)
	}
	if maxPort < port {
		return Errorf("Port range `%s' funky", arg)
	}
	r.MinPort, r.MaxPort = uint16(port), uint16(maxPort)
	switch {
	case end == "":
		return nil
	case end[0] == '/':
		arg = end[1:]
	default:
		return Errorf("Garbage after port range: `%s'", end)
	}
	base, _, ok := tgStrtoul(arg)
	if !ok || base < 1 || base > 0xFFFF {
		p, found := natServicePort(arg)
		if !found {
			return Errorf("Port `%s' not valid", arg)
		}
		base = uint64(p)
	}
	r.Flags |= NATProtoOffset
	r.BasePort = uint16(base)
	return nil
}

// natInetPton is inet_pton for the family.
func natInetPton(s string, f ruleset.Family) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	if f == ruleset.IPv6 {
		return a, a.Is6()
	}
	return a, a.Is4()
}

// natParseTo parses [ADDR[-ADDR]][:PORT[-PORT[/BASE]]] (IPv6 addresses in
// brackets when ports follow) as libxt_NAT's parse_to.
func natParseTo(arg string, portOK bool, f ruleset.Family, r *NATRange) error {
	var start string
	colon := -1 // index in arg
	if i := strings.IndexByte(arg, '['); i < 0 {
		start = arg
		colon = strings.IndexByte(arg, ':')
		if colon >= 0 && strings.IndexByte(arg[colon+1:], ':') >= 0 {
			colon = -1
		}
	} else {
		rest := arg[i+1:]
		end := strings.IndexByte(rest, ']')
		if end < 0 || f == ruleset.IPv4 {
			return Errorf("Invalid address format")
		}
		start = rest[:end]
		endAbs := i + 1 + end
		if c := strings.IndexByte(arg[endAbs+1:], ':'); c >= 0 {
			colon = endAbs + 1 + c
		}
	}
	if colon >= 0 {
		if err := natParsePorts(arg[colon+1:], portOK, r); err != nil {
			return err
		}
		// Starts with a colon or "[]:": no address.
		if colon == 0 || colon == 2 {
			return nil
		}
		if !strings.Contains(arg, "[") {
			start = arg[:colon]
		}
	}
	r.Flags |= NATMapIPs
	lo, hi, dash := strings.Cut(start, "-")
	a, ok := natInetPton(lo, f)
	if !ok {
		return Errorf("Bad IP address \"%s\"", lo)
	}
	r.MinAddr, r.MaxAddr = a, a
	if dash {
		b, ok := natInetPton(hi, f)
		if !ok {
			return Errorf("Bad IP address \"%s\"", hi)
		}
		r.MaxAddr = b
	}
	return nil
}

// rangeString is libxt_NAT's sprint_range.
func (r *NATRange) rangeString(f ruleset.Family, lossless bool) string {
	var b strings.Builder
	brackets := f == ruleset.IPv6 && r.Flags&NATProtoSpecified != 0
	if r.Flags&NATMapIPs != 0 {
		if brackets {
			b.WriteByte('[')
		}
		b.WriteString(r.MinAddr.String())
		if r.MaxAddr != r.MinAddr {
			b.WriteString("-" + r.MaxAddr.String())
		}
		if brackets {
			b.WriteByte(']')
		}
	}
	if r.Flags&NATProtoSpecified != 0 {
		b.WriteString(":" + strconv.Itoa(int(r.MinPort)))
		if r.MaxPort != r.MinPort {
			b.WriteString("-" + strconv.Itoa(int(r.MaxPort)))
		}
		if r.Flags&NATProtoOffset != 0 {
			base := r.BasePort
			if r.NoBase && !lossless {
				base = 0
			}
			b.WriteString("/" + strconv.Itoa(int(base)))
		}
	}
	return b.String()
}

// write is libxt_NAT's __NAT_print.
func (r *NATRange) write(b *strings.Builder, fm ruleset.Fmt, rangeOpt, flagPfx string, skipColon bool) {
	if s := r.rangeString(fm.Family, fm.Lossless); s != "" {
		if skipColon && s[0] == ':' {
			s = s[1:]
		}
		b.WriteString(" " + rangeOpt + s)
	}
	if r.Flags&NATProtoRandom != 0 {
		b.WriteString(" " + flagPfx + "random")
	}
	if r.Flags&NATProtoRandomFull != 0 {
		b.WriteString(" " + flagPfx + "random-fully")
	}
	if r.Flags&NATPersistent != 0 {
		b.WriteString(" " + flagPfx + "persistent")
	}
}

// natFlag handles the flag options common to the NAT targets.
func natFlag(r *NATRange, opt string) {
	switch opt {
	case "random":
		r.Flags |= NATProtoRandom
	case "random-fully":
		r.Flags |= NATProtoRandomFull
	case "persistent":
		r.Flags |= NATPersistent
	}
}

// Snat is the SNAT target (-t nat, POSTROUTING and INPUT).
type Snat struct {
	Family ruleset.Family
	Range  NATRange
	set    bool
}

func init() {
	for _, f := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		fam := f
		Register(&Def{Name: "SNAT", Family: fam, Target: true,
			Options: []Option{{Name: "to-source", Arg: ReqArg}, {Name: "random"}, {Name: "random-fully"}, {Name: "persistent"}},
			New:     func() Parser { return &Snat{Family: fam} }})
	}
}

// Name implements ruleset.Extension.
func (t *Snat) Name() string { return "SNAT" }

// Parse implements Parser.
func (t *Snat) Parse(ctx *Context, opt, arg string, _ bool) error {
	if opt == "to-source" {
		t.set = true
		return natParseTo(arg, natPortOK(ctx), t.Family, &t.Range)
	}
	natFlag(&t.Range, opt)
	return nil
}

// Final implements Parser.
func (t *Snat) Final(ctx *Context) (ruleset.Extension, error) {
	if !t.set {
		return nil, Errorf("SNAT: option \"--to-source\" must be specified\n")
	}
	if err := tgKernelPlace(ctx, "nat", "POSTROUTING", "INPUT"); err != nil {
		return nil, err
	}
	t.Range.NoBase = true
	return t, nil
}

// Save implements ruleset.Extension.
func (t *Snat) Save(b *strings.Builder, f ruleset.Fmt) {
	t.Range.write(b, f, "--to-source ", "--", false)
}

// Print implements ruleset.Extension.
func (t *Snat) Print(b *strings.Builder, f ruleset.Fmt) {
	t.Range.write(b, f, "to:", "", false)
}
