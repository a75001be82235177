// Package ipt owns iptables' semantics on a ruleset: executing parsed
// commands (-A, -I, -D, -N, -X, -L, -S, ...) exactly as iptables 1.8.9
// (nf_tables) does, applying restore files as one transaction, loading
// rules files and command scripts, and the iptables, iptables-save and
// iptables-restore front ends that act on a state file.
package ipt

import (
	"fmt"
	"strings"

	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
)

func plain(exit int, format string, a ...any) *iptext.Error {
	return &iptext.Error{Msg: fmt.Sprintf(format, a...), Exit: exit, Style: iptext.StylePlain, Arg: -1}
}

func tryErr(format string, a ...any) *iptext.Error {
	return &iptext.Error{Msg: fmt.Sprintf(format, a...), Exit: iptext.ExitParameter, Arg: -1}
}

func kernelErr(op, errno, chain string) *iptext.Error {
	return &iptext.Error{Msg: fmt.Sprintf(" %s failed (%s): rule in chain %s", op, errno, chain),
		Exit: iptext.ExitResource, Style: iptext.StyleBanner, Kernel: true, Arg: -1}
}

var errNoChain = func() *iptext.Error { return plain(1, "No chain/target/match by that name.") }

// Exec applies one command to rs and appends what it prints (for -L and
// -S) to out. Errors are *iptext.Error values carrying iptables' message,
// print style and exit status.
func Exec(rs *ruleset.Ruleset, cmd *iptext.Command, out *strings.Builder) error {
	ti, ok := ruleset.LookupTable(cmd.Table)
	if !ok {
		return &iptext.Error{Msg: fmt.Sprintf("table '%s' does not exist\nPerhaps %s or your kernel needs to be upgraded.", cmd.Table, rs.Family.Tool()),
			Exit: iptext.ExitVersion, Style: iptext.StyleBanner, Arg: -1}
	}
	t := rs.Table(cmd.Table)
	// Views of a table that does not exist show its built-in chains.
	view := t
	if view == nil {
		view = &ruleset.Table{Name: ti.Name}
		for _, c := range ti.Builtins {
			view.Chains = append(view.Chains, &ruleset.Chain{Name: c, Policy: ruleset.Accept})
		}
	}
	ensure := func() *ruleset.Table {
		if t == nil {
			t, _ = rs.EnsureTable(cmd.Table)
		}
		return t
	}
	op := cmd.Op
	switch {
	case op&(iptext.OpAppend|iptext.OpInsert|iptext.OpReplace|iptext.OpDelete|iptext.OpCheck) != 0:
		return execRule(rs, ti, view, ensure, cmd)
	case op == iptext.OpDeleteNum:
		c := view.Chain(cmd.Chain)
		if c == nil {
			return errNoChain()
		}
		if cmd.RuleNum > len(c.Rules) {
			if c.Builtin() && len(c.Rules) == 0 {
				return errNoChain() // never-used built-in chain: see OpReplace
			}
			return plain(1, "Index of deletion too big.")
		}
		return ensure().Chain(cmd.Chain).Delete(cmd.RuleNum)
	case op&(iptext.OpList|iptext.OpListRules) != 0:
		if err := list(rs, view, cmd, out); err != nil {
			return err
		}
		if op&iptext.OpZero != 0 && t != nil {
			return zero(t, cmd)
		}
		return nil
	case op == iptext.OpFlush:
		if cmd.Chain != "" {
			c := view.Chain(cmd.Chain)
			if c == nil {
				return errNoChain()
			}
			if t != nil {
				c.Rules = nil
			}
			return nil
		}
		if t != nil {
			for _, c := range t.Chains {
				c.Rules = nil
			}
		}
		return nil
	case op == iptext.OpZero || op == iptext.OpZeroNum:
		if cmd.Chain != "" && view.Chain(cmd.Chain) == nil {
			return errNoChain()
		}
		if t != nil {
			return zero(t, cmd)
		}
		return nil
	case op == iptext.OpNewChain:
		if view.Chain(cmd.Chain) != nil {
			return plain(1, "Chain already exists.")
		}
		return ensure().NewChain(cmd.Chain)
	case op == iptext.OpDeleteChain:
		return deleteChain(t, view, cmd)
	case op == iptext.OpRename:
		c := view.Chain(cmd.Chain)
		if c == nil {
			return errNoChain()
		}
		if view.Chain(cmd.NewName) != nil {
			return plain(1, "File exists.")
		}
		if c.Builtin() {
			return plain(1, "Invalid argument.")
		}
		return t.RenameChain(cmd.Chain, cmd.NewName)
	case op == iptext.OpPolicy:
		c := view.Chain(cmd.Chain)
		if c == nil || !c.Builtin() {
			if c == nil && !ti.IsBuiltin(cmd.Chain) {
				return plain(1, "Bad built-in chain name.")
			}
			if c != nil {
				return plain(1, "Bad built-in chain name.")
			}
		}
		if cmd.Policy != "ACCEPT" && cmd.Policy != "DROP" {
			return plain(1, "Bad policy name. Run `dmesg' for more information.")
		}
		// iptables-nft ignores -c on -P.
		ensure().Chain(cmd.Chain).Policy = ruleset.Verdict(cmd.Policy)
		return nil
	}
	return tryErr("no command specified")
}

func zero(t *ruleset.Table, cmd *iptext.Command) error {
	for _, c := range t.Chains {
		if cmd.Chain != "" && c.Name != cmd.Chain {
			continue
		}
		if cmd.RuleNum > 0 {
			if cmd.RuleNum <= len(c.Rules) {
				c.Rules[cmd.RuleNum-1].Counters = ruleset.Counters{}
			}
			continue
		}
		c.Zero()
	}
	return nil
}

func deleteChain(t, view *ruleset.Table, cmd *iptext.Command) error {
	if cmd.Chain == "" {
		if t == nil {
			return nil
		}
		// Delete every user chain; iptables-nft fails on a referenced one
		// only if the reference survives (jumps from built-in chains).
		for _, c := range t.UserChains() {
			if refsFromOutside(t, c.Name) {
				return &iptext.Error{Msg: fmt.Sprintf(" CHAIN_DEL failed (Device or resource busy): chain %s", c.Name),
					Exit: iptext.ExitResource, Style: iptext.StyleBanner, Arg: -1}
			}
		}
		var keep []*ruleset.Chain
		for _, c := range t.Chains {
			if c.Builtin() {
				keep = append(keep, c)
			}
		}
		t.Chains = keep
		return nil
	}
	c := view.Chain(cmd.Chain)
	if c == nil {
		return errNoChain()
	}
	if c.Builtin() || t.References(c.Name) > 0 || len(c.Rules) > 0 {
		return &iptext.Error{Msg: fmt.Sprintf(" CHAIN_DEL failed (Device or resource busy): chain %s", c.Name),
			Exit: iptext.ExitResource, Style: iptext.StyleBanner, Arg: -1}
	}
	return t.DeleteChain(c.Name)
}

// refsFromOutside reports whether chain is jumped to from a built-in chain.
func refsFromOutside(t *ruleset.Table, chain string) bool {
	for _, c := range t.Chains {
		if !c.Builtin() {
			continue
		}
		for _, r := range c.Rules {
			if j, ok := r.JumpChain(); ok && j == chain {
				return true
			}
		}
	}
	return false
}

func list(rs *ruleset.Ruleset, view *ruleset.Table, cmd *iptext.Command, out *strings.Builder) error {
	if cmd.Chain != "" && view.Chain(cmd.Chain) == nil {
		return &iptext.Error{Msg: fmt.Sprintf("chain `%s' in table `%s' is incompatible, use 'nft' tool.", cmd.Chain, cmd.Table),
			Exit: 1, Style: iptext.StyleBanner, Arg: -1}
	}
	if cmd.Op&iptext.OpListRules != 0 {
		s, err := iptext.ListRules(view, rs.Family, cmd.Chain, cmd.RuleNum, cmd.Verbose > 0)
		if err != nil {
			return errNoChain()
		}
		out.WriteString(s)
		return nil
	}
	s, err := iptext.List(view, rs.Family, cmd.Chain, cmd.RuleNum, iptext.ListOptions{
		Verbose: cmd.Verbose > 0, Numeric: cmd.Numeric, Exact: cmd.Exact, LineNumbers: cmd.LineNumbers})
	if err != nil {
		return errNoChain()
	}
	out.WriteString(s)
	return nil
}

// SameRule reports whether two rules are the same for -D and -C: equal
// lossless save forms (which keep what iptables-save drops, such as an
// inverted full range), counters aside.
func SameRule(a, b *ruleset.Rule, f ruleset.Family) bool {
	return ruleKey(a, f) == ruleKey(b, f)
}

func ruleKey(r *ruleset.Rule, f ruleset.Family) string {
	var b strings.Builder
	iptext.RuleSpecLossless(&b, r, f)
	return b.String()
}

func execRule(rs *ruleset.Ruleset, ti ruleset.TableInfo, view *ruleset.Table, ensure func() *ruleset.Table, cmd *iptext.Command) error {
	opName := map[iptext.Op]string{iptext.OpAppend: "RULE_APPEND", iptext.OpInsert: "RULE_INSERT",
		iptext.OpReplace: "RULE_REPLACE", iptext.OpDelete: "RULE_DELETE", iptext.OpCheck: "RULE_CHECK"}[cmd.Op]
	rules := cmd.Rules()
	c := view.Chain(cmd.Chain)
	// Jump targets must name an existing chain of the table.
	if len(rules) > 0 {
		if v, ok := rules[0].Target.(ruleset.Verdict); ok && rules[0].Goto {
			return tryErr("Chain '%s' does not exist", string(v))
		}
		if j, ok := rules[0].JumpChain(); ok {
			jc := view.Chain(j)
			if jc == nil {
				return tryErr("Chain '%s' does not exist", j)
			}
			if jc.Builtin() {
				if cmd.Op == iptext.OpDelete || cmd.Op == iptext.OpCheck {
					return plain(1, "Bad rule (does a matching rule exist in that chain?).")
				}
				return kernelErr(opName, "Operation not supported", cmd.Chain)
			}
		}
	}
	if c == nil {
		if cmd.Op == iptext.OpDelete || cmd.Op == iptext.OpCheck {
			return plain(1, "Bad rule (does a matching rule exist in that chain?).")
		}
		return errNoChain()
	}
	if cmd.Op&(iptext.OpAppend|iptext.OpInsert|iptext.OpReplace) != 0 && len(rules) > 0 {
		// nf_tables refuses an inverted match-everything address.
		r := rules[0]
		if r.Inv&ruleset.InvSrc != 0 && r.Src.IsAny() || r.Inv&ruleset.InvDst != 0 && r.Dst.IsAny() {
			return kernelErr(opName, "Invalid argument", cmd.Chain)
		}
	}
	// nf_tables has no QUEUE verdict: iptables-nft's rule is refused.
	if len(rules) > 0 && rules[0].Target == ruleset.Queue {
		switch {
		case cmd.Op == iptext.OpAppend,
			cmd.Op == iptext.OpInsert && cmd.RuleNum <= len(c.Rules)+1,
			cmd.Op == iptext.OpReplace && cmd.RuleNum <= len(c.Rules):
			return kernelErr(opName, "No such file or directory", cmd.Chain)
		}
	}
	switch cmd.Op {
	case iptext.OpAppend:
		ch := ensure().Chain(cmd.Chain)
		ch.Rules = append(ch.Rules, rules...)
	case iptext.OpInsert:
		if cmd.RuleNum > len(c.Rules)+1 {
			return plain(1, "Index of insertion too big.")
		}
		ch := ensure().Chain(cmd.Chain)
		for i := len(rules) - 1; i >= 0; i-- {
			if err := ch.Insert(cmd.RuleNum, rules[i]); err != nil {
				return plain(1, "Index of insertion too big.")
			}
		}
	case iptext.OpReplace:
		if cmd.RuleNum > len(c.Rules) {
			if c.Builtin() && len(c.Rules) == 0 {
				// iptables-nft makes built-in chains lazily; one never
				// used is not in the kernel (approximation: empty).
				return errNoChain()
			}
			return plain(1, "Index of replacement too big.")
		}
		ch := ensure().Chain(cmd.Chain)
		ch.Rules[cmd.RuleNum-1] = rules[0]
	case iptext.OpDelete, iptext.OpCheck:
		for _, r := range rules {
			idx := -1
			for i, x := range c.Rules {
				if SameRule(x, r, rs.Family) {
					idx = i
					break
				}
			}
			if idx < 0 {
				return plain(1, "Bad rule (does a matching rule exist in that chain?).")
			}
			if cmd.Op == iptext.OpDelete {
				ensure().Chain(cmd.Chain).Delete(idx + 1)
				c = ensure().Chain(cmd.Chain)
			}
		}
	}
	return nil
}
