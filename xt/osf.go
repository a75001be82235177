package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// OSF is the osf match (passive OS fingerprinting of TCP SYNs, IPv4).
type OSF struct {
	Genre          string
	Invert         bool
	TTL, LogLevel  uint32
	HasTTL, HasLog bool
	hasGenre       bool
}

func init() {
	Register(&Def{Name: "osf", Family: ruleset.IPv4, New: func() Parser { return &OSF{} },
		Options: []Option{
			{Name: "genre", Arg: ReqArg, Invert: true},
			{Name: "ttl", Arg: ReqArg},
			{Name: "log", Arg: ReqArg},
		}})
}

// Name implements ruleset.Extension.
func (m *OSF) Name() string { return "osf" }

// Parse implements Parser.
func (m *OSF) Parse(_ *Context, opt, arg string, inv bool) error {
	switch opt {
	case "genre":
		if len(arg) > 31 {
			arg = arg[:31] // genre[MAXGENRELEN]
		}
		m.Genre, m.Invert, m.hasGenre = arg, inv, true
	case "ttl", "log":
		v, err := ParseOptUint("osf", opt, arg, 0, 2)
		if err != nil {
			return err
		}
		if opt == "ttl" {
			m.TTL, m.HasTTL = uint32(v), true
		} else {
			m.LogLevel, m.HasLog = uint32(v), true
		}
	}
	return nil
}

// Final implements Parser: xt_osf needs -p tcp and is valid at
// PREROUTING, INPUT and FORWARD.
func (m *OSF) Final(ctx *Context) (ruleset.Extension, error) {
	if !m.hasGenre {
		return nil, Errorf("osf: option \"--genre\" must be specified\n")
	}
	if ctx.Rule.Proto != pkt.ProtoTCP || ctx.Rule.Inv&ruleset.InvProto != 0 {
		return nil, KernelInval()
	}
	if !xtHookAllowed(ctx, ruleset.PreRouting, ruleset.LocalIn, ruleset.Forward) {
		return nil, KernelInval()
	}
	return m, nil
}

// Save implements ruleset.Extension.
func (m *OSF) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(Bang(m.Invert) + " --genre " + m.Genre)
	if m.HasTTL {
		b.WriteString(" --ttl " + Utoa(uint64(m.TTL)))
	}
	if m.HasLog {
		b.WriteString(" --log " + Utoa(uint64(m.LogLevel)))
	}
}

// Print implements ruleset.Extension.
func (m *OSF) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" OS fingerprint match " + bangSp(m.Invert) + m.Genre)
}

// Match implements pkt.Matcher as nf_osf_match does as far as the packet
// decides: a packet without a TCP header or without SYN never matches
// (the kernel ignores the genre's "!"). For a SYN the answer depends on
// the fingerprints loaded into the kernel (nfnetlink_osf), which a
// capture lacks.
func (m *OSF) Match(c *pkt.Ctx) bool {
	p := c.P
	if p.Proto != pkt.ProtoTCP || p.L4 < 0 || p.TCPFlags&0x02 == 0 {
		return false
	}
	return c.Undecide("osf: the kernel's OS fingerprint list is unknown")
}
