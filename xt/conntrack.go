package xt

import (
	"net/netip"
	"strings"
	"time"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Conntrack state bits beyond those of the state match (see state.go).
const (
	StateSNAT uint8 = 1 << 5
	StateDNAT uint8 = 1 << 6
)

// Conntrack status bits (IPS_*), as --ctstatus names them.
const (
	CtStatusExpected  uint8 = 1 << 0
	CtStatusSeenReply uint8 = 1 << 1
	CtStatusAssured   uint8 = 1 << 2
	CtStatusConfirmed uint8 = 1 << 3
)

// Conntrack match flags: which conditions a ConntrackMatch has (Flags) and
// which of them are inverted (Inv).
const (
	CtState uint16 = 1 << iota
	CtProto
	CtOrigSrc
	CtOrigDst
	CtReplSrc
	CtReplDst
	CtStatus
	CtExpires
	CtOrigSrcPort
	CtOrigDstPort
	CtReplSrcPort
	CtReplDstPort
	CtDirection // in Inv: REPLY rather than ORIGINAL
)

// CtAddr is a conntrack match address: as given (not masked) with a prefix
// length.
type CtAddr struct {
	Addr netip.Addr
	Bits uint8
}

// ConntrackMatch is the conntrack match, revision 3 (the one iptables
// 1.8.9 uses): conditions on the connection's state, status, protocol,
// original and reply tuples, remaining lifetime and the packet's direction.
type ConntrackMatch struct {
	Flags, Inv uint16
	States     uint8 // State* bits
	Status     uint8 // CtStatus* bits
	Proto      uint8
	// OrigSrc, OrigDst, ReplSrc, ReplDst are the tuple addresses.
	OrigSrc, OrigDst, ReplSrc, ReplDst CtAddr
	// OrigSrcPort ... ReplDstPort are port ranges; Hi 0 means Lo only.
	OrigSrcPort, OrigDstPort, ReplSrcPort, ReplDstPort PortRange
	ExpiresMin, ExpiresMax                             uint32
	Family                                             ruleset.Family
}

func init() {
	inv := func(n string) Option { return Option{Name: n, Arg: ReqArg, Invert: true} }
	Register(&Def{Name: "conntrack", New: func() Parser { return &ConntrackMatch{} },
		Options: []Option{
			inv("ctstate"), inv("ctproto"), inv("ctorigsrc"), inv("ctorigdst"), inv("ctreplsrc"),
			inv("ctrepldst"), inv("ctstatus"), inv("ctexpire"), inv("ctorigsrcport"),
			inv("ctorigdstport"), inv("ctreplsrcport"), inv("ctrepldstport"),
			{Name: "ctdir", Arg: ReqArg},
		}})
}

// Name implements ruleset.Extension.
func (m *ConntrackMatch) Name() string { return "conntrack" }

var ctStateNames = []struct {
	name string
	bit  uint8
}{{"INVALID", StateInvalid}, {"NEW", StateNew}, {"ESTABLISHED", StateEstablished}, {"RELATED", StateRelated},
	{"UNTRACKED", StateUntracked}, {"SNAT", StateSNAT}, {"DNAT", StateDNAT}}

var ctStatusNames = []struct {
	name string
	bit  uint8
}{{"NONE", 0}, {"EXPECTED", CtStatusExpected}, {"SEEN_REPLY", CtStatusSeenReply},
	{"ASSURED", CtStatusAssured}, {"CONFIRMED", CtStatusConfirmed}}

// ctPrefixOf is strncasecmp(tok, name, len(tok)) == 0.
func ctPrefixOf(tok, name string) bool {
	return len(tok) <= len(name) && strings.EqualFold(tok, name[:len(tok)])
}

// ctParseList parses a comma-separated list of (abbreviable,
// case-insensitive) names as libxt_conntrack does, with its messages.
func ctParseList(arg, what string, names []struct {
	name string
	bit  uint8
}) (uint8, error) {
	var v uint8
	lookup := func(tok string) bool {
		for _, n := range names {
			if ctPrefixOf(tok, n.name) {
				v |= n.bit
				return true
			}
		}
		return false
	}
	for {
		i := strings.IndexByte(arg, ',')
		if i < 0 {
			break
		}
		if i == 0 || !lookup(arg[:i]) {
			return 0, Errorf("Bad %s \"%s\"", what, arg)
		}
		arg = arg[i+1:]
	}
	if arg == "" || !lookup(arg) {
		return 0, Errorf("Bad %s \"%s\"", what, arg)
	}
	return v, nil
}

// Parse implements Parser.
func (m *ConntrackMatch) Parse(ctx *Context, opt, arg string, inv bool) error {
	var flag uint16
	var err error
	switch opt {
	case "ctstate":
		flag = CtState
		m.States, err = ctParseList(arg, "ctstate", ctStateNames)
	case "ctproto":
		flag = CtProto
		m.Proto, err = ctParseProto(arg)
	case "ctorigsrc":
		flag = CtOrigSrc
		m.OrigSrc, err = ParseHostMask("conntrack", opt, arg, ctx.Family)
	case "ctorigdst":
		flag = CtOrigDst
		m.OrigDst, err = ParseHostMask("conntrack", opt, arg, ctx.Family)
	case "ctreplsrc":
		flag = CtReplSrc
		m.ReplSrc, err = ParseHostMask("conntrack", opt, arg, ctx.Family)
	case "ctrepldst":
		flag = CtReplDst
		m.ReplDst, err = ParseHostMask("conntrack", opt, arg, ctx.Family)
	case "ctstatus":
		flag = CtStatus
		m.Status, err = ctParseList(arg, "ctstatus", ctStatusNames)
	case "ctexpire":
		flag = CtExpires
		var vals []uint64
		if vals, err = ParseUintRangeOpt("conntrack", opt, arg, 0xFFFFFFFF); err == nil {
			m.ExpiresMin, m.ExpiresMax = uint32(vals[0]), uint32(vals[0])
			if len(vals) >= 2 {
				m.ExpiresMax = uint32(vals[1])
			}
		}
	case "ctorigsrcport", "ctorigdstport", "ctreplsrcport", "ctrepldstport":
		var r PortRange
		if r, err = ctPortRangeRC("conntrack", opt, arg); err != nil {
			return err
		}
		switch opt {
		case "ctorigsrcport":
			flag, m.OrigSrcPort = CtOrigSrcPort, r
		case "ctorigdstport":
			flag, m.OrigDstPort = CtOrigDstPort, r
		case "ctreplsrcport":
			flag, m.ReplSrcPort = CtReplSrcPort, r
		default:
			flag, m.ReplDstPort = CtReplDstPort, r
		}
	case "ctdir":
		switch {
		case strings.EqualFold(arg, "ORIGINAL"):
			m.Inv &^= CtDirection
		case strings.EqualFold(arg, "REPLY"):
			m.Inv |= CtDirection
		default:
			return Errorf("conntrack: Bad value for \"--ctdir\" option: \"%s\"", arg)
		}
		m.Flags |= CtDirection
		return nil
	}
	if err != nil {
		return err
	}
	m.Flags |= flag
	if inv {
		m.Inv |= flag
	}
	return nil
}

// ctParseProto is xtables_parse_protocol: a number 0-255, "all", a name
// from /etc/protocols or one of iptables' built-in names.
func ctParseProto(s string) (uint8, error) {
	if v, rest, ok := StrtoulX(s); ok && rest == "" && v <= 255 {
		return uint8(v), nil
	}
	if s == "all" {
		return 0, nil
	}
	if n, ok := ProtocolByName(s); ok {
		return n, nil
	}
	for _, p := range []struct {
		name string
		num  uint8
	}{{"tcp", 6}, {"sctp", 132}, {"udp", 17}, {"udplite", 136}, {"icmp", 1}, {"icmpv6", 58},
		{"ipv6-icmp", 58}, {"esp", 50}, {"ah", 51}, {"ipv6-mh", 135}, {"mh", 135}} {
		if p.name == s {
			return p.num, nil
		}
	}
	return 0, Errorf("unknown protocol \"%s\" specified", s)
}

// Final implements Parser.
func (m *ConntrackMatch) Final(ctx *Context) (ruleset.Extension, error) {
	if m.Flags == 0 {
		return nil, Errorf("conntrack: At least one option is required")
	}
	m.Family = ctx.Family
	return m, nil
}

// ParseUintRangeOpt parses an x6 range option (XTTYPE_UINT32RC,
// UINT64RC): up to two ':'-separated numbers, an empty first one meaning 0
// and an empty second one max. It returns the values given (one or two).
func ParseUintRangeOpt(ext, opt, arg string, max uint64) ([]uint64, error) {
	var vals []uint64
	s := arg
	for {
		if len(vals) == 2 {
			return nil, Errorf("%s: Too many components for option \"--%s\" (max: 2)\n", ext, opt)
		}
		var v uint64
		rest := s
		if s != "" && s[0] != ':' {
			var ok bool
			v, rest, ok = StrtoulX(s)
			if !ok || v > max {
				return nil, Errorf("%s: bad value for option \"--%s\" near \"%s\", or out of range (0-%d).\n", ext, opt, s, max)
			}
			if rest != "" && rest[0] != ':' {
				return nil, Errorf("%s: Argument to \"--%s\" has unexpected characters near \"%s\".\n", ext, opt, rest)
			}
		} else if len(vals) == 1 {
			v = max
		}
		vals = append(vals, v)
		if rest == "" {
			break
		}
		s = rest[1:]
	}
	return vals, nil
}

// ctPortByName is libxtables' xtables_getportbyname, which asks
// getaddrinfo for a service: a decimal number (taken modulo 2^16; a
// negative int32 falls through to the name lookup), else a tcp or udp
// service name.
func ctPortByName(s string) (uint16, bool) {
	i := 0
	for i < len(s) && isSpaceC(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	j := i
	var v uint64
	overflow := false
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		d := uint64(s[j] - '0')
		if v > (^uint64(0)-d)/10 {
			overflow = true
		}
		v = v*10 + d
		j++
	}
	numeric := j > i && j == len(s) || s == ""
	if numeric {
		if overflow {
			v = ^uint64(0)
		} else if neg {
			v = -v
		}
		if n := int32(uint32(v)); n >= 0 {
			return uint16(n), true
		}
	}
	for _, proto := range []string{"tcp", "udp"} {
		if p, ok := ServicePort(s, proto); ok {
			return p, true
		}
	}
	return 0, false
}

// ctPortRangeRC parses XTTYPE_PORTRC: PORT[:PORT], either side may be
// empty (0, 65535).
func ctPortRangeRC(ext, opt, arg string) (PortRange, error) {
	r := PortRange{0, 0xFFFF}
	n := 0
	for _, p := range strings.Split(arg, ":") {
		if n == 2 {
			return r, Errorf("%s: Too many components for option \"--%s\" (max: 2)\n", ext, opt)
		}
		if p != "" {
			v, ok := ctPortByName(p)
			if !ok {
				return r, Errorf("Port \"%s\" does not resolve to anything.\n", p)
			}
			if n == 0 {
				r.Lo = v
			} else {
				r.Hi = v
			}
		}
		n++
	}
	if n == 1 {
		r.Hi = r.Lo
	}
	return r, nil
}

// ctInetAton parses an IPv4 address as glibc's inet_aton (exact): one to
// four numbers (decimal, 0 octal or 0x hex), the last filling the rest.
func ctInetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var vals []uint64
	for _, p := range parts {
		if p == "" || p[0] == '+' || p[0] == '-' || isSpaceC(p[0]) {
			return netip.Addr{}, false
		}
		v, rest, ok := StrtoulX(p)
		if !ok || rest != "" {
			return netip.Addr{}, false
		}
		vals = append(vals, v)
	}
	var out uint64
	n := len(vals)
	for k, v := range vals[:n-1] {
		if v > 255 {
			return netip.Addr{}, false
		}
		out |= v << (8 * (3 - k))
	}
	if vals[n-1] > (uint64(1)<<(8*(5-n)))-1 {
		return netip.Addr{}, false
	}
	out |= vals[n-1]
	return netip.AddrFrom4([4]byte{byte(out >> 24), byte(out >> 16), byte(out >> 8), byte(out)}), true
}

// ctNumericHost parses a numeric address of either family as
// getaddrinfo does.
func ctNumericHost(s string) (netip.Addr, bool) {
	if a, ok := ctInetAton(s); ok {
		return a, true
	}
	if strings.Contains(s, ":") {
		if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// CtHostsFile is the hosts file consulted for host names in the conntrack
// match (there is no DNS lookup).
var CtHostsFile = "/etc/hosts"

// ctHosts calls fn for each line of the hosts file (address, names) until
// fn returns true.
func ctHosts(fn func(addr netip.Addr, names []string) bool) {
	ConfigFields(CtHostsFile, func(fs []string) bool {
		a, err := netip.ParseAddr(fs[0])
		return err == nil && fn(a.Unmap(), fs[1:])
	})
}

// ParseHostMask parses ADDR[/MASK] as libxtables' XTTYPE_HOSTMASK: ADDR a
// numeric address or a host name resolving to one address, MASK a prefix
// length or a netmask. The address is kept unmasked.
func ParseHostMask(ext, opt, arg string, f ruleset.Family) (CtAddr, error) {
	host, mask, hasMask := strings.Cut(arg, "/")
	a, err := ctParseHost(host, f)
	if err != nil {
		return CtAddr{}, err
	}
	bits := uint8(f.AddrBits())
	if hasMask {
		if bits, err = ParsePlenMask(ext, opt, mask, f); err != nil {
			return CtAddr{}, err
		}
	}
	return CtAddr{a, bits}, nil
}

func ctParseHost(host string, f ruleset.Family) (netip.Addr, error) {
	if a, ok := ctNumericHost(host); ok {
		if a.Is4() != (f == ruleset.IPv4) {
			return a, Errorf("getaddrinfo: Address family for hostname not supported\n")
		}
		return a, nil
	}
	var found []netip.Addr
	ctHosts(func(a netip.Addr, names []string) bool {
		if a.Is4() != (f == ruleset.IPv4) {
			return false
		}
		for _, n := range names {
			if strings.EqualFold(n, host) {
				found = append(found, a)
				break
			}
		}
		return false
	})
	if len(found) > 0 {
		for _, a := range found[1:] {
			if a != found[0] {
				return found[0], Errorf("%s resolves to more than one address\n", host)
			}
		}
		return found[0], nil
	}
	valid := host != ""
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			valid = false
		}
	}
	if !valid {
		return netip.Addr{}, Errorf("getaddrinfo: Name or service not known\n")
	}
	return netip.Addr{}, Errorf("getaddrinfo: Temporary failure in name resolution\n")
}

// ParsePlenMask parses a prefix length (0-32 or 0-128) or, failing that, a
// numeric netmask, as libxtables' XTTYPE_PLENMASK; a netmask that is not a
// prefix yields the full length, as in libxtables 1.8.9.
func ParsePlenMask(ext, opt, arg string, f ruleset.Family) (uint8, error) {
	max := uint64(f.AddrBits())
	if v, rest, ok := StrtoulX(arg); ok && rest == "" && v <= max {
		return uint8(v), nil
	}
	if a, ok := ctNumericHost(arg); ok && a.Is4() == (f == ruleset.IPv4) {
		am := ruleset.AddrMask{Addr: a, Mask: a}
		if n := am.Bits(); n >= 0 {
			return uint8(n), nil
		}
		return uint8(max), nil
	}
	return 0, Errorf("%s: bad value for option \"--%s\", neither a valid network mask nor valid CIDR (0-%d).\n", ext, opt, max)
}

func ctWriteAddr(b *strings.Builder, a CtAddr, f ruleset.Family, numeric bool) {
	if !numeric && (!a.Addr.IsValid() || a.Addr.IsUnspecified()) {
		b.WriteString(" anywhere")
		return
	}
	b.WriteString(" ")
	name := ""
	if !numeric {
		ctHosts(func(h netip.Addr, names []string) bool {
			if h == a.Addr {
				name = names[0]
				return true
			}
			return false
		})
	}
	if name == "" {
		name = a.Addr.String()
	}
	b.WriteString(name)
	if int(a.Bits) != f.AddrBits() {
		b.WriteString("/" + Utoa(uint64(a.Bits)))
	}
}

func ctWritePorts(b *strings.Builder, pfx, name string, r PortRange) {
	b.WriteString(" " + pfx + name + " " + Utoa(uint64(r.Lo)))
	if r.Hi != 0 && r.Lo != r.Hi {
		b.WriteString(":" + Utoa(uint64(r.Hi)))
	}
}

func (m *ConntrackMatch) dump(b *strings.Builder, pfx string, numeric bool) {
	bang := func(flag uint16) {
		if m.Inv&flag != 0 {
			b.WriteString(" !")
		}
	}
	if m.Flags&CtState != 0 {
		bang(CtState)
		s := StatesString(m.States & 0x1F)
		for _, x := range []struct {
			bit  uint8
			name string
		}{{StateSNAT, "SNAT"}, {StateDNAT, "DNAT"}} {
			if m.States&x.bit != 0 {
				if s != "" {
					s += ","
				}
				s += x.name
			}
		}
		b.WriteString(" " + pfx + "ctstate " + s)
	}
	if m.Flags&CtProto != 0 {
		bang(CtProto)
		b.WriteString(" " + pfx + "ctproto " + Utoa(uint64(m.Proto)))
	}
	for _, x := range []struct {
		flag uint16
		name string
		a    CtAddr
	}{{CtOrigSrc, "ctorigsrc", m.OrigSrc}, {CtOrigDst, "ctorigdst", m.OrigDst},
		{CtReplSrc, "ctreplsrc", m.ReplSrc}, {CtReplDst, "ctrepldst", m.ReplDst}} {
		if m.Flags&x.flag != 0 {
			bang(x.flag)
			b.WriteString(" " + pfx + x.name)
			ctWriteAddr(b, x.a, m.Family, numeric)
		}
	}
	for _, x := range []struct {
		flag uint16
		name string
		r    PortRange
	}{{CtOrigSrcPort, "ctorigsrcport", m.OrigSrcPort}, {CtOrigDstPort, "ctorigdstport", m.OrigDstPort},
		{CtReplSrcPort, "ctreplsrcport", m.ReplSrcPort}, {CtReplDstPort, "ctrepldstport", m.ReplDstPort}} {
		if m.Flags&x.flag != 0 {
			bang(x.flag)
			ctWritePorts(b, pfx, x.name, x.r)
		}
	}
	if m.Flags&CtStatus != 0 {
		bang(CtStatus)
		b.WriteString(" " + pfx + "ctstatus ")
		if m.Status == 0 {
			b.WriteString("NONE")
		} else {
			sep := ""
			for _, n := range ctStatusNames[1:] {
				if m.Status&n.bit != 0 {
					b.WriteString(sep + n.name)
					sep = ","
				}
			}
		}
	}
	if m.Flags&CtExpires != 0 {
		bang(CtExpires)
		b.WriteString(" " + pfx + "ctexpire " + Utoa(uint64(m.ExpiresMin)))
		if m.ExpiresMax != m.ExpiresMin {
			b.WriteString(":" + Utoa(uint64(m.ExpiresMax)))
		}
	}
	if m.Flags&CtDirection != 0 {
		if m.Inv&CtDirection != 0 {
			b.WriteString(" " + pfx + "ctdir REPLY")
		} else {
			b.WriteString(" " + pfx + "ctdir ORIGINAL")
		}
	}
}

// Save implements ruleset.Extension.
func (m *ConntrackMatch) Save(b *strings.Builder, _ ruleset.Fmt) { m.dump(b, "--", true) }

// Print implements ruleset.Extension.
func (m *ConntrackMatch) Print(b *strings.Builder, f ruleset.Fmt) { m.dump(b, "", f.Numeric) }

// ctAddrMatch is conntrack_addrcmp: the tuple address equals the rule's
// address under the rule's prefix mask (the address is stored unmasked, as
// the kernel keeps it).
func ctAddrMatch(a netip.Addr, r CtAddr) bool {
	if !a.IsValid() || a.Is4() != r.Addr.Is4() {
		return false
	}
	if a.Is4() {
		x, y := a.As4(), r.Addr.As4()
		return maskedEqual(x[:], y[:], int(r.Bits))
	}
	x, y := a.As16(), r.Addr.As16()
	return maskedEqual(x[:], y[:], int(r.Bits))
}

// maskedEqual compares the first bits bits of a and b.
func maskedEqual(a, b []byte, bits int) bool {
	for i := range a {
		n := bits - 8*i
		if n <= 0 {
			return true
		}
		m := byte(0xFF)
		if n < 8 {
			m = byte(0xFF) << (8 - n)
		}
		if (a[i]^b[i])&m != 0 {
			return false
		}
	}
	return true
}

// ctJiffy is one jiffy at HZ=250, the unit of ct->timeout.
const ctJiffy = int64(time.Second / 250)

// ctExpiresSecs is nf_ct_expires(ct) / HZ: the whole seconds left, counted
// in jiffies as the kernel does. The entry's deadline and the packet's time
// are turned into jiffies at HZ=250 counted from the Unix epoch (the
// kernel's jiffies have an arbitrary phase; conntrack timeouts are whole
// seconds, so the deadline falls on the same jiffy boundary as its
// refresh).
func ctExpiresSecs(c *pkt.Ctx) uint64 {
	left := c.Conn.Expires
	if left <= 0 {
		return 0
	}
	now := c.Now.UnixNano()
	j := floorDiv(now+int64(left), ctJiffy) - floorDiv(now, ctJiffy)
	if j <= 0 {
		return 0
	}
	return uint64(j) / 250
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// Match implements pkt.Matcher as the kernel's conntrack_mt (revision 3)
// does. Without conntrack (untracked or invalid), only a rule with
// --ctstate can match, by its state test.
func (m *ConntrackMatch) Match(c *pkt.Ctx) bool {
	ct := c.Conn
	var statebit uint8
	switch {
	case ct != nil:
		statebit = c.CTState
	case c.CTState == pkt.CTUntracked:
		statebit = StateUntracked
	default:
		statebit = StateInvalid
	}
	has := func(f uint16) bool { return m.Flags&f != 0 }
	inv := func(f uint16) bool { return m.Inv&f != 0 }
	if has(CtState) {
		if ct != nil {
			if ct.Status&ipsSrcNAT != 0 {
				statebit |= StateSNAT
			}
			if ct.Status&ipsDstNAT != 0 {
				statebit |= StateDNAT
			}
		}
		if (m.States&statebit != 0) == inv(CtState) {
			return false
		}
	}
	if ct == nil {
		return has(CtState)
	}
	if has(CtDirection) && (c.CTDir == 0) == inv(CtDirection) {
		return false
	}
	if has(CtOrigSrc) && ctAddrMatch(ct.Orig.Src, m.OrigSrc) == inv(CtOrigSrc) {
		return false
	}
	if has(CtOrigDst) && ctAddrMatch(ct.Orig.Dst, m.OrigDst) == inv(CtOrigDst) {
		return false
	}
	if has(CtReplSrc) && ctAddrMatch(ct.Reply.Src, m.ReplSrc) == inv(CtReplSrc) {
		return false
	}
	if has(CtReplDst) && ctAddrMatch(ct.Reply.Dst, m.ReplDst) == inv(CtReplDst) {
		return false
	}
	// ct_proto_port_check_v3
	if has(CtProto) && (ct.Orig.Proto == m.Proto) == inv(CtProto) {
		return false
	}
	if has(CtOrigSrcPort) && inRange(ct.Orig.SrcPort, m.OrigSrcPort) == inv(CtOrigSrcPort) {
		return false
	}
	if has(CtOrigDstPort) && inRange(ct.Orig.DstPort, m.OrigDstPort) == inv(CtOrigDstPort) {
		return false
	}
	if has(CtReplSrcPort) && inRange(ct.Reply.SrcPort, m.ReplSrcPort) == inv(CtReplSrcPort) {
		return false
	}
	if has(CtReplDstPort) && inRange(ct.Reply.DstPort, m.ReplDstPort) == inv(CtReplDstPort) {
		return false
	}
	if has(CtStatus) && (uint32(m.Status)&ct.Status != 0) == inv(CtStatus) {
		return false
	}
	if has(CtExpires) {
		e := ctExpiresSecs(c)
		if (e >= uint64(m.ExpiresMin) && e <= uint64(m.ExpiresMax)) == inv(CtExpires) {
			return false
		}
	}
	return true
}

// Conntrack status bits the matches read (IPS_*, as package conntrack
// defines them).
const (
	ipsExpected  uint32 = 1 << 0
	ipsConfirmed uint32 = 1 << 3
	ipsSrcNAT    uint32 = 1 << 4
	ipsDstNAT    uint32 = 1 << 5
)
