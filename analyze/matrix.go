package analyze

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// The service matrix of Diekmann, Michaelis, Haslbeck and Carle,
// "Verified iptables firewall analysis" (IFIP Networking 2016), as their
// tool fffuu computes it: for one service (protocol and destination port)
// and one chain, the new connections the firewall accepts, projected onto
// (source address, destination address), over the coarsest partition of
// the address space into classes the firewall treats alike. Two addresses
// are in one class iff, for this service, they are accepted alike as a
// source (towards every destination) and as a destination (from every
// source) — fffuu's same_fw_behaviour_one; one partition serves both
// roles. The matrix is a graph: the classes, and an edge A → B when some
// address of A may open a connection to some address of B (then, when the
// edge is certain, every address of A to every address of B can).
//
// A new connection is a packet in conntrack state NEW, a SYN for TCP,
// not a later fragment. The matrix is the may-matrix: an edge is drawn
// when a packet may be accepted (the symbolic walk's May region; QUEUE
// and NFQUEUE count, userspace may accept). An edge is certain when no
// packet between the two classes may get another verdict; the matrix is
// exact when every edge is. Interfaces, the source port (unless fixed)
// and what the analyzer over-approximates are projected away: an
// uncertain edge means "for some packets", and the reasons are listed.

// Service is what a service matrix is about: a protocol with ports and a
// destination port.
type Service struct {
	Proto uint8 // 6 (tcp) or 17 (udp)
	Port  uint16
}

// DefaultServices are fffuu's: ssh (tcp/22) and http (tcp/80).
var DefaultServices = []Service{{6, 22}, {6, 80}}

func (s Service) String() string { return protoName(s.Proto) + "/" + strconv.Itoa(int(s.Port)) }

// ParseService reads PROTO/PORT: tcp or udp, and a port number or a
// service name of /etc/services ("tcp/22", "udp/53", "tcp/https").
func ParseService(s string) (Service, error) {
	proto, port, ok := strings.Cut(s, "/")
	if !ok {
		return Service{}, fmt.Errorf("service %q: PROTO/PORT expected, e.g. tcp/22", s)
	}
	var sv Service
	switch strings.ToLower(proto) {
	case "tcp":
		sv.Proto = 6
	case "udp":
		sv.Proto = 17
	default:
		return Service{}, fmt.Errorf("service %q: protocol %q: tcp or udp expected", s, proto)
	}
	p, err := xt.ParsePort(port, protoName(sv.Proto))
	if err != nil || port == "" {
		return Service{}, fmt.Errorf("service %q: bad port %q", s, port)
	}
	sv.Port = p
	return sv, nil
}

// MatrixOptions select the matrix.
type MatrixOptions struct {
	// Chain is INPUT or FORWARD (fffuu's default, also when empty).
	Chain   string
	Service Service
	// SPort fixes the source port (1-65535); 0: any source port (it is
	// projected away; no connection has source port 0).
	SPort int
	// IPAssmt maps interfaces to the sources they carry; nil: fffuu's
	// default (lo carries the loopback addresses, nothing else is known).
	IPAssmt *IPAssignment
}

// MatrixClass is a class of addresses the firewall treats alike.
type MatrixClass struct {
	// ID is the class's name in the edges: a, b, ..., z, aa, ab, ...
	ID string `json:"id"`
	// Ranges are the class's addresses as CIDRs, and first-last ranges
	// where a range would take more than four CIDRs.
	Ranges []string `json:"ranges"`
	// Except is set instead when the complement reads better (fewer
	// items, all CIDRs): the class is every address but these.
	Except []string `json:"except,omitempty"`
	// Text is the readable form: "{10.0.0.0/8, 192.168.0.0/16}", or
	// "all but {127.0.0.0/8}" for Except.
	Text string `json:"text"`
	set  ivs
}

// MatrixEdge says that the From class may reach the To class.
type MatrixEdge struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Certain is set when every address of From reaches every address of
	// To with every packet of the service; otherwise only some packets
	// (some interfaces, source ports, or what is over-approximated) are
	// accepted.
	Certain bool `json:"certain"`
}

// Matrix is the service matrix of one chain and service.
type Matrix struct {
	Family  string `json:"family"`
	Chain   string `json:"chain"`
	Service string `json:"service"`
	// SPort is the source port, "any" when projected away.
	SPort string `json:"sport"`
	// Exact is set when every edge is certain (and so every missing edge
	// is certain too: the may-matrix never misses an accepted packet).
	Exact bool `json:"exact"`
	// Approximations name what makes edges uncertain (rule file:line
	// chain#n and why), when the matrix is not exact.
	Approximations []string `json:"approximations,omitempty"`
	// Assumptions are the interface and packet assumptions made.
	Assumptions []string `json:"assumptions"`
	// Warnings are e.g. interfaces of the ruleset the --ipassmt file
	// does not name.
	Warnings []string      `json:"warnings,omitempty"`
	Classes  []MatrixClass `json:"classes"`
	Edges    []MatrixEdge  `json:"edges"`

	fam       int
	starts    []u128 // first address of each atom
	atomClass []int
	edge      map[[2]int]bool // class pair → certain
}

// ClassOf returns the index (in Classes) of the class holding a.
func (m *Matrix) ClassOf(a netip.Addr) int {
	if (m.fam == 4) != a.Is4() {
		return -1
	}
	return m.atomClass[mxAtomOf(m.starts, addrVal(a))]
}

// Edge reports whether the class of src may reach the class of dst, and
// whether that is certain.
func (m *Matrix) Edge(src, dst netip.Addr) (exists, certain bool) {
	s, d := m.ClassOf(src), m.ClassOf(dst)
	if s < 0 || d < 0 {
		return false, false
	}
	certain, exists = m.edge[[2]int{s, d}]
	return exists, certain
}

// MatrixFile loads a rules file of family fam (0: as its content says,
// see FileFamily) and computes a matrix per service. warnings are the
// script lines that failed to load (skipped, as the shell would).
func MatrixFile(name string, data []byte, fam ruleset.Family, o MatrixOptions, services []Service) (ms []*Matrix, warnings []string, err error) {
	if fam == 0 {
		if fam = FileFamily(name, data); fam == 0 {
			fam = ruleset.IPv4
		}
	}
	rs, diags, err := ipt.Load(name, data, ipt.LoadOptions{Family: fam})
	if err != nil {
		return nil, nil, err
	}
	for _, d := range diags {
		warnings = append(warnings, ipt.FormatDiag(d, " (line skipped, as the shell would)"))
	}
	if len(services) == 0 {
		services = DefaultServices
	}
	for _, sv := range services {
		o.Service = sv
		m, err := ComputeMatrix(rs, o)
		if err != nil {
			return nil, warnings, err
		}
		ms = append(ms, m)
	}
	return ms, warnings, nil
}

// ComputeMatrix computes the service matrix of rs.
func ComputeMatrix(rs *ruleset.Ruleset, o MatrixOptions) (*Matrix, error) {
	if o.Chain == "" {
		o.Chain = "FORWARD"
	}
	var hook ruleset.Hook
	switch o.Chain {
	case "INPUT":
		hook = ruleset.LocalIn
	case "FORWARD":
		hook = ruleset.Forward
	default:
		return nil, fmt.Errorf("chain %q: the service matrix is for INPUT or FORWARD", o.Chain)
	}
	if o.Service.Proto != 6 && o.Service.Proto != 17 {
		return nil, fmt.Errorf("service protocol %d: tcp or udp expected", o.Service.Proto)
	}
	if o.SPort < 0 || o.SPort > 0xFFFF {
		return nil, fmt.Errorf("source port %d: 1-65535 expected (0: any)", o.SPort)
	}
	assmt := o.IPAssmt
	if assmt == nil {
		assmt = DefaultIPAssignment(rs.Family)
	}
	if assmt.Family != 0 && assmt.Family != rs.Family {
		return nil, fmt.Errorf("%s: %s addresses, but the ruleset is %s", assmt.File, assmt.Family, rs.Family)
	}
	ifs := newAlphabet(rs)
	missing := mxExtendAlphabet(ifs, assmt)
	an := newAnalyzerWith(rs, ifs)
	fam := an.fam

	svc := an.full
	svc.Proto = protoBit(o.Service.Proto)
	svc.DPort = span(uint64(o.Service.Port), uint64(o.Service.Port))
	if o.SPort > 0 {
		svc.SPort = span(uint64(o.SPort), uint64(o.SPort))
	}
	svc.State = stNew
	svc.Frag = fragFirst
	if o.Service.Proto == 6 {
		svc.Flags = 1 << 0x02 // SYN
	}

	m := &Matrix{Family: rs.Family.String(), Chain: o.Chain, Service: o.Service.String(), SPort: "any", fam: fam}
	if o.SPort > 0 {
		m.SPort = strconv.Itoa(o.SPort)
	}
	// The walk is pointwise: walking the service's packets and then
	// keeping those the interface assumptions allow is walking the latter.
	var acc, deny Set
	queued := false
	if c := an.t; c == nil || c.Chain(o.Chain) == nil {
		acc = Set{an.mxEntry(svc, hook)}
	} else {
		full := an.full
		an.full = svc
		hr := an.walkHook(o.Chain)
		an.full = full
		may := func(v string) Set {
			if r := hr.Verdict[v]; r != nil {
				return r.May
			}
			return nil
		}
		q := may(VQueue)
		queued = !q.IsEmpty()
		acc = append(append(Set(nil), may(VAccept)...), q...)
		deny = append(append(append(Set(nil), may(VDrop)...), may(VReject)...), q...)
	}
	probe := an.mxProbe(an.mxEntry(svc, hook), hook, assmt, missing)
	acc = acc.Intersect(probe)
	deny = deny.Intersect(probe)

	b := mxBuild(acc, deny, fam)
	m.starts, m.atomClass, m.edge = b.starts, b.atomClass, b.edge
	for i, set := range b.classSets {
		items, except := mxFormatSet(set, fam)
		text := "{" + strings.Join(items, ", ") + "}"
		if except != nil {
			text = "all but {" + strings.Join(except, ", ") + "}"
		}
		m.Classes = append(m.Classes, MatrixClass{ID: mxClassID(i), Ranges: items, Except: except, Text: text, set: set})
	}
	m.Exact = true
	for _, e := range b.edgeList {
		certain := m.edge[e]
		m.Exact = m.Exact && certain
		m.Edges = append(m.Edges, MatrixEdge{From: mxClassID(e[0]), To: mxClassID(e[1]), Certain: certain})
	}
	if !m.Exact {
		m.Approximations = an.mxReasons(probe, o.SPort > 0, queued)
	}
	m.Assumptions, m.Warnings = an.mxAssumptions(o, assmt, hook)
	if missing {
		m.Warnings = append(m.Warnings, "too many interface names for the analyzer's alphabet (64): interfaces of "+assmt.File+
			" it could not hold are taken to carry any source")
	}
	return m, nil
}

// mxEntry is an.entry(hook) starting from box b instead of an.full.
func (an *analyzer) mxEntry(b Box, hook ruleset.Hook) Box {
	full := an.full
	an.full = b
	e := an.entry(hook)
	an.full = full
	return e
}

// mxExtendAlphabet adds the assignment's interface names to the
// alphabet, so that each is a symbol of its own; it reports whether some
// did not fit (the alphabet holds 64 symbols).
func mxExtendAlphabet(a *alphabet, assmt *IPAssignment) (missing bool) {
	for _, e := range assmt.Entries {
		name, kind := e.Iface, ifExact
		if strings.HasSuffix(name, "+") {
			name, kind = name[:len(name)-1], ifWild
		}
		found := false
		for _, s := range a.syms {
			if s.kind == kind && s.name == name {
				found = true
				break
			}
		}
		if found || (kind == ifExact && name == "") {
			continue
		}
		if len(a.syms) >= 64 {
			missing = true
			continue
		}
		a.syms = append(a.syms, ifaceSym{kind, name})
	}
	return missing
}

// loopIvs are the loopback addresses of the family.
func mxLoopback(fam int) ivs {
	if fam == 6 {
		return prefixIvs(netip.MustParsePrefix("::1/128"))
	}
	return prefixIvs(netip.MustParsePrefix("127.0.0.0/8"))
}

// mxProbe restricts the entry box by interface: a packet arriving on an
// interface has a source address the assignment allows there, and no
// interface but lo carries loopback addresses (source or destination:
// the kernel drops them as martians before INPUT and FORWARD). The
// packets on lo are the host's own, sent with a local route: they are
// delivered, never forwarded, so FORWARD sees lo neither in nor out.
func (an *analyzer) mxProbe(e Box, hook ruleset.Hook, assmt *IPAssignment, missing bool) Set {
	loop := mxLoopback(an.fam)
	lo := an.ifs.index("lo")
	if hook == ruleset.Forward {
		e.In &^= lo
		e.Out &^= lo
	}
	type group struct {
		src, dst ivs
		in       uint64
	}
	var groups []group
	for i, s := range an.ifs.syms {
		bit := uint64(1) << uint(i)
		if e.In&bit == 0 {
			continue
		}
		src, dst := e.Src, e.Dst
		if s.kind != ifNone && !(missing && (s.kind == ifWild || s.kind == ifOther)) {
			if ent := assmt.lookup(s); ent != nil {
				src = ent.allowed(src)
			}
		}
		if !(s.kind == ifExact && s.name == "lo") {
			src, dst = src.sub(loop), dst.sub(loop)
		}
		merged := false
		for k := range groups {
			if groups[k].src.equal(src) && groups[k].dst.equal(dst) {
				groups[k].in |= bit
				merged = true
				break
			}
		}
		if !merged {
			groups = append(groups, group{src, dst, bit})
		}
	}
	var out Set
	for _, g := range groups {
		b := e
		b.Src, b.Dst, b.In = g.src, g.dst, g.in
		if !b.empty() {
			out = append(out, b)
		}
	}
	return out
}

// mxRect is a box projected onto (source, destination).
type mxRect struct{ src, dst ivs }

// irange is an inclusive range of atom indexes.
type irange struct{ lo, hi int }

type mxResult struct {
	starts    []u128
	atomClass []int
	classSets []ivs
	edge      map[[2]int]bool
	edgeList  [][2]int
}

func mxAtomOf(starts []u128, v u128) int {
	return sort.Search(len(starts), func(i int) bool { return v.less(starts[i]) }) - 1
}

func mxMaxAddr(fam int) u128 {
	if fam == 4 {
		return num(0xFFFFFFFF)
	}
	return u128{^uint64(0), ^uint64(0)}
}

// mxBuild partitions the address space by the accepted rectangles and
// marks the edges the deny rectangles make uncertain.
func mxBuild(acc, deny Set, fam int) *mxResult {
	maxA := mxMaxAddr(fam)
	rects := make([]mxRect, 0, len(acc))
	for _, b := range acc {
		rects = append(rects, mxRect{b.Src, b.Dst})
	}
	// atoms: the elementary intervals of every boundary
	starts := []u128{{}}
	for _, r := range rects {
		for _, s := range []ivs{r.src, r.dst} {
			for _, x := range s {
				starts = append(starts, x.lo)
				if x.hi != maxA {
					starts = append(starts, x.hi.add1())
				}
			}
		}
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].less(starts[j]) })
	n := 0
	for i, s := range starts {
		if i == 0 || s != starts[n-1] {
			starts[n] = s
			n++
		}
	}
	starts = starts[:n]
	m := len(starts)
	toRanges := func(s ivs) []irange {
		out := make([]irange, 0, len(s))
		for _, x := range s {
			out = append(out, irange{mxAtomOf(starts, x.lo), mxAtomOf(starts, x.hi)})
		}
		return out
	}
	srcR := make([][]irange, len(rects))
	dstR := make([][]irange, len(rects))
	for k, r := range rects {
		srcR[k], dstR[k] = toRanges(r.src), toRanges(r.dst)
	}
	rowID, rows := mxSweep(m, srcR, dstR)
	colID, _ := mxSweep(m, dstR, srcR)

	res := &mxResult{starts: starts, atomClass: make([]int, m), edge: map[[2]int]bool{}}
	classOf := map[[2]int32]int{}
	var rep []int // an atom of each class
	for i := 0; i < m; i++ {
		k := [2]int32{rowID[i], colID[i]}
		c, ok := classOf[k]
		if !ok {
			c = len(rep)
			classOf[k] = c
			rep = append(rep, i)
			res.classSets = append(res.classSets, nil)
		}
		res.atomClass[i] = c
		hi := maxA
		if i+1 < m {
			hi = starts[i+1].sub1()
		}
		cs := res.classSets[c]
		if l := len(cs); l > 0 && cs[l-1].hi.add1() == starts[i] {
			cs[l-1].hi = hi
		} else {
			cs = append(cs, iv{starts[i], hi})
		}
		res.classSets[c] = cs
	}
	nc := len(rep)
	for x := 0; x < nc; x++ {
		row := rows[rowID[rep[x]]]
		for y := 0; y < nc; y++ {
			if mxRangesHave(row, rep[y]) {
				e := [2]int{x, y}
				res.edge[e] = true
				res.edgeList = append(res.edgeList, e)
			}
		}
	}
	if len(res.edgeList) == 0 {
		return res
	}
	// uncertain edges: a class pair some deny rectangle touches
	words := (nc + 63) / 64
	unc := make([]uint64, nc*words)
	touched := func(s ivs) []uint64 {
		set := make([]uint64, words)
		for _, x := range s {
			for a, b := mxAtomOf(starts, x.lo), mxAtomOf(starts, x.hi); a <= b; a++ {
				c := res.atomClass[a]
				set[c/64] |= 1 << uint(c%64)
			}
		}
		return set
	}
	for _, d := range deny {
		ss, ds := touched(d.Src), touched(d.Dst)
		for w, word := range ss {
			for word != 0 {
				c := w*64 + bits.TrailingZeros64(word)
				word &= word - 1
				row := unc[c*words : (c+1)*words]
				for k := range row {
					row[k] |= ds[k]
				}
			}
		}
	}
	for _, e := range res.edgeList {
		if unc[e[0]*words+e[1]/64]&(1<<uint(e[1]%64)) != 0 {
			res.edge[e] = false
		}
	}
	return res
}

func mxRangesHave(rs []irange, a int) bool {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].hi >= a })
	return i < len(rs) && rs[i].lo <= a
}

// mxSweep computes, for every atom, the union of the "to" ranges of the
// rectangles whose "from" ranges hold it; atoms with the same union get
// the same id, and rows[id] is that union (sorted, merged).
func mxSweep(m int, from, to [][]irange) (ids []int32, rows [][]irange) {
	add := make([][]int32, m+1)
	rem := make([][]int32, m+1)
	for k, rs := range from {
		for _, r := range rs {
			add[r.lo] = append(add[r.lo], int32(k))
			rem[r.hi+1] = append(rem[r.hi+1], int32(k))
		}
	}
	count := make([]int32, len(from))
	listed := make([]bool, len(from))
	var active []int32
	intern := map[string]int32{}
	ids = make([]int32, m)
	cur := int32(-1)
	var buf []irange
	var key []byte
	for i := 0; i < m; i++ {
		changed := i == 0
		for _, k := range rem[i] {
			count[k]--
			changed = true
		}
		for _, k := range add[i] {
			count[k]++
			if !listed[k] {
				listed[k] = true
				active = append(active, k)
			}
			changed = true
		}
		if changed {
			j := 0
			buf = buf[:0]
			for _, k := range active {
				if count[k] > 0 {
					active[j] = k
					j++
					buf = append(buf, to[k]...)
				} else {
					listed[k] = false
				}
			}
			active = active[:j]
			merged := mxMerge(buf)
			key = key[:0]
			for _, r := range merged {
				key = binary.AppendUvarint(key, uint64(r.lo))
				key = binary.AppendUvarint(key, uint64(r.hi))
			}
			id, ok := intern[string(key)]
			if !ok {
				id = int32(len(rows))
				intern[string(key)] = id
				rows = append(rows, append([]irange(nil), merged...))
			}
			cur = id
		}
		ids[i] = cur
	}
	return ids, rows
}

// mxMerge sorts and merges ranges (in place).
func mxMerge(rs []irange) []irange {
	sort.Slice(rs, func(i, j int) bool { return rs[i].lo < rs[j].lo })
	out := rs[:0]
	for _, r := range rs {
		if l := len(out); l > 0 && r.lo <= out[l-1].hi+1 {
			if r.hi > out[l-1].hi {
				out[l-1].hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// mxClassID names class i: a..z, then aa, ab, ...
func mxClassID(i int) string {
	var b []byte
	for i++; i > 0; i = (i - 1) / 26 {
		b = append([]byte{byte('a' + (i-1)%26)}, b...)
	}
	return string(b)
}

// mxCIDRs splits an interval into the fewest CIDRs.
func mxCIDRs(x iv, fam int) []netip.Prefix {
	width := 32
	if fam == 6 {
		width = 128
	}
	var out []netip.Prefix
	lo := x.lo
	for {
		// the largest aligned block at lo that ends by x.hi
		k := mxTrailingZeros(lo, width)
		for k > 0 && x.hi.less(mxOr(lo, mxMask(k))) {
			k--
		}
		out = append(out, netip.PrefixFrom(valAddr(lo, fam), width-k))
		end := mxOr(lo, mxMask(k))
		if end == x.hi {
			return out
		}
		lo = end.add1()
	}
}

func mxTrailingZeros(v u128, width int) int {
	var n int
	if v.lo != 0 {
		n = bits.TrailingZeros64(v.lo)
	} else if v.hi != 0 {
		n = 64 + bits.TrailingZeros64(v.hi)
	} else {
		n = 128
	}
	if n > width {
		n = width
	}
	return n
}

// mxMask is a value with the low k bits set.
func mxMask(k int) u128 {
	switch {
	case k >= 128:
		return u128{^uint64(0), ^uint64(0)}
	case k >= 64:
		return u128{uint64(1)<<uint(k-64) - 1, ^uint64(0)}
	}
	return u128{0, uint64(1)<<uint(k) - 1}
}

func mxOr(a, b u128) u128 { return u128{a.hi | b.hi, a.lo | b.lo} }

// mxItems writes a set as CIDRs, and first-last ranges where a range
// would take more than four CIDRs.
func mxItems(s ivs, fam int) []string {
	var out []string
	for _, x := range s {
		ps := mxCIDRs(x, fam)
		if len(ps) > 4 {
			out = append(out, valAddr(x.lo, fam).String()+"-"+valAddr(x.hi, fam).String())
			continue
		}
		for _, p := range ps {
			out = append(out, p.String())
		}
	}
	return out
}

// mxFormatSet returns a class's items, and the complement's when they
// are fewer and all CIDRs (nil otherwise).
func mxFormatSet(s ivs, fam int) (items, except []string) {
	items = mxItems(s, fam)
	full := ivs{{u128{}, mxMaxAddr(fam)}}
	if c := full.sub(s); len(c) > 0 {
		ci := mxItems(c, fam)
		if len(ci) < len(items) && !strings.Contains(strings.Join(ci, ","), "-") {
			return items, ci
		}
	}
	return items, nil
}

// mxDecides reports whether a rule's target can decide a packet's
// verdict (a verdict, a jump, REJECT, NFQUEUE) rather than pass it on.
func mxDecides(r *ruleset.Rule) bool {
	switch tg := r.Target.(type) {
	case nil:
		return false
	case ruleset.Verdict, ruleset.Jump:
		return true
	default:
		n := tg.Name()
		return n == "REJECT" || n == "NFQUEUE"
	}
}

// mxReasons names what the matrix's uncertain edges may come from: rules
// the service's packets reach whose matches are over-approximated, or
// that look at interfaces or (unless fixed) the source port.
func (an *analyzer) mxReasons(probe Set, sportFixed, queued bool) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, ri := range an.order {
		r := ri.Rule
		if !ri.Walked || !mxDecides(r) || !mxMeets(ri.Match.May, probe) {
			continue
		}
		if !ri.OwnExact {
			add(ref(ri) + ": over-approximated: " + ri.Why)
		}
		if r.InIface != "" {
			add(ref(ri) + ": depends on the input interface (" + mxBang(r.Inv&ruleset.InvIn != 0) + "-i " + r.InIface + ")")
		}
		if r.OutIface != "" {
			add(ref(ri) + ": depends on the output interface (" + mxBang(r.Inv&ruleset.InvOut != 0) + "-o " + r.OutIface + ")")
		}
		if !sportFixed {
			for _, b := range ri.Own {
				if !b.SPort.equal(an.full.SPort) {
					add(ref(ri) + ": depends on the source port")
					break
				}
			}
		}
	}
	for _, w := range an.approxWalk {
		add(w)
	}
	if queued {
		add("packets queued to userspace (QUEUE, NFQUEUE) count as possibly accepted")
	}
	if len(out) == 0 {
		add("the verdict depends on header fields the matrix projects away")
	}
	return out
}

// mxMeets reports whether two sets share a packet.
func mxMeets(s, t Set) bool {
	for i := range s {
		for j := range t {
			if _, ok := interBox(&s[i], &t[j]); ok {
				return true
			}
		}
	}
	return false
}

func mxBang(b bool) string {
	if b {
		return "! "
	}
	return ""
}

// mxAssumptions describes the interface and packet assumptions, and
// warns of interfaces the assignment does not cover.
func (an *analyzer) mxAssumptions(o MatrixOptions, assmt *IPAssignment, hook ruleset.Hook) (as, warn []string) {
	pkt := "new connections: " + o.Service.String()
	if o.Service.Proto == 6 {
		pkt += " SYN"
	}
	pkt += ", ctstate NEW, not a later fragment, source port "
	if o.SPort > 0 {
		pkt += strconv.Itoa(o.SPort)
	} else {
		pkt += "any"
	}
	as = append(as, pkt)
	var ents []string
	for _, e := range assmt.Entries {
		ents = append(ents, e.String())
	}
	src := "from " + assmt.File
	if o.IPAssmt == nil {
		src = "no --ipassmt, fffuu's default"
	}
	line := "interfaces (" + src + "): " + strings.Join(ents, "; ")
	if len(ents) == 0 {
		line = "interfaces (" + src + "): none assigned"
	}
	hasAll := false
	for _, e := range assmt.Entries {
		hasAll = hasAll || e.Iface == "+"
	}
	if !hasAll {
		line += "; any other: any source"
	}
	as = append(as, line+"; a packet's source is one its input interface carries (spoofing protection)")
	loop := "127.0.0.0/8"
	if an.fam == 6 {
		loop = "::1"
	}
	as = append(as, "loopback addresses ("+loop+") only on lo: the kernel drops them elsewhere as martians")
	var others []string
	for _, t := range an.rs.Tables() {
		if t.Name == "filter" {
			continue
		}
		for _, c := range t.Chains {
			if len(c.Rules) > 0 {
				others = append(others, t.Name)
				break
			}
		}
	}
	if len(others) > 0 {
		as = append(as, "only the filter table is analyzed, not the rules of "+strings.Join(others, ", ")+
			" (addresses are as the filter table sees them, after DNAT)")
	}
	if hook == ruleset.Forward {
		as = append(as, "lo carries the host's own packets, delivered locally: FORWARD never sees it")
		as = append(as, "-o is not resolved to addresses (no routing table): it is projected away")
	}
	if o.IPAssmt != nil {
		var miss []string
		seen := map[string]bool{}
		for _, ri := range an.order {
			n := ri.Rule.InIface
			if n == "" || seen[n] || (n == "lo" && hook == ruleset.Forward) {
				continue
			}
			seen[n] = true
			s := ifaceSym{ifExact, n}
			if strings.HasSuffix(n, "+") {
				s = ifaceSym{ifWild, n[:len(n)-1]}
			}
			if assmt.lookup(s) == nil {
				miss = append(miss, n)
			}
		}
		if len(miss) > 0 {
			warn = append(warn, "interfaces of the ruleset that "+assmt.File+" does not assign (any source assumed): "+strings.Join(miss, ", "))
		}
	}
	return as, warn
}

// mxMaxReasons bounds the approximation lines of the text output.
const mxMaxReasons = 12

// WriteText writes the matrix as fffuu does: a header, the classes and
// the edges; "#" lines tell whether it is exact and what it assumes.
func (m *Matrix) WriteText(w io.Writer) {
	proto := strings.ToUpper(m.Service[:strings.IndexByte(m.Service, '/')])
	port := m.Service[strings.IndexByte(m.Service, '/')+1:]
	fmt.Fprintf(w, "=========== %s port %s->%s (%s %s) =========\n", proto, m.SPort, port, m.Family, m.Chain)
	if m.Exact {
		fmt.Fprintln(w, "# exact: each edge holds for every address pair of its classes, and no other pair is accepted")
	} else {
		fmt.Fprintln(w, "# approximate (over-approximation): edges marked \"may\" hold for some packets only; from:")
		for i, a := range m.Approximations {
			if i == mxMaxReasons {
				fmt.Fprintf(w, "#   ... and %d more (all in --format json)\n", len(m.Approximations)-i)
				break
			}
			fmt.Fprintf(w, "#   %s\n", a)
		}
	}
	for _, a := range m.Assumptions {
		fmt.Fprintf(w, "# %s\n", a)
	}
	for _, a := range m.Warnings {
		fmt.Fprintf(w, "# WARNING: %s\n", a)
	}
	for _, c := range m.Classes {
		fmt.Fprintf(w, "%s |-> %s\n", c.ID, c.Text)
	}
	fmt.Fprintln(w)
	for _, e := range m.Edges {
		if e.Certain {
			fmt.Fprintf(w, "(%s,%s)\n", e.From, e.To)
		} else {
			fmt.Fprintf(w, "(%s,%s) may\n", e.From, e.To)
		}
	}
}

// WriteDOT writes the matrix as a graphviz digraph: a node per class
// labelled with its addresses, an edge per edge (dashed when uncertain).
func (m *Matrix) WriteDOT(w io.Writer) {
	q := func(s string) string {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
	}
	status := "exact"
	if !m.Exact {
		status = "approximate: dashed edges hold for some packets only"
	}
	fmt.Fprintf(w, "digraph %s {\n", q(m.Family+" "+m.Chain+" "+m.Service))
	fmt.Fprintf(w, "\tlabel=%s;\n\tlabelloc=t;\n", q(fmt.Sprintf("%s %s %s (source port %s), %s", m.Family, m.Chain, m.Service, m.SPort, status)))
	fmt.Fprintln(w, "\tnode [shape=box, fontname=\"monospace\"];")
	for _, c := range m.Classes {
		label := strings.Join(c.Ranges, "\n")
		if c.Except != nil {
			label = "all but\n" + strings.Join(c.Except, "\n")
		}
		fmt.Fprintf(w, "\t%s [label=%s];\n", c.ID, q(c.ID+": "+label))
	}
	for _, e := range m.Edges {
		attr := ""
		if !e.Certain {
			attr = " [style=dashed, label=\"may\"]"
		}
		fmt.Fprintf(w, "\t%s -> %s%s;\n", e.From, e.To, attr)
	}
	fmt.Fprintln(w, "}")
}
