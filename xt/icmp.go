package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// ICMPName is one entry of iptables' ICMP (or ICMPv6) type name table.
type ICMPName struct {
	Name             string
	Type             uint8
	CodeMin, CodeMax uint8
}

// ICMPNames is iptables 1.8.9's ICMP type table, in its order (lookups by
// prefix and the reverse lookup for -L depend on it).
var ICMPNames = []ICMPName{
	{"any", 0xFF, 0, 0xFF},
	{"echo-reply", 0, 0, 0xFF},
	{"pong", 0, 0, 0xFF},
	{"destination-unreachable", 3, 0, 0xFF},
	{"network-unreachable", 3, 0, 0},
	{"host-unreachable", 3, 1, 1},
	{"protocol-unreachable", 3, 2, 2},
	{"port-unreachable", 3, 3, 3},
	{"fragmentation-needed", 3, 4, 4},
	{"source-route-failed", 3, 5, 5},
	{"network-unknown", 3, 6, 6},
	{"host-unknown", 3, 7, 7},
	{"network-prohibited", 3, 9, 9},
	{"host-prohibited", 3, 10, 10},
	{"TOS-network-unreachable", 3, 11, 11},
	{"TOS-host-unreachable", 3, 12, 12},
	{"communication-prohibited", 3, 13, 13},
	{"host-precedence-violation", 3, 14, 14},
	{"precedence-cutoff", 3, 15, 15},
	{"source-quench", 4, 0, 0xFF},
	{"redirect", 5, 0, 0xFF},
	{"network-redirect", 5, 0, 0},
	{"host-redirect", 5, 1, 1},
	{"TOS-network-redirect", 5, 2, 2},
	{"TOS-host-redirect", 5, 3, 3},
	{"echo-request", 8, 0, 0xFF},
	{"ping", 8, 0, 0xFF},
	{"router-advertisement", 9, 0, 0xFF},
	{"router-solicitation", 10, 0, 0xFF},
	{"time-exceeded", 11, 0, 0xFF},
	{"ttl-exceeded", 11, 0, 0xFF},
	{"ttl-zero-during-transit", 11, 0, 0},
	{"ttl-zero-during-reassembly", 11, 1, 1},
	{"parameter-problem", 12, 0, 0xFF},
	{"ip-header-bad", 12, 0, 0},
	{"required-option-missing", 12, 1, 1},
	{"timestamp-request", 13, 0, 0xFF},
	{"timestamp-reply", 14, 0, 0xFF},
	{"address-mask-request", 17, 0, 0xFF},
	{"address-mask-reply", 18, 0, 0xFF},
}

// ParseICMPType parses an --icmp-type/--icmpv6-type argument as iptables
// 1.8.9 does: a unique case-insensitive prefix of a name in table, else
// TYPE[/CODE] where each is a number 0-255 or a LO:HI range (type ranges
// are refused). kind is "ICMP" or "ICMPv6" for the messages.
func ParseICMPType(table []ICMPName, kind, s string) (typ, codeMin, codeMax uint8, err error) {
	match := -1
	for i, n := range table {
		if len(s) <= len(n.Name) && strings.EqualFold(n.Name[:len(s)], s) {
			if match >= 0 {
				return 0, 0, 0, Errorf("Ambiguous %s type `%s': `%s' or `%s'?", kind, s, table[match].Name, n.Name)
			}
			match = i
		}
	}
	if match >= 0 {
		n := table[match]
		return n.Type, n.CodeMin, n.CodeMax, nil
	}
	t, next, ok := icmpRange(s)
	if !ok {
		return 0, 0, 0, Errorf("Unknown %s type `%s'", kind, s)
	}
	c := [2]uint8{0, 0xFF}
	switch {
	case next == "":
	case next[0] == '/':
		var rest string
		c, rest, ok = icmpRange(next[1:])
		if !ok {
			return 0, 0, 0, Errorf("Unknown %s code `%s'", kind, s)
		}
		if rest != "" {
			return 0, 0, 0, Errorf("unknown character %c", rest[0])
		}
	default:
		return 0, 0, 0, Errorf("unknown character %c", next[0])
	}
	if t[0] != t[1] {
		return 0, 0, 0, Errorf("%s type range not supported", kind)
	}
	return t[0], c[0], c[1], nil
}

// icmpRange parses N or N:M (each 0-255, xtables_strtoui) at the start of
// s and returns the rest.
func icmpRange(s string) (r [2]uint8, rest string, ok bool) {
	v, rest, ok := xtStrtoulMax(s, 255)
	if !ok {
		return r, "", false
	}
	r[0], r[1] = uint8(v), uint8(v)
	if strings.HasPrefix(rest, ":") {
		v, rest, ok = xtStrtoulMax(rest[1:], 255)
		if !ok {
			return r, "", false
		}
		r[1] = uint8(v)
	}
	return r, rest, true
}

// ICMP is the IPv4 icmp match (-m icmp --icmp-type).
type ICMP struct {
	Type             uint8
	CodeMin, CodeMax uint8
	Inv              bool
	set              bool
}

func init() {
	Register(&Def{Name: "icmp", Family: ruleset.IPv4, New: func() Parser { return &ICMP{Type: 0xFF, CodeMax: 0xFF} },
		Options: []Option{{Name: "icmp-type", Arg: ReqArg, Invert: true}}})
}

// Name implements ruleset.Extension.
func (m *ICMP) Name() string { return "icmp" }

// Parse implements Parser.
func (m *ICMP) Parse(_ *Context, _, arg string, inv bool) error {
	t, lo, hi, err := ParseICMPType(ICMPNames, "ICMP", arg)
	if err != nil {
		return err
	}
	m.Type, m.CodeMin, m.CodeMax, m.Inv, m.set = t, lo, hi, inv, true
	return nil
}

// Final implements Parser.
func (m *ICMP) Final(ctx *Context) (ruleset.Extension, error) {
	if !m.set {
		return nil, Errorf("icmp: option \"--icmp-type\" must be specified\n")
	}
	// The kernel's icmp match wants -p icmp, not inverted.
	if ctx.Rule.Proto != 1 || ctx.Rule.Inv&ruleset.InvProto != 0 {
		return nil, KernelInval()
	}
	return m, nil
}

// Save implements ruleset.Extension.
func (m *ICMP) Save(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(Bang(m.Inv))
	fullCodes := m.CodeMin == 0 && m.CodeMax == 0xFF
	if m.Type == 0xFF && (fullCodes || !f.Lossless) {
		b.WriteString(" --icmp-type any")
		return
	}
	b.WriteString(" --icmp-type " + Utoa(uint64(m.Type)))
	saveICMPCodes(b, m.CodeMin, m.CodeMax, f.Lossless)
}

// saveICMPCodes appends "/CODE" unless the codes are 0-255; iptables-save
// writes only the first code of a range, lossless "/LO:HI".
func saveICMPCodes(b *strings.Builder, lo, hi uint8, lossless bool) {
	if lo == 0 && hi == 0xFF {
		return
	}
	b.WriteString("/" + Utoa(uint64(lo)))
	if lossless && lo != hi {
		b.WriteString(":" + Utoa(uint64(hi)))
	}
}

// Print implements ruleset.Extension.
func (m *ICMP) Print(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(" icmp")
	printICMPType(b, ICMPNames, m.Type, m.CodeMin, m.CodeMax, m.Inv, f.Numeric)
}

// printICMPType is the -L form after " icmp" / " ipv6-icmp": " NAME" or
// " !NAME" when the type and codes have a name (and not -n), else
// "type N" (" !type N" inverted) with " code C" or " codes A-B".
func printICMPType(b *strings.Builder, table []ICMPName, t, lo, hi uint8, inv, numeric bool) {
	if !numeric {
		for _, n := range table {
			if n.Type == t && n.CodeMin == lo && n.CodeMax == hi {
				b.WriteString(" " + BangL(inv) + n.Name)
				return
			}
		}
	}
	if inv {
		b.WriteString(" !")
	}
	b.WriteString("type " + Utoa(uint64(t)))
	if lo == hi {
		b.WriteString(" code " + Utoa(uint64(lo)))
	} else if lo != 0 || hi != 0xFF {
		b.WriteString(" codes " + Utoa(uint64(lo)) + "-" + Utoa(uint64(hi)))
	}
}

// Match implements pkt.Matcher. iptables-nft 1.8.9 keeps every icmp match
// an xt match (nft_compat), so this is the kernel's icmp_match: false on a
// non-first fragment, a drop when the 8-byte ICMP header is not all there,
// else icmp_type_code_match on the packet's own type and code (ICMP
// errors included), where type 255 ("any") matches every packet.
func (m *ICMP) Match(c *pkt.Ctx) bool {
	p := c.P
	if p.FragOff != 0 {
		return false
	}
	h := xtHeader(p, 8)
	if h == nil {
		c.DropNow = true
		return false
	}
	in := m.Type == 0xFF || (h[0] == m.Type && h[1] >= m.CodeMin && h[1] <= m.CodeMax)
	return in != m.Inv
}
