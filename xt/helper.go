package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// HelperMatch is the helper match (-m helper --helper NAME): it matches
// packets of connections handled by the named conntrack helper.
type HelperMatch struct {
	Helper string // at most 29 characters
	Inv    bool
	set    bool
}

func init() {
	Register(&Def{Name: "helper", New: func() Parser { return &HelperMatch{} },
		Options: []Option{{Name: "helper", Arg: ReqArg, Invert: true}}})
}

// Name implements ruleset.Extension.
func (m *HelperMatch) Name() string { return "helper" }

// Parse implements Parser.
func (m *HelperMatch) Parse(_ *Context, _, arg string, inv bool) error {
	m.Helper, m.Inv, m.set = ctTrunc(arg, 29), inv, true
	return nil
}

// Final implements Parser.
func (m *HelperMatch) Final(*Context) (ruleset.Extension, error) {
	if !m.set {
		return nil, Errorf("helper: option \"--helper\" must be specified\n")
	}
	return m, nil
}

// Save implements ruleset.Extension.
func (m *HelperMatch) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(Bang(m.Inv) + " --helper")
	helperSaveString(b, m.Helper)
}

// Print implements ruleset.Extension.
func (m *HelperMatch) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" helper match ")
	if m.Inv {
		b.WriteString("! ")
	}
	b.WriteString("\"" + m.Helper + "\"")
}

// helperSaveString is libxtables' xtables_save_string: " value" when it
// consists of letters, digits, '_' and '-' only, else double-quoted with
// double quotes, backslashes and single quotes escaped by a backslash.
func helperSaveString(b *strings.Builder, v string) {
	plain := v != ""
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			plain = false
			break
		}
	}
	if plain {
		b.WriteString(" " + v)
		return
	}
	b.WriteString(" \"")
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '"' || c == '\\' || c == '\'' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
}

// Match implements pkt.Matcher as xt_helper's helper_mt does: it looks at
// the helper of the connection's master (the connection an expectation
// came from). The conntrack model has no helpers and no expectations, so
// no connection has a master and the match yields its inversion flag;
// an expected connection (IPS_EXPECTED, which the model never sets) is
// left undecided.
func (m *HelperMatch) Match(c *pkt.Ctx) bool {
	if c.Conn == nil || c.Conn.Status&ipsExpected == 0 {
		return m.Inv
	}
	return c.Undecide("helper: the master connection's helper is unknown")
}

// helperNameMatch is helper_mt's name test for a master whose helper is
// named helper: an empty rule name matches any helper, otherwise the rule
// name must begin with the helper's name (strncmp over the helper name's
// length).
func helperNameMatch(rule, helper string) bool {
	return rule == "" || strings.HasPrefix(rule, helper)
}
