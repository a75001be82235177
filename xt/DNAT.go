package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Dnat is the DNAT target (revision 2; -t nat, PREROUTING and OUTPUT).
type Dnat struct {
	Family ruleset.Family
	Range  NATRange
	set    bool
}

func init() {
	for _, f := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		fam := f
		Register(&Def{Name: "DNAT", Family: fam, Target: true,
			Options: []Option{{Name: "to-destination", Arg: ReqArg}, {Name: "random"}, {Name: "persistent"}},
			New:     func() Parser { return &Dnat{Family: fam} }})
	}
}

// Name implements ruleset.Extension.
func (t *Dnat) Name() string { return "DNAT" }

// Parse implements Parser.
func (t *Dnat) Parse(ctx *Context, opt, arg string, _ bool) error {
	if opt == "to-destination" {
		t.set = true
		return natParseTo(arg, natPortOK(ctx), t.Family, &t.Range)
	}
	natFlag(&t.Range, opt)
	return nil
}

// Final implements Parser.
func (t *Dnat) Final(ctx *Context) (ruleset.Extension, error) {
	if !t.set {
		return nil, Errorf("DNAT: option \"--to-destination\" must be specified\n")
	}
	if err := tgKernelPlace(ctx, "nat", "PREROUTING", "OUTPUT"); err != nil {
		return nil, err
	}
	return t, nil
}

// Save implements ruleset.Extension.
func (t *Dnat) Save(b *strings.Builder, f ruleset.Fmt) {
	t.Range.write(b, f, "--to-destination ", "--", false)
}

// Print implements ruleset.Extension.
func (t *Dnat) Print(b *strings.Builder, f ruleset.Fmt) {
	t.Range.write(b, f, "to:", "", false)
}

// Act implements pkt.Actor as xt_nat's xt_dnat_target_v2 does:
// nf_nat_setup_info with NF_NAT_MANIP_DST (see natBind, SNAT.go). The nat
// table's verdict is NF_ACCEPT.
func (t *Dnat) Act(c *pkt.Ctx) pkt.Verdict {
	natBind(c, "DNAT", true, &t.Range)
	return pkt.Accept
}
