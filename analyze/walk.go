package analyze

import (
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
}

func newAnalyzer(rs *ruleset.Ruleset) *analyzer {
	an := &analyzer{fam: int(rs.Family), rs: rs, t: rs.Table("filter"), ifs: newAlphabet(rs), rules: map[*ruleset.Rule]*RuleInfo{}}
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
	hr.Verdict[v].add(retMay, retMust)
	return hr
}

func (an *analyzer) walk(c *ruleset.Chain, curMay, curMust Set, hr *HookResult, stack map[string]bool) (retMay, retMust Set) {
	stack[c.Name] = true
	defer delete(stack, c.Name)
	for _, r := range c.Rules {
		ri := an.rules[r]
		ri.Walked = true
		ri.Hooks |= 1 << hr.Hook
		ri.Reach.add(curMay, curMust)
		var must Set
		if ri.OwnExact {
			must = ri.Own
		}
		mMay := curMay.Intersect(ri.Own)
		mMust := curMust.Intersect(must)
		ri.Match.add(mMay, mMust)
		contMay := curMay.Subtract(must)
		contMust := curMust.Subtract(ri.Own)
		verdict := ""
		switch tg := r.Target.(type) {
		case nil:
			contMay, contMust = curMay, curMust
		case ruleset.Verdict:
			switch tg {
			case ruleset.Accept:
				verdict = VAccept
			case ruleset.Drop:
				verdict = VDrop
			case ruleset.Queue:
				verdict = VQueue
			case ruleset.Return:
				retMay, retMust = retMay.Union(mMay), retMust.Union(mMust)
				ri.Consumed = ri.Consumed.Union(mMay)
			}
		case ruleset.Jump:
			sub := an.t.Chain(tg.Chain)
			switch {
			case sub == nil:
				verdict = VDrop // the engine drops on a jump to a missing chain
			case stack[tg.Chain]:
				// a loop (iptables refuses it): whatever comes back is unknown
				an.approxWalk = append(an.approxWalk, "loop through chain "+tg.Chain)
				contMay = curMay
			case mMay.IsEmpty():
				// no packet enters the chain from here
			default:
				sMay, sMust := an.walk(sub, mMay, mMust, hr, stack)
				ri.Consumed = ri.Consumed.Union(mMay.Subtract(sMay))
				if r.Goto {
					retMay, retMust = retMay.Union(sMay), retMust.Union(sMust)
				} else {
					contMay, contMust = contMay.Union(sMay), contMust.Union(sMust)
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
				contMay, contMust = curMay, curMust
			}
		}
		if verdict != "" {
			hr.Verdict[verdict].add(mMay, mMust)
			ri.Consumed = ri.Consumed.Union(mMay)
		}
		curMay, curMust = contMay, contMust
	}
	return retMay.Union(curMay), retMust.Union(curMust)
}
