package xt

import (
	"math"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// SetCounterOp is a comparison of the set match's packet/byte counters.
type SetCounterOp uint8

// Counter comparisons, as in ipset's IPSET_COUNTER_*.
const (
	SetCounterNone SetCounterOp = iota
	SetCounterEq
	SetCounterNe
	SetCounterLt
	SetCounterGt
)

// SetCounter is one --packets-*/--bytes-* condition.
type SetCounter struct {
	Op    SetCounterOp
	Value uint64
}

// Set is the set match (revision 4): -m set --match-set NAME src,dst...
//
// The real iptables asks the kernel for the set's index while parsing and
// refuses a set that does not exist ("Set NAME doesn't exist."). rampart keeps
// rules in a state file and knows no kernel sets, so it accepts any name and
// keeps it; the set must exist when the rules are applied.
type Set struct {
	SetName string
	// Dirs holds one entry per dimension: true for src, false for dst.
	Dirs                 []bool
	Inv                  bool
	ReturnNomatch        bool
	SkipCounters         bool // ! --update-counters
	SkipSubcounters      bool // ! --update-subcounters
	Packets, Bytes       SetCounter
	matchSetSeen         bool
	packetsSet, bytesSet bool

	query pkt.SetQuery // what Match asks c.Facts, built by Final
}

func init() {
	opts := []Option{
		{Name: "match-set", Arg: ReqArg, Invert: true},
		{Name: "set", Arg: ReqArg, Invert: true},
		{Name: "return-nomatch", Invert: true},
		{Name: "update-counters", Invert: true},
		{Name: "update-subcounters", Invert: true},
	}
	for _, n := range []string{"packets-eq", "packets-lt", "packets-gt", "bytes-eq", "bytes-lt", "bytes-gt"} {
		opts = append(opts, Option{Name: n, Arg: ReqArg, Invert: true})
	}
	Register(&Def{Name: "set", Legacy: true, Options: opts, New: func() Parser { return &Set{} }})
}

// Name implements ruleset.Extension.
func (m *Set) Name() string { return "set" }

// Parse implements Parser.
func (m *Set) Parse(ctx *Context, opt, arg string, inv bool) error {
	switch opt {
	case "update-counters":
		if inv {
			m.SkipCounters = true
		}
	case "update-subcounters":
		if inv {
			m.SkipSubcounters = true
		}
	case "return-nomatch":
		if inv {
			return Errorf("--return-nomatch flag cannot be inverted")
		}
		m.ReturnNomatch = true
	case "packets-eq", "packets-lt", "packets-gt", "bytes-eq", "bytes-lt", "bytes-gt":
		what, cmp, _ := strings.Cut(opt, "-")
		c, seen := &m.Packets, &m.packetsSet
		if what == "bytes" {
			c, seen = &m.Bytes, &m.bytesSet
		}
		if *seen {
			return Errorf("only one of the --%s-[eq|lt|gt] is allowed", what)
		}
		if inv && cmp != "eq" {
			return Errorf("--%s option cannot be inverted", opt)
		}
		v, ok := ParseUint(arg, 0, math.MaxUint64)
		if !ok {
			return Errorf("Cannot parse %s as a counter value", arg)
		}
		*seen = true
		switch {
		case cmp == "lt":
			c.Op = SetCounterLt
		case cmp == "gt":
			c.Op = SetCounterGt
		case inv:
			c.Op = SetCounterNe
		default:
			c.Op = SetCounterEq
		}
		c.Value = v
	case "match-set", "set":
		if opt == "set" && ctx.Warn != nil {
			ctx.Warn("--set option deprecated, please use --match-set")
		}
		if m.matchSetSeen {
			return Errorf("--match-set can be specified only once")
		}
		m.Inv = inv
		dirs, ok := ctx.Next()
		if !ok {
			return Errorf("--match-set requires two args.")
		}
		if len(arg) > 31 {
			return Errorf("setname `%s' too long, max %d characters.", arg, 31)
		}
		m.SetName = arg
		parts := strings.Split(dirs, ",")
		for i, p := range parts {
			if i == 6 {
				return Errorf("Can't be more src/dst options than %d.", 6)
			}
			switch {
			case strings.HasPrefix(p, "src"):
				m.Dirs = append(m.Dirs, true)
			case strings.HasPrefix(p, "dst"):
				m.Dirs = append(m.Dirs, false)
			default:
				return Errorf("You must spefify (the comma separated list of) 'src' or 'dst'.")
			}
		}
		m.matchSetSeen = true
	}
	return nil
}

// Final implements Parser.
func (m *Set) Final(*Context) (ruleset.Extension, error) {
	if !m.matchSetSeen {
		return nil, Errorf("You must specify `--match-set' with proper arguments")
	}
	m.query = m.setQuery()
	return m, nil
}

func setCounter(b *strings.Builder, c SetCounter, name, sep string) {
	v := " " + Utoa(c.Value)
	switch c.Op {
	case SetCounterEq:
		b.WriteString(" " + sep + name + "-eq" + v)
	case SetCounterNe:
		b.WriteString(" ! " + sep + name + "-eq" + v)
	case SetCounterLt:
		b.WriteString(" " + sep + name + "-lt" + v)
	case SetCounterGt:
		b.WriteString(" " + sep + name + "-gt" + v)
	}
}

func (m *Set) write(b *strings.Builder, opt, sep string) {
	b.WriteString(Bang(m.Inv) + " " + opt + " " + m.SetName)
	for i, d := range m.Dirs {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteByte(',')
		}
		if d {
			b.WriteString("src")
		} else {
			b.WriteString("dst")
		}
	}
	if m.ReturnNomatch {
		b.WriteString(" " + sep + "return-nomatch")
	}
	if m.SkipCounters {
		b.WriteString(" ! " + sep + "update-counters")
	}
	if m.SkipSubcounters {
		b.WriteString(" ! " + sep + "update-subcounters")
	}
	setCounter(b, m.Packets, "packets", sep)
	setCounter(b, m.Bytes, "bytes", sep)
}

// Save implements ruleset.Extension.
func (m *Set) Save(b *strings.Builder, _ ruleset.Fmt) { m.write(b, "--match-set", "--") }

// Print implements ruleset.Extension.
func (m *Set) Print(b *strings.Builder, _ ruleset.Fmt) { m.write(b, "match-set", "") }

func (m *Set) setQuery() pkt.SetQuery {
	return pkt.SetQuery{Name: m.SetName, Dirs: m.Dirs, ReturnNomatch: m.ReturnNomatch,
		SkipCounters: m.SkipCounters, SkipSubcounters: m.SkipSubcounters,
		PacketsOp: uint8(m.Packets.Op), BytesOp: uint8(m.Bytes.Op),
		Packets: m.Packets.Value, Bytes: m.Bytes.Value}
}

// Match implements pkt.Matcher as xt_set's set_match_v4 does: ip_set_test
// of the packet against the named set (its type, --return-nomatch,
// counter conditions and counter updates are the set's business, answered
// by c.Facts), inverted by "!".
func (m *Set) Match(c *pkt.Ctx) bool {
	if c.Facts == nil {
		return c.Undecide("set: the contents of ipset " + m.SetName + " are unknown")
	}
	q := &m.query
	if q.Name != m.SetName {
		fresh := m.setQuery()
		q = &fresh
	}
	in, ok := c.Facts.SetTest(c, q)
	if !ok {
		return c.Undecide("set: the contents of ipset " + m.SetName + " are unknown")
	}
	return in != m.Inv
}
