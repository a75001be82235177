package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Multiport directions (xt_multiport flags).
const (
	MultiportSource uint8 = 1
	MultiportDest   uint8 = 2
	MultiportEither uint8 = 3
)

// MultiportMax is the most port slots a multiport match has (a range takes
// two).
const MultiportMax = 15

// Multiport is the multiport match, revision 1 (the one iptables 1.8.9
// uses): up to 15 ports or port ranges, for source, destination or either.
type Multiport struct {
	Dir   uint8
	Inv   bool
	Ports []uint16 // port slots; a range is two slots
	Range []bool   // Range[i]: Ports[i]:Ports[i+1] is a range

	seen uint8 // option ids seen (bit 0 source, 1 dest, 2 either)
}

var multiportOptNames = []string{"source-ports", "destination-ports", "ports"}

func init() {
	Register(&Def{Name: "multiport", Legacy: true, New: func() Parser { return &Multiport{} },
		Options: []Option{
			{Name: "source-ports", Arg: ReqArg, Invert: true}, {Name: "sports", Arg: ReqArg, Invert: true},
			{Name: "destination-ports", Arg: ReqArg, Invert: true}, {Name: "dports", Arg: ReqArg, Invert: true},
			{Name: "ports", Arg: ReqArg, Invert: true},
		}})
}

// Name implements ruleset.Extension.
func (m *Multiport) Name() string { return "multiport" }

// multiportProto is multiport's proto_to_name.
func multiportProto(p uint8) string {
	switch p {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 136:
		return "udplite"
	case 132:
		return "sctp"
	case 33:
		return "dccp"
	}
	return ""
}

// Parse implements Parser.
func (m *Multiport) Parse(ctx *Context, opt, arg string, inv bool) error {
	id := 0
	switch opt {
	case "destination-ports", "dports":
		id = 1
	case "ports":
		id = 2
	}
	if m.seen&(1<<id) != 0 {
		return Errorf("multiport: option \"--%s\" can only be used once.\n", multiportOptNames[id])
	}
	if ctx.Rule.Inv&ruleset.InvProto != 0 {
		return Errorf("multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP")
	}
	proto := multiportProto(ctx.Rule.Proto)
	if proto == "" {
		if ctx.Rule.Proto == 0 {
			return Errorf("multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp'")
		}
		return Errorf("multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP")
	}
	if err := m.parsePorts(arg, proto); err != nil {
		return err
	}
	m.Dir = uint8(id) + 1
	m.seen |= 1 << id
	if inv {
		m.Inv = true
	}
	return nil
}

// parseMultiPort is xtables_parse_port: a number (base 0) or a service
// name for proto.
func parseMultiPort(s, proto string) (uint16, error) {
	if v, rest, ok := xtStrtoulMax(s, 65535); ok && rest == "" {
		return uint16(v), nil
	}
	if p, ok := ServicePort(s, proto); ok {
		return p, nil
	}
	return 0, Errorf("invalid port/service `%s' specified", s)
}

func (m *Multiport) parsePorts(s, proto string) error {
	m.Ports, m.Range = nil, nil
	rest, more := s, true
	for more {
		if len(m.Ports) >= MultiportMax {
			return Errorf("too many ports specified")
		}
		var cp string
		cp, rest, more = strings.Cut(rest, ",")
		lo, hi, isRange := strings.Cut(cp, ":")
		if isRange && len(m.Ports) == MultiportMax-1 {
			return Errorf("too many ports specified")
		}
		p, err := parseMultiPort(lo, proto)
		if err != nil {
			return err
		}
		m.Ports = append(m.Ports, p)
		m.Range = append(m.Range, isRange)
		if isRange {
			q, err := parseMultiPort(hi, proto)
			if err != nil {
				return err
			}
			if p >= q {
				return Errorf("invalid portrange specified")
			}
			m.Ports = append(m.Ports, q)
			m.Range = append(m.Range, false)
		}
	}
	return nil
}

// Final implements Parser.
func (m *Multiport) Final(*Context) (ruleset.Extension, error) {
	if m.seen == 0 {
		return nil, Errorf("multiport expection an option")
	}
	for a := 0; a < 3; a++ {
		for o := 0; o < 3; o++ {
			if a != o && m.seen&(1<<a) != 0 && m.seen&(1<<o) != 0 {
				return nil, Errorf("multiport: option \"--%s\" cannot be used together with \"--%s\".\n",
					multiportOptNames[a], multiportOptNames[o])
			}
		}
	}
	m.seen = 0
	return m, nil
}

func (m *Multiport) ports(b *strings.Builder, proto string, numeric bool) {
	for i := 0; i < len(m.Ports); i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(PortString(m.Ports[i], proto, numeric))
		if m.Range[i] && i+1 < len(m.Ports) {
			i++
			b.WriteString(":" + PortString(m.Ports[i], proto, numeric))
		}
	}
}

func (m *Multiport) dirName() string {
	switch m.Dir {
	case MultiportSource:
		return "sports"
	case MultiportDest:
		return "dports"
	case MultiportEither:
		return "ports"
	}
	return "ERROR"
}

// Save implements ruleset.Extension.
func (m *Multiport) Save(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(Bang(m.Inv) + " --" + m.dirName() + " ")
	m.ports(b, multiportProto(f.Proto), true)
}

// Print implements ruleset.Extension.
func (m *Multiport) Print(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(" multiport " + m.dirName() + " ")
	if m.Inv {
		b.WriteString(" !")
	}
	m.ports(b, multiportProto(f.Proto), f.Numeric)
}

// Match implements pkt.Matcher as xt_multiport's multiport_mt (revision
// 1), an xt match under iptables-nft: false on a non-first fragment, a
// drop when the 4 bytes of ports are not in the packet, else the first
// port or range (in order) that the source, destination or either port is
// in decides, inverted by "!".
func (m *Multiport) Match(c *pkt.Ctx) bool {
	p := c.P
	if p.FragOff != 0 {
		return false
	}
	h := xtHeader(p, 4)
	if h == nil {
		c.DropNow = true
		return false
	}
	src, dst := uint16(h[0])<<8|uint16(h[1]), uint16(h[2])<<8|uint16(h[3])
	for i := 0; i < len(m.Ports); i++ {
		s, e := m.Ports[i], m.Ports[i]
		if i < len(m.Range) && m.Range[i] && i+1 < len(m.Ports) {
			i++
			e = m.Ports[i]
		}
		switch m.Dir {
		case MultiportSource:
			if src >= s && src <= e {
				return !m.Inv
			}
		case MultiportDest:
			if dst >= s && dst <= e {
				return !m.Inv
			}
		case MultiportEither:
			if (dst >= s && dst <= e) || (src >= s && src <= e) {
				return !m.Inv
			}
		}
	}
	return m.Inv
}
