package xt

import (
	"strings"

	"github.com/rampartfw/rampart/ruleset"
)

// Checksum is the CHECKSUM target (-t mangle, --checksum-fill).
type Checksum struct {
	Fill bool
}

func init() {
	Register(&Def{Name: "CHECKSUM", Target: true, Options: []Option{{Name: "checksum-fill"}},
		New: func() Parser { return &Checksum{} }})
}

// Name implements ruleset.Extension.
func (t *Checksum) Name() string { return "CHECKSUM" }

// Parse implements Parser.
func (t *Checksum) Parse(*Context, string, string, bool) error {
	t.Fill = true
	return nil
}

// Final implements Parser.
func (t *Checksum) Final(ctx *Context) (ruleset.Extension, error) {
	if !t.Fill {
		return nil, Errorf("CHECKSUM: option \"--checksum-fill\" must be specified\n")
	}
	if err := tgKernelPlace(ctx, "mangle"); err != nil {
		return nil, err
	}
	return t, nil
}

// Save implements ruleset.Extension.
func (t *Checksum) Save(b *strings.Builder, _ ruleset.Fmt) { b.WriteString(" --checksum-fill") }

// Print implements ruleset.Extension.
func (t *Checksum) Print(b *strings.Builder, _ ruleset.Fmt) { b.WriteString(" CHECKSUM fill") }
