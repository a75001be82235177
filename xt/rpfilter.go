package xt

import (
	"strings"

	"github.com/rampartfw/rampart/ruleset"
)

// Rpfilter is the rpfilter match: reverse path filtering.
type Rpfilter struct {
	Loose, ValidMark, AcceptLocal, Invert bool
}

func init() {
	Register(&Def{Name: "rpfilter", New: func() Parser { return &Rpfilter{} },
		Options: []Option{{Name: "loose"}, {Name: "validmark"}, {Name: "accept-local"}, {Name: "invert"}}})
}

// Name implements ruleset.Extension.
func (m *Rpfilter) Name() string { return "rpfilter" }

// Parse implements Parser.
func (m *Rpfilter) Parse(_ *Context, opt, _ string, _ bool) error {
	switch opt {
	case "loose":
		m.Loose = true
	case "validmark":
		m.ValidMark = true
	case "accept-local":
		m.AcceptLocal = true
	case "invert":
		m.Invert = true
	}
	return nil
}

// Final implements Parser.
func (m *Rpfilter) Final(ctx *Context) (ruleset.Extension, error) {
	// xt_rpfilter: raw and mangle tables, PREROUTING only.
	if ctx.Table != "raw" && ctx.Table != "mangle" || !xtHookAllowed(ctx, ruleset.PreRouting) {
		return nil, KernelInval()
	}
	return m, nil
}

func (m *Rpfilter) write(b *strings.Builder, pre string) {
	if m.Loose {
		b.WriteString(" " + pre + "loose")
	}
	if m.ValidMark {
		b.WriteString(" " + pre + "validmark")
	}
	if m.AcceptLocal {
		b.WriteString(" " + pre + "accept-local")
	}
	if m.Invert {
		b.WriteString(" " + pre + "invert")
	}
}

// Save implements ruleset.Extension.
func (m *Rpfilter) Save(b *strings.Builder, _ ruleset.Fmt) { m.write(b, "--") }

// Print implements ruleset.Extension.
func (m *Rpfilter) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" rpfilter")
	m.write(b, "")
}
