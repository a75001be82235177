package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// commentMax is XT_MAX_COMMENT_LEN less the terminating NUL.
const commentMax = 255

// Comment is the comment match (-m comment --comment TEXT).
type Comment struct {
	Text string
}

type commentParser struct {
	m   Comment
	set bool
}

func init() {
	Register(&Def{Name: "comment", New: func() Parser { return &commentParser{} },
		Options: []Option{{Name: "comment", Arg: ReqArg}}})
}

// Parse implements Parser.
func (p *commentParser) Parse(_ *Context, _, arg string, _ bool) error {
	if len(arg) > commentMax {
		arg = arg[:commentMax]
	}
	if i := strings.IndexByte(arg, 0); i >= 0 {
		arg = arg[:i]
	}
	p.m.Text, p.set = arg, true
	return nil
}

// Final implements Parser.
func (p *commentParser) Final(*Context) (ruleset.Extension, error) {
	if !p.set {
		return nil, Errorf("comment: option \"--comment\" must be specified\n")
	}
	m := p.m
	return &m, nil
}

// Name implements ruleset.Extension.
func (m *Comment) Name() string { return "comment" }

// Save implements ruleset.Extension.
func (m *Comment) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" --comment")
	SaveString(b, m.Text)
}

// Print implements ruleset.Extension.
func (m *Comment) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" /* " + m.Text + " */")
}

// SaveString writes " VALUE" as xtables_save_string does: bare when it is
// made of letters, digits, '_' and '-' only, else in double quotes with
// '"', '\\' and '\” escaped by a backslash.
func SaveString(b *strings.Builder, s string) {
	plain := s != ""
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		plain = c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	b.WriteByte(' ')
	if plain {
		b.WriteString(s)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' || c == '\'' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

// Match implements pkt.Matcher: xt_comment always matches.
func (m *Comment) Match(*pkt.Ctx) bool { return true }
