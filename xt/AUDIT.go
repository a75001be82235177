package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Audit types (XT_AUDIT_TYPE_*).
var auditTypes = []string{"accept", "drop", "reject"}

// Audit is the AUDIT target: record an audit event of type Type.
type Audit struct {
	Type uint8
	set  bool
}

func init() {
	Register(&Def{Name: "AUDIT", Target: true, Options: []Option{{Name: "type", Arg: ReqArg}},
		New: func() Parser { return &Audit{} }})
}

// Name implements ruleset.Extension.
func (t *Audit) Name() string { return "AUDIT" }

// Parse implements Parser.
func (t *Audit) Parse(_ *Context, _, arg string, _ bool) error {
	for i, n := range auditTypes {
		if strings.EqualFold(n, arg) {
			t.Type, t.set = uint8(i), true
			return nil
		}
	}
	return Errorf("Bad action type value \"%s\"", arg)
}

// Final implements Parser.
func (t *Audit) Final(*Context) (ruleset.Extension, error) {
	if !t.set {
		return nil, Errorf("AUDIT: option \"--type\" must be specified\n")
	}
	return t, nil
}

func (t *Audit) typeName() string {
	if int(t.Type) < len(auditTypes) {
		return auditTypes[t.Type]
	}
	return "?"
}

// Save implements ruleset.Extension.
func (t *Audit) Save(b *strings.Builder, _ ruleset.Fmt) { b.WriteString(" --type " + t.typeName()) }

// Print implements ruleset.Extension.
func (t *Audit) Print(b *strings.Builder, _ ruleset.Fmt) { b.WriteString(" AUDIT " + t.typeName()) }

// Act implements pkt.Actor as xt_AUDIT's audit_tg does: it emits an audit
// record (NETFILTER_PKT, when auditing is on) and the packet goes on; the
// type is only recorded, it never decides the packet.
func (t *Audit) Act(*pkt.Ctx) pkt.Verdict { return pkt.Continue }
