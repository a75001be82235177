package nft

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
)

// Incremental loading.
//
// What rampart's table holds (famState: chains, and per chain the rules'
// handles and keys — a hash of the rule's userdata, that is of its
// iptables text) comes from the cache file (cache.go) when it belongs to
// the same namespace and boot and its generation id equals the kernel's
// current one (NFT_MSG_GETGEN; every commit in the namespace increments
// it). When only the generation differs (another table changed), a large
// table's cache is still used if its chains and their use counts are
// unchanged; otherwise the table is dumped (see dumpBelow). Apply then
// builds one batch for all the families given:
//
//   - no table yet (or Replace, or a plan with named sets, or a difference
//     that inserts and deletes more than fullFraction times the rules it
//     keeps): create the table, delete it with everything in it, create it
//     again with the new chains, sets and rules. The handles of a new table
//     are allocated in the batch's order (chains, sets and rules share the
//     table's handle counter, nf_tables_alloc_handle), so they are known
//     without an answer; the last rule is echoed to check the prediction.
//   - else the difference, chain by chain (diffKeys: common prefix and
//     suffix, then Myers' shortest edit script between them): the rules that
//     went away are deleted by handle, then the chains that went away (and
//     their rules), then the new chains are added and changed policies set,
//     then each new rule, with the anonymous sets it owns, is inserted
//     before the next rule that stays (NFTA_RULE_POSITION without
//     NLM_F_APPEND; the rules of one gap go in in order, each before the
//     same neighbour) or appended at the end of its chain. New rules are
//     echoed (NLM_F_ECHO) to learn their handles. A ruleset that did not
//     change sends nothing.
//
// The batch's first message carries NLM_F_ECHO, so that the kernel sends
// the commit's NEWGEN: when the new generation is the old one plus one, no
// one else committed in between and the new state is written to the cache
// with it and the chains' use counts; otherwise the cache is written with
// generation 0 and the next load checks the table. When a cached handle no
// longer exists (the kernel refuses the batch with ENOENT), the table is
// dumped and the batch made again, once; the refused batch changed nothing.

// Op is what Change does to a chain.
type Op int

// The operations of Change, as iptables' -A, -I, -D and -R.
const (
	// OpAppend appends r to the chain (pos is ignored).
	OpAppend Op = iota + 1
	// OpInsert inserts r as rule pos (1-based; pos = rule count + 1
	// appends, as iptables allows).
	OpInsert
	// OpDelete deletes rule pos (1-based), or with pos 0 the first rule
	// whose iptables text is r's (as "iptables -D CHAIN RULE-SPEC").
	OpDelete
	// OpReplace replaces rule pos (1-based) with r.
	OpReplace
)

// Errors of Change; they leave the kernel unchanged.
var (
	// ErrNoTable: rampart's table of the family does not exist.
	ErrNoTable = errors.New("rampart's nftables table does not exist")
	// ErrNoChain: the chain (or a chain r jumps to) does not exist.
	ErrNoChain = errors.New("no chain by that name")
	// ErrIndex: pos is out of range for the operation.
	ErrIndex = errors.New("index out of range")
	// ErrNoMatch: OpDelete by rule found no rule with r's text.
	ErrNoMatch = errors.New("no rule matches")
)

// fullFraction: a difference that inserts and deletes more than this
// many times the rules it keeps (plus 64) is loaded as a full replacement:
// the kernel's cost of a rule deleted or inserted by the difference is
// about that of a rule loaded anew, and a full load needs no echo.
const fullFraction = 4

// famOps is the batch content of one family.
type famOps struct {
	fam    ruleset.Family
	plan   *tablePlan
	old    *famState
	full   bool
	chains []*newChain
	loc    []ruleLoc // of each plan rule
	// diff mode:
	removed []*chainState
}

// ruleLoc is where a plan rule is in its chain.
type ruleLoc struct {
	nc *newChain
	j  int
}

// newChain is a chain of the plan with its rules and, in diff mode, the
// matching against the kernel's chain.
type newChain struct {
	nc      *nftables.Chain
	rules   []*nftables.Rule
	keys    []uint64
	handles []uint64 // filled as they become known
	old     *chainState
	keep    []int // keep[j] = index in old.rules of new rule j, or -1
	setsOf  map[*nftables.Rule][]planSet
	policy  bool // a base chain whose policy changes
	created bool
}

func policyOf(c *nftables.Chain) uint32 {
	if c.Policy == nil {
		return uint32(nftables.ChainPolicyAccept)
	}
	return uint32(*c.Policy)
}

// session takes the backend's lock, opens a netlink connection in its
// namespace and reads the ruleset generation; done closes the connection
// and releases the lock.
func (b Backend) session() (c *nlConn, gen uint32, done func(), err error) {
	unlock, err := b.lock()
	if err != nil {
		return nil, 0, nil, err
	}
	if c, err = b.dialRaw(); err != nil {
		unlock()
		return nil, 0, nil, err
	}
	if gen, err = c.getGen(); err != nil {
		c.close()
		unlock()
		return nil, 0, nil, err
	}
	return c, gen, func() {
		c.close()
		unlock()
	}, nil
}

// applyPlans loads the plans in one batch; full forces a replacement of
// every table.
func (b Backend) applyPlans(plans []*tablePlan, full bool) error {
	c, gen, done, err := b.session()
	if err != nil {
		return err
	}
	defer done()
	olds := make([]*famState, len(plans))
	fromCache := false
	for i, p := range plans {
		if full {
			continue
		}
		var cached bool
		if olds[i], cached, err = b.state(c, planFamily(p), gen); err != nil {
			return err
		}
		fromCache = fromCache || cached
	}
	err = b.applyOnce(c, plans, olds, gen)
	var ke *kernelError
	if fromCache && errors.As(err, &ke) && ke.errno == unix.ENOENT {
		// A cached handle is gone: read the tables and try again.
		for i, p := range plans {
			if olds[i], err = c.readState(planFamily(p)); err != nil {
				return err
			}
		}
		if gen, err = c.getGen(); err != nil {
			return err
		}
		err = b.applyOnce(c, plans, olds, gen)
	}
	return err
}

func planFamily(p *tablePlan) ruleset.Family {
	if p.table.Family == nftables.TableFamilyIPv6 {
		return ruleset.IPv6
	}
	return ruleset.IPv4
}

func (b Backend) applyOnce(c *nlConn, plans []*tablePlan, olds []*famState, gen uint32) error {
	var ops []*famOps
	for i, p := range plans {
		o, err := prepare(planFamily(p), chunkPlan(p, olds[i], b.chunkSize()), olds[i])
		if err != nil {
			return err
		}
		ops = append(ops, o)
	}
	size := 1 << 16
	for _, o := range ops {
		if o.full {
			size += 700 * len(o.plan.rules)
		}
	}
	w := newBatch(size, c.seq)
	what := newDescs()
	echo := map[uint32]*echoSlot{}
	lastSeq := uint32(0)
	verify := map[*famOps]echoCheck{}
	for _, o := range ops {
		var err error
		if o.full {
			var chk echoCheck
			chk, err = o.emitFull(w, what)
			verify[o] = chk
		} else {
			err = o.emitDiff(w, what, echo)
		}
		if err != nil {
			return fmt.Errorf("nft backend: %w", err)
		}
	}
	if w.n == 1 { // only BATCH_BEGIN: nothing changes
		for _, o := range ops {
			if o.old != nil && o.old.gen == gen {
				b.writeCache(o.fam, o.old)
			}
		}
		return nil
	}
	lastSeq = w.seq
	w.setLastAck()
	w.echoGen()
	buf := w.finish()
	c.seq = w.seq + 1
	replies, err := c.sendBatch(buf, lastSeq, what, 2048*len(echo)+4096)
	if err != nil {
		return fmt.Errorf("nft backend: loading the ruleset: %w", err)
	}
	newGen := uint32(0)
	for _, m := range replies {
		if g, ok := genOf(m); ok {
			newGen = g
		}
		if m.typ == nftType(unix.NFT_MSG_NEWRULE) {
			if slot := echo[m.seq]; slot != nil {
				slot.set(ruleHandle(m))
			}
		}
	}
	if newGen != gen+1 {
		newGen = 0 // someone else committed meanwhile: read the table next time
	}
	for _, o := range ops {
		s, ok := o.newState(c.ns, verify[o], replies)
		if !ok {
			b.writeCache(o.fam, nil)
			continue
		}
		s.gen = newGen
		if newGen == 0 || !c.stampUses(o.fam, s, newGen) {
			s.gen = 0
		}
		b.writeCache(o.fam, s)
	}
	return nil
}

// echoSlot is where an echoed rule's handle goes.
type echoSlot struct {
	nc *newChain
	j  int
}

func (s *echoSlot) set(h uint64) {
	if h != 0 {
		s.nc.handles[s.j] = h
	}
}

// echoCheck is the rule of a full load whose handle is echoed and the
// handle predicted for it.
type echoCheck struct {
	seq    uint32
	handle uint64
}

func ruleHandle(m nlMsg) uint64 {
	var h uint64
	if len(m.data) >= nfgenLen {
		forAttrs(m.data[nfgenLen:], func(t uint16, v []byte) {
			if t == unix.NFTA_RULE_HANDLE && len(v) == 8 {
				h = uint64(v[0])<<56 | uint64(v[1])<<48 | uint64(v[2])<<40 | uint64(v[3])<<32 | uint64(v[4])<<24 | uint64(v[5])<<16 | uint64(v[6])<<8 | uint64(v[7])
			}
		})
	}
	return h
}

// prepare decides between a full replacement and a difference, and
// matches the plan's rules against the kernel's.
func prepare(f ruleset.Family, p *tablePlan, old *famState) (*famOps, error) {
	o := &famOps{fam: f, plan: p, old: old, loc: make([]ruleLoc, 0, len(p.rules))}
	byName := map[string]*newChain{}
	for _, ch := range p.chains {
		nc := &newChain{nc: ch}
		o.chains = append(o.chains, nc)
		byName[ch.Name] = nc
	}
	for _, r := range p.rules {
		nc := byName[r.Chain.Name]
		if nc == nil {
			return nil, fmt.Errorf("nft backend: rule in chain %s that the plan lacks", r.Chain.Name)
		}
		o.loc = append(o.loc, ruleLoc{nc, len(nc.rules)})
		nc.rules = append(nc.rules, r)
		nc.keys = append(nc.keys, ruleKey(r.UserData))
	}
	for _, nc := range o.chains {
		nc.handles = make([]uint64, len(nc.rules))
	}
	if old == nil || !old.exists {
		o.full = true
		return o, nil
	}
	// Sets: each anonymous set belongs to the one rule that refers to it;
	// named sets (shared, with state) make a full replacement.
	setsOf := map[*nftables.Rule][]planSet{}
	for _, ps := range p.sets {
		if !ps.set.Anonymous {
			o.full = true
			return o, nil
		}
		var owner *nftables.Rule
		n := 0
		for _, r := range p.rules {
			if refersTo(r, ps.set) {
				owner = r
				n++
			}
		}
		if n != 1 {
			o.full = true
			return o, nil
		}
		setsOf[owner] = append(setsOf[owner], ps)
	}
	kept, changed := 0, 0
	for _, nc := range o.chains {
		nc.setsOf = setsOf
		nc.old = old.chain(nc.nc.Name)
		nc.keep = make([]int, len(nc.rules))
		for j := range nc.keep {
			nc.keep[j] = -1
		}
		if nc.old == nil {
			nc.created = true
			changed += len(nc.rules)
			continue
		}
		if nc.old.base != (nc.nc.Hooknum != nil) {
			o.full = true
			return o, nil
		}
		nc.policy = nc.old.base && nc.old.policy != policyOf(nc.nc)
		oldKeys := make([]uint64, len(nc.old.rules))
		for i, r := range nc.old.rules {
			oldKeys[i] = r.key
		}
		for _, pr := range diffKeys(oldKeys, nc.keys) {
			nc.keep[pr[1]] = pr[0]
			nc.handles[pr[1]] = nc.old.rules[pr[0]].handle
		}
		k := 0
		for _, i := range nc.keep {
			if i >= 0 {
				k++
			}
		}
		kept += k
		changed += len(nc.rules) - k + len(nc.old.rules) - k
	}
	for _, oc := range old.chains {
		if byName[oc.name] == nil {
			o.removed = append(o.removed, oc)
			changed += len(oc.rules)
		}
	}
	if changed > fullFraction*kept+64 {
		o.full = true
	}
	return o, nil
}

// refersTo reports whether a rule's expressions use set s.
func refersTo(r *nftables.Rule, s *nftables.Set) bool {
	match := func(id uint32, name string) bool {
		return s.ID != 0 && id == s.ID || !s.Anonymous && name == s.Name
	}
	for _, e := range r.Exprs {
		switch e := e.(type) {
		case *expr.Lookup:
			if match(e.SetID, e.SetName) {
				return true
			}
		case *expr.Dynset:
			if match(e.SetID, e.SetName) {
				return true
			}
		}
	}
	return false
}

// libMessages runs fill on a google/nftables connection that sends
// nowhere and returns the messages it would have sent (without the batch
// begin and end), to put them in a batch of ours.
func libMessages(fill func(c *nftables.Conn) error) ([]netlink.Message, error) {
	var got []netlink.Message
	c, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		for _, m := range req {
			switch m.Header.Type {
			case netlink.HeaderType(unix.NFNL_MSG_BATCH_BEGIN), netlink.HeaderType(unix.NFNL_MSG_BATCH_END):
			default:
				got = append(got, m)
			}
		}
		return nil, nil
	}))
	if err != nil {
		return nil, err
	}
	if err := fill(c); err != nil {
		return nil, err
	}
	if err := c.Flush(); err != nil {
		return nil, err
	}
	return got, nil
}

// addLib appends messages the library made to the batch, without their
// ack and echo flags; it returns how many allocate a handle in the table
// (NEWCHAIN, NEWSET, NEWRULE).
func addLib(w *batchBuf, what *descs, desc string, msgs []netlink.Message) int {
	n := 0
	for _, m := range msgs {
		typ := uint16(m.Header.Type)
		switch typ {
		case nftType(unix.NFT_MSG_NEWCHAIN), nftType(unix.NFT_MSG_NEWSET), nftType(unix.NFT_MSG_NEWRULE):
			n++
		}
		seq := w.raw(typ, uint16(m.Header.Flags)&^(unix.NLM_F_ACK|unix.NLM_F_ECHO), m.Data)
		what.set(seq, desc)
	}
	return n
}

// ruleDesc names a rule in an error: its chain and iptables text.
func ruleDesc(r *nftables.Rule) string {
	if t, ok := ruleText(r.UserData); ok {
		name := r.Chain.Name
		if base, ok := chunkBase(name); ok {
			name = base
		}
		tbl, ch, _ := strings.Cut(name, "/")
		return fmt.Sprintf("rule \"-t %s -A %s%s\"", tbl, ch, t)
	}
	return "rule in chain " + r.Chain.Name
}

// needsLib reports whether a rule must be marshalled by the library (it
// holds xtables compat expressions, which need NFTA_RULE_COMPAT).
func needsLib(r *nftables.Rule) bool {
	for _, e := range r.Exprs {
		switch e.(type) {
		case *expr.Match, *expr.Target:
			return true
		}
	}
	return false
}

// addRule appends a NEWRULE message: appended to the chain (app, pos 0),
// after (app) or before (!app) the rule of handle pos, or replacing the
// rule of handle replace. It returns the message's sequence number.
func addRule(w *batchBuf, fam uint8, r *nftables.Rule, app bool, pos, replace uint64, echo bool) (uint32, error) {
	flags := uint16(flagsReq | unix.NLM_F_CREATE)
	if app {
		flags |= unix.NLM_F_APPEND
	}
	if replace != 0 {
		flags = flagsReq | unix.NLM_F_REPLACE
	}
	if echo {
		flags |= flagsEcho
	}
	if needsLib(r) {
		rr := *r
		rr.Position, rr.Handle = pos, replace
		msgs, err := libMessages(func(c *nftables.Conn) error {
			if replace != 0 {
				c.ReplaceRule(&rr)
			} else {
				c.AddRule(&rr)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		if len(msgs) != 1 {
			return 0, fmt.Errorf("marshalling %s: %d messages", ruleDesc(r), len(msgs))
		}
		return w.raw(uint16(msgs[0].Header.Type), flags, msgs[0].Data), nil
	}
	seq := w.begin(nftType(unix.NFT_MSG_NEWRULE), flags, fam, 0)
	w.attrStr(unix.NFTA_RULE_TABLE, r.Table.Name)
	w.attrStr(unix.NFTA_RULE_CHAIN, r.Chain.Name)
	if replace != 0 {
		w.attrU64(unix.NFTA_RULE_HANDLE, replace)
	}
	if pos != 0 {
		w.attrU64(unix.NFTA_RULE_POSITION, pos)
	}
	w.nestBegin(unix.NFTA_RULE_EXPRESSIONS)
	for _, e := range r.Exprs {
		if err := w.expr(fam, e); err != nil {
			return 0, fmt.Errorf("marshalling %s: %w", ruleDesc(r), err)
		}
	}
	w.nestEnd()
	if r.UserData != nil {
		w.attr(unix.NFTA_RULE_USERDATA, r.UserData)
	}
	w.end()
	return seq, nil
}

func delRule(w *batchBuf, fam uint8, chain string, handle uint64) uint32 {
	seq := w.begin(nftType(unix.NFT_MSG_DELRULE), flagsReq, fam, 0)
	w.attrStr(unix.NFTA_RULE_TABLE, TableName)
	w.attrStr(unix.NFTA_RULE_CHAIN, chain)
	w.attrU64(unix.NFTA_RULE_HANDLE, handle)
	w.end()
	return seq
}

// emitFull writes the replacement of the table. It returns the echo
// check: the last rule's sequence number and predicted handle.
func (o *famOps) emitFull(w *batchBuf, what *descs) (echoCheck, error) {
	p := o.plan
	fam := uint8(p.table.Family)
	msgs, err := libMessages(p.emitTable)
	if err != nil {
		return echoCheck{}, err
	}
	handle := uint64(addLib(w, what, "table "+o.fam.String()+" "+TableName, msgs))
	var chk echoCheck
	what.ruleRange(w.seq+1, p.rules)
	for i, r := range p.rules {
		last := i == len(p.rules)-1
		seq, err := addRule(w, fam, r, true, 0, 0, last)
		if err != nil {
			return chk, err
		}
		handle++
		loc := o.loc[i]
		loc.nc.handles[loc.j] = handle
		if last {
			chk = echoCheck{seq, handle}
		}
	}
	return chk, nil
}

// emitDiff writes the difference; the new rules' sequence numbers go to
// echo.
func (o *famOps) emitDiff(w *batchBuf, what *descs, echo map[uint32]*echoSlot) error {
	fam := uint8(o.plan.table.Family)
	// Rules that go away, in kept chains and in removed chains.
	for _, nc := range o.chains {
		if nc.old == nil {
			continue
		}
		kept := make([]bool, len(nc.old.rules))
		for _, i := range nc.keep {
			if i >= 0 {
				kept[i] = true
			}
		}
		for i, r := range nc.old.rules {
			if !kept[i] {
				what.set(delRule(w, fam, nc.nc.Name, r.handle), fmt.Sprintf("deleting rule handle %d of chain %s", r.handle, nc.nc.Name))
			}
		}
	}
	for _, oc := range o.removed {
		for _, r := range oc.rules {
			what.set(delRule(w, fam, oc.name, r.handle), fmt.Sprintf("deleting rule handle %d of chain %s", r.handle, oc.name))
		}
	}
	for _, oc := range o.removed {
		seq := w.begin(nftType(unix.NFT_MSG_DELCHAIN), flagsReq, fam, 0)
		w.attrStr(unix.NFTA_CHAIN_TABLE, TableName)
		w.attrStr(unix.NFTA_CHAIN_NAME, oc.name)
		w.end()
		what.set(seq, "deleting chain "+oc.name)
	}
	// New chains and changed policies.
	msgs, err := libMessages(func(c *nftables.Conn) error {
		for _, nc := range o.chains {
			if nc.created || nc.policy {
				c.AddChain(nc.nc)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	addLib(w, what, "adding chains", msgs)
	// New rules.
	for _, nc := range o.chains {
		for j, r := range nc.rules {
			if nc.keep[j] >= 0 {
				continue
			}
			if sets := nc.setsOf[r]; len(sets) > 0 {
				msgs, err := libMessages(func(c *nftables.Conn) error {
					for _, ps := range sets {
						if err := c.AddSet(ps.set, ps.elems); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					return err
				}
				addLib(w, what, "sets of "+ruleDesc(r), msgs)
			}
			// Before the next rule that stays, or at the end.
			var before uint64
			for k := j + 1; k < len(nc.rules); k++ {
				if nc.keep[k] >= 0 {
					before = nc.handles[k]
					break
				}
			}
			seq, err := addRule(w, fam, r, before == 0, before, 0, true)
			if err != nil {
				return err
			}
			what.rule(seq, r)
			echo[seq] = &echoSlot{nc, j}
		}
	}
	return nil
}

// newState is the table's state after the batch: false when a handle is
// unknown (the cache is then dropped).
func (o *famOps) newState(ns string, chk echoCheck, replies []nlMsg) (*famState, bool) {
	s := &famState{ns: ns, exists: true}
	if o.full {
		if chk.seq != 0 {
			found := false
			for _, m := range replies {
				if m.seq == chk.seq && m.typ == nftType(unix.NFT_MSG_NEWRULE) {
					found = ruleHandle(m) == chk.handle
				}
			}
			if !found {
				return nil, false
			}
		}
	}
	add := func(nc *newChain) bool {
		cs := &chainState{name: nc.nc.Name, base: nc.nc.Hooknum != nil, policy: policyOf(nc.nc)}
		if !cs.base {
			cs.policy = 0
		}
		cs.rules = make([]ruleState, len(nc.rules))
		for j := range nc.rules {
			if nc.handles[j] == 0 {
				return false
			}
			cs.rules[j] = ruleState{nc.handles[j], nc.keys[j]}
		}
		s.chains = append(s.chains, cs)
		return true
	}
	if o.full {
		for _, nc := range o.chains {
			if !add(nc) {
				return nil, false
			}
		}
		return s, true
	}
	// The kernel keeps its chain order: the chains that stay, then the
	// new ones.
	byName := map[string]*newChain{}
	for _, nc := range o.chains {
		byName[nc.nc.Name] = nc
	}
	for _, oc := range o.old.chains {
		if nc := byName[oc.name]; nc != nil && !add(nc) {
			return nil, false
		}
	}
	for _, nc := range o.chains {
		if nc.created && !add(nc) {
			return nil, false
		}
	}
	return s, true
}

// diffKeys matches two key sequences: the pairs (i, j) with a[i] == b[j]
// of a longest common subsequence — exactly one when the sequences differ
// by at most maxEdit insertions and deletions between their common prefix
// and suffix, else the prefix and suffix only.
func diffKeys(a, b []uint64) [][2]int {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	pairs := make([][2]int, 0, p+s)
	for i := 0; i < p; i++ {
		pairs = append(pairs, [2]int{i, i})
	}
	for _, m := range myers(a[p:len(a)-s], b[p:len(b)-s], maxEdit) {
		pairs = append(pairs, [2]int{m[0] + p, m[1] + p})
	}
	for k := s; k > 0; k-- {
		pairs = append(pairs, [2]int{len(a) - k, len(b) - k})
	}
	return pairs
}

// maxEdit bounds Myers' search (its memory grows with the square of the
// edit distance).
const maxEdit = 1000

// myers returns the matched pairs of a shortest edit script from a to b,
// or none when it needs more than maxD insertions and deletions.
func myers(a, b []uint64, maxD int) [][2]int {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		return nil
	}
	lim := min(n+m, maxD)
	off := lim + 1
	v := make([]int, 2*lim+3)
	var trace [][]int
	for d := 0; d <= lim; d++ {
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || k != d && v[off+k-1] < v[off+k+1] {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				return myersBack(trace, d, n, m)
			}
		}
		snap := make([]int, 2*d+1)
		copy(snap, v[off-d:off+d+1])
		trace = append(trace, snap)
	}
	return nil
}

func myersBack(trace [][]int, d, x, y int) [][2]int {
	var rev [][2]int
	for ; d > 0; d-- {
		v := trace[d-1] // window [-(d-1), d-1]
		at := func(k int) int { return v[k+d-1] }
		k := x - y
		var pk int
		if k == -d || k != d && at(k-1) < at(k+1) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := at(pk)
		py := px - pk
		for x > px && y > py {
			x--
			y--
			rev = append(rev, [2]int{x, y})
		}
		x, y = px, py
	}
	for x > 0 && y > 0 {
		x--
		y--
		rev = append(rev, [2]int{x, y})
	}
	out := make([][2]int, len(rev))
	for i := range rev {
		out[len(rev)-1-i] = rev[i]
	}
	return out
}

// Change edits one chain of rampart's table of family f in the kernel,
// without a full read of the ruleset and in one batch: op (OpAppend,
// OpInsert, OpDelete, OpReplace, the iptables commands -A, -I, -D, -R) on
// chain chain of iptables table table, at rule pos (1-based) where the
// operation takes one, with rule r (OpDelete with pos > 0 takes none; with
// pos 0 it deletes the first rule whose text is r's). The other rules keep
// their counters; a new rule (also one that replaces another) starts with
// r's counters. The positions count the chain's iptables rules only (not
// the policy-counter rule at the end of a built-in chain), as iptables
// does; a goto from a built-in chain also adds the hidden chain it goes
// through when the table lacks it (see t_policy.go).
//
// The rule positions come from the cache of the table's handles (see
// Apply); when the cache is not current the table is read first (for a
// large chain that read is slow: the kernel's rule dump is quadratic).
// Change is for the multi-call front end acting on the kernel (`rampart
// iptables -A ...` without --state): the caller has parsed and checked the
// command as ipt.Exec does on a model (a -A/-I/-D/-R with several -s/-d
// addresses is one Change per rule of cmd.Rules(), in order; "-I CHAIN"
// without a number is pos 1), and Change gives the kernel the same result
// as ipt.Exec gives the model (TestChange). Its cost is a few milliseconds
// of its own plus the kernel's commit, which rebuilds the rule blob of the
// chain it changes: of one chunk of a long chain (chunk.go;
// BenchmarkBackendChange100k), where iptables-nft -A rebuilds the whole
// chain. A rule inserted at a chunk's start goes into that chunk, one
// appended into the last chunk; Change does not split a chunk that grows
// (the next Apply does, when it holds more than twice the chunk size and
// the chunks' mean size), and a jump or goto it adds to a later chunk is
// refused by the kernel ("Too many links") when it would reach a chain
// more than 15 jumps and gotos deep.
//
// Errors: ErrNoTable, ErrNoChain, ErrIndex and ErrNoMatch (wrapped with
// details; test with errors.Is; iptables' messages are "No chain/target/
// match by that name.", "Index of insertion too big." and so on, and "Bad
// rule (does a matching rule exist in that chain?)"), a rule the backend
// cannot translate, or the kernel's refusal; the kernel is then unchanged.
func (b Backend) Change(f ruleset.Family, table, chain string, op Op, pos int, r *ruleset.Rule) error {
	c, gen, done, err := b.session()
	if err != nil {
		return err
	}
	defer done()
	s, fromCache, err := b.state(c, f, gen)
	if err != nil {
		return err
	}
	gen = s.gen
	err = b.changeOnce(c, s, gen, f, table, chain, op, pos, r)
	var ke *kernelError
	if fromCache && errors.As(err, &ke) && ke.errno == unix.ENOENT {
		if s, err = c.readState(f); err != nil {
			return err
		}
		err = b.changeOnce(c, s, s.gen, f, table, chain, op, pos, r)
	}
	return err
}

func (b Backend) changeOnce(c *nlConn, s *famState, gen uint32, f ruleset.Family, table, chain string, op Op, pos int, r *ruleset.Rule) error {
	if !s.exists {
		return fmt.Errorf("nft backend: %w (table %s %s)", ErrNoTable, f, TableName)
	}
	name := chainName(table, chain)
	cs := s.chain(name)
	if cs == nil {
		return fmt.Errorf("nft backend: %w: %s in table %s", ErrNoChain, chain, table)
	}
	fam := uint8(nftFamily(f))
	var nr *nftables.Rule
	var sets []planSet
	var key uint64
	var plan *tablePlan
	if r != nil && !(op == OpDelete && pos > 0) {
		var err error
		nr, plan, err = translateOne(f, table, chain, cs.base, r)
		if err != nil {
			return err
		}
		sets = plan.sets
		if j, ok := r.JumpChain(); ok && s.chain(chainName(table, j)) == nil {
			return fmt.Errorf("nft backend: %w: %s in table %s", ErrNoChain, j, table)
		}
		for _, ps := range sets {
			if !ps.set.Anonymous {
				return fmt.Errorf("nft backend: rule %s uses a named set: load it with Apply", ruleDesc(nr))
			}
		}
		key = ruleKey(nr.UserData)
	}
	// The chain's iptables rules, chunk by chunk (chunk.go): not the
	// gotos that link the chunks, nor the policy rule (and any rule after
	// it) at the end of a base chain.
	chunks := chunksOf(s, name)
	var flat []chunkPos
	lastN := 0
	for ci, ch := range chunks {
		m := chunkRules(chunks, ci)
		if ci == len(chunks)-1 {
			for m > 0 && isPolicyKey(ch.rules[m-1].key) {
				m--
			}
			lastN = m
		}
		for i := 0; i < m; i++ {
			flat = append(flat, chunkPos{ch, i})
		}
	}
	n := len(flat)
	// locate returns the chunk and the index in it of iptables rule at
	// (0-based; n is the end of the chain, before its policy rule).
	locate := func(at int) (*chainState, int) {
		if at < n {
			return flat[at].cs, flat[at].i
		}
		return chunks[len(chunks)-1], lastN
	}
	// The new rule goes to its chunk.
	inChunk := func(tc *chainState) {
		if nr != nil {
			nr.Chain = &nftables.Chain{Name: tc.name, Table: nr.Table}
		}
	}
	w := newBatch(4096, c.seq)
	what := newDescs()
	var echoSeq uint32
	var tc *chainState // the chunk that changes
	var newRules []ruleState
	insertAt := -1
	addSets := func() {
		if len(sets) == 0 {
			return
		}
		msgs, err := libMessages(func(lc *nftables.Conn) error {
			for _, ps := range sets {
				if err := lc.AddSet(ps.set, ps.elems); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			addLib(w, what, "sets of "+ruleDesc(nr), msgs)
		}
	}
	var extra map[uint32]*ruleState
	if plan != nil && op != OpDelete {
		var err error
		if extra, err = addExtraChains(w, what, s, plan); err != nil {
			return fmt.Errorf("nft backend: %w", err)
		}
	}
	var err error
	switch op {
	case OpAppend, OpInsert:
		if nr == nil {
			return fmt.Errorf("nft backend: no rule to add")
		}
		at := n // append: before the policy rule, if any
		if op == OpInsert {
			if pos < 1 || pos > n+1 {
				return fmt.Errorf("nft backend: %w: insertion at %d in %s (%d rules)", ErrIndex, pos, chain, n)
			}
			at = pos - 1
		}
		var idx int
		tc, idx = locate(at)
		inChunk(tc)
		addSets()
		if idx < len(tc.rules) {
			echoSeq, err = addRule(w, fam, nr, false, tc.rules[idx].handle, 0, true)
		} else {
			echoSeq, err = addRule(w, fam, nr, true, 0, 0, true)
		}
		insertAt = idx
		newRules = append([]ruleState(nil), tc.rules[:idx]...)
		newRules = append(newRules, ruleState{0, key})
		newRules = append(newRules, tc.rules[idx:]...)
	case OpDelete:
		at := pos - 1
		if pos == 0 {
			at = -1
			for i := 0; i < n; i++ {
				if flat[i].cs.rules[flat[i].i].key == key {
					at = i
					break
				}
			}
			if at < 0 {
				return fmt.Errorf("nft backend: %w in %s", ErrNoMatch, chain)
			}
		} else if pos < 1 || pos > n {
			return fmt.Errorf("nft backend: %w: deletion of %d in %s (%d rules)", ErrIndex, pos, chain, n)
		}
		var idx int
		tc, idx = locate(at)
		what.set(delRule(w, fam, tc.name, tc.rules[idx].handle), fmt.Sprintf("deleting rule %d of %s", at+1, chain))
		newRules = append([]ruleState(nil), tc.rules[:idx]...)
		newRules = append(newRules, tc.rules[idx+1:]...)
	case OpReplace:
		if nr == nil {
			return fmt.Errorf("nft backend: no rule to replace with")
		}
		if pos < 1 || pos > n {
			return fmt.Errorf("nft backend: %w: replacement of %d in %s (%d rules)", ErrIndex, pos, chain, n)
		}
		var idx int
		tc, idx = locate(pos - 1)
		inChunk(tc)
		addSets()
		echoSeq, err = addRule(w, fam, nr, false, 0, tc.rules[idx].handle, true)
		insertAt = idx
		newRules = append([]ruleState(nil), tc.rules...)
		newRules[idx] = ruleState{0, key}
	default:
		return fmt.Errorf("nft backend: unknown change operation %d", op)
	}
	if err != nil {
		return fmt.Errorf("nft backend: %w", err)
	}
	if echoSeq != 0 {
		what.rule(echoSeq, nr)
	}
	lastSeq := w.seq
	w.setLastAck()
	w.echoGen()
	buf := w.finish()
	c.seq = w.seq + 1
	replies, err := c.sendBatch(buf, lastSeq, what, 64<<10)
	if err != nil {
		return fmt.Errorf("nft backend: %w", err)
	}
	newGen := uint32(0)
	for _, m := range replies {
		if g, ok := genOf(m); ok {
			newGen = g
		}
		if m.typ != nftType(unix.NFT_MSG_NEWRULE) {
			continue
		}
		if insertAt >= 0 && m.seq == echoSeq {
			newRules[insertAt].handle = ruleHandle(m)
		}
		if rs := extra[m.seq]; rs != nil {
			rs.handle = ruleHandle(m)
		}
	}
	known := insertAt < 0 || newRules[insertAt].handle != 0
	for _, rs := range extra {
		known = known && rs.handle != 0
	}
	if !known {
		b.writeCache(f, nil)
		return nil
	}
	if newGen != gen+1 {
		newGen = 0
	}
	tc.rules = newRules
	s.gen = newGen
	if newGen == 0 || !c.stampUses(f, s, newGen) {
		s.gen = 0
	}
	b.writeCache(f, s)
	return nil
}

var policyKey = ruleKey(policyUserdata)

// chunkPos is a rule of a chain: its chunk and its index there.
type chunkPos struct {
	cs *chainState
	i  int
}

func isPolicyKey(k uint64) bool { return k == policyKey }

// translateOne translates a single rule of chain chain (a base chain when
// base) of iptables table table. The plan holds the sets the rule uses and,
// after the rule's own chain, the chains it needs besides (with their
// rules).
func translateOne(f ruleset.Family, table, chain string, base bool, r *ruleset.Rule) (*nftables.Rule, *tablePlan, error) {
	p := &tablePlan{table: &nftables.Table{Family: nftFamily(f), Name: TableName}}
	nc := &nftables.Chain{Name: chainName(table, chain), Table: p.table}
	if base {
		// Only the base-ness counts for the translators (policy
		// counters); the hook is not sent.
		h := nftables.ChainHookInput
		nc.Hooknum = h
	}
	p.chains = []*nftables.Chain{nc}
	x := &xlate{Fam: f, Table: table, Chain: chain, plan: p}
	exprs, err := ruleExprs(x, r)
	if err != nil {
		var spec strings.Builder
		iptext.RuleSpec(&spec, r, f, false)
		return nil, nil, fmt.Errorf("%v (nft backend; in -t %s -A %s%s)", err, table, chain, spec.String())
	}
	ud, err := ruleUserdata(r, f)
	if err != nil {
		return nil, nil, err
	}
	return &nftables.Rule{Table: p.table, Chain: nc, Exprs: exprs, UserData: ud}, p, nil
}

// addExtraChains adds the chains a translated rule needs besides its own
// (the hidden chain of a goto from a base chain, see t_policy.go) when the
// kernel lacks them, with their rules, and records them in s. It returns
// the echo slots of their rules.
func addExtraChains(w *batchBuf, what *descs, s *famState, p *tablePlan) (map[uint32]*ruleState, error) {
	fam := uint8(p.table.Family)
	slots := map[uint32]*ruleState{}
	for _, ch := range p.chains[1:] {
		if s.chain(ch.Name) != nil {
			continue
		}
		msgs, err := libMessages(func(c *nftables.Conn) error { c.AddChain(ch); return nil })
		if err != nil {
			return nil, err
		}
		addLib(w, what, "adding chain "+ch.Name, msgs)
		cs := &chainState{name: ch.Name}
		for _, r := range p.rules {
			if r.Chain != ch {
				continue
			}
			seq, err := addRule(w, fam, r, true, 0, 0, true)
			if err != nil {
				return nil, err
			}
			what.rule(seq, r)
			cs.rules = append(cs.rules, ruleState{0, ruleKey(r.UserData)})
		}
		for i := range cs.rules {
			slots[w.seq-uint32(len(cs.rules)-1-i)] = &cs.rules[i]
		}
		s.chains = append(s.chains, cs)
	}
	return slots, nil
}
