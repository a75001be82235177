package xt

import (
	"strings"

	"github.com/rampartfw/rampart/ruleset"
)

// Masquerade is the MASQUERADE target (-t nat, POSTROUTING).
type Masquerade struct {
	Family ruleset.Family
	Range  NATRange
}

func init() {
	for _, f := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		fam := f
		Register(&Def{Name: "MASQUERADE", Family: fam, Target: true,
			Options: []Option{{Name: "to-ports", Arg: ReqArg}, {Name: "random"}, {Name: "random-fully"}},
			New:     func() Parser { return &Masquerade{Family: fam} }})
	}
}

// Name implements ruleset.Extension.
func (t *Masquerade) Name() string { return "MASQUERADE" }

// Parse implements Parser.
func (t *Masquerade) Parse(ctx *Context, opt, arg string, _ bool) error {
	if opt == "to-ports" {
		return natParsePorts(arg, natPortOK(ctx), &t.Range)
	}
	natFlag(&t.Range, opt)
	return nil
}

// Final implements Parser.
func (t *Masquerade) Final(ctx *Context) (ruleset.Extension, error) {
	if err := tgKernelPlace(ctx, "nat", "POSTROUTING"); err != nil {
		return nil, err
	}
	t.Range.NoBase = true
	return t, nil
}

// Save implements ruleset.Extension.
func (t *Masquerade) Save(b *strings.Builder, f ruleset.Fmt) {
	t.Range.write(b, f, "--to-ports ", "--", true)
}

// Print implements ruleset.Extension.
func (t *Masquerade) Print(b *strings.Builder, f ruleset.Fmt) {
	t.Range.write(b, f, "masq ports: ", "", true)
}
