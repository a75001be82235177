package xt

import (
	"strings"

	"github.com/rampartfw/rampart/ruleset"
)

// Quota is the quota match (-m quota [!] --quota BYTES).
type Quota struct {
	Bytes  uint64
	Invert bool
}

type quotaParser struct {
	m   Quota
	set bool
}

func init() {
	Register(&Def{Name: "quota", New: func() Parser { return &quotaParser{} },
		Options: []Option{{Name: "quota", Arg: ReqArg, Invert: true}}})
}

// Parse implements Parser.
func (p *quotaParser) Parse(_ *Context, opt, arg string, inv bool) error {
	v, err := x6Uint("quota", opt, arg, 0, 1<<64-1)
	if err != nil {
		return err
	}
	p.m.Bytes, p.m.Invert, p.set = v, inv, true
	return nil
}

// Final implements Parser.
func (p *quotaParser) Final(*Context) (ruleset.Extension, error) {
	if !p.set {
		return nil, Errorf("quota: option \"--quota\" must be specified\n")
	}
	m := p.m
	return &m, nil
}

// Name implements ruleset.Extension.
func (m *Quota) Name() string { return "quota" }

// Save implements ruleset.Extension.
func (m *Quota) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(Bang(m.Invert) + " --quota " + Utoa(m.Bytes))
}

// Print implements ruleset.Extension. iptables 1.8.9 does not show the
// inversion here.
func (m *Quota) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" quota: " + Utoa(m.Bytes) + " bytes")
}
