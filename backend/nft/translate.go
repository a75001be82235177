package nft

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// tablePlan is one family's translated ruleset, ready to go into a batch.
type tablePlan struct {
	table  *nftables.Table
	chains []*nftables.Chain // base chains, then user chains
	sets   []planSet         // sets the rules use (added before them)
	rules  []*nftables.Rule
}

// planSet is a set of the plan with its initial elements.
type planSet struct {
	set   *nftables.Set
	elems []nftables.SetElement
}

// xlate is what an extension's translator sees: the family, the iptables
// table and chain of the rule, and the plan (to add the sets it needs).
type xlate struct {
	Fam   ruleset.Family
	Table string
	Chain string
	plan  *tablePlan
}

// AddSet adds a set (anonymous or named, unique within rampart's table) with
// its initial elements to the plan; rules refer to it by name or ID.
func (x *xlate) AddSet(s *nftables.Set, elems []nftables.SetElement) {
	s.Table = x.plan.table
	x.plan.sets = append(x.plan.sets, planSet{s, elems})
}

// matchFunc translates one extension match into expressions that fall
// through when the packet matches and break (NFT_BREAK) when it does not.
type matchFunc func(x *xlate, m ruleset.Match) ([]expr.Any, error)

// targetFunc translates one extension target into the expressions that
// follow the rule's counter (ending in a verdict when the target has one).
type targetFunc func(x *xlate, t ruleset.Target) ([]expr.Any, error)

var (
	matchXlate  = map[string]matchFunc{}
	targetXlate = map[string]targetFunc{}
)

// registerMatch makes the backend translate matches of that name (the
// extension's -m name) with f. Called from the init of the extension's file.
func registerMatch(name string, f matchFunc) { matchXlate[name] = f }

// registerTarget makes the backend translate targets of that name with f.
func registerTarget(name string, f targetFunc) { targetXlate[name] = f }

// chainName is the nftables name of an iptables chain of table tbl. iptables
// table names hold no '/', so the first '/' separates the two.
func chainName(tbl, chain string) string { return tbl + "/" + chain }

// hookOf returns the nftables hook, chain type and priority iptables-nft
// gives the built-in chain of a table.
func hookOf(ti ruleset.TableInfo, chain string) (*nftables.ChainHook, nftables.ChainType, int32, error) {
	h, ok := ruleset.HookOf(chain)
	if !ok {
		return nil, "", 0, fmt.Errorf("unknown built-in chain %s", chain)
	}
	hooks := [...]*nftables.ChainHook{
		ruleset.PreRouting:  nftables.ChainHookPrerouting,
		ruleset.LocalIn:     nftables.ChainHookInput,
		ruleset.Forward:     nftables.ChainHookForward,
		ruleset.LocalOut:    nftables.ChainHookOutput,
		ruleset.PostRouting: nftables.ChainHookPostrouting,
	}
	typ := nftables.ChainTypeFilter
	prio := int32(ti.Priority)
	switch ti.Name {
	case "nat":
		typ = nftables.ChainTypeNAT
		if h == ruleset.LocalIn || h == ruleset.PostRouting {
			prio = 100 // NF_IP_PRI_NAT_SRC
		}
	case "mangle":
		if h == ruleset.LocalOut {
			typ = nftables.ChainTypeRoute
		}
	}
	return hooks[h], typ, prio, nil
}

// translate builds the plan of one family's ruleset, or refuses it with the
// first rule that cannot be expressed.
func translate(rs *ruleset.Ruleset) (*tablePlan, error) {
	p := &tablePlan{table: &nftables.Table{Family: nftFamily(rs.Family), Name: TableName}}
	chains := map[string]*nftables.Chain{}
	for _, t := range rs.Tables() {
		ti, _ := ruleset.LookupTable(t.Name)
		for _, c := range t.Ordered() {
			nc := &nftables.Chain{Name: chainName(t.Name, c.Name), Table: p.table}
			if c.Builtin() {
				hook, typ, prio, err := hookOf(ti, c.Name)
				if err != nil {
					return nil, err
				}
				pol := nftables.ChainPolicyAccept
				switch c.Policy {
				case ruleset.Accept:
				case ruleset.Drop:
					pol = nftables.ChainPolicyDrop
				default:
					return nil, fmt.Errorf("%s chain %s: policy %s not supported", t.Name, c.Name, c.Policy)
				}
				nc.Hooknum, nc.Type, nc.Priority, nc.Policy = hook, typ, nftables.ChainPriorityRef(nftables.ChainPriority(prio)), &pol
			}
			chains[nc.Name] = nc
			p.chains = append(p.chains, nc)
		}
	}
	for _, t := range rs.Tables() {
		for _, c := range t.Ordered() {
			nc := chains[chainName(t.Name, c.Name)]
			for _, r := range c.Rules {
				x := &xlate{Fam: rs.Family, Table: t.Name, Chain: c.Name, plan: p}
				exprs, err := ruleExprs(x, r)
				if err != nil {
					var spec strings.Builder
					iptext.RuleSpec(&spec, r, rs.Family, false)
					where := r.Pos.File
					if r.Pos.Line > 0 {
						where = fmt.Sprintf("%s:%d", where, r.Pos.Line)
					}
					if where == "" {
						where = "rule"
					}
					return nil, fmt.Errorf("%s: %v (nft backend; in -t %s -A %s%s)", where, err, t.Name, c.Name, spec.String())
				}
				ud, err := ruleUserdata(r, rs.Family)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: %v", r.Pos.File, r.Pos.Line, err)
				}
				p.rules = append(p.rules, &nftables.Rule{Table: p.table, Chain: nc, Exprs: exprs, UserData: ud})
			}
			if c.Builtin() {
				p.rules = append(p.rules, policyRule(p.table, nc, c.Counters)) // t_policy.go
			}
		}
	}
	return p, nil
}

// emitTable appends the plan's table to the batch, without the rules: the
// table is created if absent, deleted with everything in it, and created
// again with the new chains and sets (emitFull writes the rules after them),
// so that the batch replaces it atomically.
func (p *tablePlan) emitTable(c *nftables.Conn) error {
	c.AddTable(p.table)
	c.DelTable(p.table)
	c.AddTable(p.table)
	for _, ch := range p.chains {
		c.AddChain(ch)
	}
	for _, ps := range p.sets {
		if err := c.AddSet(ps.set, ps.elems); err != nil {
			return err
		}
	}
	return nil
}

const reg = 1 // NFT_REG_1

func load(base expr.PayloadBase, off, n uint32) *expr.Payload {
	return &expr.Payload{DestRegister: reg, Base: base, Offset: off, Len: n}
}

func cmp(inv bool, data []byte) *expr.Cmp {
	op := expr.CmpOpEq
	if inv {
		op = expr.CmpOpNeq
	}
	return &expr.Cmp{Op: op, Register: reg, Data: data}
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// ruleExprs translates one rule: the generic matches, the extension
// matches in order, a counter, the target.
func ruleExprs(x *xlate, r *ruleset.Rule) ([]expr.Any, error) {
	f, tbl := x.Fam, x.Table
	var ex []expr.Any
	srcOff, dstOff, alen := uint32(12), uint32(16), uint32(4)
	if f == ruleset.IPv6 {
		srcOff, dstOff, alen = 8, 24, 16
	}
	ex = append(ex, addrExprs(r.Src, r.Inv&ruleset.InvSrc != 0, srcOff, alen)...)
	ex = append(ex, addrExprs(r.Dst, r.Inv&ruleset.InvDst != 0, dstOff, alen)...)
	ex = append(ex, ifaceExprs(expr.MetaKeyIIFNAME, r.InIface, r.Inv&ruleset.InvIn != 0)...)
	ex = append(ex, ifaceExprs(expr.MetaKeyOIFNAME, r.OutIface, r.Inv&ruleset.InvOut != 0)...)
	if r.Proto != 0 {
		ex = append(ex, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg}, cmp(r.Inv&ruleset.InvProto != 0, []byte{r.Proto}))
	}
	if r.Frag {
		if f == ruleset.IPv6 {
			return nil, fmt.Errorf("-f is IPv4 only")
		}
		// The 13 fragment offset bits of frag_off: non-zero for a
		// non-first fragment (zero for "! -f").
		op := expr.CmpOpNeq
		if r.Inv&ruleset.InvFrag != 0 {
			op = expr.CmpOpEq
		}
		ex = append(ex, load(expr.PayloadBaseNetworkHeader, 6, 2),
			&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 2, Mask: be16(0x1fff), Xor: []byte{0, 0}},
			&expr.Cmp{Op: op, Register: reg, Data: []byte{0, 0}})
	}
	for _, m := range r.Matches {
		mx, err := matchExprs(x, m)
		if err != nil {
			return nil, err
		}
		ex = append(ex, mx...)
	}
	ex = append(ex, &expr.Counter{Packets: r.Counters.Packets, Bytes: r.Counters.Bytes})
	switch t := r.Target.(type) {
	case nil:
	case ruleset.Verdict:
		switch t {
		case ruleset.Accept:
			ex = append(ex, &expr.Verdict{Kind: expr.VerdictAccept})
		case ruleset.Drop:
			ex = append(ex, &expr.Verdict{Kind: expr.VerdictDrop})
		case ruleset.Return:
			ex = append(ex, policyReturn(x)...)
			ex = append(ex, &expr.Verdict{Kind: expr.VerdictReturn})
		default:
			return nil, fmt.Errorf("target %s not supported yet", t)
		}
	case ruleset.Jump:
		k := expr.VerdictJump
		if r.Goto {
			k = expr.VerdictGoto
		}
		name := chainName(tbl, t.Chain)
		if r.Goto {
			name = policyGoto(x, name)
		}
		ex = append(ex, &expr.Verdict{Kind: k, Chain: name})
	default:
		tf := targetXlate[r.Target.Name()]
		if tf == nil {
			return nil, fmt.Errorf("target %s not supported yet", r.Target.Name())
		}
		tx, err := tf(x, r.Target)
		if err != nil {
			return nil, err
		}
		ex = append(ex, tx...)
	}
	return ex, nil
}

// addrExprs matches -s/-d as iptables-nft does: only when the address or
// mask is non-zero or the option is inverted; a mask that is not all ones
// goes through a bitwise AND.
func addrExprs(am ruleset.AddrMask, inv bool, off, n uint32) []expr.Any {
	if !am.Addr.IsValid() || am.IsAny() && am.Addr.IsUnspecified() && !inv {
		return nil
	}
	ex := []expr.Any{load(expr.PayloadBaseNetworkHeader, off, n)}
	mask := am.Mask.AsSlice()
	if !am.Mask.IsValid() {
		mask = make([]byte, n)
	}
	full := true
	for _, b := range mask {
		full = full && b == 0xff
	}
	if !full {
		ex = append(ex, &expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: n, Mask: mask, Xor: make([]byte, n)})
	}
	return append(ex, cmp(inv, am.Addr.AsSlice()))
}

// ifaceExprs matches -i/-o as iptables-nft 1.8.9 does: a name with its
// terminating NUL, a "+" wildcard as a prefix, "! -i +" as a name no
// interface can have.
func ifaceExprs(key expr.MetaKey, name string, inv bool) []expr.Any {
	if name == "" {
		return nil
	}
	var data []byte
	switch {
	case name == "+" && !inv:
		return nil
	case name == "+":
		inv, data = false, []byte("INVAL/D\x00")
	case strings.HasSuffix(name, "+"):
		data = []byte(name[:len(name)-1])
	default:
		data = append([]byte(name), 0)
	}
	return []expr.Any{&expr.Meta{Key: key, Register: reg}, cmp(inv, data)}
}

// ctStateBits maps the state/conntrack match's state bits to nft's ct
// state bits (only UNTRACKED differs: 1<<4 there, 1<<6 here).
func ctStateBits(mask uint8) uint32 {
	v := uint32(mask & (xt.StateInvalid | xt.StateEstablished | xt.StateRelated | xt.StateNew))
	if mask&xt.StateUntracked != 0 {
		v |= 1 << 6
	}
	return v
}

func ctStateExprs(mask uint8, inv bool) []expr.Any {
	op := expr.CmpOpNeq
	if inv {
		op = expr.CmpOpEq
	}
	le := func(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
	return []expr.Any{
		&expr.Ct{Register: reg, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 4, Mask: le(ctStateBits(mask)), Xor: le(0)},
		&expr.Cmp{Op: op, Register: reg, Data: le(0)},
	}
}

// portExprs are the payload comparisons iptables-nft makes of a native tcp
// or udp match.
func portExprs(cmps []xt.NativeCmp) []expr.Any {
	var ex []expr.Any
	th := expr.PayloadBaseTransportHeader
	for _, c := range cmps {
		switch c.Kind {
		case xt.CmpSrc, xt.CmpDst:
			off := uint32(0)
			if c.Kind == xt.CmpDst {
				off = 2
			}
			ex = append(ex, load(th, off, 2))
			switch {
			case c.Lo == c.Hi:
				ex = append(ex, cmp(c.Inv, be16(c.Lo)))
			case c.Lo == 0:
				op := expr.CmpOpLte
				if c.Inv {
					op = expr.CmpOpGt
				}
				ex = append(ex, &expr.Cmp{Op: op, Register: reg, Data: be16(c.Hi)})
			default:
				op := expr.CmpOpEq
				if c.Inv {
					op = expr.CmpOpNeq
				}
				ex = append(ex, &expr.Range{Op: op, Register: reg, FromData: be16(c.Lo), ToData: be16(c.Hi)})
			}
		case xt.CmpBoth:
			ex = append(ex, load(th, 0, 4), cmp(c.Inv, append(be16(c.Lo), be16(c.Hi)...)))
		case xt.CmpFlags:
			ex = append(ex, load(th, 13, 1),
				&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 1, Mask: []byte{c.Mask}, Xor: []byte{0}},
				cmp(c.Inv, []byte{c.Comp}))
		}
	}
	return ex
}

// icmpExprs matches an ICMP or ICMPv6 type and code range on the first two
// bytes of the transport header (which a non-first fragment lacks, as the
// xt match refuses fragments). anyType is the IPv4 icmp match's type 255:
// every type.
func icmpExprs(name string, typ, lo, hi uint8, inv, anyType bool) ([]expr.Any, error) {
	th := expr.PayloadBaseTransportHeader
	switch {
	case anyType && inv:
		return nil, fmt.Errorf("%s: \"! --icmp-type any\" not supported yet", name)
	case anyType:
		// Only the transport header's presence is tested.
		return []expr.Any{load(th, 0, 1)}, nil
	case lo == 0 && hi == 0xff:
		return []expr.Any{load(th, 0, 1), cmp(inv, []byte{typ})}, nil
	case lo == hi:
		return []expr.Any{load(th, 0, 2), cmp(inv, []byte{typ, lo})}, nil
	}
	op := expr.CmpOpEq
	if inv {
		op = expr.CmpOpNeq
	}
	return []expr.Any{load(th, 0, 2), &expr.Range{Op: op, Register: reg, FromData: []byte{typ, lo}, ToData: []byte{typ, hi}}}, nil
}

// matchExprs translates one extension match.
func matchExprs(x *xlate, m ruleset.Match) ([]expr.Any, error) {
	f := x.Fam
	switch m := m.(type) {
	case *xt.TCP:
		cmps, native := m.NativeCmps()
		if !native {
			break // m_tcp.go
		}
		return portExprs(cmps), nil
	case *xt.UDP:
		cmps, native := m.NativeCmps()
		if !native {
			break // m_tcp.go
		}
		return portExprs(cmps), nil
	case *xt.State:
		return ctStateExprs(m.Mask, m.Inv), nil
	case *xt.ICMP:
		if f != ruleset.IPv4 {
			return nil, fmt.Errorf("extension \"-m icmp\" in an IPv6 ruleset")
		}
		if m.Type == 0xFF && m.Inv {
			break // m_icmp.go
		}
		return icmpExprs("icmp", m.Type, m.CodeMin, m.CodeMax, m.Inv, m.Type == 0xFF)
	case *xt.ICMP6:
		return icmpExprs("icmp6", m.Type, m.CodeMin, m.CodeMax, m.Inv, false)
	case *xt.Comment:
		return nil, nil // kept in the rule's text (and as its nft comment)
	}
	if mf := matchXlate[m.Name()]; mf != nil {
		return mf(x, m)
	}
	return nil, fmt.Errorf("extension \"-m %s\" not supported yet", m.Name())
}

// Check translates a ruleset without loading it: nil when the backend can
// express every rule, else the error Apply would return.
func Check(rs *ruleset.Ruleset) error {
	_, err := translate(rs)
	return err
}
