package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Quota is the quota match (-m quota [!] --quota BYTES).
type Quota struct {
	Bytes  uint64
	Invert bool
}

type quotaParser struct {
	m   Quota
	set bool
}

func init() {
	Register(&Def{Name: "quota", New: func() Parser { return &quotaParser{} },
		Options: []Option{{Name: "quota", Arg: ReqArg, Invert: true}}})
}

// Parse implements Parser.
func (p *quotaParser) Parse(_ *Context, opt, arg string, inv bool) error {
	v, err := x6Uint("quota", opt, arg, 0, 1<<64-1)
	if err != nil {
		return err
	}
	p.m.Bytes, p.m.Invert, p.set = v, inv, true
	return nil
}

// Final implements Parser.
func (p *quotaParser) Final(*Context) (ruleset.Extension, error) {
	if !p.set {
		return nil, Errorf("quota: option \"--quota\" must be specified\n")
	}
	m := p.m
	return &m, nil
}

// Name implements ruleset.Extension.
func (m *Quota) Name() string { return "quota" }

// Save implements ruleset.Extension.
func (m *Quota) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(Bang(m.Invert) + " --quota " + Utoa(m.Bytes))
}

// Print implements ruleset.Extension. iptables 1.8.9 does not show the
// inversion here.
func (m *Quota) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" quota: " + Utoa(m.Bytes) + " bytes")
}

// quotaState is struct xt_quota_priv: the bytes left.
type quotaState struct {
	quota uint64
	ok    bool
}

func newQuotaState() any { return &quotaState{} }

// Match implements pkt.Matcher as xt_quota's quota_mt (iptables-nft keeps
// quota an xt match): while the bytes left cover skb->len (the IP total
// length, c.P.Len) they decrease by it and the rule matches; the first
// packet that does not fit empties the quota for good. The count is the
// rule's own, from the --quota value the rule was loaded with.
func (m *Quota) Match(c *pkt.Ctx) bool {
	s := c.Store.Get(m, newQuotaState).(*quotaState)
	if !s.ok {
		s.quota, s.ok = m.Bytes, true
	}
	n := uint64(c.P.Len)
	if s.quota >= n {
		s.quota -= n
		return !m.Invert
	}
	s.quota = 0
	return m.Invert
}
