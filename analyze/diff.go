package analyze

import (
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"math/bits"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// Statuses of a compared chain and of a region of it.
const (
	DiffEquivalent = "equivalent"
	DiffDifferent  = "different"
	DiffPossibly   = "possibly-different"
)

// vUnseen labels the packets one side never sees in the filter table:
// with connection tracking loaded, fragments are reassembled first.
const vUnseen = "(reassembled before filter)"

// DiffRegion is a set of packets whose verdict differs between the two
// rulesets: a box of header space, its verdict on each side, and one
// packet of it.
type DiffRegion struct {
	// Status is "different" (the analyzer proves the verdicts differ for
	// every packet of the region) or "possibly-different" (it depends on
	// matches the analyzer over-approximates).
	Status string `json:"status"`
	A      string `json:"a"` // the verdict in the first ruleset
	B      string `json:"b"` // the verdict in the second ruleset
	// Region writes the box by the dimensions it restricts, e.g.
	// "tcp dport 22 src 10.0.0.0/8 state NEW"; "any" for every packet.
	Region string `json:"region"`
	// Witness is a packet of the region in the form `rampart explain`
	// reads.
	Witness string `json:"witness"`
	Note    string `json:"note,omitempty"`
	// Packet is the witness as a value.
	Packet Packet `json:"-"`
	vol    float64
}

// ChainDiff compares one built-in chain of the filter table.
type ChainDiff struct {
	Family  string       `json:"family"`
	Chain   string       `json:"chain"`
	Status  string       `json:"status"`
	Regions []DiffRegion `json:"regions"`
	// Omitted counts regions left out of Regions (past DiffMaxRegions).
	Omitted int `json:"omitted,omitempty"`
}

// DiffReport is the comparison of two rules files.
type DiffReport struct {
	A string `json:"a"` // the first file
	B string `json:"b"` // the second file
	// Equivalent is true only when every compared chain is proven to give
	// every packet the same verdict.
	Equivalent bool        `json:"equivalent"`
	Chains     []ChainDiff `json:"chains"`
	// Warnings are lines of a script that failed to load (skipped, as
	// the shell would).
	Warnings []string `json:"warnings,omitempty"`
}

// DiffMaxRegions bounds the regions reported per chain.
const DiffMaxRegions = 200

// DiffOptions select what Diff compares.
type DiffOptions struct {
	// Chains are the built-in filter chains to compare (INPUT, FORWARD,
	// OUTPUT); empty: all three.
	Chains []string
}

// DiffFiles loads two rules files and compares them. fam is the family
// of both (0: as the files say: a restore file's header or name, and for
// scripts IPv4 plus IPv6 when either has ip6tables commands). The error
// names the file, line and token of bad input.
func DiffFiles(nameA string, dataA []byte, nameB string, dataB []byte, fam ruleset.Family, o DiffOptions) (*DiffReport, error) {
	fams, err := diffFamilies(nameA, dataA, nameB, dataB, fam)
	if err != nil {
		return nil, err
	}
	rep := &DiffReport{A: nameA, B: nameB, Equivalent: true}
	for _, f := range fams {
		var rss [2]*ruleset.Ruleset
		for i, in := range []struct {
			name string
			data []byte
		}{{nameA, dataA}, {nameB, dataB}} {
			rs, diags, err := ipt.Load(in.name, in.data, ipt.LoadOptions{Family: f})
			if err != nil {
				return nil, err
			}
			for _, d := range diags {
				rep.Warnings = append(rep.Warnings, ipt.FormatDiag(d, " (line skipped, as the shell would)"))
			}
			rss[i] = rs
		}
		cds := Diff(rss[0], rss[1], o)
		for _, cd := range cds {
			if cd.Status != DiffEquivalent {
				rep.Equivalent = false
			}
		}
		rep.Chains = append(rep.Chains, cds...)
	}
	return rep, nil
}

func diffFamilies(nameA string, dataA []byte, nameB string, dataB []byte, fam ruleset.Family) ([]ruleset.Family, error) {
	if fam != 0 {
		return []ruleset.Family{fam}, nil
	}
	fa, fb := FileFamily(nameA, dataA), FileFamily(nameB, dataB)
	switch {
	case fa != 0 && fb != 0 && fa != fb:
		return nil, fmt.Errorf("%s holds %s rules but %s holds %s rules: give -4 or -6", nameA, fa, nameB, fb)
	case fa != 0:
		return []ruleset.Family{fa}, nil
	case fb != 0:
		return []ruleset.Family{fb}, nil
	}
	fams := []ruleset.Family{ruleset.IPv4}
	if hasIP6Commands(dataA) || hasIP6Commands(dataB) {
		fams = append(fams, ruleset.IPv6)
	}
	return fams, nil
}

// verdictRegion is one verdict of a chain and the packets that get it.
type verdictRegion struct {
	label string
	reg   Region
}

// diffSide is one ruleset's analyzer and its walk of one chain.
type diffSide struct {
	an    *analyzer
	hr    *HookResult // nil: no such chain
	entry Set
	verds []verdictRegion
	why   []string // what the walk over-approximates
}

// Diff compares the filter tables of two rulesets of one family chain by
// chain: the packets whose verdict differs, as regions with a witness.
func Diff(a, b *ruleset.Ruleset, o DiffOptions) []ChainDiff {
	ifs := newAlphabet(a, b)
	ans := [2]*analyzer{newAnalyzerWith(a, ifs), newAnalyzerWith(b, ifs)}
	chains := o.Chains
	if len(chains) == 0 {
		chains = []string{"INPUT", "FORWARD", "OUTPUT"}
	}
	split := splitTargets(a, b)
	ch := align(a, b)
	var out []ChainDiff
	for _, name := range chains {
		if ans[0].conntrack == ans[1].conntrack && sameChain(a, b, name) {
			// the same rules in the same order: the same verdicts
			out = append(out, ChainDiff{Family: a.Family.String(), Chain: name, Status: DiffEquivalent, Regions: []DiffRegion{}})
			continue
		}
		// the two walks are independent: one goroutine each
		var sides [2]*diffSide
		var wg sync.WaitGroup
		for i := range ans {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sides[i] = ans[i].diffSide(name, split)
			}()
		}
		wg.Wait()
		addUnseen(sides)
		raws := pairRegions(sides, ch.touched(sides, name))
		if hasPossibly(raws) {
			if u, ok := refine(ans, ifs, name, split, ch.id); ok {
				raws = narrow(raws, u)
			}
		}
		out = append(out, finishChain(a.Family, name, sides, raws))
	}
	return out
}

// addUnseen labels, on each side, the packets only the other side's
// filter table sees.
func addUnseen(sides [2]*diffSide) {
	all := sides[0].entry.Union(sides[1].entry)
	for _, s := range sides {
		if rest := all.Subtract(s.entry); !rest.IsEmpty() {
			s.verds = append(s.verds, verdictRegion{vUnseen, Region{rest, rest}})
		}
	}
}

func hasPossibly(raws []rawRegion) bool {
	for _, r := range raws {
		if r.status == DiffPossibly {
			return true
		}
	}
	return false
}

// maxRefinePreds and maxRefineRules bound the case split of refine: at
// most 1<<maxRefinePreds walks of each ruleset, and that many times the
// rules at most maxRefineRules.
const (
	maxRefinePreds = 4
	maxRefineRules = 20000
)

// refine decides the possibly different packets of a chain by cases. A
// rule the analyzer over-approximates is a predicate of the packet it
// cannot see (a mark, a rate limit's state), the same predicate in both
// rulesets for a rule and its counterpart (ids; a rate limit or recent
// list of an unchanged rule has the same state in both). For each truth
// assignment of these predicates (a rule then matches all its "may"
// packets, or none of its uncertain ones) both walks are exact; a packet
// whose verdicts agree under every assignment is the same in both
// rulesets whatever the predicates are. refine returns the packets whose
// verdicts differ under some assignment; ok is false when the case split
// does not apply: too many predicates, a walk that approximates on its
// own (a loop, a bounded set), or a recent match that changes its list
// during the walk (its predicate then depends on the path).
//
// ans are the analyzers of the two rulesets, after their walk of chain.
func refine(ans [2]*analyzer, ifs *alphabet, chain string, split map[string]bool, ids map[*ruleset.Rule]int) (Set, bool) {
	hook, _ := ruleset.HookOf(chain)
	keys := map[int]int{}
	var order []int
	nrules := 0
	a, b := ans[0].rs, ans[1].rs
	for _, an := range ans {
		nrules += len(an.order)
		if len(an.approxWalk) > 0 {
			return nil, false
		}
		for _, ri := range an.order {
			if ri.OwnExact || ri.Hooks&(1<<hook) == 0 {
				continue
			}
			for _, m := range ri.Rule.Matches {
				if r, ok := m.(*xt.Recent); ok && r.CheckSet&(xt.RecentSet|xt.RecentUpdate|xt.RecentRemove) != 0 {
					return nil, false
				}
			}
			k := ids[ri.Rule]
			if _, ok := keys[k]; !ok {
				keys[k] = len(order)
				order = append(order, k)
			}
			if len(order) > maxRefinePreds {
				return nil, false
			}
		}
	}
	if len(order) == 0 || len(order) > maxRefinePreds || nrules<<uint(len(order)) > maxRefineRules {
		return nil, false
	}
	var u Set
	for sigma := 0; sigma < 1<<uint(len(order)); sigma++ {
		var sides [2]*diffSide
		for i, rs := range []*ruleset.Ruleset{a, b} {
			an := newAnalyzerWith(rs, ifs)
			for _, ri := range an.order {
				if ri.OwnExact {
					continue
				}
				k, ok := keys[ids[ri.Rule]]
				if !ok {
					continue // not reached from this chain
				}
				ri.OwnExact = true
				if sigma&(1<<uint(k)) == 0 {
					ri.Own = nil
				}
			}
			sides[i] = an.diffSide(chain, split)
			if len(an.approxWalk) > 0 {
				return nil, false
			}
		}
		addUnseen(sides)
		for _, r := range pairRegions(sides, nil) {
			u = append(u, r.set...)
		}
	}
	return u.compact(), true
}

// narrow restricts the possibly different regions to u, the packets that
// may differ at all.
func narrow(raws []rawRegion, u Set) []rawRegion {
	var out []rawRegion
	for _, r := range raws {
		if r.status == DiffPossibly {
			r.set = meet(r.set, u)
			if r.set.IsEmpty() {
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// changes are what differs between two filter tables, rule by rule: the
// rules of each that the other lacks at the same place (by a longest
// common subsequence of the rules' text per chain), and the built-in
// chains whose policy differs.
//
// A packet that matches none of these rules in either ruleset, nor
// reaches the end of a chain whose policy differs, gets the same verdict
// in both: a rule it does not match does nothing to it, so its verdict is
// the same with the changed rules taken out of both rulesets, and
// without them the two are the same (the common subsequences; a jump to
// a chain only one ruleset has counts as changed on both sides).
type changes struct {
	rules  [2]map[*ruleset.Rule]bool
	policy map[string]bool
	// id numbers the rules of both rulesets: a rule and its counterpart
	// in the other ruleset share a number, a changed rule has its own.
	id map[*ruleset.Rule]int
}

// maxAlignCells bounds the table of the longest common subsequence of
// one chain; past it the differing middle of the chain counts as changed.
const maxAlignCells = 4 << 20

func align(a, b *ruleset.Ruleset) *changes {
	ch := &changes{rules: [2]map[*ruleset.Rule]bool{{}, {}}, policy: map[string]bool{}, id: map[*ruleset.Rule]int{}}
	ta, tb := a.Table("filter"), b.Table("filter")
	number := func(c *ruleset.Chain) {
		if c != nil {
			for _, r := range c.Rules {
				if _, ok := ch.id[r]; !ok {
					ch.id[r] = len(ch.id)
				}
			}
		}
	}
	if ta == nil || tb == nil {
		for _, t := range []*ruleset.Table{ta, tb} {
			if t != nil {
				for _, c := range t.Chains {
					number(c)
				}
			}
		}
		return ch
	}
	tabs := [2]*ruleset.Table{ta, tb}
	key := func(side int, r *ruleset.Rule) string {
		var s strings.Builder
		iptext.RuleSpecLossless(&s, r, a.Family)
		if j, ok := r.Target.(ruleset.Jump); ok {
			// a jump to a chain only one table has acts differently
			fmt.Fprintf(&s, "|%v|%v", tabs[side].Chain(j.Chain) != nil, tabs[1-side].Chain(j.Chain) != nil)
		}
		return s.String()
	}
	names := map[string]bool{}
	for _, t := range tabs {
		for _, c := range t.Chains {
			names[c.Name] = true
		}
	}
	for name := range names {
		ca, cb := ta.Chain(name), tb.Chain(name)
		if ca == nil || cb == nil {
			for i, c := range []*ruleset.Chain{ca, cb} {
				if c != nil {
					for _, r := range c.Rules {
						ch.rules[i][r] = true
					}
				}
				number(c)
			}
			continue
		}
		if ca.Policy != cb.Policy {
			ch.policy[name] = true
		}
		ka, kb := make([]string, len(ca.Rules)), make([]string, len(cb.Rules))
		for i, r := range ca.Rules {
			ka[i] = key(0, r)
		}
		for i, r := range cb.Rules {
			kb[i] = key(1, r)
		}
		ia, ib, pairs := lcsAlign(ka, kb)
		for _, p := range pairs {
			n := len(ch.id)
			ch.id[ca.Rules[p[0]]], ch.id[cb.Rules[p[1]]] = n, n
		}
		for _, i := range ia {
			ch.rules[0][ca.Rules[i]] = true
		}
		for _, i := range ib {
			ch.rules[1][cb.Rules[i]] = true
		}
		number(ca)
		number(cb)
	}
	return ch
}

// lcsAlign aligns a and b by a longest common subsequence: the indexes
// of each outside it, and the pairs of indexes in it (all of the
// differing middle is left out when it is too large to align).
func lcsAlign(a, b []string) (ua, ub []int, pairs [][2]int) {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pairs = append(pairs, [2]int{pre, pre})
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		pairs = append(pairs, [2]int{len(a) - 1 - suf, len(b) - 1 - suf})
		suf++
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	n, m := len(ma), len(mb)
	if n*m > maxAlignCells {
		for i := range ma {
			ua = append(ua, pre+i)
		}
		for j := range mb {
			ub = append(ub, pre+j)
		}
		return ua, ub, pairs
	}
	// l[i][j]: the longest common subsequence of ma[i:] and mb[j:]
	l := make([][]int32, n+1)
	for i := range l {
		l[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			switch {
			case ma[i] == mb[j]:
				l[i][j] = l[i+1][j+1] + 1
			case l[i+1][j] >= l[i][j+1]:
				l[i][j] = l[i+1][j]
			default:
				l[i][j] = l[i][j+1]
			}
		}
	}
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case ma[i] == mb[j]:
			pairs = append(pairs, [2]int{pre + i, pre + j})
			i++
			j++
		case l[i+1][j] >= l[i][j+1]:
			ua = append(ua, pre+i)
			i++
		default:
			ub = append(ub, pre+j)
			j++
		}
	}
	for ; i < n; i++ {
		ua = append(ua, pre+i)
	}
	for ; j < m; j++ {
		ub = append(ub, pre+j)
	}
	return ua, ub, pairs
}

// touched returns the packets of a built-in chain whose verdicts may
// differ: those that reach and may match a changed rule on either side,
// or reach the end of the chain when its policy changed; nil (everything)
// when a side lacks the chain.
func (ch *changes) touched(sides [2]*diffSide, chain string) Set {
	if sides[0].hr == nil || sides[1].hr == nil {
		return nil
	}
	t := Set{}
	for i, s := range sides {
		hook := s.hr.Hook
		for _, ri := range s.an.order {
			if ch.rules[i][ri.Rule] && ri.Hooks&(1<<hook) != 0 {
				t = append(t, meet(ri.Match.May, s.hr.Entry)...)
			}
		}
		if ch.policy[chain] {
			t = append(t, s.hr.PolicyRegion.May...)
		}
	}
	return t.compact()
}

// sameChain reports whether a built-in chain of the two filter tables
// and every chain it reaches hold the same rules (and the same policy).
func sameChain(a, b *ruleset.Ruleset, name string) bool {
	ta, tb := a.Table("filter"), b.Table("filter")
	if ta == nil || tb == nil {
		return ta == nil && tb == nil
	}
	seen := map[string]bool{}
	var same func(name string) bool
	same = func(name string) bool {
		if seen[name] {
			return true
		}
		seen[name] = true
		ca, cb := ta.Chain(name), tb.Chain(name)
		if ca == nil || cb == nil {
			return ca == nil && cb == nil
		}
		if ca.Policy != cb.Policy || len(ca.Rules) != len(cb.Rules) {
			return false
		}
		for i := range ca.Rules {
			var x, y strings.Builder
			iptext.RuleSpecLossless(&x, ca.Rules[i], a.Family)
			iptext.RuleSpecLossless(&y, cb.Rules[i], b.Family)
			if x.String() != y.String() {
				return false
			}
			if j, ok := ca.Rules[i].Target.(ruleset.Jump); ok && !same(j.Chain) {
				return false
			}
		}
		return true
	}
	return same(name)
}

// splitTargets lists the verdicts that come in kinds (REJECT's
// --reject-with, NFQUEUE's queue) when the two rulesets use more than one
// kind of them: those must be told apart.
func splitTargets(rss ...*ruleset.Ruleset) map[string]bool {
	kinds := map[string]map[string]bool{}
	for _, rs := range rss {
		t := rs.Table("filter")
		if t == nil {
			continue
		}
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				if v, k := targetKind(r); v != "" {
					if kinds[v] == nil {
						kinds[v] = map[string]bool{}
					}
					kinds[v][k] = true
				}
			}
		}
	}
	split := map[string]bool{}
	for v, ks := range kinds {
		if len(ks) > 1 {
			split[v] = true
		}
	}
	return split
}

// targetKind returns the walk's verdict of a rule whose target comes in
// kinds (REJECT, QUEUE), and the kind's label.
func targetKind(r *ruleset.Rule) (verdict, label string) {
	switch tg := r.Target.(type) {
	case ruleset.Verdict:
		if tg == ruleset.Queue {
			return VQueue, "QUEUE"
		}
	case *xt.Reject:
		return VReject, "REJECT --reject-with " + tg.WithName()
	case ruleset.Jump, nil:
	default:
		if tg.Name() == "NFQUEUE" {
			var b strings.Builder
			tg.Save(&b, ruleset.Fmt{Proto: r.Proto})
			return VQueue, strings.TrimSpace("NFQUEUE" + b.String())
		}
	}
	return "", ""
}

// diffSide walks one built-in chain of an analyzer's ruleset and labels
// its verdict regions.
func (an *analyzer) diffSide(chain string, split map[string]bool) *diffSide {
	hook, _ := ruleset.HookOf(chain)
	s := &diffSide{an: an, entry: Set{an.entry(hook)}}
	var hr *HookResult
	if an.t != nil {
		hr = an.walkHook(chain)
	}
	if hr == nil {
		// no filter table or no such chain: everything is accepted
		s.verds = []verdictRegion{{VAccept, Region{s.entry, s.entry}}}
		return s
	}
	s.entry = hr.Entry
	s.hr = hr
	// labels of the kinds used, from the rules this hook reaches
	kinds := map[string]map[string]*Region{}
	for _, ri := range an.order {
		if ri.Hooks&(1<<hr.Hook) == 0 {
			continue
		}
		if !ri.OwnExact {
			s.why = append(s.why, fmt.Sprintf("%s#%d: %s", ri.Chain, ri.Num, ri.Why))
		}
		v, k := targetKind(ri.Rule)
		if v == "" {
			continue
		}
		if kinds[v] == nil {
			kinds[v] = map[string]*Region{}
		}
		r := kinds[v][k]
		if r == nil {
			r = &Region{}
			kinds[v][k] = r
		}
		if split[v] {
			r.add(ri.Match.May.Intersect(hr.Entry), ri.Match.Must.Intersect(hr.Entry))
		}
	}
	s.why = append(s.why, an.approxWalk...)
	for _, v := range []string{VAccept, VDrop, VReject, VQueue} {
		reg := hr.Verdict[v]
		if reg == nil || reg.May.IsEmpty() {
			continue
		}
		ks := kinds[v]
		switch {
		case split[v] && len(ks) > 0:
			names := make([]string, 0, len(ks))
			for k := range ks {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				if !ks[k].May.IsEmpty() {
					s.verds = append(s.verds, verdictRegion{k, *ks[k]})
				}
			}
		case len(ks) == 1:
			for k := range ks {
				s.verds = append(s.verds, verdictRegion{k, *reg})
			}
		default:
			s.verds = append(s.verds, verdictRegion{v, *reg})
		}
	}
	return s
}

// rawRegion is a set of packets with one verdict pair, before it is
// written as regions.
type rawRegion struct {
	status, a, b, note string
	set                Set
}

// pairRegions compares the verdict regions of the two sides: per pair of
// different verdicts, the packets proven to get them (May and Must of
// both sides meet) and those that may.
//
// touched, when not nil, holds every packet whose verdicts may differ
// (see changes.touched): the other packets are left out.
func pairRegions(sides [2]*diffSide, touched Set) []rawRegion {
	why := append(append([]string(nil), sides[0].why...), sides[1].why...)
	var out []rawRegion
	for _, va := range sides[0].verds {
		vaMay, vaMust := va.reg.May, va.reg.Must
		if touched != nil && va.label != vUnseen {
			if vaMay = meet(vaMay, touched); vaMay.IsEmpty() {
				continue
			}
			vaMust = meet(vaMust, touched)
		}
		for _, vb := range sides[1].verds {
			if va.label == vb.label {
				continue
			}
			may := meet(vaMay, vb.reg.May)
			if va.label == vUnseen || vb.label == vUnseen {
				may = meet(va.reg.May, vb.reg.May)
			}
			if may.IsEmpty() {
				continue
			}
			if va.label == vUnseen || vb.label == vUnseen {
				out = append(out, rawRegion{DiffPossibly, va.label, vb.label,
					"one ruleset loads connection tracking, which reassembles fragments before the filter table: only the other one's rules see non-first fragments", may})
				continue
			}
			must := meet(vaMust, vb.reg.Must)
			rest := may
			if !must.IsEmpty() {
				out = append(out, rawRegion{DiffDifferent, va.label, vb.label, "", must})
				rest = may.Subtract(must)
			}
			if !rest.IsEmpty() {
				out = append(out, rawRegion{DiffPossibly, va.label, vb.label, approxNote(why), rest})
			}
		}
	}
	return out
}

// finishChain writes the regions of a chain box by box, with a witness
// each, the proven differences first and the largest first.
func finishChain(fam ruleset.Family, chain string, sides [2]*diffSide, raws []rawRegion) ChainDiff {
	cd := ChainDiff{Family: fam.String(), Chain: chain, Status: DiffEquivalent, Regions: []DiffRegion{}}
	an := sides[0].an
	hook, _ := ruleset.HookOf(chain)
	ref := sides[0].entry.Union(sides[1].entry)
	var refBox Box
	if len(ref) > 0 {
		refBox = ref[0]
		for _, b := range ref[1:] {
			if m, ok := mergeBoxes(&refBox, &b); ok {
				refBox = m
			}
		}
	}
	for _, r := range raws {
		for i := range r.set {
			b := r.set[i]
			if b.empty() {
				continue
			}
			p := an.witnessBox(&b)
			cd.Regions = append(cd.Regions, DiffRegion{Status: r.status, A: r.a, B: r.b,
				Region: an.describeBox(&b, &refBox, hook), Witness: p.String(), Packet: p, Note: r.note,
				vol: Set{b}.volume()})
		}
	}
	sort.SliceStable(cd.Regions, func(i, j int) bool {
		x, y := cd.Regions[i], cd.Regions[j]
		if x.Status != y.Status {
			return x.Status == DiffDifferent
		}
		if x.vol != y.vol {
			return x.vol > y.vol
		}
		if x.A != y.A {
			return x.A < y.A
		}
		if x.B != y.B {
			return x.B < y.B
		}
		return x.Region < y.Region
	})
	for _, r := range cd.Regions {
		if r.Status == DiffDifferent {
			cd.Status = DiffDifferent
			break
		}
		cd.Status = DiffPossibly
	}
	if len(cd.Regions) > DiffMaxRegions {
		cd.Omitted = len(cd.Regions) - DiffMaxRegions
		cd.Regions = cd.Regions[:DiffMaxRegions]
	}
	return cd
}

func approxNote(why []string) string {
	seen := map[string]bool{}
	var ws []string
	for _, w := range why {
		if !seen[w] {
			seen[w] = true
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return "depends on matches the analyzer over-approximates"
	}
	if len(ws) > 3 {
		ws = append(ws[:3], fmt.Sprintf("and %d more", len(ws)-3))
	}
	return "depends on matches the analyzer over-approximates (" + strings.Join(ws, "; ") + ")"
}

// meet is s ∩ t with a cheap test that skips box pairs that cannot meet
// before building their intersection.
func meet(s, t Set) Set {
	var out Set
	for i := range s {
		for j := range t {
			if !boxesMeet(&s[i], &t[j]) {
				continue
			}
			if r, ok := interBox(&s[i], &t[j]); ok {
				out = append(out, r)
			}
		}
	}
	return out.compact()
}

func boxesMeet(a, b *Box) bool {
	if a.State&b.State == 0 || a.Flags&b.Flags == 0 || a.In&b.In == 0 || a.Out&b.Out == 0 || a.Frag&b.Frag == 0 {
		return false
	}
	if a.Proto[0]&b.Proto[0]|a.Proto[1]&b.Proto[1]|a.Proto[2]&b.Proto[2]|a.Proto[3]&b.Proto[3] == 0 {
		return false
	}
	return ivsMeet(a.DPort, b.DPort) && ivsMeet(a.Src, b.Src) && ivsMeet(a.Dst, b.Dst) &&
		ivsMeet(a.SPort, b.SPort) && ivsMeet(a.ICMP, b.ICMP)
}

// ivsMeet reports whether two interval lists overlap.
func ivsMeet(s, t ivs) bool {
	i, j := 0, 0
	for i < len(s) && j < len(t) {
		if !s[i].hi.less(t[j].lo) && !t[j].hi.less(s[i].lo) {
			return true
		}
		if s[i].hi.less(t[j].hi) {
			i++
		} else {
			j++
		}
	}
	return false
}

// describeBox writes the dimensions of b that are narrower than ref (the
// chain's entry), e.g. "tcp dport 22 src 10.0.0.0/8 state NEW".
func (an *analyzer) describeBox(b, ref *Box, hook ruleset.Hook) string {
	var parts []string
	add := func(s ...string) { parts = append(parts, s...) }
	if b.Proto != ref.Proto {
		var in, out []string
		for p := 0; p < 256; p++ {
			if !protoHas(ref.Proto, uint8(p)) {
				continue
			}
			if protoHas(b.Proto, uint8(p)) {
				in = append(in, protoName(uint8(p)))
			} else {
				out = append(out, protoName(uint8(p)))
			}
		}
		switch {
		case len(in) <= 6:
			add(strings.Join(in, ","))
		case len(out) <= 6:
			add("! proto " + strings.Join(out, ","))
		default:
			add(fmt.Sprintf("%d protocols", len(in)))
		}
	}
	if !b.SPort.equal(ref.SPort) {
		add("sport", fmtPortSet(b.SPort))
	}
	if !b.DPort.equal(ref.DPort) {
		add("dport", fmtPortSet(b.DPort))
	}
	if !b.ICMP.equal(ref.ICMP) {
		add("type", fmtICMP(b.ICMP))
	}
	if b.Flags != ref.Flags {
		add("tcp-flags", fmtFlags(b.Flags))
	}
	if !b.Src.equal(ref.Src) {
		add("src", an.fmtAddrSet(b.Src, ref.Src))
	}
	if !b.Dst.equal(ref.Dst) {
		add("dst", an.fmtAddrSet(b.Dst, ref.Dst))
	}
	if b.In != ref.In {
		add("in", an.fmtIfaces(b.In, ref.In))
	}
	if b.Out != ref.Out {
		add("out", an.fmtIfaces(b.Out, ref.Out))
	}
	if b.State != ref.State {
		var ss []string
		for _, st := range []uint8{stNew, stEstablished, stRelated, stInvalid, stUntracked} {
			if b.State&st != 0 {
				ss = append(ss, stateNames[st])
			}
		}
		add("state", strings.Join(ss, ","))
	}
	// a port, flag or ICMP type test implies a first fragment (or a whole
	// packet): "! fragment" would only repeat it
	header := !b.SPort.equal(ref.SPort) || !b.DPort.equal(ref.DPort) || !b.ICMP.equal(ref.ICMP) || b.Flags != ref.Flags
	if b.Frag != ref.Frag {
		if b.Frag == fragLater {
			add("fragment")
		} else if !header {
			add("! fragment")
		}
	}
	if len(parts) == 0 {
		return "any"
	}
	return strings.Join(parts, " ")
}

// fmtPortSet writes ports as iptables does ("22", "1000:2000"), joined
// by commas, or "! ..." when the complement is shorter.
func fmtPortSet(s ivs) string {
	if c := span(0, maxPort).sub(s); len(c) < len(s) {
		return "! " + fmtPorts(c, ":")
	}
	return fmtPorts(s, ":")
}

func fmtICMP(s ivs) string {
	var out []string
	for _, x := range s {
		t1, c1, t2, c2 := x.lo.lo>>8, x.lo.lo&0xFF, x.hi.lo>>8, x.hi.lo&0xFF
		switch {
		case c1 == 0 && c2 == 0xFF && t1 == t2:
			out = append(out, fmt.Sprint(t1))
		case c1 == 0 && c2 == 0xFF:
			out = append(out, fmt.Sprintf("%d-%d", t1, t2))
		case x.lo == x.hi:
			out = append(out, fmt.Sprintf("%d/%d", t1, c1))
		case t1 == t2:
			out = append(out, fmt.Sprintf("%d/%d-%d", t1, c1, c2))
		default:
			out = append(out, fmt.Sprintf("%d/%d-%d/%d", t1, c1, t2, c2))
		}
	}
	return strings.Join(out, ",")
}

var flagNames = []string{"FIN", "SYN", "RST", "PSH", "ACK", "URG"}

func flagList(f uint) string {
	if f == 0 {
		return "NONE"
	}
	var out []string
	for i, n := range flagNames {
		if f&(1<<uint(i)) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, ",")
}

// fmtFlags writes a set of TCP flag combinations as iptables'
// "--tcp-flags MASK COMP" (with "!" for its complement) when it is one,
// else as the list of combinations.
func fmtFlags(set uint64) string {
	for mask := uint(0); mask < 64; mask++ {
		for comp := mask; ; comp = (comp - 1) & mask {
			var fs uint64
			for f := uint(0); f < 64; f++ {
				if f&mask == comp {
					fs |= 1 << f
				}
			}
			switch set {
			case fs:
				return flagList(mask) + " " + flagList(comp)
			case ^fs:
				return "! " + flagList(mask) + " " + flagList(comp)
			}
			if comp == 0 {
				break
			}
		}
	}
	var out []string
	n := bits.OnesCount64(set)
	if n > 8 {
		return fmt.Sprintf("(%d of 64 combinations)", n)
	}
	for f := uint(0); f < 64; f++ {
		if set&(1<<f) != 0 {
			out = append(out, flagLetters(uint8(f)))
		}
	}
	return "{" + strings.Join(out, " ") + "}"
}

// fmtAddrSet writes addresses as prefixes (or ranges), or "! ..." when the
// complement within full is shorter.
func (an *analyzer) fmtAddrSet(s, full ivs) string {
	one := func(s ivs) []string {
		var out []string
		for _, x := range s {
			out = append(out, ivCIDRs(x, an.fam)...)
		}
		return out
	}
	in, out := one(s), one(full.sub(s))
	list := func(l []string) string {
		if len(l) > 6 {
			return strings.Join(l[:6], ",") + fmt.Sprintf(",...(%d more)", len(l)-6)
		}
		return strings.Join(l, ",")
	}
	if len(out) < len(in) {
		return "! " + list(out)
	}
	return list(in)
}

// ivCIDRs splits an address interval into prefixes; past 4 of them it
// writes the range as LO-HI.
func ivCIDRs(x iv, fam int) []string {
	w := 32
	if fam == 6 {
		w = 128
	}
	toBig := func(v u128) *big.Int {
		b := new(big.Int).SetUint64(v.hi)
		return b.Lsh(b, 64).Or(b, new(big.Int).SetUint64(v.lo))
	}
	fromBig := func(b *big.Int) u128 {
		lo := new(big.Int).And(b, new(big.Int).SetUint64(^uint64(0))).Uint64()
		hi := new(big.Int).Rsh(b, 64).Uint64()
		return u128{hi, lo}
	}
	lo, hi := toBig(x.lo), toBig(x.hi)
	one := big.NewInt(1)
	var out []string
	for lo.Cmp(hi) <= 0 {
		k := int(lo.TrailingZeroBits())
		if lo.Sign() == 0 || k > w {
			k = w
		}
		for k > 0 {
			end := new(big.Int).Lsh(one, uint(k))
			end.Add(end, lo).Sub(end, one)
			if end.Cmp(hi) <= 0 {
				break
			}
			k--
		}
		out = append(out, netip.PrefixFrom(valAddr(fromBig(lo), fam), w-k).String())
		if len(out) > 4 {
			return []string{valAddr(x.lo, fam).String() + "-" + valAddr(x.hi, fam).String()}
		}
		lo.Add(lo, new(big.Int).Lsh(one, uint(k)))
	}
	for i, p := range out {
		if strings.HasSuffix(p, fmt.Sprintf("/%d", w)) {
			out[i] = strings.TrimSuffix(p, fmt.Sprintf("/%d", w))
		}
	}
	return out
}

// fmtIfaces writes interface symbols: names, "eth+" for other names of a
// wildcard, "other", "none" (no interface), or "! ..." for the complement
// within ref.
func (an *analyzer) fmtIfaces(m, ref uint64) string {
	in, out := an.ifs.names(m&ref, "none"), an.ifs.names(ref&^m, "none")
	if len(out) < len(in) || len(out) == len(in) && len(out) > 0 && in[len(in)-1] == "other" {
		return "! " + strings.Join(out, ",")
	}
	return strings.Join(in, ",")
}

// WriteJSON writes the report as indented JSON (the witness's ">" as is).
func (rep *DiffReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(rep)
}

// WriteText writes the report as `rampart diff` prints it.
func (rep *DiffReport) WriteText(w io.Writer, maxRegions int) {
	fmt.Fprintf(w, "--- %s\n+++ %s\n", rep.A, rep.B)
	for _, cd := range rep.Chains {
		switch cd.Status {
		case DiffEquivalent:
			fmt.Fprintf(w, "%s %s: equivalent\n", cd.Family, cd.Chain)
			continue
		}
		n := len(cd.Regions) + cd.Omitted
		fmt.Fprintf(w, "%s %s: %s (%d region%s)\n", cd.Family, cd.Chain, cd.Status, n, plural(n))
		for i, r := range cd.Regions {
			if i == maxRegions {
				fmt.Fprintf(w, "  ... %d more region(s) (--format json lists up to %d)\n", len(cd.Regions)-i+cd.Omitted, DiffMaxRegions)
				break
			}
			mark := ""
			if r.Status == DiffPossibly {
				mark = " (possibly)"
			}
			fmt.Fprintf(w, "  %s: A %s, B %s%s\n", r.Region, r.A, r.B, mark)
			fmt.Fprintf(w, "      witness: %s\n", r.Witness)
			if r.Note != "" {
				fmt.Fprintf(w, "      note: %s\n", r.Note)
			}
		}
	}
	if rep.Equivalent {
		fmt.Fprintln(w, "equivalent")
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
