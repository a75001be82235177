package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// ConnmarkMatch is the connmark match (-m connmark --mark VALUE[/MASK]),
// revision 1: it matches when the connection mark ANDed with Mask equals
// Mark.
type ConnmarkMatch struct {
	Mark, Mask uint32
	Inv        bool
	set        bool
}

func init() {
	Register(&Def{Name: "connmark", New: func() Parser { return &ConnmarkMatch{} },
		Options: []Option{{Name: "mark", Arg: ReqArg, Invert: true}}})
}

// Name implements ruleset.Extension.
func (m *ConnmarkMatch) Name() string { return "connmark" }

// Parse implements Parser.
func (m *ConnmarkMatch) Parse(_ *Context, opt, arg string, inv bool) error {
	v, mask, err := ParseMarkMask("connmark", opt, arg)
	if err != nil {
		return err
	}
	m.Mark, m.Mask, m.Inv, m.set = v, mask, inv, true
	return nil
}

// Final implements Parser.
func (m *ConnmarkMatch) Final(*Context) (ruleset.Extension, error) {
	if !m.set {
		return nil, Errorf("connmark: option \"--mark\" must be specified\n")
	}
	return m, nil
}

// Save implements ruleset.Extension.
func (m *ConnmarkMatch) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(Bang(m.Inv) + " --mark")
	writeMarkMask(b, m.Mark, m.Mask)
}

// Print implements ruleset.Extension.
func (m *ConnmarkMatch) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" connmark match ")
	if m.Inv {
		b.WriteString("!")
	}
	writeMarkMask(b, m.Mark, m.Mask)
}

// Match implements pkt.Matcher as xt_connmark's connmark_mt does: without
// a conntrack entry (untracked, invalid, or before conntrack in the raw
// table) it never matches, inverted or not.
func (m *ConnmarkMatch) Match(c *pkt.Ctx) bool {
	if c.Conn == nil {
		return false
	}
	return (c.Conn.Mark&m.Mask == m.Mark) != m.Inv
}
