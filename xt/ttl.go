package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// TTL/hop-limit comparison modes (IPT_TTL_* and IP6T_HL_*).
const (
	TTLEq uint8 = 0
	TTLNe uint8 = 1
	TTLLt uint8 = 2
	TTLGt uint8 = 3
)

// TTL is the IPv4 ttl match (-m ttl --ttl-eq|--ttl-lt|--ttl-gt N).
type TTL struct {
	Mode  uint8 // TTLEq, TTLNe, TTLLt or TTLGt
	Value uint8
}

// ttlParser parses the ttl match and, with other names, the hl match: both
// have lt, gt, eq and a hidden old name for eq, all excluding each other.
type ttlParser struct {
	ext, pre string // "ttl", "ttl" or "hl", "hl"
	missing  string
	mode     uint8
	value    uint8
	seen     uint8 // 1<<eq | 1<<lt | 1<<gt
}

const (
	ttlIDEq = 0
	ttlIDLt = 1
	ttlIDGt = 2
)

func init() {
	Register(&Def{Name: "ttl", Family: ruleset.IPv4,
		New: func() Parser {
			return &ttlParser{ext: "ttl", pre: "ttl", missing: "TTL match: You must specify one of `--ttl-eq', `--ttl-lt', `--ttl-gt"}
		},
		Options: []Option{
			{Name: "ttl-lt", Arg: ReqArg}, {Name: "ttl-gt", Arg: ReqArg},
			{Name: "ttl-eq", Arg: ReqArg, Invert: true}, {Name: "ttl", Arg: ReqArg, Invert: true},
		}})
}

// Parse implements Parser.
func (p *ttlParser) Parse(_ *Context, opt, arg string, inv bool) error {
	id := ttlIDEq
	switch opt {
	case p.pre + "-lt":
		id = ttlIDLt
	case p.pre + "-gt":
		id = ttlIDGt
	}
	if p.seen&(1<<id) != 0 {
		// --ttl and --ttl-eq share an id.
		return Errorf("%s: option \"--%s\" can only be used once.\n", p.ext, opt)
	}
	v, err := x6Uint(p.ext, opt, arg, 0, 255)
	if err != nil {
		return err
	}
	p.seen |= 1 << id
	p.value = uint8(v)
	switch id {
	case ttlIDEq:
		p.mode = TTLEq
		if inv {
			p.mode = TTLNe
		}
	case ttlIDLt:
		p.mode = TTLLt
	default:
		p.mode = TTLGt
	}
	return nil
}

// check is the extension's final check and the option table's exclusions
// (the table lists lt, gt, eq).
func (p *ttlParser) check() error {
	if p.seen == 0 {
		return Errorf("%s", p.missing)
	}
	names := map[int]string{ttlIDEq: p.pre + "-eq", ttlIDLt: p.pre + "-lt", ttlIDGt: p.pre + "-gt"}
	for _, id := range []int{ttlIDLt, ttlIDGt, ttlIDEq} {
		if p.seen&(1<<id) == 0 {
			continue
		}
		for o := ttlIDEq; o <= ttlIDGt; o++ {
			if o != id && p.seen&(1<<o) != 0 {
				return Errorf("%s: option \"--%s\" cannot be used together with \"--%s\".\n", p.ext, names[id], names[o])
			}
		}
	}
	return nil
}

// Final implements Parser.
func (p *ttlParser) Final(*Context) (ruleset.Extension, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	if p.ext == "hl" {
		return &HL{Mode: p.mode, Value: p.value}, nil
	}
	return &TTL{Mode: p.mode, Value: p.value}, nil
}

// Name implements ruleset.Extension.
func (m *TTL) Name() string { return "ttl" }

// Save implements ruleset.Extension.
func (m *TTL) Save(b *strings.Builder, _ ruleset.Fmt) {
	switch m.Mode {
	case TTLEq:
		b.WriteString(" --ttl-eq")
	case TTLNe:
		b.WriteString(" ! --ttl-eq")
	case TTLLt:
		b.WriteString(" --ttl-lt")
	case TTLGt:
		b.WriteString(" --ttl-gt")
	}
	b.WriteString(" " + Utoa(uint64(m.Value)))
}

// ttlOps are the -L operators of the ttl and hl matches, by mode.
var ttlOps = []string{"==", "!=", "<", ">"}

// Print implements ruleset.Extension.
func (m *TTL) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" TTL match TTL " + ttlOps[m.Mode&3] + " " + Utoa(uint64(m.Value)))
}

// ttlCompare is ttl_mt / hl_mt64: the packet's TTL (hop limit) against
// the value; an unknown mode does not match.
func ttlCompare(mode, have, want uint8) bool {
	switch mode {
	case TTLEq:
		return have == want
	case TTLNe:
		return have != want
	case TTLLt:
		return have < want
	case TTLGt:
		return have > want
	}
	return false
}

// Match implements pkt.Matcher as xt_ttl's ttl_mt (IPv4 TTL).
func (m *TTL) Match(c *pkt.Ctx) bool { return ttlCompare(m.Mode, c.P.TTL, m.Value) }
