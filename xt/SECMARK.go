package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Secmark is the SECMARK target (-t security or mangle): set the packet's
// SELinux security mark from a context. The kernel resolves the context
// through the LSM; rampart accepts any context, as a kernel with SELinux
// and that context loaded does (this machine's kernel has none and
// refuses with ENOENT).
type Secmark struct {
	Ctx string
}

func init() {
	Register(&Def{Name: "SECMARK", Target: true, New: func() Parser { return &Secmark{} },
		Options: []Option{{Name: "selctx", Arg: ReqArg}}})
}

// Name implements ruleset.Extension.
func (t *Secmark) Name() string { return "SECMARK" }

// Parse implements Parser.
func (t *Secmark) Parse(_ *Context, _, arg string, _ bool) error {
	t.Ctx = arg
	return nil
}

// Final implements Parser.
func (t *Secmark) Final(ctx *Context) (ruleset.Extension, error) {
	if t.Ctx == "" {
		return nil, Errorf("SECMARK: option \"--selctx\" must be specified\n")
	}
	if ctx.Table != "mangle" && ctx.Table != "security" {
		return nil, KernelInval()
	}
	return t, nil
}

// Save implements ruleset.Extension.
func (t *Secmark) Save(b *strings.Builder, _ ruleset.Fmt) { b.WriteString(" --selctx " + t.Ctx) }

// Print implements ruleset.Extension.
func (t *Secmark) Print(b *strings.Builder, _ ruleset.Fmt) { b.WriteString(" SECMARK selctx " + t.Ctx) }

// Act implements pkt.Actor. The security mark is not modelled (no LSM):
// the rule goes on.
func (t *Secmark) Act(*pkt.Ctx) pkt.Verdict { return pkt.Continue }
