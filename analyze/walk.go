package analyze

import (
	"fmt"
	"math/bits"
	"sort"

	"github.com/rampartfw/rampart/ruleset"
)

// Verdict regions of a built-in chain.
const (
	VAccept = "ACCEPT"
	VDrop   = "DROP"
	VReject = "REJECT"
	VQueue  = "QUEUE"
)

// Region is a pair of sets: May over-approximates the packets, Must
// under-approximates them; they are equal when every match on the way was
// expressed exactly.
type Region struct{ May, Must Set }

func (r *Region) add(may, must Set) {
	r.May = r.May.Union(may)
	r.Must = r.Must.Union(must)
}

// Exact reports whether the region is known exactly.
func (r *Region) Exact() bool { return r.May.SubsetOf(r.Must) }

// RuleInfo is what the symbolic walk learned about one rule.
type RuleInfo struct {
	Rule  *ruleset.Rule
	Chain string
	Num   int // 1-based
	// Own is the set of packets the rule's matches may match anywhere;
	// OwnExact tells whether it is exact (Why names what is not).
	Own      Set
	OwnExact bool
	Why      string
	// Reach is the set of packets that reach the rule, Match those that
	// reach it and match it (over all the places it is reached from).
	Reach, Match Region
	// Consumed are the packets the rule takes out of its chain (a verdict,
	// or a jump that does not come back).
	Consumed Set
	Walked   bool
	Hooks    uint8 // 1<<hook of the built-in chains it is reached from
}

// HookResult is the symbolic walk of one built-in chain.
type HookResult struct {
	Chain   string
	Hook    ruleset.Hook
	Policy  ruleset.Verdict
	Entry   Set
	Verdict map[string]*Region // ACCEPT, DROP, REJECT, QUEUE; the policy's region is in PolicyRegion too
	// PolicyRegion are the packets that reach the end of the chain.
	PolicyRegion Region
}

type analyzer struct {
	fam        int
	rs         *ruleset.Ruleset
	t          *ruleset.Table
	ifs        *alphabet
	full       Box
	rules      map[*ruleset.Rule]*RuleInfo
	order      []*RuleInfo
	conntrack  bool
	approxWalk []string
	// peak is the largest set (in boxes) the walk held, walks the number
	// of chain walks (for benchmarks).
	peak, walks int
	// gathered are the sets (of rules and verdict regions) that the walk
	// of the current hook appended to and that need compacting.
	gathered map[*Set]bool
	bounded  map[string]bool // chains whose sets were bounded
}

func newAnalyzer(rs *ruleset.Ruleset) *analyzer { return newAnalyzerWith(rs, newAlphabet(rs)) }

// newAnalyzerWith is newAnalyzer over a given interface alphabet (one
// shared by two rulesets, for Diff).
func newAnalyzerWith(rs *ruleset.Ruleset, ifs *alphabet) *analyzer {
	return newTableAnalyzer(rs, "filter", ifs)
}

// newTableAnalyzer is an analyzer over table name of rs (its t is nil when
// the ruleset has no such table).
func newTableAnalyzer(rs *ruleset.Ruleset, name string, ifs *alphabet) *analyzer {
	an := &analyzer{fam: int(rs.Family), rs: rs, t: rs.Table(name), ifs: ifs, rules: map[*ruleset.Rule]*RuleInfo{}}
	an.full = FullBox(an.fam, len(an.ifs.syms))
	an.conntrack = usesConntrack(rs)
	if an.t == nil {
		return an
	}
	for _, c := range an.t.Chains {
		for i, r := range c.Rules {
			own, exact, why := an.ruleSet(r)
			ri := &RuleInfo{Rule: r, Chain: c.Name, Num: i + 1, Own: own, OwnExact: exact, Why: why}
			an.rules[r] = ri
			an.order = append(an.order, ri)
		}
	}
	return an
}

// usesConntrack reports whether the ruleset loads connection tracking
// (and with it defragmentation before the filter table).
func usesConntrack(rs *ruleset.Ruleset) bool {
	if rs.Table("nat") != nil {
		return true
	}
	for _, t := range rs.Tables() {
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				for _, m := range r.Matches {
					switch m.Name() {
					case "state", "conntrack", "connmark", "connbytes", "connlimit", "helper", "connlabel":
						return true
					}
				}
				switch r.TargetName() {
				case "CONNMARK", "CT", "NOTRACK", "DNAT", "SNAT", "MASQUERADE", "REDIRECT":
					return true
				}
			}
		}
	}
	return false
}

// entry returns the packets that can enter a built-in chain of the filter
// table.
func (an *analyzer) entry(hook ruleset.Hook) Box {
	b := an.full
	none := uint64(1) // symbol 0 is "no interface"
	switch hook {
	case ruleset.LocalIn:
		b.In &^= none
		b.Out = none
	case ruleset.LocalOut:
		b.In = none
		b.Out &^= none
	case ruleset.Forward:
		b.In &^= none
		b.Out &^= none
	}
	if an.conntrack {
		b.Frag = fragFirst // defragmented before conntrack
	}
	return b
}

// walkHook walks a built-in chain of the filter table.
func (an *analyzer) walkHook(name string) *HookResult {
	c := an.t.Chain(name)
	if c == nil {
		return nil
	}
	hook, _ := ruleset.HookOf(name)
	e := Set{an.entry(hook)}
	hr := &HookResult{Chain: name, Hook: hook, Policy: c.Policy, Entry: e, Verdict: map[string]*Region{}}
	for _, v := range []string{VAccept, VDrop, VReject, VQueue} {
		hr.Verdict[v] = &Region{}
	}
	retMay, retMust := an.walk(c, e, e, hr, map[string]bool{})
	hr.PolicyRegion = Region{retMay, retMust}
	v := VAccept
	if c.Policy == ruleset.Drop {
		v = VDrop
	}
	reg := hr.Verdict[v]
	an.gather(&reg.May, retMay)
	an.gather(&reg.Must, retMust)
	// the verdict regions and the rules reached more than once were
	// gathered box by box: compact them once
	for p := range an.gathered {
		*p = (*p).compactOwned()
	}
	clear(an.gathered)
	return hr
}

// accum appends s to *dst; the first s is taken as it is (with its
// capacity cut, so that a later append copies it) and the result is left
// for the caller to compact. It reports whether *dst already held boxes
// (and is now a slice of its own).
func accum(dst *Set, s Set) bool {
	if len(s) == 0 {
		return false
	}
	if len(*dst) == 0 {
		*dst = s[:len(s):len(s)]
		return false
	}
	*dst = append(*dst, s...)
	return true
}

// gather is accum for a set the hook's walk compacts at its end.
func (an *analyzer) gather(dst *Set, s Set) {
	if accum(dst, s) {
		if an.gathered == nil {
			an.gathered = map[*Set]bool{}
		}
		an.gathered[dst] = true
	}
}

func (an *analyzer) walk(c *ruleset.Chain, curMay, curMust Set, hr *HookResult, stack map[string]bool) (retMay, retMust Set) {
	stack[c.Name] = true
	defer delete(stack, c.Name)
	an.walks++
	mixed := false // retMay or retMust gathered from more than one place
	limit := maxWalkBoxes
	if n := len(c.Rules); n > 0 && n*limit > walkBudget {
		limit = max(walkBudget/n, minWalkBoxes)
	}
	for _, r := range c.Rules {
		if n := len(curMay) + len(curMust); n > an.peak {
			an.peak = n
		}
		ri := an.rules[r]
		ri.Walked = true
		ri.Hooks |= 1 << hr.Hook
		an.gather(&ri.Reach.May, curMay)
		an.gather(&ri.Reach.Must, curMust)
		var must Set
		if ri.OwnExact {
			must = ri.Own
		}
		mMay := curMay.Intersect(ri.Own)
		mMust := curMust.Intersect(must)
		an.gather(&ri.Match.May, mMay)
		an.gather(&ri.Match.Must, mMust)
		verdict := ""
		cont := true // packets that do not match go on
		switch tg := r.Target.(type) {
		case nil:
			cont = false
		case ruleset.Verdict:
			switch tg {
			case ruleset.Accept:
				verdict = VAccept
			case ruleset.Drop:
				verdict = VDrop
			case ruleset.Queue:
				verdict = VQueue
			case ruleset.Return:
				mixed = accum(&retMay, mMay) || mixed
				mixed = accum(&retMust, mMust) || mixed
				an.gather(&ri.Consumed, mMay)
			}
		case ruleset.Jump:
			sub := an.t.Chain(tg.Chain)
			switch {
			case sub == nil:
				verdict = VDrop // the engine drops on a jump to a missing chain
			case stack[tg.Chain]:
				// a loop (iptables refuses it): whatever comes back is unknown
				an.approxWalk = append(an.approxWalk, "loop through chain "+tg.Chain)
				curMust = curMust.Subtract(ri.Own)
				cont = false
			case mMay.IsEmpty():
				// no packet enters the chain from here
			default:
				sMay, sMust := an.walk(sub, mMay, mMust, hr, stack)
				an.gather(&ri.Consumed, mMay.Subtract(sMay))
				if r.Goto {
					mixed = accum(&retMay, sMay) || mixed
					mixed = accum(&retMust, sMust) || mixed
				} else {
					curMay, curMust = curMay.Subtract(must).Union(sMay), curMust.Subtract(ri.Own).Union(sMust)
					curMay, curMust = an.bound(c.Name, limit, curMay, curMust)
					continue
				}
			}
		default:
			switch tg.Name() {
			case "REJECT":
				verdict = VReject
			case "NFQUEUE":
				verdict = VQueue
			default:
				// LOG, MARK, ...: non-terminal in the filter table
				cont = false
			}
		}
		if verdict != "" {
			reg := hr.Verdict[verdict]
			an.gather(&reg.May, mMay)
			an.gather(&reg.Must, mMust)
			an.gather(&ri.Consumed, mMay)
		}
		if cont && !mMay.IsEmpty() {
			curMay, curMust = curMay.Subtract(must), curMust.Subtract(ri.Own)
		}
		curMay, curMust = an.bound(c.Name, limit, curMay, curMust)
	}
	mixed = accum(&retMay, curMay) || mixed
	mixed = accum(&retMust, curMust) || mixed
	if !mixed {
		return retMay, retMust
	}
	return retMay.compactOwned(), retMust.compactOwned()
}

// maxWalkBoxes bounds the sets the walk carries from rule to rule. Past
// it, the may set is over-approximated (boxes merged into the smallest box
// holding both) and the must set under-approximated (its smallest boxes
// dropped), so that every answer stays sound and is marked approximate.
// In a chain of n rules the bound is lowered to walkBudget/n (but not
// below minWalkBoxes): each rule may copy the set, so this keeps a long
// flat chain's walk near walkBudget box copies.
var maxWalkBoxes = 2048

const (
	walkBudget   = 4 << 20
	minWalkBoxes = 256
)

// bound keeps curMay and curMust within limit boxes, noting the
// approximation once per chain.
func (an *analyzer) bound(chain string, limit int, curMay, curMust Set) (Set, Set) {
	longMay, longMust := hasLongIvs(curMay), hasLongIvs(curMust)
	if len(curMay) <= limit && len(curMust) <= limit && !longMay && !longMust {
		return curMay, curMust
	}
	if an.bounded == nil {
		an.bounded = map[string]bool{}
	}
	if !an.bounded[chain] {
		an.bounded[chain] = true
		an.approxWalk = append(an.approxWalk, fmt.Sprintf("chain %s: more than %d boxes, over-approximated", chain, limit))
	}
	if longMay {
		curMay = coarsenSet(curMay, true)
	}
	if longMust {
		curMust = coarsenSet(curMust, false)
	}
	if len(curMay) > limit {
		curMay = hullMerge(curMay, limit/2)
	}
	if len(curMust) > limit {
		curMust = dropSmallest(curMust, limit/2)
	}
	return curMay, curMust
}

// maxIvs bounds the intervals of one dimension of a box the walk carries
// (cutting many prefixes out of an address range makes long lists, and
// every piece of a split box copies them).
var maxIvs = 64

func hasLongIvs(s Set) bool {
	for i := range s {
		b := &s[i]
		if len(b.Src) > maxIvs || len(b.Dst) > maxIvs || len(b.SPort) > maxIvs || len(b.DPort) > maxIvs || len(b.ICMP) > maxIvs {
			return true
		}
	}
	return false
}

// coarsenSet shortens the long interval lists of s to maxIvs/2 intervals:
// over-approximating (may: the smallest gaps are filled) or
// under-approximating (!may: the smallest intervals are dropped).
func coarsenSet(s Set, may bool) Set {
	out := make(Set, 0, len(s))
	for _, b := range s {
		for _, p := range []*ivs{&b.Src, &b.Dst, &b.SPort, &b.DPort, &b.ICMP} {
			if len(*p) > maxIvs {
				*p = coarsen(*p, maxIvs/2, may)
			}
		}
		if !b.empty() {
			out = append(out, b)
		}
	}
	return out.compact()
}

// coarsen returns at most n intervals: s with its smallest gaps filled
// (grow) or its smallest intervals dropped (!grow).
func coarsen(s ivs, n int, grow bool) ivs {
	if len(s) <= n {
		return s
	}
	width := func(lo, hi u128) u128 { // hi - lo
		l, b := bits.Sub64(hi.lo, lo.lo, 0)
		return u128{hi.hi - lo.hi - b, l}
	}
	idx := make([]int, 0, len(s))
	if grow {
		for i := 1; i < len(s); i++ {
			idx = append(idx, i) // gap before s[i]
		}
		sort.Slice(idx, func(a, b int) bool {
			return width(s[idx[a]-1].hi, s[idx[a]].lo).less(width(s[idx[b]-1].hi, s[idx[b]].lo))
		})
		fill := map[int]bool{}
		for _, i := range idx[:len(s)-n] {
			fill[i] = true
		}
		out := ivs{s[0]}
		for i := 1; i < len(s); i++ {
			if fill[i] {
				out[len(out)-1].hi = s[i].hi
			} else {
				out = append(out, s[i])
			}
		}
		return out
	}
	for i := range s {
		idx = append(idx, i)
	}
	sort.Slice(idx, func(a, b int) bool { return width(s[idx[b]].lo, s[idx[b]].hi).less(width(s[idx[a]].lo, s[idx[a]].hi)) })
	keep := idx[:n]
	sort.Ints(keep)
	out := make(ivs, 0, n)
	for _, i := range keep {
		out = append(out, s[i])
	}
	return out
}

// hullMerge over-approximates s by at most n boxes: boxes are ordered by
// their lowest source and destination addresses and neighbours replaced by
// the smallest box holding both, until n remain.
func hullMerge(s Set, n int) Set {
	out := append(make(Set, 0, len(s)), s...)
	for len(out) > n {
		sort.Slice(out, func(i, j int) bool {
			a, b := &out[i], &out[j]
			if a.Src[0].lo != b.Src[0].lo {
				return a.Src[0].lo.less(b.Src[0].lo)
			}
			return a.Dst[0].lo.less(b.Dst[0].lo)
		})
		next := out[:0]
		for i := 0; i < len(out); i += 2 {
			if i+1 == len(out) {
				next = append(next, out[i])
				break
			}
			next = append(next, hull(&out[i], &out[i+1]))
		}
		out = next.compactOwned()
	}
	return out
}

// hull is the smallest box holding a and b.
func hull(a, b *Box) Box {
	m := *a
	for d := 0; d < nDims; d++ {
		m = unionDim(&m, b, d)
	}
	return m
}

// dropSmallest under-approximates s by its n largest boxes.
func dropSmallest(s Set, n int) Set {
	out := append(make(Set, 0, len(s)), s...)
	vol := make(map[*Box]float64, len(out))
	for i := range out {
		vol[&out[i]] = Set{out[i]}.volume()
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool { return vol[&out[idx[i]]] > vol[&out[idx[j]]] })
	keep := make(Set, 0, n)
	for _, i := range idx[:n] {
		keep = append(keep, out[i])
	}
	return keep
}
