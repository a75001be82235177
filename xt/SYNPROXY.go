package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// SYNPROXY option bits (xt_SYNPROXY.h).
const (
	synproxyMSS      = 0x01
	synproxyWscale   = 0x02
	synproxySackPerm = 0x04
	synproxyTstamp   = 0x08
	synproxyECN      = 0x10
)

// Synproxy is the SYNPROXY target: answer SYNs with SYN cookies and open
// the connection to the server only once the client's ACK proves it.
type Synproxy struct {
	Options uint8
	Wscale  uint8  // --wscale, kept in 8 bits as the kernel's u8
	MSS     uint16 // --mss, kept in 16 bits as the kernel's u16
}

func init() {
	Register(&Def{Name: "SYNPROXY", Target: true, New: func() Parser { return &Synproxy{} },
		Options: []Option{{Name: "sack-perm"}, {Name: "timestamp"}, {Name: "wscale", Arg: ReqArg},
			{Name: "mss", Arg: ReqArg}, {Name: "ecn"}}})
}

// Name implements ruleset.Extension.
func (t *Synproxy) Name() string { return "SYNPROXY" }

// Parse implements Parser.
func (t *Synproxy) Parse(_ *Context, opt, arg string, _ bool) error {
	switch opt {
	case "sack-perm":
		t.Options |= synproxySackPerm
	case "timestamp":
		t.Options |= synproxyTstamp
	case "ecn":
		t.Options |= synproxyECN
	default:
		v, err := tgUint("SYNPROXY", opt, arg, 0, 0xFFFFFFFF)
		if err != nil {
			return err
		}
		if opt == "wscale" {
			t.Options |= synproxyWscale
			t.Wscale = uint8(v)
		} else {
			t.Options |= synproxyMSS
			t.MSS = uint16(v)
		}
	}
	return nil
}

// Final implements Parser: synproxy_tg4/6_check wants INPUT or FORWARD
// and -p tcp (not inverted).
func (t *Synproxy) Final(ctx *Context) (ruleset.Extension, error) {
	if err := tgKernelPlace(ctx, "", "INPUT", "FORWARD"); err != nil {
		return nil, err
	}
	if ctx.Rule.Proto != pkt.ProtoTCP || ctx.Rule.Inv&ruleset.InvProto != 0 {
		return nil, KernelInval()
	}
	return t, nil
}

// Save implements ruleset.Extension.
func (t *Synproxy) Save(b *strings.Builder, _ ruleset.Fmt) {
	if t.Options&synproxySackPerm != 0 {
		b.WriteString(" --sack-perm")
	}
	if t.Options&synproxyTstamp != 0 {
		b.WriteString(" --timestamp")
	}
	if t.Options&synproxyWscale != 0 {
		b.WriteString(" --wscale " + Utoa(uint64(t.Wscale)))
	}
	if t.Options&synproxyMSS != 0 {
		b.WriteString(" --mss " + Utoa(uint64(t.MSS)))
	}
	if t.Options&synproxyECN != 0 {
		b.WriteString(" --ecn")
	}
}

// Print implements ruleset.Extension.
func (t *Synproxy) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" SYNPROXY ")
	if t.Options&synproxySackPerm != 0 {
		b.WriteString("sack-perm ")
	}
	if t.Options&synproxyTstamp != 0 {
		b.WriteString("timestamp ")
	}
	if t.Options&synproxyWscale != 0 {
		b.WriteString("wscale " + Utoa(uint64(t.Wscale)) + " ")
	}
	if t.Options&synproxyMSS != 0 {
		b.WriteString("mss " + Utoa(uint64(t.MSS)) + " ")
	}
	if t.Options&synproxyECN != 0 {
		b.WriteString("ecn ")
	}
}

// Act implements pkt.Actor as synproxy_tg4/6: a packet without a whole
// TCP header is dropped; a pure SYN is answered with a cookie SYN-ACK and
// consumed (pkt.Stolen); a pure ACK is consumed when it carries a valid
// cookie, else dropped - the cookie secret is the kernel's, so that
// verdict is left undecided; anything else goes on.
func (t *Synproxy) Act(c *pkt.Ctx) pkt.Verdict {
	th := tcpHeader(c)
	if th == nil {
		return pkt.Drop
	}
	f := th[13]
	const fin, syn, rst, ack = 0x01, 0x02, 0x04, 0x10
	switch {
	case f&syn != 0 && f&(ack|fin|rst) == 0:
		return pkt.Stolen
	case f&ack != 0 && f&(fin|rst|syn) == 0:
		c.Undecide("SYNPROXY: SYN cookie validity unknown")
		return pkt.Drop
	}
	return pkt.Continue
}
