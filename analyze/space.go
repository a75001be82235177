// Package analyze is rampart's static analyzer: a symbolic model of packet
// header space, a symbolic walk of the filter table that follows netfilter
// through user chains, goto, RETURN and policies, and the findings built on
// it (shadowed and dead rules, holes, lock-out) for `rampart check`.
//
// A packet set is a union of boxes; a box is a product of one set per
// dimension (addresses and ports as sorted interval lists, the small
// dimensions as bit sets). Matches the model cannot express exactly are
// over-approximated: a rule then has a "may" set (packets it may match) and
// an empty "must" set, and every answer that depends on it is marked
// approximate.
package analyze

import (
	"math/bits"
	"net/netip"
	"sort"
)

// u128 is an unsigned 128-bit value (an address, or a small number in lo).
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }
func (a u128) add1() u128 {
	lo, c := bits.Add64(a.lo, 1, 0)
	return u128{a.hi + c, lo}
}
func (a u128) sub1() u128 {
	lo, b := bits.Sub64(a.lo, 1, 0)
	return u128{a.hi - b, lo}
}

func num(v uint64) u128 { return u128{0, v} }

// iv is an inclusive interval.
type iv struct{ lo, hi u128 }

// ivs is a sorted list of disjoint, non-adjacent intervals.
type ivs []iv

func maxOf(a, b u128) u128 {
	if a.less(b) {
		return b
	}
	return a
}
func minOf(a, b u128) u128 {
	if a.less(b) {
		return a
	}
	return b
}

func (s ivs) inter(t ivs) ivs {
	var out ivs
	i, j := 0, 0
	for i < len(s) && j < len(t) {
		lo, hi := maxOf(s[i].lo, t[j].lo), minOf(s[i].hi, t[j].hi)
		if !hi.less(lo) {
			out = append(out, iv{lo, hi})
		}
		if s[i].hi.less(t[j].hi) {
			i++
		} else {
			j++
		}
	}
	return out
}

// sub returns s \ t.
func (s ivs) sub(t ivs) ivs {
	var out ivs
	j := 0
	for _, x := range s {
		lo := x.lo
		done := false
		for j < len(t) && t[j].hi.less(lo) {
			j++
		}
		k := j
		for k < len(t) && !x.hi.less(t[k].lo) {
			if lo.less(t[k].lo) {
				out = append(out, iv{lo, t[k].lo.sub1()})
			}
			if !t[k].hi.less(x.hi) {
				done = true
				break
			}
			lo = t[k].hi.add1()
			k++
		}
		if !done {
			out = append(out, iv{lo, x.hi})
		}
	}
	return out
}

// subsetOf reports whether s ⊆ t, without allocating.
func (s ivs) subsetOf(t ivs) bool {
	j := 0
	for _, x := range s {
		cur := x.lo
		for {
			for j < len(t) && t[j].hi.less(cur) {
				j++
			}
			if j == len(t) || cur.less(t[j].lo) {
				return false
			}
			if !t[j].hi.less(x.hi) {
				break
			}
			cur = t[j].hi.add1()
			j++
		}
	}
	return true
}

// overlaps reports whether s ∩ t is not empty, without allocating.
func (s ivs) overlaps(t ivs) bool {
	i, j := 0, 0
	for i < len(s) && j < len(t) {
		switch {
		case s[i].hi.less(t[j].lo):
			i++
		case t[j].hi.less(s[i].lo):
			j++
		default:
			return true
		}
	}
	return false
}

func (s ivs) equal(t ivs) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		if s[i] != t[i] {
			return false
		}
	}
	return true
}

func (s ivs) contains(v u128) bool {
	for _, x := range s {
		if !v.less(x.lo) && !x.hi.less(v) {
			return true
		}
	}
	return false
}

// union merges two lists.
func (s ivs) union(t ivs) ivs {
	all := append(append(ivs{}, s...), t...)
	// insertion sort by lo (lists are short)
	for i := 1; i < len(all); i++ {
		for k := i; k > 0 && all[k].lo.less(all[k-1].lo); k-- {
			all[k], all[k-1] = all[k-1], all[k]
		}
	}
	return mergeSorted(all)
}

func span(lo, hi uint64) ivs { return ivs{{num(lo), num(hi)}} }

// Dimension maxima.
const (
	maxPort = 0xFFFF
	maxICMP = 0xFFFF // type<<8 | code
)

// Conntrack state bits (the same as pkt's CT* bits).
const (
	stInvalid     = 1 << 0
	stEstablished = 1 << 1
	stRelated     = 1 << 2
	stNew         = 1 << 3
	stUntracked   = 1 << 4
	stAll         = 0x1F
)

// Fragment bits: a whole packet or first fragment, or a later fragment.
const (
	fragFirst = 1 << 0
	fragLater = 1 << 1
	fragAll   = 3
)

// Box is a product of one set per dimension.
type Box struct {
	Src, Dst     ivs       // addresses (IPv4 in the low 32 bits)
	Proto        [4]uint64 // protocol numbers 0-255
	SPort, DPort ivs       // ports 0-65535
	State        uint8     // conntrack state bits
	Flags        uint64    // bit f: TCP flags byte f (6 bits) is allowed
	ICMP         ivs       // type<<8|code
	In, Out      uint64    // interface alphabet bits
	Frag         uint8     // fragBits
}

const nDims = 11

// FullBox returns the box of every packet of family f over an interface
// alphabet of n names.
func FullBox(f int, nIfaces int) Box {
	amax := u128{^uint64(0), ^uint64(0)}
	if f == 4 {
		amax = num(0xFFFFFFFF)
	}
	ifs := uint64(1)<<uint(nIfaces) - 1
	if nIfaces >= 64 {
		ifs = ^uint64(0)
	}
	return Box{
		Src: ivs{{num(0), amax}}, Dst: ivs{{num(0), amax}},
		Proto: [4]uint64{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)},
		SPort: span(0, maxPort), DPort: span(0, maxPort),
		State: stAll, Flags: ^uint64(0), ICMP: span(0, maxICMP),
		In: ifs, Out: ifs, Frag: fragAll,
	}
}

func protoEmpty(p [4]uint64) bool { return p[0]|p[1]|p[2]|p[3] == 0 }

func (b *Box) empty() bool {
	return len(b.Src) == 0 || len(b.Dst) == 0 || protoEmpty(b.Proto) || len(b.SPort) == 0 ||
		len(b.DPort) == 0 || b.State == 0 || b.Flags == 0 || len(b.ICMP) == 0 || b.In == 0 || b.Out == 0 || b.Frag == 0
}

// disjoint reports whether two boxes share no packet, testing the cheap
// bit-set dimensions first and without allocating.
func disjoint(a, b *Box) bool {
	if a.State&b.State == 0 || a.Frag&b.Frag == 0 || a.In&b.In == 0 || a.Out&b.Out == 0 || a.Flags&b.Flags == 0 ||
		a.Proto[0]&b.Proto[0]|a.Proto[1]&b.Proto[1]|a.Proto[2]&b.Proto[2]|a.Proto[3]&b.Proto[3] == 0 {
		return true
	}
	return !a.DPort.overlaps(b.DPort) || !a.Src.overlaps(b.Src) || !a.Dst.overlaps(b.Dst) ||
		!a.SPort.overlaps(b.SPort) || !a.ICMP.overlaps(b.ICMP)
}

// interBox intersects two boxes; ok is false when the result is empty.
func interBox(a, b *Box) (Box, bool) {
	if disjoint(a, b) {
		return Box{}, false
	}
	r := Box{
		Src: a.Src.inter(b.Src), Dst: a.Dst.inter(b.Dst),
		SPort: a.SPort.inter(b.SPort), DPort: a.DPort.inter(b.DPort),
		State: a.State & b.State, Flags: a.Flags & b.Flags, ICMP: a.ICMP.inter(b.ICMP),
		In: a.In & b.In, Out: a.Out & b.Out, Frag: a.Frag & b.Frag,
	}
	for i := range r.Proto {
		r.Proto[i] = a.Proto[i] & b.Proto[i]
	}
	return r, !r.empty()
}

// dimension i of a box: subset test, and in-place set to a\b or a∩b.
func dimSubset(i int, a, b *Box) bool {
	switch i {
	case 0:
		return a.Src.subsetOf(b.Src)
	case 1:
		return a.Dst.subsetOf(b.Dst)
	case 2:
		for k := range a.Proto {
			if a.Proto[k]&^b.Proto[k] != 0 {
				return false
			}
		}
		return true
	case 3:
		return a.SPort.subsetOf(b.SPort)
	case 4:
		return a.DPort.subsetOf(b.DPort)
	case 5:
		return a.State&^b.State == 0
	case 6:
		return a.Flags&^b.Flags == 0
	case 7:
		return a.ICMP.subsetOf(b.ICMP)
	case 8:
		return a.In&^b.In == 0
	case 9:
		return a.Out&^b.Out == 0
	default:
		return a.Frag&^b.Frag == 0
	}
}

func dimSet(i int, dst, a, b *Box, minus bool) {
	switch i {
	case 0:
		dst.Src = pick(minus, a.Src.sub(b.Src), a.Src.inter(b.Src))
	case 1:
		dst.Dst = pick(minus, a.Dst.sub(b.Dst), a.Dst.inter(b.Dst))
	case 2:
		for k := range a.Proto {
			if minus {
				dst.Proto[k] = a.Proto[k] &^ b.Proto[k]
			} else {
				dst.Proto[k] = a.Proto[k] & b.Proto[k]
			}
		}
	case 3:
		dst.SPort = pick(minus, a.SPort.sub(b.SPort), a.SPort.inter(b.SPort))
	case 4:
		dst.DPort = pick(minus, a.DPort.sub(b.DPort), a.DPort.inter(b.DPort))
	case 5:
		dst.State = pickB(minus, a.State&^b.State, a.State&b.State)
	case 6:
		dst.Flags = pickB(minus, a.Flags&^b.Flags, a.Flags&b.Flags)
	case 7:
		dst.ICMP = pick(minus, a.ICMP.sub(b.ICMP), a.ICMP.inter(b.ICMP))
	case 8:
		dst.In = pickB(minus, a.In&^b.In, a.In&b.In)
	case 9:
		dst.Out = pickB(minus, a.Out&^b.Out, a.Out&b.Out)
	default:
		dst.Frag = pickB(minus, a.Frag&^b.Frag, a.Frag&b.Frag)
	}
}

func pick(minus bool, x, y ivs) ivs {
	if minus {
		return x
	}
	return y
}

func pickB[T uint8 | uint64](minus bool, x, y T) T {
	if minus {
		return x
	}
	return y
}

// subBox returns a \ b as disjoint boxes.
func subBox(a, b *Box) []Box { return subBoxTo(nil, a, b) }

// subBoxTo appends the disjoint boxes of a \ b to dst.
func subBoxTo(dst []Box, a, b *Box) []Box {
	if disjoint(a, b) {
		return append(dst, *a)
	}
	cur := *a
	for i := 0; i < nDims; i++ {
		if dimSubset(i, &cur, b) {
			continue
		}
		piece := cur
		dimSet(i, &piece, &cur, b, true)
		if !piece.empty() {
			dst = append(dst, piece)
		}
		next := cur
		dimSet(i, &next, &cur, b, false)
		cur = next
	}
	return dst
}

func boxSubset(a, b *Box) bool {
	if a.State&^b.State != 0 || a.Frag&^b.Frag != 0 || a.In&^b.In != 0 || a.Out&^b.Out != 0 || a.Flags&^b.Flags != 0 {
		return false
	}
	for i := 0; i < nDims; i++ {
		if !dimSubset(i, a, b) {
			return false
		}
	}
	return true
}

// Set is a union of boxes.
type Set []Box

// IsEmpty reports whether the set holds no packet.
func (s Set) IsEmpty() bool {
	for i := range s {
		if !s[i].empty() {
			return false
		}
	}
	return true
}

// Intersect returns s ∩ t.
func (s Set) Intersect(t Set) Set {
	var out Set
	for i := range s {
		for j := range t {
			if r, ok := interBox(&s[i], &t[j]); ok {
				out = append(out, r)
			}
		}
	}
	if len(out) > compactSmall && (len(s) == 1 || len(t) == 1) {
		// boxes inside one another here were so in s or t already:
		// only merge
		return compactLarge(out, false)
	}
	return out.compactOwned()
}

// Subtract returns s \ t. Each box of s is cut only by the boxes of t that
// meet it, and a piece that misses a box of t is kept whole. A large s
// keeps the boxes t does not meet as they are and compacts only the
// pieces of the others.
func (s Set) Subtract(t Set) Set {
	first := -1 // the first box of s that t meets
	for i := range s {
		for j := range t {
			if !disjoint(&s[i], &t[j]) {
				first = i
				break
			}
		}
		if first >= 0 {
			break
		}
	}
	if first < 0 {
		return s[:len(s):len(s)]
	}
	large := len(s) > compactSmall
	out := make(Set, first, len(s)+8)
	copy(out, s[:first])
	var cut Set
	var pieces, next []Box
	for i := first; i < len(s); i++ {
		pieces = append(pieces[:0], s[i])
		hit := false
		grow := 64
		for j := range t {
			if disjoint(&s[i], &t[j]) {
				continue
			}
			hit = true
			next = next[:0]
			for k := range pieces {
				if disjoint(&pieces[k], &t[j]) {
					next = append(next, pieces[k])
					continue
				}
				next = subBoxTo(next, &pieces[k], &t[j])
			}
			pieces, next = next, pieces
			if len(pieces) == 0 {
				break
			}
			if len(pieces) > grow {
				// one box cut by many: merge its pieces as they multiply
				pieces = append(pieces[:0:0], compactLarge(pieces, false)...)
				grow = max(2*len(pieces), 64)
			}
		}
		if hit && large {
			cut = append(cut, pieces...)
		} else {
			out = append(out, pieces...)
		}
	}
	if large {
		// the pieces of one box are disjoint: only merge them
		return append(out, compactLarge(cut, false)...)
	}
	return out.compactOwned()
}

// Union returns s ∪ t.
func (s Set) Union(t Set) Set {
	if len(t) == 0 {
		return s[:len(s):len(s)]
	}
	if len(s) == 0 {
		return t[:len(t):len(t)]
	}
	return append(append(make(Set, 0, len(s)+len(t)), s...), t...).compactOwned()
}

// SubsetOf reports whether s ⊆ t.
func (s Set) SubsetOf(t Set) bool {
	var pieces, next []Box
	for i := range s {
		pieces = append(pieces[:0], s[i])
		for j := range t {
			if disjoint(&s[i], &t[j]) {
				continue
			}
			next = next[:0]
			for k := range pieces {
				switch {
				case disjoint(&pieces[k], &t[j]):
					next = append(next, pieces[k])
				case boxSubset(&pieces[k], &t[j]):
				default:
					next = subBoxTo(next, &pieces[k], &t[j])
				}
			}
			pieces, next = next, pieces
			if len(pieces) == 0 {
				break
			}
		}
		if len(pieces) > 0 {
			return false
		}
	}
	return true
}

// compactSmall is the size up to which compact searches pairs exhaustively
// (and deterministically in the order of the boxes); larger sets are
// merged through hashes of their dimensions.
const compactSmall = 32

// compact drops empty boxes and boxes inside another, and merges boxes
// that differ in one dimension only, to keep sets small. It returns a new
// slice and leaves s as it is.
func (s Set) compact() Set {
	out := make(Set, 0, len(s))
	for i := range s {
		if !s[i].empty() {
			out = append(out, s[i])
		}
	}
	return out.compactOwned()
}

// compactOwned is compact for a slice nobody else holds: it works in
// place.
func (s Set) compactOwned() Set {
	out := s[:0]
	for i := range s {
		if !s[i].empty() {
			out = append(out, s[i])
		}
	}
	if len(out) > compactSmall {
		return compactLarge(out, true)
	}
	for changed := true; changed; {
		changed = false
	outer:
		for i := 0; i < len(out); i++ {
			for j := 0; j < len(out); j++ {
				if i == j {
					continue
				}
				if boxSubset(&out[i], &out[j]) {
					out = append(out[:i], out[i+1:]...)
					changed = true
					break outer
				}
				if m, ok := mergeBoxes(&out[i], &out[j]); ok {
					out[i] = m
					out = append(out[:j], out[j+1:]...)
					changed = true
					break outer
				}
			}
		}
	}
	return out
}

// compactMaxSubsume bounds the set size for the quadratic search of boxes
// inside other boxes in compactLarge.
const compactMaxSubsume = 4096

// compactLarge merges boxes equal in all dimensions but one, found by
// hashing the other dimensions, until nothing merges, then drops boxes
// inside another (when asked to, and the set is not too large for the
// quadratic search).
func compactLarge(bs []Box, subsume bool) Set {
	n := len(bs)
	h := make([][nDims]uint64, n)
	for i := range bs {
		for d := 0; d < nDims; d++ {
			h[i][d] = dimHash(&bs[i], d)
		}
	}
	alive := make([]bool, n)
	for i := range alive {
		alive[i] = true
	}
	groups := make(map[uint64]int, n)
	members := make([][]int, n) // boxes to merge into a representative
	var reps []int
	for round := 0; round < 16; round++ {
		changed := false
		for d := 0; d < nDims; d++ {
			clear(groups)
			reps = reps[:0]
			for i := range bs {
				if !alive[i] {
					continue
				}
				var k uint64
				for e := 0; e < nDims; e++ {
					if e != d {
						k += mix64(h[i][e] + uint64(e)*0x9e3779b97f4a7c15)
					}
				}
				r, ok := groups[k]
				if !ok {
					groups[k] = i
					continue
				}
				if !equalExcept(&bs[r], &bs[i], d) {
					continue
				}
				if len(members[r]) == 0 {
					reps = append(reps, r)
				}
				members[r] = append(members[r], i)
				alive[i] = false
				changed = true
			}
			// merge each group at once (merging one box at a time would
			// rebuild a growing interval list for every box)
			for _, r := range reps {
				bs[r] = unionDimMany(bs, r, members[r], d)
				h[r][d] = dimHash(&bs[r], d)
				members[r] = members[r][:0]
			}
		}
		if !changed {
			break
		}
	}
	out := make(Set, 0, n)
	for i := range bs {
		if alive[i] {
			out = append(out, bs[i])
		}
	}
	if !subsume || len(out) > compactMaxSubsume {
		return out
	}
	keep := out[:0]
	for i := range out {
		inside := false
		for j := range out {
			if j != i && boxSubset(&out[i], &out[j]) && (j > i || !boxSubset(&out[j], &out[i])) {
				inside = true
				break
			}
		}
		if !inside {
			keep = append(keep, out[i])
		}
	}
	return keep
}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func ivsHash(s ivs) uint64 {
	h := uint64(len(s))
	for _, x := range s {
		h = mix64(h ^ x.lo.lo)
		h = mix64(h ^ x.lo.hi)
		h = mix64(h ^ x.hi.lo)
		h = mix64(h ^ x.hi.hi)
	}
	return h
}

// dimHash hashes dimension d of a box (in the order of dimSubset).
func dimHash(b *Box, d int) uint64 {
	switch d {
	case 0:
		return ivsHash(b.Src)
	case 1:
		return ivsHash(b.Dst)
	case 2:
		return mix64(mix64(mix64(b.Proto[0])^b.Proto[1])^b.Proto[2]) ^ b.Proto[3]
	case 3:
		return ivsHash(b.SPort)
	case 4:
		return ivsHash(b.DPort)
	case 5:
		return uint64(b.State)
	case 6:
		return b.Flags
	case 7:
		return ivsHash(b.ICMP)
	case 8:
		return b.In
	case 9:
		return b.Out
	default:
		return uint64(b.Frag)
	}
}

// dimEqual reports whether dimension d of a and b are the same set.
func dimEqual(d int, a, b *Box) bool {
	switch d {
	case 0:
		return a.Src.equal(b.Src)
	case 1:
		return a.Dst.equal(b.Dst)
	case 2:
		return a.Proto == b.Proto
	case 3:
		return a.SPort.equal(b.SPort)
	case 4:
		return a.DPort.equal(b.DPort)
	case 5:
		return a.State == b.State
	case 6:
		return a.Flags == b.Flags
	case 7:
		return a.ICMP.equal(b.ICMP)
	case 8:
		return a.In == b.In
	case 9:
		return a.Out == b.Out
	default:
		return a.Frag == b.Frag
	}
}

func equalExcept(a, b *Box, d int) bool {
	for e := 0; e < nDims; e++ {
		if e != d && !dimEqual(e, a, b) {
			return false
		}
	}
	return true
}

// mergeBoxes unites two boxes equal in every dimension but one.
func mergeBoxes(a, b *Box) (Box, bool) {
	diff := -1
	for i := 0; i < nDims; i++ {
		if !dimEqual(i, a, b) {
			if diff >= 0 {
				return Box{}, false
			}
			diff = i
		}
	}
	if diff < 0 {
		return *a, true
	}
	return unionDim(a, b, diff), true
}

// unionDimMany returns bs[r] with dimension d replaced by its union with
// dimension d of the boxes bs[m] (equal to bs[r] in every other dimension).
func unionDimMany(bs []Box, r int, ms []int, d int) Box {
	m := bs[r]
	get := func(b *Box) *ivs {
		switch d {
		case 0:
			return &b.Src
		case 1:
			return &b.Dst
		case 3:
			return &b.SPort
		case 4:
			return &b.DPort
		case 7:
			return &b.ICMP
		}
		return nil
	}
	if p := get(&m); p != nil {
		all := append(ivs{}, *p...)
		for _, i := range ms {
			all = append(all, *get(&bs[i])...)
		}
		*p = normalize(all)
		return m
	}
	for _, i := range ms {
		m = unionDim(&m, &bs[i], d)
	}
	return m
}

// normalize sorts intervals and merges the overlapping and adjacent ones.
func normalize(all ivs) ivs {
	sort.Slice(all, func(i, j int) bool { return all[i].lo.less(all[j].lo) })
	return mergeSorted(all)
}

// mergeSorted merges the overlapping and adjacent intervals of all, sorted
// by lo, into a new list.
func mergeSorted(all ivs) ivs {
	var out ivs
	maxV := u128{^uint64(0), ^uint64(0)}
	for _, x := range all {
		if n := len(out); n > 0 && (out[n-1].hi == maxV || !out[n-1].hi.add1().less(x.lo)) {
			if out[n-1].hi.less(x.hi) {
				out[n-1].hi = x.hi
			}
			continue
		}
		out = append(out, x)
	}
	return out
}

// unionDim returns a with dimension d replaced by the union of a's and b's.
func unionDim(a, b *Box, d int) Box {
	m := *a
	switch d {
	case 0:
		m.Src = a.Src.union(b.Src)
	case 1:
		m.Dst = a.Dst.union(b.Dst)
	case 2:
		for k := range m.Proto {
			m.Proto[k] = a.Proto[k] | b.Proto[k]
		}
	case 3:
		m.SPort = a.SPort.union(b.SPort)
	case 4:
		m.DPort = a.DPort.union(b.DPort)
	case 5:
		m.State = a.State | b.State
	case 6:
		m.Flags = a.Flags | b.Flags
	case 7:
		m.ICMP = a.ICMP.union(b.ICMP)
	case 8:
		m.In = a.In | b.In
	case 9:
		m.Out = a.Out | b.Out
	default:
		m.Frag = a.Frag | b.Frag
	}
	return m
}

// addrIv converts an address range to an interval.
func addrVal(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return num(uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3]))
	}
	b := a.As16()
	var v u128
	for i := 0; i < 8; i++ {
		v.hi = v.hi<<8 | uint64(b[i])
		v.lo = v.lo<<8 | uint64(b[8+i])
	}
	return v
}

func valAddr(v u128, fam int) netip.Addr {
	if fam == 4 {
		x := uint32(v.lo)
		return netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
	}
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[7-i] = byte(v.hi >> (8 * i))
		b[15-i] = byte(v.lo >> (8 * i))
	}
	return netip.AddrFrom16(b)
}

func protoBit(p uint8) [4]uint64 {
	var s [4]uint64
	s[p/64] = 1 << (p % 64)
	return s
}

func protoHas(s [4]uint64, p uint8) bool { return s[p/64]&(1<<(p%64)) != 0 }

func (s ivs) size() float64 {
	var n float64
	for _, x := range s {
		n += float64(x.hi.hi-x.lo.hi)*18446744073709551616.0 + float64(x.hi.lo) - float64(x.lo.lo) + 1
	}
	return n
}

// volume is the approximate number of packets in the set (boxes may
// overlap), to rank regions.
func (s Set) volume() float64 {
	var v float64
	for _, b := range s {
		np := 0
		for k := range b.Proto {
			np += bits.OnesCount64(b.Proto[k])
		}
		v += b.Src.size() * b.Dst.size() * float64(np) * b.SPort.size() * b.DPort.size() *
			float64(bits.OnesCount8(b.State)) * float64(bits.OnesCount64(b.Flags)) * b.ICMP.size() *
			ifWeight(b.In) * ifWeight(b.Out) * float64(bits.OnesCount8(b.Frag))
	}
	return v
}

// ifWeight counts interface symbols, "lo" (symbol 1) as a tiny share: the
// loopback carries little of the traffic a rule is about.
func ifWeight(m uint64) float64 {
	w := float64(bits.OnesCount64(m &^ 2))
	if m&2 != 0 {
		w += 0.001
	}
	return w
}
