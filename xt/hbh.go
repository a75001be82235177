package xt

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// IP6OptsMax is IP6T_OPTS_OPTSNR: how many options --hbh-opts/--dst-opts
// may list.
const IP6OptsMax = 16

// IP6Opts is the IPv6 hbh match (-m hbh: the hop-by-hop options header)
// and, with Dst set, the dst match (-m dst: the destination options
// header); both are ip6t_hbh in the kernel (struct ip6t_opts).
type IP6Opts struct {
	Dst    bool   // dst rather than hbh
	Len    uint32 // --*-len: the header's total length in bytes
	HasLen bool
	InvLen bool
	// HasOpts is set by --*-opts; Opts holds each option as type<<8 |
	// length (length 0xFF: any).
	HasOpts bool
	NOpts   uint8
	Opts    [IP6OptsMax]uint16
}

func init() {
	Register(&Def{Name: "hbh", Family: ruleset.IPv6, New: func() Parser { return &IP6Opts{} },
		Options: []Option{
			{Name: "hbh-len", Arg: ReqArg, Invert: true},
			{Name: "hbh-opts", Arg: ReqArg},
		}})
}

// Name implements ruleset.Extension.
func (m *IP6Opts) Name() string {
	if m.Dst {
		return "dst"
	}
	return "hbh"
}

// ip6OptsNum is libip6t_hbh/dst's parse_opts_num: strtoul with base 0 on
// the whole word, with their messages.
func (m *IP6Opts) num(s, what string) (uint64, error) {
	v, rest, ok := portStrtoul(s, 0)
	if !ok {
		if v == ^uint64(0) {
			return 0, Errorf("%s `%s' specified too big: would overflow", what, s)
		}
		return 0, Errorf("%s: no valid digits in %s `%s'", m.Name(), what, s)
	}
	if s != "" && rest != "" {
		return 0, Errorf("%s: error parsing %s `%s'", m.Name(), what, s)
	}
	return v, nil
}

// parseOpts is libip6t_hbh/dst's parse_options: TYPE[:LEN][,...], at
// most 16 entries, the last one without a length.
func (m *IP6Opts) parseOpts(arg string) error {
	cp, more := arg, true
	i := 0
	for ; more && i < IP6OptsMax; i++ {
		item := cp
		if j := strings.IndexByte(cp, ','); j >= 0 {
			item, cp = cp[:j], cp[j+1:]
		} else {
			more = false
		}
		typ, length, hasLen := strings.Cut(item, ":")
		if hasLen && i == IP6OptsMax-1 {
			return Errorf("too many ports specified")
		}
		v, err := m.num(typ, "opt")
		if err != nil {
			return err
		}
		o := uint16(v&0xFF) << 8
		if hasLen {
			if o == 0 {
				if m.Dst {
					return Errorf("PAD0 hasn't got length")
				}
				return Errorf("PAD0 has not got length")
			}
			l, err := m.num(length, "length")
			if err != nil {
				return err
			}
			o |= uint16(l & 0xFF)
		} else {
			o |= 0xFF
		}
		m.Opts[i] = o
	}
	if more {
		return Errorf("too many addresses specified")
	}
	m.NOpts = uint8(i)
	m.HasOpts = true
	return nil
}

// Parse implements Parser.
func (m *IP6Opts) Parse(_ *Context, opt, arg string, inv bool) error {
	if strings.HasSuffix(opt, "-len") {
		v, err := ParseOptUint(m.Name(), opt, arg, 0, 0xFFFFFFFF)
		if err != nil {
			return err
		}
		m.Len, m.HasLen, m.InvLen = uint32(v), true, inv
		return nil
	}
	return m.parseOpts(arg)
}

// Final implements Parser.
func (m *IP6Opts) Final(*Context) (ruleset.Extension, error) { return m, nil }

func (m *IP6Opts) writeOpts(b *strings.Builder) {
	for i := 0; i < int(m.NOpts); i++ {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(Utoa(uint64(m.Opts[i] >> 8)))
		if l := m.Opts[i] & 0xFF; l != 0xFF {
			b.WriteString(":" + Utoa(uint64(l)))
		}
	}
}

// Save implements ruleset.Extension.
func (m *IP6Opts) Save(b *strings.Builder, _ ruleset.Fmt) {
	if m.HasLen {
		b.WriteString(Bang(m.InvLen) + " --" + m.Name() + "-len " + Utoa(uint64(m.Len)))
	}
	if m.HasOpts {
		b.WriteString(" --" + m.Name() + "-opts")
	}
	m.writeOpts(b)
}

// Print implements ruleset.Extension.
func (m *IP6Opts) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" " + m.Name())
	if m.HasLen {
		b.WriteString(" length:" + BangL(m.InvLen) + Utoa(uint64(m.Len)))
	}
	if m.HasOpts {
		b.WriteString(" opts")
	}
	m.writeOpts(b)
}

// Match implements pkt.Matcher as ip6t_hbh's hbh_mt6 does: the first
// hop-by-hop (or destination) options header ipv6_find_hdr finds (none:
// no match; a malformed chain: hotdrop), its total length against
// --*-len, and with --*-opts the options in order ("strict": the first
// NOpts options must be those types, with those lengths where given).
func (m *IP6Opts) Match(c *pkt.Ctx) bool {
	raw := c.P.Raw
	if c.P.Family != ruleset.IPv6 || len(raw) < 40 {
		return false
	}
	target := pkt.ProtoHopOpts
	if m.Dst {
		target = pkt.ProtoDstOpts
	}
	off, _, _, err := xtkFindHdr6(raw, target, false)
	if err != 0 {
		if err != xtkENOENT {
			c.DropNow = true
		}
		return false
	}
	if off+2 > len(raw) {
		c.DropNow = true
		return false
	}
	skbLen := uint32(len(raw))
	ptr := uint32(off)
	hdrlen := (uint32(raw[off+1]) + 1) << 3
	if skbLen-ptr < hdrlen {
		return false
	}
	ret := !m.HasLen || (m.Len == hdrlen) != m.InvLen
	if !m.HasOpts {
		return ret
	}
	ptr += 2
	hdrlen -= 2
	n := uint32(m.NOpts)
	temp := uint32(0)
	for ; temp < n; temp++ {
		if hdrlen < 1 || ptr >= skbLen {
			break
		}
		tp := raw[ptr]
		if uint16(tp) != m.Opts[temp]>>8 {
			return false
		}
		var optlen uint32
		if tp != 0 {
			if hdrlen < 2 || ptr+1 >= skbLen {
				break
			}
			lp := raw[ptr+1]
			if spec := m.Opts[temp] & 0xFF; spec != 0xFF && spec != uint16(lp) {
				return false
			}
			optlen = uint32(lp) + 2
		} else {
			optlen = 1
		}
		if (ptr > skbLen-optlen || hdrlen < optlen) && temp < n-1 {
			break
		}
		ptr += optlen
		hdrlen -= optlen
	}
	return temp == n && ret
}

// ip6Ntop formats an IPv6 address as glibc's inet_ntop does (an
// IPv4-compatible address keeps its dotted quad).
func ip6Ntop(a netip.Addr) string {
	b := a.As16()
	if binary.BigEndian.Uint64(b[0:8]) == 0 && binary.BigEndian.Uint16(b[8:10]) == 0 &&
		binary.BigEndian.Uint16(b[10:12]) == 0 && binary.BigEndian.Uint16(b[12:14]) != 0 {
		return "::" + netip.AddrFrom4([4]byte(b[12:16])).String()
	}
	return netip.AddrFrom16(b).String()
}
