package nft

import (
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
)

// Policy counters. google/nftables v0.3.0 cannot give a base chain
// counters (NFTA_CHAIN_COUNTERS, which iptables-nft uses: nft_do_chain
// updates them when the packet reaches the policy), so the backend counts
// the packets that reach a base chain's policy with counter expressions of
// its own:
//
//   - every base chain ends with the policy rule: a counter alone, with
//     the userdata TLV udPolicy instead of a rule text; it holds the
//     chain's [packets:bytes] given in the input;
//   - a RETURN in a base chain goes to the policy (NFT_RETURN with an empty
//     jump stack): its rule carries a second counter before the verdict;
//   - a goto from a base chain (-g CHAIN) ends in the policy when the chain
//     it enters runs off its end or returns: the rule goes to a hidden
//     chain "TABLE/BASE -g CHAIN" (policyGotoSep) that jumps to CHAIN and
//     then holds a policy rule of its own. The jump costs one level of the
//     kernel's jump stack (NFT_JUMP_STACK_SIZE, 16).
//
// readBack adds all of them up as the chain's policy counters and shows
// neither the policy rules nor the hidden chains.
const (
	udPolicy      = 0x50 // 'P': the userdata of a policy rule
	policyGotoSep = " -g "
)

var policyUserdata = []byte{udPolicy, 1, 'P'}

// isPolicyRule reports whether a rule's userdata marks it as a policy
// rule.
func isPolicyRule(ud []byte) bool {
	for len(ud) >= 2 {
		n := int(ud[1])
		if ud[0] == udPolicy {
			return true
		}
		if len(ud) < 2+n {
			return false
		}
		ud = ud[2+n:]
	}
	return false
}

// policyRule is the policy rule of a base chain, with its counters.
func policyRule(t *nftables.Table, ch *nftables.Chain, ctr ruleset.Counters) *nftables.Rule {
	return &nftables.Rule{Table: t, Chain: ch, UserData: policyUserdata,
		Exprs: []expr.Any{&expr.Counter{Packets: ctr.Packets, Bytes: ctr.Bytes}}}
}

// isBaseChain reports whether the rule being translated is in a base
// chain of the plan.
func (x *xlate) isBaseChain() bool {
	name := chainName(x.Table, x.Chain)
	for _, ch := range x.plan.chains {
		if ch.Name == name {
			return ch.Hooknum != nil
		}
	}
	return false
}

// policyReturn is the policy share counter a RETURN rule carries before
// its verdict in a base chain (none elsewhere).
func policyReturn(x *xlate) []expr.Any {
	if !x.isBaseChain() {
		return nil
	}
	return []expr.Any{&expr.Counter{}}
}

// policyGoto returns the chain a goto to nft chain target goes to: target
// itself from a user chain, the hidden chain that jumps to it and then
// counts the policy from a base chain (made once per base chain and
// target).
func policyGoto(x *xlate, target string) string {
	if !x.isBaseChain() {
		return target
	}
	name := chainName(x.Table, x.Chain) + policyGotoSep + target
	for _, ch := range x.plan.chains {
		if ch.Name == name {
			return name
		}
	}
	ch := &nftables.Chain{Name: name, Table: x.plan.table}
	x.plan.chains = append(x.plan.chains, ch)
	x.plan.rules = append(x.plan.rules,
		&nftables.Rule{Table: x.plan.table, Chain: ch, Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: target}}, UserData: policyUserdata},
		policyRule(x.plan.table, ch, ruleset.Counters{}))
	return name
}

// policyGotoBase returns the nft name of the base chain of a hidden goto
// chain; ok is false for other chains.
func policyGotoBase(name string) (base string, ok bool) {
	base, _, ok = strings.Cut(name, policyGotoSep)
	return base, ok
}

// policyCounts returns what a rule adds to its chain's policy counters:
// a policy rule's counter, and in a base chain the counters after a
// rule's first (a RETURN's share). policy reports a policy rule (or the
// jump of a hidden goto chain), which has no rule text.
func policyCounts(r *nftables.Rule, base bool) (pk, by uint64, policy bool) {
	policy = isPolicyRule(r.UserData)
	first := !policy
	for _, e := range r.Exprs {
		c, ok := e.(*expr.Counter)
		if !ok {
			continue
		}
		if first {
			first = false
			continue
		}
		if policy || base {
			pk += c.Packets
			by += c.Bytes
		}
	}
	return pk, by, policy
}
