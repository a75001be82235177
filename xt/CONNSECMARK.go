package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// ConnSecmark is the CONNSECMARK target (-t mangle or security): copy
// the packet's security mark to its connection (--save) or back
// (--restore).
type ConnSecmark struct {
	Restore bool // else --save
	seen    map[string]bool
}

func init() {
	Register(&Def{Name: "CONNSECMARK", Target: true,
		New:     func() Parser { return &ConnSecmark{seen: map[string]bool{}} },
		Options: []Option{{Name: "save"}, {Name: "restore"}}})
}

// Name implements ruleset.Extension.
func (t *ConnSecmark) Name() string { return "CONNSECMARK" }

// Parse implements Parser.
func (t *ConnSecmark) Parse(_ *Context, opt, _ string, _ bool) error {
	t.seen[opt] = true
	t.Restore = opt == "restore"
	return nil
}

// Final implements Parser.
func (t *ConnSecmark) Final(ctx *Context) (ruleset.Extension, error) {
	if t.seen["save"] && t.seen["restore"] {
		return nil, Errorf("CONNSECMARK: option \"--save\" cannot be used together with \"--restore\".\n")
	}
	if len(t.seen) == 0 {
		return nil, Errorf("CONNSECMARK target: parameter required")
	}
	if ctx.Table != "mangle" && ctx.Table != "security" {
		return nil, KernelInval()
	}
	return t, nil
}

// Save implements ruleset.Extension.
func (t *ConnSecmark) Save(b *strings.Builder, _ ruleset.Fmt) {
	if t.Restore {
		b.WriteString(" --restore")
	} else {
		b.WriteString(" --save")
	}
}

// Print implements ruleset.Extension.
func (t *ConnSecmark) Print(b *strings.Builder, _ ruleset.Fmt) {
	if t.Restore {
		b.WriteString(" CONNSECMARK restore")
	} else {
		b.WriteString(" CONNSECMARK save")
	}
}

// Act implements pkt.Actor. Security marks (SELinux secids) are not part
// of the simulated packet or connection, so copying them changes nothing
// the rules can see: the rule goes on (pkt.Continue) and nothing is
// recorded on the packet.
func (t *ConnSecmark) Act(*pkt.Ctx) pkt.Verdict { return pkt.Continue }
