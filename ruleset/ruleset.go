package ruleset

import (
	"errors"
	"sort"
)

// Chain is a built-in chain (Policy set) or a user chain (Policy empty).
type Chain struct {
	Name     string
	Policy   Verdict  // ACCEPT or DROP for built-in chains, "" for user chains
	Counters Counters // policy counters of a built-in chain
	Rules    []*Rule
}

// Builtin reports whether the chain is a built-in chain.
func (c *Chain) Builtin() bool { return c.Policy != "" }

// Table is one iptables table of a family.
type Table struct {
	Name   string
	Chains []*Chain // built-in chains in hook order, then user chains
}

// Chain returns the named chain or nil.
func (t *Table) Chain(name string) *Chain {
	for _, c := range t.Chains {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Builtins returns the built-in chains in hook order.
func (t *Table) Builtins() []*Chain {
	var out []*Chain
	for _, c := range t.Chains {
		if c.Builtin() {
			out = append(out, c)
		}
	}
	return out
}

// UserChains returns the user chains sorted by name (byte order), as
// iptables-nft lists them.
func (t *Table) UserChains() []*Chain {
	var out []*Chain
	for _, c := range t.Chains {
		if !c.Builtin() {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Ordered returns the chains in listing order: built-ins, then user chains
// by name.
func (t *Table) Ordered() []*Chain {
	return append(t.Builtins(), t.UserChains()...)
}

// References counts the rules of the table that jump or go to chain.
func (t *Table) References(chain string) int {
	n := 0
	for _, c := range t.Chains {
		for _, r := range c.Rules {
			if j, ok := r.JumpChain(); ok && j == chain {
				n++
			}
		}
	}
	return n
}

// Ruleset is the set of tables of one family.
type Ruleset struct {
	Family Family
	tables map[string]*Table
}

// New returns an empty ruleset (no tables) of family f.
func New(f Family) *Ruleset {
	return &Ruleset{Family: f, tables: map[string]*Table{}}
}

// Table returns the named table, or nil when it does not exist.
func (rs *Ruleset) Table(name string) *Table { return rs.tables[name] }

// Tables returns the existing tables in iptables-save order.
func (rs *Ruleset) Tables() []*Table {
	var out []*Table
	for _, ti := range TableOrder {
		if t := rs.tables[ti.Name]; t != nil {
			out = append(out, t)
		}
	}
	return out
}

// ErrNoTable is returned for a table name that is not one of the built-in tables.
var ErrNoTable = errors.New("table does not exist")

// EnsureTable returns the named table, creating it with its built-in chains
// (policy ACCEPT) when absent.
func (rs *Ruleset) EnsureTable(name string) (*Table, error) {
	if t := rs.tables[name]; t != nil {
		return t, nil
	}
	ti, ok := LookupTable(name)
	if !ok {
		return nil, ErrNoTable
	}
	t := &Table{Name: name}
	for _, c := range ti.Builtins {
		t.Chains = append(t.Chains, &Chain{Name: c, Policy: Accept})
	}
	rs.tables[name] = t
	return t, nil
}

// DeleteTable removes a table entirely.
func (rs *Ruleset) DeleteTable(name string) { delete(rs.tables, name) }

// Clone returns a deep copy of the ruleset's structure. Rules are copied;
// matches and targets are immutable values and are shared.
func (rs *Ruleset) Clone() *Ruleset {
	out := New(rs.Family)
	for name, t := range rs.tables {
		nt := &Table{Name: name}
		for _, c := range t.Chains {
			nc := *c
			nc.Rules = make([]*Rule, len(c.Rules))
			for i, r := range c.Rules {
				nr := *r
				nr.Matches = append([]Match(nil), r.Matches...)
				nc.Rules[i] = &nr
			}
			nt.Chains = append(nt.Chains, &nc)
		}
		out.tables[name] = nt
	}
	return out
}

// Errors returned by chain operations.
var (
	ErrNoChain       = errors.New("no chain/target/match by that name")
	ErrChainExists   = errors.New("chain already exists")
	ErrChainInUse    = errors.New("chain is referenced")
	ErrChainNotEmpty = errors.New("chain is not empty")
	ErrBuiltinChain  = errors.New("built-in chain")
	ErrRuleNum       = errors.New("index of insertion too big")
	ErrNoRule        = errors.New("bad rule (does a matching rule exist in that chain?)")
)

// NewChain adds a user chain.
func (t *Table) NewChain(name string) error {
	if t.Chain(name) != nil {
		return ErrChainExists
	}
	t.Chains = append(t.Chains, &Chain{Name: name})
	return nil
}

// DeleteChain removes an empty, unreferenced user chain.
func (t *Table) DeleteChain(name string) error {
	for i, c := range t.Chains {
		if c.Name != name {
			continue
		}
		if c.Builtin() {
			return ErrBuiltinChain
		}
		if t.References(name) > 0 {
			return ErrChainInUse
		}
		if len(c.Rules) > 0 {
			return ErrChainNotEmpty
		}
		t.Chains = append(t.Chains[:i], t.Chains[i+1:]...)
		return nil
	}
	return ErrNoChain
}

// RenameChain renames a user chain and every jump to it.
func (t *Table) RenameChain(old, new string) error {
	c := t.Chain(old)
	if c == nil {
		return ErrNoChain
	}
	if c.Builtin() {
		return ErrBuiltinChain
	}
	if t.Chain(new) != nil {
		return ErrChainExists
	}
	c.Name = new
	for _, ch := range t.Chains {
		for _, r := range ch.Rules {
			if j, ok := r.JumpChain(); ok && j == old {
				r.Target = Jump{Chain: new}
			}
		}
	}
	return nil
}

// Insert puts r at 1-based position pos (len+1 appends).
func (c *Chain) Insert(pos int, r *Rule) error {
	if pos < 1 || pos > len(c.Rules)+1 {
		return ErrRuleNum
	}
	c.Rules = append(c.Rules, nil)
	copy(c.Rules[pos:], c.Rules[pos-1:])
	c.Rules[pos-1] = r
	return nil
}

// Delete removes the rule at 1-based position pos.
func (c *Chain) Delete(pos int) error {
	if pos < 1 || pos > len(c.Rules) {
		return ErrRuleNum
	}
	c.Rules = append(c.Rules[:pos-1], c.Rules[pos:]...)
	return nil
}

// Zero resets the counters of the chain's rules and policy.
func (c *Chain) Zero() {
	c.Counters = Counters{}
	for _, r := range c.Rules {
		r.Counters = Counters{}
	}
}
