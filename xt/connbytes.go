package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// connbytes counting modes and directions (xt_connbytes.h).
const (
	ConnbytesPackets uint8 = iota
	ConnbytesBytes
	ConnbytesAvgPkt
)

// Connbytes directions.
const (
	ConnbytesOriginal uint8 = iota
	ConnbytesReply
	ConnbytesBoth
)

// ConnbytesMatch is the connbytes match: the connection's packet or byte
// count (or average packet size) in a direction lies in From..To. As in the
// kernel, an inverted range is stored with From > To.
type ConnbytesMatch struct {
	From, To uint64
	Mode     uint8
	Dir      uint8
	seen     uint8
}

func init() {
	Register(&Def{Name: "connbytes", New: func() Parser { return &ConnbytesMatch{} },
		Options: []Option{
			{Name: "connbytes", Arg: ReqArg, Invert: true},
			{Name: "connbytes-dir", Arg: ReqArg}, {Name: "connbytes-mode", Arg: ReqArg},
		}})
}

// Name implements ruleset.Extension.
func (m *ConnbytesMatch) Name() string { return "connbytes" }

// Parse implements Parser.
func (m *ConnbytesMatch) Parse(_ *Context, opt, arg string, inv bool) error {
	switch opt {
	case "connbytes":
		vals, err := ParseUintRangeOpt("connbytes", opt, arg, ^uint64(0))
		if err != nil {
			return err
		}
		m.From, m.To = vals[0], ^uint64(0)
		if len(vals) == 2 {
			m.To = vals[1]
		}
		if m.From > m.To {
			return Errorf("%d should be less than %d", m.From, m.To)
		}
		if inv {
			m.From, m.To = m.To, m.From
		}
		m.seen |= 1
	case "connbytes-dir":
		switch arg {
		case "original":
			m.Dir = ConnbytesOriginal
		case "reply":
			m.Dir = ConnbytesReply
		case "both":
			m.Dir = ConnbytesBoth
		default:
			return Errorf("Unknown --connbytes-dir `%s'", arg)
		}
		m.seen |= 2
	case "connbytes-mode":
		switch arg {
		case "packets":
			m.Mode = ConnbytesPackets
		case "bytes":
			m.Mode = ConnbytesBytes
		case "avgpkt":
			m.Mode = ConnbytesAvgPkt
		default:
			return Errorf("Unknown --connbytes-mode `%s'", arg)
		}
		m.seen |= 4
	}
	return nil
}

// Final implements Parser.
func (m *ConnbytesMatch) Final(*Context) (ruleset.Extension, error) {
	for i, n := range []string{"connbytes", "connbytes-dir", "connbytes-mode"} {
		if m.seen&(1<<i) == 0 {
			return nil, Errorf("connbytes: option \"--%s\" must be specified\n", n)
		}
	}
	m.seen = 0
	return m, nil
}

func (m *ConnbytesMatch) writeRange(b *strings.Builder, pfx string) {
	from, to := m.From, m.To
	if from > to {
		b.WriteString(" !")
		from, to = to, from
	}
	b.WriteString(" " + pfx + "connbytes " + Utoa(from))
	if to != 0 && to < ^uint64(0) {
		b.WriteString(":" + Utoa(to))
	}
}

func (m *ConnbytesMatch) modeString() string {
	return [...]string{"packets", "bytes", "avgpkt"}[m.Mode%3]
}

func (m *ConnbytesMatch) dirString() string {
	return [...]string{"original", "reply", "both"}[m.Dir%3]
}

// Save implements ruleset.Extension.
func (m *ConnbytesMatch) Save(b *strings.Builder, _ ruleset.Fmt) {
	m.writeRange(b, "--")
	b.WriteString(" --connbytes-mode " + m.modeString() + " --connbytes-dir " + m.dirString())
}

// Print implements ruleset.Extension.
func (m *ConnbytesMatch) Print(b *strings.Builder, _ ruleset.Fmt) {
	m.writeRange(b, "")
	b.WriteString(" connbytes mode " + m.modeString() + " connbytes direction " + m.dirString())
}

// Match implements pkt.Matcher as xt_connbytes's connbytes_mt does: the
// counters include the current packet (conntrack counts it before the
// rules see it); avgpkt is the integer quotient bytes/packets (0 without
// packets); an inverted range (From > To) matches outside To..From.
// Without a conntrack entry it does not match.
func (m *ConnbytesMatch) Match(c *pkt.Ctx) bool {
	ct := c.Conn
	if ct == nil {
		return false
	}
	var pk, by uint64
	switch m.Dir {
	case ConnbytesOriginal:
		pk, by = ct.Packets[0], ct.Bytes[0]
	case ConnbytesReply:
		pk, by = ct.Packets[1], ct.Bytes[1]
	default:
		pk, by = ct.Packets[0]+ct.Packets[1], ct.Bytes[0]+ct.Bytes[1]
	}
	var what uint64
	switch m.Mode {
	case ConnbytesPackets:
		what = pk
	case ConnbytesBytes:
		what = by
	default:
		if pk != 0 {
			what = by / pk
		}
	}
	if m.To >= m.From {
		return what >= m.From && what <= m.To
	}
	return what < m.To || what > m.From
}
