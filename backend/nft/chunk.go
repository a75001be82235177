package nft

import (
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// Chunked chains.
//
// The kernel's commit rebuilds the rule blob of every chain a batch
// touches (nf_tables_commit_chain_prepare_rules walks all the chain's
// rules), so that changing one rule of a chain of 100,000 rules costs
// about 100 ms. An iptables chain longer than the backend's chunk size is
// therefore split into chunk chains linked by gotos: nft chain C holds
// the first chunk and ends with "goto C #2", C #2 holds the next chunk and
// ends with "goto C #3", and so on; a change then rebuilds one chunk.
//
// A goto replaces the current frame of nft_do_chain's jump stack, so the
// chunks behave as one chain: a RETURN in any chunk pops the frame that
// entered C (or, in a base chain, ends in the policy), running off the last
// chunk returns as running off C does, a jump from a chunk pushes the same
// frame C would, and the stack's depth at run time does not change. The
// policy rule of a base chain (t_policy.go) is the last rule of its last
// chunk; a RETURN in a chunk of a base chain keeps its policy counter; a
// goto from a chunk of a base chain goes through the base chain's hidden
// goto chain as from the base chain itself.
//
// The kernel's validation (nft_chain_validate) counts a goto as one level
// like a jump, and refuses a ruleset in which a chain is reached through
// more than 15 jumps and gotos from a base chain ("Too many links",
// EMLINK). The chunking keeps every chain's depth within that limit: when
// the chunks of ChunkSize rules would exceed it, the chains are split in
// the smallest chunks that do not (at worst the chains stay whole).
//
// The goto that links two chunks carries the userdata TLV udChunk with the
// next chunk's name; readBack follows the links and shows the chunks as
// one chain. In an incremental load the rules that stay keep their chunk
// and the new rules join their neighbours' chunk, so that a change rebuilds
// the chunks it touches only; a chunk that would grow beyond twice the
// chunk size (or twice the old chunks' mean size) makes the chain split
// afresh, and the rules that then move to another chunk are loaded anew:
// they start with the model's counters, not the kernel's.

// DefaultChunkSize is the chunk size of a Backend whose ChunkSize is 0.
const DefaultChunkSize = 1000

const (
	udChunk  = 0x43 // 'C': the userdata of the goto linking two chunks
	chunkSep = " #" // between a chain's name and its chunk number
	// maxChainLevel is the deepest level nft_chain_validate accepts for
	// a chain (levels count jumps and gotos from a base chain, which is
	// at level 0; NFT_JUMP_STACK_SIZE is 16).
	maxChainLevel = 15
)

// chunkSize is the backend's chunk size; 0 means no chunking.
func (b Backend) chunkSize() int {
	switch {
	case b.ChunkSize < 0:
		return 0
	case b.ChunkSize == 0:
		return DefaultChunkSize
	}
	return b.ChunkSize
}

// chunkName is the nft name of chunk k (from 1) of nft chain name.
func chunkName(name string, k int) string {
	if k <= 1 {
		return name
	}
	return name + chunkSep + strconv.Itoa(k)
}

// chunkBase returns the chain a chunk chain belongs to; ok is false for a
// chain that is not a chunk (iptables chain names hold no blanks).
func chunkBase(name string) (base string, ok bool) {
	i := strings.LastIndex(name, chunkSep)
	if i < 0 {
		return "", false
	}
	if _, err := strconv.Atoi(name[i+len(chunkSep):]); err != nil {
		return "", false
	}
	return name[:i], true
}

func chunkUserdata(next string) []byte { return appendTLVs(nil, udChunk, []byte(next)) }

func chunkKey(next string) uint64 { return ruleKey(chunkUserdata(next)) }

// isChunkRule reports whether a rule's userdata marks it as the goto to a
// chain's next chunk.
func isChunkRule(ud []byte) bool { return len(ud) >= 2 && ud[0] == udChunk }

// chunkGoto is the rule of chunk ch that goes to the next chunk.
func chunkGoto(t *nftables.Table, ch *nftables.Chain, next string) *nftables.Rule {
	return &nftables.Rule{Table: t, Chain: ch, UserData: chunkUserdata(next),
		Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictGoto, Chain: next}}}
}

// chunksOf returns the chunks of chain name in s in their order (the chain
// itself first), following the gotos that link them; nil when s lacks the
// chain.
func chunksOf(s *famState, name string) []*chainState {
	first := s.chain(name)
	if first == nil {
		return nil
	}
	byKey := map[uint64]*chainState{}
	for _, c := range s.chains {
		if b, ok := chunkBase(c.name); ok && b == name {
			byKey[chunkKey(c.name)] = c
		}
	}
	out := []*chainState{first}
	seen := map[*chainState]bool{first: true}
	for cur := first; len(cur.rules) > 0; {
		next := byKey[cur.rules[len(cur.rules)-1].key]
		if next == nil || seen[next] {
			break
		}
		seen[next] = true
		out = append(out, next)
		cur = next
	}
	return out
}

// chunkRules returns how many rules of chunk i of chunks are the chain's
// own (not the goto to the next chunk).
func chunkRules(chunks []*chainState, i int) int {
	n := len(chunks[i].rules)
	if i+1 < len(chunks) && n > 0 {
		n--
	}
	return n
}

// chunkGroup is one chunk of a chain in a plan: its name and rules.
type chunkGroup struct {
	name  string
	rules []*nftables.Rule
}

// chunkPlan returns the plan with its long chains split into chunks of
// (about) size rules, keeping the chunks of old where it can; size 0
// returns p.
func chunkPlan(p *tablePlan, old *famState, size int) *tablePlan {
	if size <= 0 {
		return p
	}
	byChain := map[*nftables.Chain][]*nftables.Rule{}
	for _, r := range p.rules {
		byChain[r.Chain] = append(byChain[r.Chain], r)
	}
	if old != nil {
		if q, chunked := layoutPlan(p, byChain, old, size, true); !chunked || depthOK(q) {
			return q
		}
	}
	// Fresh chunks: the smallest chunk size (from size on) at which no
	// chain is too deep, or at which no chain is split.
	jumps := planJumps(p, byChain)
	fits := func(eff int) bool {
		h, split := freshHeight(p, byChain, jumps, eff)
		return !split || h <= maxChainLevel
	}
	eff := size
	if !fits(eff) {
		lo, hi := size, 2*size // lo does not fit
		for !fits(hi) {
			lo, hi = hi, 2*hi
		}
		for hi-lo > 1 {
			if mid := lo + (hi-lo)/2; fits(mid) {
				hi = mid
			} else {
				lo = mid
			}
		}
		eff = hi
	}
	q, _ := layoutPlan(p, byChain, nil, eff, false)
	return q
}

// planJump is a jump or goto of a chain of a plan: the index of its rule
// in the chain and the chain it goes to.
type planJump struct {
	rule   int
	target string
}

// planJumps lists the jumps and gotos of each chain of the plan.
func planJumps(p *tablePlan, byChain map[*nftables.Chain][]*nftables.Rule) map[string][]planJump {
	out := map[string][]planJump{}
	for _, ch := range p.chains {
		for j, r := range byChain[ch] {
			for _, e := range r.Exprs {
				if v, ok := e.(*expr.Verdict); ok && (v.Kind == expr.VerdictJump || v.Kind == expr.VerdictGoto) {
					out[ch.Name] = append(out[ch.Name], planJump{j, v.Chain})
				}
			}
		}
	}
	return out
}

// freshHeight returns the depth (in jumps and gotos) of the deepest chain
// reached from any chain of the plan once split afresh in chunks of eff
// rules, as depthOK measures it, without making the chunks; split tells
// whether any chain is split.
func freshHeight(p *tablePlan, byChain map[*nftables.Chain][]*nftables.Rule, jumps map[string][]planJump, eff int) (height int, split bool) {
	byName := map[string]*nftables.Chain{}
	for _, ch := range p.chains {
		byName[ch.Name] = ch
	}
	const busy = 1 << 20
	memo := map[string]int{}
	var h func(name string) int
	h = func(name string) int {
		if v, ok := memo[name]; ok {
			return v
		}
		memo[name] = busy
		ch := byName[name]
		rs := byChain[ch]
		_, hidden := policyGotoBase(name)
		chunked := ch != nil && !hidden && len(rs) > eff
		m := 0
		if chunked {
			split = true
			m = (len(rs)+eff-1)/eff - 1
		}
		for _, jp := range jumps[name] {
			d := 1 + h(jp.target)
			if chunked {
				d += jp.rule / eff
			}
			m = max(m, d)
		}
		memo[name] = m
		return m
	}
	for _, ch := range p.chains {
		height = max(height, h(ch.Name))
	}
	return height, split
}

// layoutPlan chunks the plan's chains at size rules (with keep, the
// chains old holds in chunks keep them when they can); chunked is false
// when no chain is split.
func layoutPlan(p *tablePlan, byChain map[*nftables.Chain][]*nftables.Rule, old *famState, size int, keep bool) (*tablePlan, bool) {
	q := &tablePlan{table: p.table, sets: p.sets, chains: append([]*nftables.Chain(nil), p.chains...)}
	q.rules = make([]*nftables.Rule, 0, len(p.rules)+len(p.rules)/size+1)
	chunked := false
	for _, ch := range p.chains {
		rs := byChain[ch]
		var groups []chunkGroup
		if _, hidden := policyGotoBase(ch.Name); !hidden {
			if keep && old != nil {
				groups = keepLayout(old, ch.Name, rs, size)
			}
			if groups == nil && len(rs) > size {
				for k := 0; k*size < len(rs); k++ {
					groups = append(groups, chunkGroup{chunkName(ch.Name, k+1), rs[k*size : min(len(rs), (k+1)*size)]})
				}
			}
		}
		if len(groups) <= 1 {
			q.rules = append(q.rules, rs...)
			continue
		}
		chunked = true
		for i, g := range groups {
			c := ch
			if i > 0 {
				c = &nftables.Chain{Name: g.name, Table: p.table}
				q.chains = append(q.chains, c)
			}
			for _, r := range g.rules {
				if c == ch {
					q.rules = append(q.rules, r)
					continue
				}
				rr := *r
				rr.Chain = c
				q.rules = append(q.rules, &rr)
			}
			if i+1 < len(groups) {
				q.rules = append(q.rules, chunkGoto(p.table, c, groups[i+1].name))
			}
		}
	}
	return q, chunked
}

// keepLayout puts the rules rs of chain name into the chunks old holds of
// it: a rule that stays keeps its chunk, a new rule joins the chunk of
// the rule before it (or after it, at the start). It returns nil when
// old does not hold the chain in chunks, when no rule stays, or when a
// chunk would grow beyond twice size (or twice the old chunks' mean).
func keepLayout(old *famState, name string, rs []*nftables.Rule, size int) []chunkGroup {
	chunks := chunksOf(old, name)
	if len(chunks) < 2 {
		return nil
	}
	var oldKeys []uint64
	var oldChunk []int
	for i := range chunks {
		for _, r := range chunks[i].rules[:chunkRules(chunks, i)] {
			oldKeys = append(oldKeys, r.key)
			oldChunk = append(oldChunk, i)
		}
	}
	limit := 2 * max(size, (len(oldKeys)+len(chunks)-1)/len(chunks))
	newKeys := make([]uint64, len(rs))
	for j, r := range rs {
		newKeys[j] = ruleKey(r.UserData)
	}
	assign := make([]int, len(rs))
	for j := range assign {
		assign[j] = -1
	}
	for _, pr := range diffKeys(oldKeys, newKeys) {
		assign[pr[1]] = oldChunk[pr[0]]
	}
	first := -1
	for j := range assign {
		switch {
		case assign[j] >= 0:
			if first < 0 {
				first = assign[j]
			}
		case j > 0 && assign[j-1] >= 0:
			assign[j] = assign[j-1]
		}
	}
	if first < 0 {
		return nil
	}
	groups := make([]chunkGroup, len(chunks))
	for i, c := range chunks {
		groups[i].name = c.name
	}
	for j, r := range rs {
		i := assign[j]
		if i < 0 {
			i = first
		}
		groups[i].rules = append(groups[i].rules, r)
	}
	out := groups[:1]
	for _, g := range groups[1:] {
		if len(g.rules) > 0 {
			out = append(out, g)
		}
	}
	for _, g := range out {
		if len(g.rules) > limit {
			return nil
		}
	}
	return out
}

// depthOK reports whether every chain of the plan is at most
// maxChainLevel jumps and gotos away from the chains it reaches (a loop
// counts as too deep).
func depthOK(p *tablePlan) bool {
	targets := map[string][]string{}
	for _, r := range p.rules {
		for _, e := range r.Exprs {
			if v, ok := e.(*expr.Verdict); ok && (v.Kind == expr.VerdictJump || v.Kind == expr.VerdictGoto) {
				targets[r.Chain.Name] = append(targets[r.Chain.Name], v.Chain)
			}
		}
	}
	const busy = 1 << 20
	height := map[string]int{}
	var h func(string) int
	h = func(c string) int {
		if v, ok := height[c]; ok {
			return v
		}
		height[c] = busy
		m := 0
		for _, t := range targets[c] {
			m = max(m, 1+h(t))
		}
		height[c] = m
		return m
	}
	for _, ch := range p.chains {
		if h(ch.Name) > maxChainLevel {
			return false
		}
	}
	return true
}
