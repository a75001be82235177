package xt

import (
	"net/netip"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Tee is the TEE target: send a copy of the packet to Gateway (through
// Oif when given); the original goes on.
type Tee struct {
	Gateway netip.Addr
	Oif     string // at most 15 bytes
}

func init() {
	Register(&Def{Name: "TEE", Target: true, New: func() Parser { return &Tee{} },
		Options: []Option{{Name: "gateway", Arg: ReqArg}, {Name: "oif", Arg: ReqArg}}})
}

// Name implements ruleset.Extension.
func (t *Tee) Name() string { return "TEE" }

// Parse implements Parser.
func (t *Tee) Parse(ctx *Context, opt, arg string, _ bool) error {
	if opt == "oif" {
		if len(arg) > 15 {
			arg = arg[:15]
		}
		t.Oif = arg
		return nil
	}
	a, err := tgHost(arg, ctx.Family)
	if err != nil {
		return err
	}
	t.Gateway = a
	return nil
}

// Final implements Parser.
func (t *Tee) Final(*Context) (ruleset.Extension, error) {
	if !t.Gateway.IsValid() {
		return nil, Errorf("TEE: option \"--gateway\" must be specified\n")
	}
	return t, nil
}

// Save implements ruleset.Extension.
func (t *Tee) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" --gateway " + t.Gateway.String())
	if t.Oif != "" {
		b.WriteString(" --oif " + t.Oif)
	}
}

// Print implements ruleset.Extension.
func (t *Tee) Print(b *strings.Builder, f ruleset.Fmt) {
	gw := t.Gateway.String()
	if !f.Numeric {
		gw = mtHostName(t.Gateway)
	}
	b.WriteString(" TEE gw:" + gw)
	if t.Oif != "" {
		b.WriteString(" oif=" + t.Oif)
	}
}

// Act implements pkt.Actor: the clone leaves through the gateway's route
// (not modelled); the original packet goes on unchanged (XT_CONTINUE).
func (t *Tee) Act(*pkt.Ctx) pkt.Verdict { return pkt.Continue }
