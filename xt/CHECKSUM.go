package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
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

// Act implements pkt.Actor as xt_CHECKSUM's checksum_tg does: it computes
// a checksum the stack left to offload (skb_checksum_help, for a
// CHECKSUM_PARTIAL skb that is not GSO) and the packet goes on. Whether a
// packet is CHECKSUM_PARTIAL is not in a capture, and no rule sees
// checksums, so the packet is left as it is.
func (t *Checksum) Act(*pkt.Ctx) pkt.Verdict { return pkt.Continue }
