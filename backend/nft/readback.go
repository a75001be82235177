package nft

import (
	"fmt"
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
	for _, ch := range all {
		if ch.Table == nil || ch.Table.Name != TableName {
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
		rules, err := c.GetRules(&nftables.Table{Family: fam, Name: TableName}, ch)
		if err != nil {
			return "", fmt.Errorf("nft backend: listing rules of %s: %w", ch.Name, err)
		}
		for _, r := range rules {
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
		b.WriteString("*" + ti.Name + "\n")
		for _, ci := range chains {
			fmt.Fprintf(&b, ":%s %s [0:0]\n", ci.name, ci.policy)
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
