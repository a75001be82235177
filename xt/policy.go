package xt

import (
	"net/netip"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Policy mode values.
const (
	PolicyTransport uint8 = 0
	PolicyTunnel    uint8 = 1
)

// PolicyElem is one element of an IPsec policy (between --next options).
// Addresses keep the host bits as given; masks are prefix lengths.
type PolicyElem struct {
	ReqID, SPI        uint32
	Proto, Mode       uint8
	TunnelSrc         netip.Prefix
	TunnelDst         netip.Prefix
	HasReqID, HasSPI  bool
	HasProto, HasMode bool
	HasSrc, HasDst    bool
	InvReqID, InvSPI  bool
	InvProto, InvMode bool
	InvSrc, InvDst    bool
}

func (e *PolicyElem) empty() bool {
	return !(e.HasReqID || e.HasSPI || e.HasSrc || e.HasDst || e.HasProto || e.HasMode)
}

// Policy is the policy match: IPsec policy used for decapsulation (--dir in)
// or to be used for encapsulation (--dir out).
type Policy struct {
	Out    bool // --dir out (else in)
	None   bool // --pol none (else ipsec)
	Strict bool
	Elems  []PolicyElem

	dirSet bool
	cur    PolicyElem
	n      int // elements closed by --next
	next   bool
}

func init() {
	Register(&Def{Name: "policy", New: func() Parser { return &Policy{} },
		Options: []Option{
			{Name: "dir", Arg: ReqArg},
			{Name: "pol", Arg: ReqArg},
			{Name: "strict"},
			{Name: "reqid", Arg: ReqArg, Invert: true, Multi: true},
			{Name: "spi", Arg: ReqArg, Invert: true, Multi: true},
			{Name: "tunnel-src", Arg: ReqArg, Invert: true, Multi: true},
			{Name: "tunnel-dst", Arg: ReqArg, Invert: true, Multi: true},
			{Name: "proto", Arg: ReqArg, Invert: true, Multi: true},
			{Name: "mode", Arg: ReqArg, Invert: true, Multi: true},
			{Name: "next", Multi: true},
		}})
}

// Name implements ruleset.Extension.
func (m *Policy) Name() string { return "policy" }

// Parse implements Parser.
func (m *Policy) Parse(ctx *Context, opt, arg string, inv bool) error {
	e := &m.cur
	double := func(has bool) error {
		if has {
			return Errorf("policy match: double --%s option", opt)
		}
		return nil
	}
	switch opt {
	case "dir":
		switch arg {
		case "in":
			m.dirSet = true
		case "out":
			m.dirSet, m.Out = true, true
		default:
			return Errorf("policy_match: invalid dir \"%s\"", arg)
		}
	case "pol":
		switch arg {
		case "none":
			m.None = true
		case "ipsec":
		default:
			return Errorf("policy match: invalid policy \"%s\"", arg)
		}
	case "strict":
		m.Strict = true
	case "reqid", "spi":
		v, ok := ParseUint(arg, 0, 1<<32-1)
		if !ok {
			return Errorf("policy: bad value for option \"--%s\", or out of range (0-4294967295).\n", opt)
		}
		if opt == "reqid" {
			if err := double(e.HasReqID); err != nil {
				return err
			}
			e.HasReqID, e.InvReqID, e.ReqID = true, inv, uint32(v)
		} else {
			if err := double(e.HasSPI); err != nil {
				return err
			}
			e.HasSPI, e.InvSPI, e.SPI = true, inv, uint32(v)
		}
	case "tunnel-src", "tunnel-dst":
		p, err := parseHostMask(arg, ctx.Family, "policy", opt)
		if err != nil {
			return err
		}
		if opt == "tunnel-src" {
			if err := double(e.HasSrc); err != nil {
				return err
			}
			e.HasSrc, e.InvSrc, e.TunnelSrc = true, inv, p
		} else {
			if err := double(e.HasDst); err != nil {
				return err
			}
			e.HasDst, e.InvDst, e.TunnelDst = true, inv, p
		}
	case "proto":
		if err := double(e.HasProto); err != nil {
			return err
		}
		p, err := parseProtoXT(arg)
		if err != nil {
			return err
		}
		if p != 51 && p != 50 && p != 108 {
			return Errorf("policy match: protocol must be ah/esp/ipcomp")
		}
		e.HasProto, e.InvProto, e.Proto = true, inv, p
	case "mode":
		if err := double(e.HasMode); err != nil {
			return err
		}
		switch arg {
		case "transport":
			e.Mode = PolicyTransport
		case "tunnel":
			e.Mode = PolicyTunnel
		default:
			return Errorf("policy match: invalid mode \"%s\"", arg)
		}
		e.HasMode, e.InvMode = true, inv
	case "next":
		m.next = true
		m.Elems = append(m.Elems, m.cur)
		m.cur = PolicyElem{}
		m.n++
		if m.n == 4 {
			return Errorf("policy match: maximum policy depth reached")
		}
	}
	return nil
}

// parseProtoXT is xtables_parse_protocol: a number, "all", or a name from
// /etc/protocols.
func parseProtoXT(s string) (uint8, error) {
	if v, ok := ParseUint(s, 0, 255); ok {
		return uint8(v), nil
	}
	if s == "all" {
		return 0, nil
	}
	if p, ok := ProtocolByName(strings.ToLower(s)); ok {
		return p, nil
	}
	return 0, Errorf("unknown protocol \"%s\" specified", s)
}

// inetAton parses an IPv4 address as inet_aton does: a, a.b, a.b.c or
// a.b.c.d with each part in C notation (decimal, 0x hex, 0 octal).
func inetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var vals []uint64
	for _, p := range parts {
		v, ok := ParseUint(p, 0, 1<<32-1)
		if !ok {
			return netip.Addr{}, false
		}
		vals = append(vals, v)
	}
	n := len(vals)
	for i := 0; i < n-1; i++ {
		if vals[i] > 255 {
			return netip.Addr{}, false
		}
	}
	if vals[n-1] >= 1<<(8*uint(5-n)) {
		return netip.Addr{}, false
	}
	var x uint32
	for i := 0; i < n-1; i++ {
		x |= uint32(vals[i]) << (24 - 8*uint(i))
	}
	x |= uint32(vals[n-1])
	return netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)}), true
}

// hostsLookup returns the first /etc/hosts address of name for the family.
func hostsLookup(name string, f ruleset.Family) (netip.Addr, bool) {
	var found netip.Addr
	ConfigFields("/etc/hosts", func(fs []string) bool {
		a, err := netip.ParseAddr(fs[0])
		if err != nil || a.Is4() != (f != ruleset.IPv6) {
			return false
		}
		for _, n := range fs[1:] {
			if n == name {
				found = a
				return true
			}
		}
		return false
	})
	return found, found.IsValid()
}

// parseHostMask is the x6 HOSTMASK type: HOST[/PLEN or /MASK], keeping the
// host bits (the address is not masked).
func parseHostMask(s string, f ruleset.Family, ext, opt string) (netip.Prefix, error) {
	host, mask, hasMask := strings.Cut(s, "/")
	bits := 32
	if f == ruleset.IPv6 {
		bits = 128
	}
	var a netip.Addr
	ok := false
	if f == ruleset.IPv6 {
		if p, err := netip.ParseAddr(host); err == nil && p.Is6() && p.Zone() == "" {
			a, ok = p, true
		}
	} else {
		a, ok = inetAton(host)
	}
	if !ok {
		a, ok = hostsLookup(host, f)
	}
	if !ok {
		return netip.Prefix{}, Errorf("getaddrinfo: Name or service not known\n")
	}
	plen := bits
	if hasMask {
		if v, ok := ParseUint(mask, 0, uint64(bits)); ok {
			plen = int(v)
		} else if m, ok := parseMaskAddr(mask, f); ok {
			if l, ok := maskLen(m); ok {
				plen = l
			}
		} else {
			return netip.Prefix{}, Errorf("%s: bad value for option \"--%s\", neither a valid network mask nor valid CIDR (0-%d).\n", ext, opt, bits)
		}
	}
	return netip.PrefixFrom(a, plen), nil
}

func parseMaskAddr(s string, f ruleset.Family) (netip.Addr, bool) {
	if f == ruleset.IPv6 {
		a, err := netip.ParseAddr(s)
		return a, err == nil && a.Is6()
	}
	return inetAton(s)
}

// maskLen returns the prefix length of a contiguous mask.
func maskLen(m netip.Addr) (int, bool) {
	b := m.AsSlice()
	n := 0
	seenZero := false
	for _, x := range b {
		for i := 7; i >= 0; i-- {
			if x&(1<<uint(i)) != 0 {
				if seenZero {
					return 0, false
				}
				n++
			} else {
				seenZero = true
			}
		}
	}
	return n, true
}

// Final implements Parser.
func (m *Policy) Final(ctx *Context) (ruleset.Extension, error) {
	if !m.dirSet {
		return nil, Errorf("policy match: neither --dir in nor --dir out specified")
	}
	if m.None {
		if m.Strict {
			return nil, Errorf("policy match: policy none but --strict given")
		}
		if m.n != 0 {
			return nil, Errorf("policy match: policy none but policy given")
		}
		m.Elems = nil
	} else {
		m.Elems = append(m.Elems, m.cur)
	}
	for i := range m.Elems {
		e := &m.Elems[i]
		if m.Strict && e.empty() {
			return nil, Errorf("policy match: empty policy element %d. --strict is in effect, but at least one of reqid, spi, tunnel-src, tunnel-dst, proto or mode is required.", i)
		}
		if (e.HasSrc || e.HasDst) && (e.Mode == PolicyTunnel) == e.InvMode {
			return nil, Errorf("policy match: --tunnel-src/--tunnel-dst is only valid in tunnel mode")
		}
	}
	if m.next && !m.Strict {
		return nil, Errorf("policy: option \"--next\" also requires \"--strict\".\n")
	}
	// xt_policy: no outbound policy in PREROUTING/INPUT, no inbound
	// policy in OUTPUT/POSTROUTING.
	if h, ok := xtChainHook(ctx); ok {
		if m.Out && (h == ruleset.PreRouting || h == ruleset.LocalIn) ||
			!m.Out && (h == ruleset.PostRouting || h == ruleset.LocalOut) {
			return nil, KernelInval()
		}
	}
	m.cur = PolicyElem{}
	return m, nil
}

func policyAddr(p netip.Prefix) string {
	s := p.Addr().String()
	if p.Bits() != p.Addr().BitLen() {
		s += "/" + Utoa(uint64(p.Bits()))
	}
	return s
}

func (m *Policy) write(b *strings.Builder, pre string, numeric, save bool) {
	if m.Out {
		b.WriteString(" " + pre + "dir out")
	} else {
		b.WriteString(" " + pre + "dir in")
	}
	if m.None {
		b.WriteString(" " + pre + "pol none")
	} else {
		b.WriteString(" " + pre + "pol ipsec")
	}
	if m.Strict {
		b.WriteString(" " + pre + "strict")
	}
	for i := range m.Elems {
		e := &m.Elems[i]
		if !save && len(m.Elems) > 1 {
			b.WriteString(" [" + Utoa(uint64(i)) + "]")
		}
		if e.HasReqID {
			b.WriteString(Bang(e.InvReqID) + " " + pre + "reqid " + Utoa(uint64(e.ReqID)))
		}
		if e.HasSPI {
			b.WriteString(Bang(e.InvSPI) + " " + pre + "spi " + Hex(uint64(e.SPI)))
		}
		if e.HasProto {
			b.WriteString(Bang(e.InvProto) + " " + pre + "proto ")
			name, ok := ProtocolName(e.Proto)
			if !numeric && ok {
				b.WriteString(name)
			} else {
				b.WriteString(Utoa(uint64(e.Proto)))
			}
		}
		if e.HasMode {
			b.WriteString(Bang(e.InvMode) + " " + pre + "mode ")
			if e.Mode == PolicyTunnel {
				b.WriteString("tunnel")
			} else {
				b.WriteString("transport")
			}
		}
		if e.HasDst {
			b.WriteString(Bang(e.InvDst) + " " + pre + "tunnel-dst " + policyAddr(e.TunnelDst))
		}
		if e.HasSrc {
			b.WriteString(Bang(e.InvSrc) + " " + pre + "tunnel-src " + policyAddr(e.TunnelSrc))
		}
		if save && i+1 < len(m.Elems) {
			b.WriteString(" --next")
		}
	}
}

// Save implements ruleset.Extension.
func (m *Policy) Save(b *strings.Builder, _ ruleset.Fmt) { m.write(b, "--", false, true) }

// Print implements ruleset.Extension.
func (m *Policy) Print(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(" policy match")
	m.write(b, "", f.Numeric, false)
}

// policyAddrEq is xt_addr_cmp on the nf_inet_addr unions: the rule's
// address and mask (the rule family's width) against a state address (an
// IPv4 state address fills the first 4 bytes of the union).
func policyAddrEq(p netip.Prefix, a netip.Addr, v6 bool) bool {
	union := func(x netip.Addr) (u [16]byte) {
		if x.Is4() {
			b := x.As4()
			copy(u[:], b[:])
			return
		}
		if x.IsValid() {
			u = x.As16()
		}
		return
	}
	r, s := union(p.Addr()), union(a)
	n := 4
	if v6 {
		n = 16
	}
	bits := p.Bits()
	for i := 0; i < n; i++ {
		var mask byte
		switch {
		case bits >= 8:
			mask = 0xff
		case bits > 0:
			mask = byte(0xff << (8 - bits))
		}
		bits -= 8
		if bits < 0 {
			bits = 0
		}
		if (r[i]^s[i])&mask != 0 {
			return false
		}
	}
	return true
}

func (e *PolicyElem) matches(x *pkt.XfrmState, v6 bool) bool {
	return (!e.HasSrc || policyAddrEq(e.TunnelSrc, x.Src, v6) != e.InvSrc) &&
		(!e.HasDst || policyAddrEq(e.TunnelDst, x.Dst, v6) != e.InvDst) &&
		(!e.HasProto || (e.Proto == x.Proto) != e.InvProto) &&
		(!e.HasMode || (e.Mode == x.Mode) != e.InvMode) &&
		(!e.HasSPI || (e.SPI == x.SPI) != e.InvSPI) &&
		(!e.HasReqID || (e.ReqID == x.ReqID) != e.InvReqID)
}

// Match implements pkt.Matcher as xt_policy's policy_mt does, with the
// packet's IPsec states from c.Facts: --dir in walks the sec_path from the
// last state back, --dir out the dst bundle; without --strict one element
// matching one state is enough, with it the elements must match the
// states one to one. No states at all: only --pol none matches.
func (m *Policy) Match(c *pkt.Ctx) bool {
	if c.Facts == nil {
		return c.Undecide("policy: the packet's IPsec states are unknown")
	}
	states, has, ok := c.Facts.Xfrm(m.Out)
	if !ok {
		return c.Undecide("policy: the packet's IPsec states are unknown")
	}
	v6 := c.P.Family == ruleset.IPv6
	n := len(m.Elems)
	ret := 0
	switch {
	case m.Out && len(states) == 0, !m.Out && !has:
		ret = -1
	case !m.Out:
		if m.Strict && n != len(states) {
			break
		}
		ret = 0
		if m.Strict {
			ret = 1
		}
		for i := len(states) - 1; i >= 0; i-- {
			pos := 0
			if m.Strict {
				pos = i - len(states) + 1
			}
			if pos >= n {
				ret = 0
				break
			}
			if pos < 0 {
				// xt_policy indexes pol[i - sp->len + 1]: below 0
				// for a strict rule with more than one state.
				return c.Undecide("policy: the kernel reads before its policy array (--strict with several states)")
			}
			if m.Elems[pos].matches(&states[i], v6) {
				if !m.Strict {
					ret = 1
					break
				}
			} else if m.Strict {
				ret = 0
				break
			}
		}
	default:
		i := 0
		done := false
		for ; i < len(states); i++ {
			pos := 0
			if m.Strict {
				pos = i
			}
			if pos >= n {
				done = true
				break
			}
			if m.Elems[pos].matches(&states[i], v6) {
				if !m.Strict {
					ret, done = 1, true
					break
				}
			} else if m.Strict {
				done = true
				break
			}
		}
		if !done && m.Strict && i == n {
			ret = 1
		}
	}
	if ret < 0 {
		return m.None
	}
	return !m.None && ret == 1
}
