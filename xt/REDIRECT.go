package xt

import (
	"strings"

	"github.com/rampartfw/rampart/ruleset"
)

// Redirect is the REDIRECT target (-t nat, PREROUTING and OUTPUT).
type Redirect struct {
	Family ruleset.Family
	Range  NATRange
}

func init() {
	for _, f := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		fam := f
		Register(&Def{Name: "REDIRECT", Family: fam, Target: true,
			Options: []Option{{Name: "to-ports", Arg: ReqArg}, {Name: "random"}},
			New:     func() Parser { return &Redirect{Family: fam} }})
	}
}

// Name implements ruleset.Extension.
func (t *Redirect) Name() string { return "REDIRECT" }

// Parse implements Parser.
func (t *Redirect) Parse(ctx *Context, opt, arg string, _ bool) error {
	if opt == "to-ports" {
		return natParsePorts(arg, natPortOK(ctx), &t.Range)
	}
	natFlag(&t.Range, opt)
	return nil
}

// Final implements Parser.
func (t *Redirect) Final(ctx *Context) (ruleset.Extension, error) {
	if t.Range.Flags&NATProtoOffset != 0 {
		return nil, Errorf("Shifted portmap ranges not supported with this kernel")
	}
	if err := tgKernelPlace(ctx, "nat", "PREROUTING", "OUTPUT"); err != nil {
		return nil, err
	}
	return t, nil
}

// Save implements ruleset.Extension.
func (t *Redirect) Save(b *strings.Builder, f ruleset.Fmt) {
	t.Range.write(b, f, "--to-ports ", "--", true)
}

// Print implements ruleset.Extension.
func (t *Redirect) Print(b *strings.Builder, f ruleset.Fmt) {
	t.Range.write(b, f, "redir ports ", "", true)
}
