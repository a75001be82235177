package nft

import (
	"fmt"
	"sort"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
)

// readBack lists rampart's table of family f and rebuilds iptables-save -c
// text from the rules' userdata and counters.
func readBack(c *nftables.Conn, f ruleset.Family) (string, error) {
	fam := nftFamily(f)
	all, err := c.ListChainsOfTableFamily(fam)
	if err != nil {
		return "", fmt.Errorf("nft backend: listing chains: %w", err)
	}
	type chainInfo struct {
		name   string
		policy string
		rules  []string
	}
	tables := map[string][]*chainInfo{}
	policy := map[string][2]uint64{} // policy counters by base chain (t_policy.go)
	var mine []*nftables.Chain
	rulesOf := map[string][]*nftables.Rule{}
	for _, ch := range all {
		if ch.Table == nil || ch.Table.Name != TableName {
			continue
		}
		rules, err := c.GetRules(&nftables.Table{Family: fam, Name: TableName}, ch)
		if err != nil {
			return "", fmt.Errorf("nft backend: listing rules of %s: %w", ch.Name, err)
		}
		rulesOf[ch.Name] = rules
		mine = append(mine, ch)
	}
	for _, ch := range mine {
		if _, ok := chunkBase(ch.Name); ok {
			continue // read with the chain's first chunk
		}
		base, hidden := policyGotoBase(ch.Name)
		if !hidden {
			base = ch.Name
		}
		rules := chainRules(ch.Name, rulesOf)
		if hidden {
			for _, r := range rules {
				pk, by, _ := policyCounts(r, false)
				policy[base] = [2]uint64{policy[base][0] + pk, policy[base][1] + by}
			}
			continue
		}
		tbl, name, ok := strings.Cut(ch.Name, "/")
		if _, known := ruleset.LookupTable(tbl); !ok || !known {
			return "", fmt.Errorf("nft backend: chain %q in table %s %s was not made by rampart", ch.Name, f, TableName)
		}
		ci := &chainInfo{name: name, policy: "-"}
		if ch.Hooknum != nil {
			ci.policy = "ACCEPT"
			if ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop {
				ci.policy = "DROP"
			}
		}
		for _, r := range rules {
			if isChunkRule(r.UserData) {
				continue
			}
			ppk, pby, isPolicy := policyCounts(r, ch.Hooknum != nil)
			policy[base] = [2]uint64{policy[base][0] + ppk, policy[base][1] + pby}
			if isPolicy {
				continue
			}
			text, ok := ruleText(r.UserData)
			if !ok {
				return "", fmt.Errorf("nft backend: rule handle %d in chain %s of table %s %s has no rampart text (added by another tool?)", r.Handle, ch.Name, f, TableName)
			}
			var pk, by uint64
			for _, e := range r.Exprs {
				if ctr, ok := e.(*expr.Counter); ok {
					pk, by = ctr.Packets, ctr.Bytes
					break
				}
			}
			ci.rules = append(ci.rules, fmt.Sprintf("[%d:%d] -A %s%s\n", pk, by, name, text))
		}
		tables[tbl] = append(tables[tbl], ci)
	}
	var b strings.Builder
	for _, ti := range ruleset.TableOrder {
		chains := tables[ti.Name]
		if chains == nil {
			continue
		}
		// Built-in chains first, then user chains by name, as
		// iptables-nft lists them (an incremental load appends new
		// chains to the kernel's list).
		sort.SliceStable(chains, func(i, j int) bool {
			bi, bj := chains[i].policy != "-", chains[j].policy != "-"
			if bi || bj {
				return bi && !bj
			}
			return chains[i].name < chains[j].name
		})
		b.WriteString("*" + ti.Name + "\n")
		for _, ci := range chains {
			pc := policy[chainName(ti.Name, ci.name)]
			if ci.policy == "-" {
				pc = [2]uint64{}
			}
			fmt.Fprintf(&b, ":%s %s [%d:%d]\n", ci.name, ci.policy, pc[0], pc[1])
		}
		for _, ci := range chains {
			for _, r := range ci.rules {
				b.WriteString(r)
			}
		}
		b.WriteString("COMMIT\n")
	}
	return b.String(), nil
}

// chainRules returns the rules of chain name and of its chunks, in order:
// the goto at the end of a chunk (which stays in the list) leads to the
// next (chunk.go).
func chainRules(name string, rulesOf map[string][]*nftables.Rule) []*nftables.Rule {
	var out []*nftables.Rule
	seen := map[string]bool{}
	for cur := name; cur != "" && !seen[cur]; {
		rules, ok := rulesOf[cur]
		if !ok {
			break
		}
		seen[cur] = true
		out = append(out, rules...)
		cur = ""
		if len(rules) > 0 && isChunkRule(rules[len(rules)-1].UserData) {
			for _, e := range rules[len(rules)-1].Exprs {
				if v, ok := e.(*expr.Verdict); ok && v.Kind == expr.VerdictGoto {
					cur = v.Chain
				}
			}
		}
	}
	return out
}
