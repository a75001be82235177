package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// ECN is the ecn match: the TCP ECE/CWR flags and the IP ECN field.
type ECN struct {
	ECE, CWR, HasECT       bool
	ECT                    uint8
	InvECE, InvCWR, InvECT bool
}

func init() {
	Register(&Def{Name: "ecn", New: func() Parser { return &ECN{} },
		Options: []Option{
			{Name: "ecn-tcp-cwr", Invert: true},
			{Name: "ecn-tcp-ece", Invert: true},
			{Name: "ecn-ip-ect", Arg: ReqArg, Invert: true},
		}})
}

// Name implements ruleset.Extension.
func (m *ECN) Name() string { return "ecn" }

// Parse implements Parser.
func (m *ECN) Parse(_ *Context, opt, arg string, inv bool) error {
	switch opt {
	case "ecn-tcp-cwr":
		m.CWR, m.InvCWR = true, inv
	case "ecn-tcp-ece":
		m.ECE, m.InvECE = true, inv
	case "ecn-ip-ect":
		v, ok := ParseUint(arg, 0, 3)
		if !ok {
			return Errorf("ecn: bad value for option \"--ecn-ip-ect\", or out of range (0-3).\n")
		}
		m.HasECT, m.ECT, m.InvECT = true, uint8(v), inv
	}
	return nil
}

// Final implements Parser.
func (m *ECN) Final(ctx *Context) (ruleset.Extension, error) {
	if !m.ECE && !m.CWR && !m.HasECT {
		return nil, Errorf("ECN match: some option required")
	}
	// xt_ecn: the TCP flag tests need -p tcp.
	if (m.ECE || m.CWR) && (ctx.Rule.Proto != 6 || ctx.Rule.Inv&ruleset.InvProto != 0) {
		return nil, KernelInval()
	}
	return m, nil
}

// Save implements ruleset.Extension.
func (m *ECN) Save(b *strings.Builder, _ ruleset.Fmt) {
	if m.ECE {
		b.WriteString(Bang(m.InvECE) + " --ecn-tcp-ece")
	}
	if m.CWR {
		b.WriteString(Bang(m.InvCWR) + " --ecn-tcp-cwr")
	}
	if m.HasECT {
		b.WriteString(Bang(m.InvECT) + " --ecn-ip-ect " + Utoa(uint64(m.ECT)))
	}
}

// Print implements ruleset.Extension.
func (m *ECN) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" ECN match")
	if m.ECE {
		b.WriteString(" " + BangL(m.InvECE) + "ECE")
	}
	if m.CWR {
		b.WriteString(" " + BangL(m.InvCWR) + "CWR")
	}
	if m.HasECT {
		b.WriteString(" " + BangL(m.InvECT) + "ECT=" + Utoa(uint64(m.ECT)))
	}
}

// Match implements pkt.Matcher as xt_ecn's ecn_mt4/ecn_mt6 do: the ECN
// field of the IP TOS / traffic class, then the TCP ECE (0x40) and CWR
// (0x80) flags read at the transport offset nft_compat gives the match -
// like the kernel, without looking at fragments (a non-first fragment's
// payload is read as if it were a TCP header). A truncated TCP header does
// not match.
func (m *ECN) Match(c *pkt.Ctx) bool {
	p := c.P
	if m.HasECT && (p.TOS&3 == m.ECT) == m.InvECT {
		return false
	}
	if m.ECE || m.CWR {
		thoff, _, ok := xtkTHOff(p)
		if !ok || thoff+20 > len(p.Raw) {
			return false
		}
		fl := p.Raw[thoff+13]
		if m.ECE && (fl&0x40 != 0) == m.InvECE {
			return false
		}
		if m.CWR && (fl&0x80 != 0) == m.InvCWR {
			return false
		}
	}
	return true
}
