package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// ECN operation bits (ipt_ECN.h).
const (
	ecnOpSetIP  = 0x01
	ecnOpSetECE = 0x10
	ecnOpSetCWR = 0x20
)

// ECNTarget is the IPv4 ECN target (-t mangle): it sets the IP ECT
// codepoint and/or the TCP ECE and CWR flags.
type ECNTarget struct {
	Op       uint8 // ecnOp* bits
	IPECT    uint8
	ECE, CWR uint8
	remove   bool
}

func init() {
	Register(&Def{Name: "ECN", Family: ruleset.IPv4, Target: true,
		New: func() Parser { return &ECNTarget{} },
		Options: []Option{{Name: "ecn-tcp-remove"}, {Name: "ecn-tcp-cwr", Arg: ReqArg},
			{Name: "ecn-tcp-ece", Arg: ReqArg}, {Name: "ecn-ip-ect", Arg: ReqArg}}})
}

// Name implements ruleset.Extension.
func (t *ECNTarget) Name() string { return "ECN" }

// Parse implements Parser.
func (t *ECNTarget) Parse(_ *Context, opt, arg string, _ bool) error {
	switch opt {
	case "ecn-tcp-remove":
		t.Op |= ecnOpSetECE | ecnOpSetCWR
		t.ECE, t.CWR = 0, 0
		t.remove = true
		return nil
	case "ecn-ip-ect":
		v, err := tgUint("ECN", opt, arg, 0, 3)
		if err != nil {
			return err
		}
		t.Op |= ecnOpSetIP
		t.IPECT = uint8(v)
		return nil
	}
	v, err := tgUint("ECN", opt, arg, 0, 1)
	if err != nil {
		return err
	}
	if opt == "ecn-tcp-cwr" {
		t.Op |= ecnOpSetCWR
		t.CWR = uint8(v)
	} else {
		t.Op |= ecnOpSetECE
		t.ECE = uint8(v)
	}
	return nil
}

// Final implements Parser: the kernel's ecn_tg_check wants the mangle
// table and, for the TCP bits, -p tcp (not inverted).
func (t *ECNTarget) Final(ctx *Context) (ruleset.Extension, error) {
	if t.Op == 0 {
		return nil, Errorf("ECN target: An operation is required")
	}
	if err := tgKernelPlace(ctx, "mangle"); err != nil {
		return nil, err
	}
	if t.Op&(ecnOpSetECE|ecnOpSetCWR) != 0 && (ctx.Rule.Proto != pkt.ProtoTCP || ctx.Rule.Inv&ruleset.InvProto != 0) {
		return nil, KernelInval()
	}
	return t, nil
}

func (t *ECNTarget) isRemove() bool {
	return t.Op == ecnOpSetECE|ecnOpSetCWR && t.ECE == 0 && t.CWR == 0
}

// Save implements ruleset.Extension.
func (t *ECNTarget) Save(b *strings.Builder, _ ruleset.Fmt) {
	if t.isRemove() {
		b.WriteString(" --ecn-tcp-remove")
		return
	}
	if t.Op&ecnOpSetECE != 0 {
		b.WriteString(" --ecn-tcp-ece " + Utoa(uint64(t.ECE)))
	}
	if t.Op&ecnOpSetCWR != 0 {
		b.WriteString(" --ecn-tcp-cwr " + Utoa(uint64(t.CWR)))
	}
	if t.Op&ecnOpSetIP != 0 {
		b.WriteString(" --ecn-ip-ect " + Utoa(uint64(t.IPECT)))
	}
}

// Print implements ruleset.Extension.
func (t *ECNTarget) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" ECN")
	if t.isRemove() {
		b.WriteString(" TCP remove")
		return
	}
	if t.Op&ecnOpSetECE != 0 {
		b.WriteString(" ECE=" + Utoa(uint64(t.ECE)))
	}
	if t.Op&ecnOpSetCWR != 0 {
		b.WriteString(" CWR=" + Utoa(uint64(t.CWR)))
	}
	if t.Op&ecnOpSetIP != 0 {
		b.WriteString(" ECT codepoint=" + Utoa(uint64(t.IPECT)))
	}
}

// Act implements pkt.Actor as ipt_ECN's ecn_tg does: the ECT bits of the
// TOS byte (IP checksum updated), then for TCP with a whole header the ECE
// and CWR flags (TCP checksum updated); the rule goes on.
func (t *ECNTarget) Act(c *pkt.Ctx) pkt.Verdict {
	p := c.P
	if p == nil || len(p.Raw) < 20 {
		return pkt.Continue
	}
	if t.Op&ecnOpSetIP != 0 && p.TOS&3 != t.IPECT {
		old := uint16(p.Raw[0])<<8 | uint16(p.Raw[1])
		p.Raw[1] = p.Raw[1]&^3 | t.IPECT
		p.TOS = p.Raw[1]
		csumReplace16(p.Raw, 10, old, uint16(p.Raw[0])<<8|uint16(p.Raw[1]))
	}
	if t.Op&(ecnOpSetECE|ecnOpSetCWR) == 0 {
		return pkt.Continue
	}
	th := tcpHeader(c)
	if th == nil {
		return pkt.Continue
	}
	flags := th[13]
	nf := flags
	if t.Op&ecnOpSetECE != 0 {
		nf = nf&^0x40 | t.ECE<<6
	}
	if t.Op&ecnOpSetCWR != 0 {
		nf = nf&^0x80 | t.CWR<<7
	}
	if nf != flags {
		old := uint16(th[12])<<8 | uint16(flags)
		th[13] = nf
		p.TCPFlags = nf
		csumReplace16(th, 16, old, uint16(th[12])<<8|uint16(nf))
	}
	return pkt.Continue
}
