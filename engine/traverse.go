// Package engine owns rampart's user-space model of netfilter: for a packet
// at a hook it walks the tables in kernel priority order, the chains with
// jumps, gotos and returns, the rules with their header matches, extension
// matches and targets, updates counters exactly as the kernel does, and
// returns the verdict with its reason.
package engine

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// MaxJumpDepth is how many nested jumps the engine follows (nf_tables'
// jump stack, NFT_JUMP_STACK_SIZE).
const MaxJumpDepth = 16

// Reason says which rule (or policy) decided a packet, and why.
type Reason struct {
	Table, Chain string
	Rule         int  // 1-based rule number in Chain; 0 for the policy
	Policy       bool // decided by the built-in chain's policy
	Why          string
}

// Step is one rule the engine looked at, for explain.
type Step struct {
	Table, Chain string
	Rule         int
	Matched      bool
	Why          string // why it did not match, or what it did
}

// Tracer receives every step when set (explain); nil in the fast path.
type Tracer func(Step)

type frame struct {
	chain *ruleset.Chain
	next  int
}

// Table walks one table at one hook, starting at the built-in chain, and
// returns the verdict: Accept, Drop, Queue or Stolen (never Continue or
// Return). Counters of matched rules and of the policy are updated in the
// ruleset, as the kernel counts them.
func Table(t *ruleset.Table, chain string, c *pkt.Ctx, trace Tracer) (pkt.Verdict, Reason) {
	var stack [MaxJumpDepth]frame
	depth := 0
	base := t.Chain(chain)
	if base == nil {
		return pkt.Accept, Reason{Table: t.Name, Chain: chain, Why: "no such chain"}
	}
	cur, i := base, 0
	for {
		if i >= len(cur.Rules) {
			// End of a chain: return to the caller, or the policy.
			if depth == 0 {
				return policy(t, base, c, trace)
			}
			depth--
			cur, i = stack[depth].chain, stack[depth].next
			continue
		}
		r := cur.Rules[i]
		num := i + 1
		i++
		ok, why := matchRule(r, c, trace != nil)
		if c.DropNow {
			why = "dropped by a match (hotdrop)"
		}
		if trace != nil {
			trace(Step{Table: t.Name, Chain: cur.Name, Rule: num, Matched: ok, Why: why})
		}
		if c.DropNow {
			return pkt.Drop, Reason{t.Name, cur.Name, num, false, why}
		}
		if !ok {
			continue
		}
		r.Counters.Packets++
		r.Counters.Bytes += uint64(c.P.Len)
		v := pkt.Continue
		switch tg := r.Target.(type) {
		case nil:
		case ruleset.Verdict:
			switch tg {
			case ruleset.Accept:
				v = pkt.Accept
			case ruleset.Drop:
				v = pkt.Drop
			case ruleset.Queue:
				v = pkt.Queue
			case ruleset.Return:
				v = pkt.Return
			}
		case ruleset.Jump:
			next := t.Chain(tg.Chain)
			if next == nil {
				return pkt.Drop, Reason{t.Name, cur.Name, num, false, "jump to missing chain " + tg.Chain}
			}
			if !r.Goto {
				if depth == MaxJumpDepth {
					return pkt.Drop, Reason{t.Name, cur.Name, num, false, "jump stack overflow"}
				}
				stack[depth] = frame{cur, i}
				depth++
			}
			cur, i = next, 0
			continue
		default:
			a, ok := tg.(pkt.Actor)
			if !ok {
				c.Undecide("target " + tg.Name() + " cannot be simulated")
				continue
			}
			v = a.Act(c)
		}
		switch v {
		case pkt.Continue:
		case pkt.Return:
			i = len(cur.Rules) // as if the chain ended here
		default:
			return v, Reason{t.Name, cur.Name, num, false, r.TargetName()}
		}
	}
}

func policy(t *ruleset.Table, base *ruleset.Chain, c *pkt.Ctx, trace Tracer) (pkt.Verdict, Reason) {
	base.Counters.Packets++
	base.Counters.Bytes += uint64(c.P.Len)
	v := pkt.Accept
	if base.Policy == ruleset.Drop {
		v = pkt.Drop
	}
	why := "policy " + string(base.Policy)
	if trace != nil {
		trace(Step{Table: t.Name, Chain: base.Name, Matched: true, Why: why})
	}
	return v, Reason{Table: t.Name, Chain: base.Name, Policy: true, Why: why}
}

// matchRule checks the rule's header matches and extension matches in
// order; with explain, why says which one failed.
func matchRule(r *ruleset.Rule, c *pkt.Ctx, explain bool) (bool, string) {
	ok, fail := matchRuleFast(r, c)
	if ok || !explain {
		return ok, ""
	}
	switch fail {
	case failSrc:
		return false, "source " + c.P.Src.String() + " does not match"
	case failDst:
		return false, "destination " + c.P.Dst.String() + " does not match"
	case failIn:
		return false, "in-interface " + ifaceName(c.In) + " does not match"
	case failOut:
		return false, "out-interface " + ifaceName(c.Out) + " does not match"
	case failProto:
		return false, "protocol does not match"
	case failFrag:
		return false, "fragment flag does not match"
	}
	m := r.Matches[fail]
	if _, ok := m.(pkt.Matcher); !ok {
		return false, "-m " + m.Name() + " cannot be simulated"
	}
	return false, "-m " + m.Name() + " does not match"
}

// Header checks that can fail, for matchRuleFast (extension matches fail
// with their index, >= 0).
const (
	failSrc = -1 - iota
	failDst
	failIn
	failOut
	failProto
	failFrag
)

// matchRuleFast is the allocation-free check of one rule.
func matchRuleFast(r *ruleset.Rule, c *pkt.Ctx) (bool, int) {
	p := c.P
	if !r.Src.IsAny() || r.Inv&ruleset.InvSrc != 0 {
		if r.Src.Contains(p.Src) == (r.Inv&ruleset.InvSrc != 0) {
			return false, failSrc
		}
	}
	if !r.Dst.IsAny() || r.Inv&ruleset.InvDst != 0 {
		if r.Dst.Contains(p.Dst) == (r.Inv&ruleset.InvDst != 0) {
			return false, failDst
		}
	}
	if r.InIface != "" && ifaceMatch(r.InIface, c.In) == (r.Inv&ruleset.InvIn != 0) {
		return false, failIn
	}
	if r.OutIface != "" && ifaceMatch(r.OutIface, c.Out) == (r.Inv&ruleset.InvOut != 0) {
		return false, failOut
	}
	if r.Proto != 0 && (p.Proto == r.Proto) == (r.Inv&ruleset.InvProto != 0) {
		return false, failProto
	}
	if r.Frag && (p.FragOff != 0) == (r.Inv&ruleset.InvFrag != 0) {
		return false, failFrag
	}
	for i, m := range r.Matches {
		mm, ok := m.(pkt.Matcher)
		if !ok {
			c.Undecide("match " + m.Name() + " cannot be simulated")
			return false, i
		}
		if !mm.Match(c) {
			return false, i
		}
	}
	return true, 0
}

// ifaceMatch compares an interface name with a rule's pattern (a trailing
// '+' matches any suffix).
func ifaceMatch(pattern, name string) bool {
	if strings.HasSuffix(pattern, "+") {
		return strings.HasPrefix(name, pattern[:len(pattern)-1])
	}
	return pattern == name
}

func ifaceName(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
