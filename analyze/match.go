package analyze

import (
	"net/netip"
	"strings"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// iface kinds in the interface alphabet.
const (
	ifNone  = iota // no interface ("" : -o at INPUT, -i at OUTPUT)
	ifExact        // a name used in the ruleset
	ifWild         // some other name with a prefix used as a wildcard
	ifOther        // a name no pattern of the ruleset names
)

type ifaceSym struct {
	kind int
	name string // exact name, or the wildcard's prefix
}

// alphabet is the finite interface alphabet of a ruleset: "", "lo", every
// name and wildcard prefix the rules use, and "other". At most 64 symbols;
// past that the remaining patterns are over-approximated.
type alphabet struct {
	syms []ifaceSym
}

// newAlphabet is the interface alphabet of one or more rulesets together:
// "", "lo", "other" and every name and wildcard any of them uses.
func newAlphabet(rss ...*ruleset.Ruleset) *alphabet {
	a := &alphabet{syms: []ifaceSym{{ifNone, ""}, {ifExact, "lo"}, {ifOther, ""}}}
	seen := map[string]bool{"lo": true}
	add := func(p string) {
		if p == "" || seen[p] || len(a.syms) >= 64 {
			return
		}
		seen[p] = true
		if strings.HasSuffix(p, "+") {
			a.syms = append(a.syms, ifaceSym{ifWild, p[:len(p)-1]})
		} else {
			a.syms = append(a.syms, ifaceSym{ifExact, p})
		}
	}
	for _, rs := range rss {
		for _, t := range rs.Tables() {
			for _, c := range t.Chains {
				for _, r := range c.Rules {
					add(r.InIface)
					add(r.OutIface)
				}
			}
		}
	}
	return a
}

// names lists the symbols in the mask m, in order: names, "eth+" for
// other names of a wildcard, "other", and none for the no-interface
// symbol (left out when none is "").
func (a *alphabet) names(m uint64, none string) []string {
	var out []string
	for i, s := range a.syms {
		if m&(1<<uint(i)) == 0 {
			continue
		}
		switch s.kind {
		case ifNone:
			if none != "" {
				out = append(out, none)
			}
		case ifExact:
			out = append(out, s.name)
		case ifWild:
			out = append(out, s.name+"+")
		case ifOther:
			out = append(out, "other")
		}
	}
	return out
}

func ifaceMatch(pattern, name string) bool {
	if strings.HasSuffix(pattern, "+") {
		return strings.HasPrefix(name, pattern[:len(pattern)-1])
	}
	return pattern == name
}

// bits returns the symbols that pattern matches; exact is false when the
// pattern is not in the alphabet (overflow).
func (a *alphabet) bits(pattern string) (uint64, bool) {
	var m uint64
	known := false
	for i, s := range a.syms {
		ok := false
		switch s.kind {
		case ifNone:
			ok = ifaceMatch(pattern, "")
		case ifExact:
			ok = ifaceMatch(pattern, s.name)
			if s.name == pattern {
				known = true
			}
		case ifWild:
			if strings.HasSuffix(pattern, "+") {
				ok = strings.HasPrefix(s.name, pattern[:len(pattern)-1])
				if s.name+"+" == pattern {
					known = true
				}
			}
		case ifOther:
			ok = pattern == "+"
		}
		if ok {
			m |= 1 << uint(i)
		}
	}
	return m, known || pattern == "+"
}

func (a *alphabet) all() uint64 {
	if len(a.syms) >= 64 {
		return ^uint64(0)
	}
	return 1<<uint(len(a.syms)) - 1
}

func (a *alphabet) index(name string) uint64 {
	for i, s := range a.syms {
		if s.kind == ifExact && s.name == name {
			return 1 << uint(i)
		}
	}
	return 0
}

// witnessName returns a concrete interface name for symbol i.
func (a *alphabet) witnessName(i int) string {
	s := a.syms[i]
	switch s.kind {
	case ifNone:
		return ""
	case ifExact:
		return s.name
	}
	cands := []string{"eth0", "ens3", "eth9", "wan9", "ifx9"}
	if s.kind == ifWild {
		cands = []string{s.name + "0", s.name + "9", s.name + "x9"}
	}
	for _, c := range cands {
		if a.classOf(c) == i {
			return c
		}
	}
	return cands[len(cands)-1]
}

// classOf returns the symbol a concrete name belongs to.
func (a *alphabet) classOf(name string) int {
	if name == "" {
		return 0
	}
	best, bestLen := -1, -1
	for i, s := range a.syms {
		switch s.kind {
		case ifExact:
			if s.name == name {
				return i
			}
		case ifWild:
			if strings.HasPrefix(name, s.name) && len(s.name) > bestLen {
				best, bestLen = i, len(s.name)
			}
		}
	}
	if best >= 0 {
		return best
	}
	return 2
}

// ruleSet translates a rule's header and extension matches into the set of
// packets it may match. exact is false when some part was
// over-approximated; why names it.
func (an *analyzer) ruleSet(r *ruleset.Rule) (may Set, exact bool, why string) {
	b := an.full
	exact = true
	approx := func(w string) {
		if exact {
			why = w
		}
		exact = false
	}
	addr := func(am ruleset.AddrMask, inv bool) ivs {
		full := an.full.Src
		if am.IsAny() {
			if inv {
				return nil
			}
			return full
		}
		p, ok := am.Prefix()
		if !ok {
			approx("non-contiguous address mask " + am.String())
			return full
		}
		s := prefixIvs(p)
		if inv {
			return full.sub(s)
		}
		return s
	}
	if !r.Src.IsAny() || r.Inv&ruleset.InvSrc != 0 {
		b.Src = b.Src.inter(addr(r.Src, r.Inv&ruleset.InvSrc != 0))
	}
	if !r.Dst.IsAny() || r.Inv&ruleset.InvDst != 0 {
		b.Dst = b.Dst.inter(addr(r.Dst, r.Inv&ruleset.InvDst != 0))
	}
	ifbits := func(p string, inv bool) uint64 {
		m, known := an.ifs.bits(p)
		if !known {
			approx("interface " + p + " beyond the analyzer's interface alphabet")
			return an.ifs.all()
		}
		if inv {
			return an.ifs.all() &^ m
		}
		return m
	}
	if r.InIface != "" {
		b.In &= ifbits(r.InIface, r.Inv&ruleset.InvIn != 0)
	}
	if r.OutIface != "" {
		b.Out &= ifbits(r.OutIface, r.Inv&ruleset.InvOut != 0)
	}
	if r.Proto != 0 {
		p := protoBit(r.Proto)
		if r.Inv&ruleset.InvProto != 0 {
			for i := range p {
				p[i] = ^p[i]
			}
		}
		for i := range p {
			b.Proto[i] &= p[i]
		}
	}
	if r.Frag {
		if r.Inv&ruleset.InvFrag != 0 {
			b.Frag &= fragFirst
		} else {
			b.Frag &= fragLater
		}
	}
	boxes := []Box{b}
	each := func(f func(*Box)) {
		for i := range boxes {
			f(&boxes[i])
		}
	}
	ports := func(r xt.PortRange, inv bool) ivs {
		s := span(uint64(r.Lo), uint64(r.Hi))
		if r.Hi < r.Lo {
			s = nil
		}
		if inv {
			return span(0, maxPort).sub(s)
		}
		return s
	}
	for _, m := range r.Matches {
		switch m := m.(type) {
		case *xt.TCP:
			each(func(b *Box) {
				b.Frag &= fragFirst
				b.SPort = b.SPort.inter(ports(m.Src, m.InvSrc))
				b.DPort = b.DPort.inter(ports(m.Dst, m.InvDst))
				if m.FlagMask != 0 || m.InvFlags {
					var fs uint64
					for f := 0; f < 64; f++ {
						if (uint8(f)&m.FlagMask == m.FlagComp) != m.InvFlags {
							fs |= 1 << uint(f)
						}
					}
					b.Flags &= fs
				}
			})
			if m.Option != 0 {
				approx("tcp --tcp-option")
			}
		case *xt.UDP:
			each(func(b *Box) {
				b.Frag &= fragFirst
				b.SPort = b.SPort.inter(ports(m.Src, m.InvSrc))
				b.DPort = b.DPort.inter(ports(m.Dst, m.InvDst))
			})
		case *xt.Multiport:
			var set ivs
			for i := 0; i < len(m.Ports); i++ {
				lo, hi := m.Ports[i], m.Ports[i]
				if i < len(m.Range) && m.Range[i] && i+1 < len(m.Ports) {
					i++
					hi = m.Ports[i]
				}
				if lo <= hi {
					set = set.union(span(uint64(lo), uint64(hi)))
				}
			}
			comp := span(0, maxPort).sub(set)
			var next []Box
			for _, x := range boxes {
				x.Frag &= fragFirst
				switch {
				case m.Dir == xt.MultiportSource:
					x.SPort = x.SPort.inter(pick(m.Inv, comp, set))
					next = append(next, x)
				case m.Dir == xt.MultiportDest:
					x.DPort = x.DPort.inter(pick(m.Inv, comp, set))
					next = append(next, x)
				case m.Inv:
					x.SPort, x.DPort = x.SPort.inter(comp), x.DPort.inter(comp)
					next = append(next, x)
				default:
					y := x
					x.SPort = x.SPort.inter(set)
					y.DPort = y.DPort.inter(set)
					next = append(next, x, y)
				}
			}
			boxes = next
		case *xt.State:
			st := m.Mask & stAll
			if m.Inv {
				st = stAll &^ st
			}
			each(func(b *Box) { b.State &= st })
		case *xt.ConntrackMatch:
			if m.Flags == xt.CtState && m.Inv&^xt.CtState == 0 {
				st := m.States & stAll
				if m.Inv&xt.CtState != 0 {
					st = stAll &^ st
				}
				each(func(b *Box) { b.State &= st })
			} else if m.Flags&xt.CtState != 0 && m.Inv&xt.CtState == 0 {
				// the state part is exact, the rest over-approximated
				each(func(b *Box) { b.State &= m.States & stAll })
				approx("conntrack options besides --ctstate")
			} else {
				approx("conntrack options besides --ctstate")
			}
		case *xt.ICMP:
			each(func(b *Box) { b.Frag &= fragFirst })
			if m.Type != 0xFF {
				s := span(uint64(m.Type)<<8|uint64(m.CodeMin), uint64(m.Type)<<8|uint64(m.CodeMax))
				if m.CodeMax < m.CodeMin {
					s = nil
				}
				each(func(b *Box) { b.ICMP = b.ICMP.inter(pick(m.Inv, span(0, maxICMP).sub(s), s)) })
			} else if m.Inv {
				each(func(b *Box) { b.ICMP = nil })
			}
		case *xt.ICMP6:
			each(func(b *Box) { b.Frag &= fragFirst })
			s := span(uint64(m.Type)<<8|uint64(m.CodeMin), uint64(m.Type)<<8|uint64(m.CodeMax))
			if m.CodeMax < m.CodeMin {
				s = nil
			}
			each(func(b *Box) { b.ICMP = b.ICMP.inter(pick(m.Inv, span(0, maxICMP).sub(s), s)) })
		case *xt.IPRange:
			rng := func(lo, hi netip.Addr, inv bool) ivs {
				s := ivs{{addrVal(lo), addrVal(hi)}}
				if addrVal(hi).less(addrVal(lo)) {
					s = nil
				}
				if inv {
					return an.full.Src.sub(s)
				}
				return s
			}
			if m.Src {
				s := rng(m.SrcMin, m.SrcMax, m.InvSrc)
				each(func(b *Box) { b.Src = b.Src.inter(s) })
			}
			if m.Dst {
				s := rng(m.DstMin, m.DstMax, m.InvDst)
				each(func(b *Box) { b.Dst = b.Dst.inter(s) })
			}
		default:
			if m.Name() == "comment" {
				continue
			}
			approx("-m " + m.Name())
		}
	}
	for _, x := range boxes {
		if !x.empty() {
			may = append(may, x)
		}
	}
	return may.compact(), exact, why
}

func prefixIvs(p netip.Prefix) ivs {
	p = p.Masked()
	lo := addrVal(p.Addr())
	hostBits := p.Addr().BitLen() - p.Bits()
	hi := lo
	switch {
	case hostBits >= 128:
		hi = u128{^uint64(0), ^uint64(0)}
	case hostBits >= 64:
		hi.lo = ^uint64(0)
		hi.hi |= (uint64(1)<<uint(hostBits-64) - 1)
	default:
		hi.lo |= (uint64(1)<<uint(hostBits) - 1)
	}
	return ivs{{lo, hi}}
}
