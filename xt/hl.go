package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// HL is the IPv6 hop limit match (-m hl --hl-eq|--hl-lt|--hl-gt N).
type HL struct {
	Mode  uint8 // TTLEq, TTLNe, TTLLt or TTLGt
	Value uint8
}

func init() {
	Register(&Def{Name: "hl", Family: ruleset.IPv6,
		New: func() Parser {
			return &ttlParser{ext: "hl", pre: "hl", missing: "HL match: You must specify one of `--hl-eq', `--hl-lt', `--hl-gt'"}
		},
		Options: []Option{
			{Name: "hl-lt", Arg: ReqArg}, {Name: "hl-gt", Arg: ReqArg},
			{Name: "hl-eq", Arg: ReqArg, Invert: true}, {Name: "hl", Arg: ReqArg, Invert: true},
		}})
}

// Name implements ruleset.Extension.
func (m *HL) Name() string { return "hl" }

// Save implements ruleset.Extension.
func (m *HL) Save(b *strings.Builder, _ ruleset.Fmt) {
	op := []string{"--hl-eq", "! --hl-eq", "--hl-lt", "--hl-gt"}[m.Mode&3]
	b.WriteString(" " + op + " " + Utoa(uint64(m.Value)))
}

// Print implements ruleset.Extension.
func (m *HL) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" HL match HL " + ttlOps[m.Mode&3] + " " + Utoa(uint64(m.Value)))
}

// Match implements pkt.Matcher as xt_hl's hl_mt6 (IPv6 hop limit).
func (m *HL) Match(c *pkt.Ctx) bool { return ttlCompare(m.Mode, c.P.TTL, m.Value) }
