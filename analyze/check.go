package analyze

import (
	"bytes"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/ruleset"
)

// Severity of a finding.
type Severity int

// Severities, lowest first.
const (
	Info Severity = iota
	Warning
	Error
)

func (s Severity) String() string {
	return [...]string{"info", "warning", "error"}[s]
}

// ParseSeverity reads "info", "warning" or "error".
func ParseSeverity(s string) (Severity, bool) {
	switch s {
	case "info":
		return Info, true
	case "warning":
		return Warning, true
	case "error":
		return Error, true
	}
	return 0, false
}

// Finding is one problem found in a ruleset.
type Finding struct {
	Severity Severity `json:"-"`
	Level    string   `json:"severity"`
	Kind     string   `json:"kind"`
	Family   string   `json:"family"`
	File     string   `json:"file,omitempty"`
	Line     int      `json:"line,omitempty"`
	Chain    string   `json:"chain,omitempty"`
	Rule     int      `json:"rule,omitempty"`
	Message  string   `json:"message"`
	// Related names other rules (file:line chain#n), e.g. the shadowing ones.
	Related []string `json:"related,omitempty"`
	Witness string   `json:"witness,omitempty"`
	// Approximate is set when the answer depends on matches the analyzer
	// over-approximates (the witness may then not be exact).
	Approximate bool `json:"approximate,omitempty"`
}

// ChainSummary is what a built-in chain of the filter table does.
type ChainSummary struct {
	Chain       string   `json:"chain"`
	Default     string   `json:"default"`
	Services    []string `json:"services"`
	Approximate bool     `json:"approximate,omitempty"`
}

// FamilyReport is the summary of one family.
type FamilyReport struct {
	Family string         `json:"family"`
	Chains []ChainSummary `json:"chains"`
}

// Report is the result of checking one rules file.
type Report struct {
	File     string         `json:"file"`
	Families []FamilyReport `json:"families"`
	Findings []Finding      `json:"findings"`
}

// Max returns the highest severity of the findings, or -1 without any.
func (r *Report) Max() Severity {
	m := Severity(-1)
	for _, f := range r.Findings {
		if f.Severity > m {
			m = f.Severity
		}
	}
	return m
}

// FailedLine is a line of a script that failed to load (and was skipped).
type FailedLine struct {
	File  string
	Line  int
	Text  string
	Token string
	Msg   string
}

// Options tell Analyze about the file a ruleset came from.
type Options struct {
	File   string
	Script bool
	Failed []FailedLine
}

// Result is the analysis of one family.
type Result struct {
	Family   ruleset.Family
	Hooks    map[string]*HookResult
	Rules    []*RuleInfo
	Summary  FamilyReport
	Findings []Finding
	an       *analyzer
}

// CheckFile loads a rules file (IPv4; and IPv6 when a script has
// ip6tables commands) and analyzes it.
func CheckFile(name string, data []byte) (*Report, error) {
	return CheckFileFamily(name, data, 0)
}

// CheckFileFamily is CheckFile for a restore file of the given family
// (0: IPv4). A script is checked as CheckFile checks it, whatever fam.
func CheckFileFamily(name string, data []byte, fam ruleset.Family) (*Report, error) {
	rep, _, err := checkFile(name, data, fam)
	if err != nil {
		return nil, err
	}
	finish(rep)
	return rep, nil
}

// Input is one rules file for CheckFiles.
type Input struct {
	Name string
	Data []byte
	// Family of a restore file (0: IPv4); scripts name theirs per command.
	Family ruleset.Family
}

// CheckFiles checks files meant to be loaded together, such as rules.v4
// and rules.v6: IPv6 is not reported left open when one of them closes
// IPv6 input.
func CheckFiles(ins []Input) ([]*Report, error) {
	var reps []*Report
	v6closed := false
	for _, in := range ins {
		rep, closed6, err := checkFile(in.Name, in.Data, in.Family)
		if err != nil {
			return nil, err
		}
		v6closed = v6closed || closed6
		reps = append(reps, rep)
	}
	for _, rep := range reps {
		if v6closed {
			fs := rep.Findings[:0]
			for _, f := range rep.Findings {
				if f.Kind != "ipv6-open" {
					fs = append(fs, f)
				}
			}
			rep.Findings = fs
		}
		finish(rep)
	}
	return reps, nil
}

// checkFile analyzes one file; closed6 reports whether it closes IPv6
// input by default.
func checkFile(name string, data []byte, fam ruleset.Family) (rep *Report, closed6 bool, err error) {
	script := ipt.DetectFormat(data) == ipt.FormatScript
	rep = &Report{File: name}
	lines := strings.Split(string(data), "\n")
	fams := []ruleset.Family{ruleset.IPv4}
	switch {
	case script && hasIP6Commands(data):
		fams = append(fams, ruleset.IPv6)
	case !script && fam == ruleset.IPv6:
		fams = []ruleset.Family{ruleset.IPv6}
	}
	var v4 *Result
	for _, f := range fams {
		rs, diags, err := ipt.Load(name, data, ipt.LoadOptions{Family: f})
		if err != nil {
			return nil, false, err
		}
		o := Options{File: name, Script: script}
		for _, d := range diags {
			e := d.Err
			fl := FailedLine{File: e.File, Line: e.Line, Token: e.Token, Msg: strings.TrimSpace(e.Msg)}
			if e.Line >= 1 && e.Line <= len(lines) {
				fl.Text = lines[e.Line-1]
			}
			o.Failed = append(o.Failed, fl)
		}
		res := Analyze(rs, o)
		switch f {
		case ruleset.IPv4:
			v4 = res
		case ruleset.IPv6:
			closed6 = res.inputClosed()
		}
		rep.Families = append(rep.Families, res.Summary)
		rep.Findings = append(rep.Findings, res.Findings...)
	}
	if len(fams) == 1 && v4 != nil && v4.inputClosed() {
		f := Finding{Kind: "ipv6-open", Family: "ipv6", File: name,
			Message: "IPv4 input is closed by default but this file has no IPv6 rules: unless ip6tables rules are loaded elsewhere, IPv6 is left open (policy ACCEPT)"}
		if script {
			f.Severity = Warning
		} else {
			f.Severity = Info
			f.Message = "IPv4 input is closed by default; an iptables-save file holds one family: make sure an IPv6 ruleset (e.g. rules.v6) closes IPv6 too"
		}
		rep.Findings = append(rep.Findings, f)
	}
	return rep, closed6, nil
}

// finish sets the findings' level names and sorts them, most severe first.
func finish(rep *Report) {
	for i := range rep.Findings {
		rep.Findings[i].Level = rep.Findings[i].Severity.String()
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool {
		a, b := rep.Findings[i], rep.Findings[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		return a.Line < b.Line
	})
}

func hasIP6Commands(data []byte) bool {
	for _, l := range bytes.Split(data, []byte("\n")) {
		w := strings.Fields(string(l))
		if len(w) > 0 && w[0] == "sudo" {
			w = w[1:]
		}
		if len(w) > 0 && strings.HasPrefix(w[0][strings.LastIndexByte(w[0], '/')+1:], "ip6tables") {
			return true
		}
	}
	return false
}

// Analyze walks the filter table of rs symbolically and returns the
// summary and findings.
func Analyze(rs *ruleset.Ruleset, o Options) *Result {
	an := newAnalyzer(rs)
	res := &Result{Family: rs.Family, Hooks: map[string]*HookResult{}, Rules: an.order, an: an}
	res.Summary.Family = rs.Family.String()
	if an.t == nil {
		for _, c := range []string{"INPUT", "FORWARD", "OUTPUT"} {
			res.Summary.Chains = append(res.Summary.Chains, ChainSummary{Chain: c, Default: "ACCEPT (no filter table)", Services: []string{"everything"}})
		}
		res.lockout(o)
		res.dnatBypass(o)
		return res
	}
	for _, c := range []string{"INPUT", "FORWARD", "OUTPUT"} {
		if hr := an.walkHook(c); hr != nil {
			res.Hooks[c] = hr
			res.Summary.Chains = append(res.Summary.Chains, res.summarize(hr))
		}
	}
	res.deadRules(o)
	res.unusedChains(o)
	res.sportOnly(o)
	res.established(o)
	res.loopback(o)
	res.lockout(o)
	res.dnatBypass(o)
	return res
}

func (res *Result) add(f Finding) {
	f.Family = res.Family.String()
	res.Findings = append(res.Findings, f)
}

func ref(ri *RuleInfo) string {
	return fmt.Sprintf("%s:%d %s#%d", ri.Rule.Pos.File, ri.Rule.Pos.Line, ri.Chain, ri.Num)
}

func (res *Result) ruleFinding(ri *RuleInfo, sev Severity, kind, msg string) Finding {
	return Finding{Severity: sev, Kind: kind, File: ri.Rule.Pos.File, Line: ri.Rule.Pos.Line, Chain: ri.Chain, Rule: ri.Num, Message: msg}
}

// probe builds a set from the entry box of a hook with changes.
func (res *Result) probe(hook ruleset.Hook, f func(b *Box)) Set {
	b := res.an.entry(hook)
	f(&b)
	if b.empty() {
		return nil
	}
	return Set{b}
}

func (res *Result) loopbackIvs() ivs {
	if res.Family == ruleset.IPv6 {
		return prefixIvs(netip.MustParsePrefix("::1/128"))
	}
	return prefixIvs(netip.MustParsePrefix("127.0.0.0/8"))
}

// closed reports whether a chain drops or rejects what no rule accepts.
func (res *Result) closed(hr *HookResult) bool {
	d := res.defaultOf(hr)
	return strings.HasPrefix(d, "DROP") || strings.HasPrefix(d, "REJECT")
}

// inputClosed reports whether INPUT drops new connections by default.
func (res *Result) inputClosed() bool {
	hr := res.Hooks["INPUT"]
	if hr == nil {
		return false
	}
	d := res.defaultOf(hr)
	return strings.HasPrefix(d, "DROP") || strings.HasPrefix(d, "REJECT")
}

// defaultOf names what happens to packets no rule decides: the policy,
// or the catch-all rule that ends the chain.
func (res *Result) defaultOf(hr *HookResult) string {
	c := res.an.t.Chain(hr.Chain)
	for i := len(c.Rules) - 1; i >= 0; i-- {
		ri := res.an.rules[c.Rules[i]]
		if ri.Reach.May.IsEmpty() {
			continue
		}
		if !ri.OwnExact || !ri.Reach.May.SubsetOf(ri.Own) {
			break
		}
		switch ri.Rule.TargetName() {
		case "DROP", "REJECT", "ACCEPT":
			return fmt.Sprintf("%s (rule %d, %s:%d; policy %s)", ri.Rule.TargetName(), ri.Num, ri.Rule.Pos.File, ri.Rule.Pos.Line, hr.Policy)
		}
		break
	}
	return string(hr.Policy)
}

func (res *Result) summarize(hr *HookResult) ChainSummary {
	cs := ChainSummary{Chain: hr.Chain, Default: res.defaultOf(hr)}
	acc := hr.Verdict[VAccept]
	cs.Approximate = !acc.Exact()
	// new connections, not over loopback
	lo := res.an.ifs.index("lo")
	news := res.probe(hr.Hook, func(b *Box) { b.State &= stNew; b.In &^= lo; b.Out &^= lo })
	seen := map[string]bool{}
	for _, b := range acc.May.Intersect(news) {
		s := res.describe(&b, hr.Hook)
		if !seen[s] {
			seen[s] = true
			cs.Services = append(cs.Services, s)
		}
	}
	sort.Strings(cs.Services)
	if len(cs.Services) == 0 {
		cs.Services = []string{"none"}
	}
	return cs
}

// describe writes a box of accepted packets as "proto/port from who".
func (res *Result) describe(b *Box, hook ruleset.Hook) string {
	full := res.an.full
	var s string
	protos := []string{}
	n := 0
	for p := 0; p < 256; p++ {
		if protoHas(b.Proto, uint8(p)) {
			n++
			if len(protos) < 4 {
				protos = append(protos, protoName(uint8(p)))
			}
		}
	}
	switch {
	case n == 256:
		s = "any protocol"
	case n > 4:
		s = fmt.Sprintf("%d protocols", n)
	default:
		s = strings.Join(protos, ",")
	}
	portProto := n <= 4 && (protoHas(b.Proto, 6) || protoHas(b.Proto, 17))
	if portProto {
		if b.DPort.equal(full.DPort) {
			s += "/any port"
		} else {
			s += "/" + fmtPorts(b.DPort, "-")
		}
		if !b.SPort.equal(full.SPort) {
			s += " (source port " + fmtPorts(b.SPort, "-") + ")"
		}
	}
	if n <= 2 && (protoHas(b.Proto, 1) || protoHas(b.Proto, 58)) && !b.ICMP.equal(full.ICMP) {
		var ts []string
		for _, x := range b.ICMP {
			t1, t2 := x.lo.lo>>8, x.hi.lo>>8
			if t1 == t2 {
				ts = append(ts, fmt.Sprint(t1))
			} else {
				ts = append(ts, fmt.Sprintf("%d-%d", t1, t2))
			}
		}
		s += " type " + strings.Join(ts, ",")
	}
	who := "anyone"
	if !b.Src.equal(full.Src) {
		who = res.fmtAddrs(b.Src)
	}
	if hook == ruleset.LocalOut {
		s += " to " + whoOr(b.Dst, full.Dst, res)
	} else {
		s += " from " + who
	}
	e := res.an.entry(hook)
	lo := res.an.ifs.index("lo")
	if b.In != e.In&^lo && hook != ruleset.LocalOut {
		s += " in " + res.ifaceList(b.In)
	}
	if b.Out != e.Out&^lo && hook != ruleset.LocalIn {
		s += " out " + res.ifaceList(b.Out)
	}
	return s
}

func whoOr(s, full ivs, res *Result) string {
	if s.equal(full) {
		return "anywhere"
	}
	return res.fmtAddrs(s)
}

func (res *Result) ifaceList(m uint64) string {
	return strings.Join(res.an.ifs.names(m, ""), ",")
}

func protoName(p uint8) string {
	switch p {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 1:
		return "icmp"
	case 58:
		return "icmpv6"
	}
	return fmt.Sprint(p)
}

// fmtPorts writes ports joined by commas, a range as LO, sep, HI.
func fmtPorts(s ivs, sep string) string {
	var out []string
	for _, x := range s {
		if x.lo == x.hi {
			out = append(out, fmt.Sprint(x.lo.lo))
		} else {
			out = append(out, fmt.Sprintf("%d%s%d", x.lo.lo, sep, x.hi.lo))
		}
	}
	return strings.Join(out, ",")
}

func (res *Result) fmtAddrs(s ivs) string {
	fam := int(res.Family)
	full := res.an.full.Src
	// a complement of one prefix reads better as "not P"
	if c := full.sub(s); len(c) == 1 {
		if p, ok := ivPrefix(c[0], fam); ok {
			return "not " + p
		}
	}
	var out []string
	for _, x := range s {
		if p, ok := ivPrefix(x, fam); ok {
			out = append(out, p)
		} else {
			out = append(out, valAddr(x.lo, fam).String()+"-"+valAddr(x.hi, fam).String())
		}
	}
	return strings.Join(out, ",")
}

func ivPrefix(x iv, fam int) (string, bool) {
	w := 32
	if fam == 6 {
		w = 128
	}
	for b := 0; b <= w; b++ {
		p := netip.PrefixFrom(valAddr(x.lo, fam), b)
		if p.Masked() != p {
			continue
		}
		r := prefixIvs(p)
		if r[0] == x {
			return p.String(), true
		}
	}
	return "", false
}

// deadRules reports walked rules that never match, with the reason.
func (res *Result) deadRules(o Options) {
	an := res.an
	for _, ri := range an.order {
		if !ri.Walked || !ri.Match.May.IsEmpty() {
			continue
		}
		r := ri.Rule
		hooks := ri.Hooks
		switch {
		case r.OutIface != "" && r.Inv&ruleset.InvOut == 0 && hooks == 1<<ruleset.LocalIn:
			res.add(res.ruleFinding(ri, Warning, "iface-direction", "-o "+r.OutIface+" in a rule reached only from INPUT: incoming packets have no output interface, the rule never matches"))
		case r.InIface != "" && r.Inv&ruleset.InvIn == 0 && hooks == 1<<ruleset.LocalOut:
			res.add(res.ruleFinding(ri, Warning, "iface-direction", "-i "+r.InIface+" in a rule reached only from OUTPUT: locally generated packets have no input interface, the rule never matches"))
		case r.Frag && r.Inv&ruleset.InvFrag == 0 && an.conntrack:
			res.add(res.ruleFinding(ri, Warning, "fragment-defrag", "-f never matches: the ruleset uses connection tracking, which reassembles fragments before the filter table sees them"))
		case ri.Own.IsEmpty():
			res.add(res.ruleFinding(ri, Warning, "contradiction", "the rule's options contradict each other: it can match no packet"))
		case ri.Reach.May.IsEmpty():
			f := res.ruleFinding(ri, Warning, "unreachable", "no packet reaches this rule: earlier rules decide every packet")
			f.Related = res.shadowers(ri, ri.Own)
			res.add(f)
		default:
			sh := res.shadowersInfo(ri)
			kind, msg := "shadowed", "the rule never matches: every packet it matches is decided earlier"
			if len(sh) > 0 && sh[0].Rule.TargetName() == r.TargetName() {
				kind = "redundant"
				msg = fmt.Sprintf("the rule never matches: earlier rules take every packet it matches, mostly rule %d with the same target (%s): it is redundant", sh[0].Num, r.TargetName())
			} else if len(sh) > 0 {
				msg = fmt.Sprintf("the rule never matches: earlier rules take every packet it matches, mostly rule %d (%s)", sh[0].Num, sh[0].Rule.TargetName())
			}
			f := res.ruleFinding(ri, Warning, kind, msg)
			for _, s := range sh {
				f.Related = append(f.Related, ref(s))
			}
			if w, ok := an.Witness(res.chainEntry(ri).Intersect(ri.Own)); ok {
				f.Witness = w.String()
				f.Approximate = !ri.OwnExact
			}
			res.add(f)
		}
	}
}

// chainEntry is the set of packets that enter the rule's chain.
func (res *Result) chainEntry(ri *RuleInfo) Set {
	c := res.an.t.Chain(ri.Chain)
	return res.an.rules[c.Rules[0]].Reach.May
}

func (res *Result) shadowers(ri *RuleInfo, s Set) []string {
	var out []string
	for _, x := range res.shadowersOf(ri, s) {
		out = append(out, ref(x))
	}
	return out
}

func (res *Result) shadowersInfo(ri *RuleInfo) []*RuleInfo { return res.shadowersOf(ri, ri.Own) }

// shadowersOf returns the earlier rules of the same chain that take
// packets of s.
// packets of s, the one taking the most first.
func (res *Result) shadowersOf(ri *RuleInfo, s Set) []*RuleInfo {
	c := res.an.t.Chain(ri.Chain)
	s = s.Intersect(res.chainEntry(ri))
	var out []*RuleInfo
	vol := map[*RuleInfo]float64{}
	for _, r := range c.Rules[:ri.Num-1] {
		x := res.an.rules[r]
		if m := x.Consumed.Intersect(s); !m.IsEmpty() {
			out = append(out, x)
			vol[x] = m.volume()
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return vol[out[i]] > vol[out[j]] })
	return out
}

// unusedChains reports user chains no packet enters.
func (res *Result) unusedChains(o Options) {
	t := res.an.t
	for _, c := range t.UserChains() {
		walked := false
		for _, r := range c.Rules {
			if res.an.rules[r].Walked {
				walked = true
			}
		}
		var refs []*RuleInfo
		live := false
		for _, ri := range res.an.order {
			if j, ok := ri.Rule.JumpChain(); ok && j == c.Name {
				refs = append(refs, ri)
				if !ri.Match.May.IsEmpty() {
					live = true
				}
			}
		}
		if live || (walked && len(c.Rules) > 0) {
			continue
		}
		f := Finding{Severity: Warning, Kind: "unused-chain", Chain: c.Name, File: o.File}
		if len(c.Rules) > 0 {
			f.Line = c.Rules[0].Pos.Line
			f.File = c.Rules[0].Pos.File
		}
		if len(refs) == 0 {
			f.Message = fmt.Sprintf("user chain %s is never used: no rule jumps to it, its %d rule(s) never run", c.Name, len(c.Rules))
		} else {
			f.Message = fmt.Sprintf("user chain %s is only jumped to by rules that never match, its %d rule(s) never run", c.Name, len(c.Rules))
			for _, r := range refs {
				f.Related = append(f.Related, ref(r))
			}
		}
		res.add(f)
	}
}

// sportOnly reports ACCEPT rules on incoming traffic keyed on a source
// port only: anyone can reach any port from that source port.
func (res *Result) sportOnly(o Options) {
	an := res.an
	for _, ri := range an.order {
		if !ri.Walked || ri.Rule.TargetName() != "ACCEPT" || ri.Hooks&(1<<ruleset.LocalIn|1<<ruleset.Forward) == 0 {
			continue
		}
		keyed := false
		for _, b := range ri.Own {
			if !b.SPort.equal(an.full.SPort) && b.DPort.equal(an.full.DPort) {
				keyed = true
			}
		}
		if !keyed {
			continue
		}
		hook := ruleset.LocalIn
		if ri.Hooks&(1<<ruleset.LocalIn) == 0 {
			hook = ruleset.Forward
		}
		lo := an.ifs.index("lo")
		pr := res.probe(hook, func(b *Box) { b.State &= stNew; b.In &^= lo; b.DPort = span(3306, 3306) })
		m := ri.Match.May.Intersect(pr)
		if m.IsEmpty() {
			continue
		}
		f := res.ruleFinding(ri, Warning, "sport-only-accept", "ACCEPT keyed only on the source port: anyone can open a connection to any local port by sending from this source port")
		w, _ := an.Witness(m)
		f.Witness = w.String()
		f.Approximate = ri.Match.Must.Intersect(pr).IsEmpty()
		res.add(f)
	}
}

// established reports INPUT/OUTPUT chains that drop replies of
// established connections.
func (res *Result) established(o Options) {
	an := res.an
	for _, name := range []string{"INPUT", "OUTPUT"} {
		hr := res.Hooks[name]
		if hr == nil || !res.closed(hr) {
			continue
		}
		loIf := an.ifs.index("lo")
		lo := res.loopbackIvs()
		tcpudp := protoBit(6)
		tcpudp[0] |= protoBit(17)[0]
		pr := res.probe(hr.Hook, func(b *Box) {
			b.State &= stEstablished
			b.Proto = tcpudp
			b.In &^= loIf
			b.Out &^= loIf
			b.Src = b.Src.sub(lo)
			b.Dst = b.Dst.sub(lo)
		})
		pr = saneFlags(pr)
		miss := pr.Subtract(hr.Verdict[VAccept].May)
		if miss.IsEmpty() {
			continue
		}
		w, _ := an.Witness(miss)
		f := Finding{Severity: Warning, Kind: "no-established", Chain: name, File: o.File,
			Message: name + " does not accept packets of established connections (no -m state --state RELATED,ESTABLISHED -j ACCEPT, or one that is limited): replies to allowed traffic are dropped",
			Witness: w.String()}
		res.add(f)
	}
}

// loopback reports INPUT/OUTPUT chains that do not accept loopback traffic.
func (res *Result) loopback(o Options) {
	an := res.an
	lo := an.ifs.index("lo")
	for _, name := range []string{"INPUT", "OUTPUT"} {
		hr := res.Hooks[name]
		if hr == nil || !res.closed(hr) {
			continue
		}
		pr := res.probe(hr.Hook, func(b *Box) {
			if hr.Hook == ruleset.LocalIn {
				b.In = lo
			} else {
				b.Out = lo
			}
			b.Src = b.Src.inter(res.loopbackIvs())
			b.Dst = b.Dst.inter(res.loopbackIvs())
		})
		pr = saneFlags(pr)
		miss := pr.Subtract(hr.Verdict[VAccept].May)
		if miss.IsEmpty() {
			continue
		}
		w, _ := an.Witness(miss)
		dir := "-i"
		if name == "OUTPUT" {
			dir = "-o"
		}
		res.add(Finding{Severity: Warning, Kind: "no-loopback", Chain: name, File: o.File,
			Message: name + " does not accept all loopback traffic (" + dir + " lo -j ACCEPT): local services talking to each other break",
			Witness: w.String()})
	}
}

func (res *Result) sshProbe() Set {
	an := res.an
	lo := an.ifs.index("lo")
	return res.probe(ruleset.LocalIn, func(b *Box) {
		b.Proto = protoBit(6)
		b.DPort = span(22, 22)
		b.State &= stNew
		b.Flags = 1 << 0x02
		b.In &^= lo
		b.Src = b.Src.sub(res.loopbackIvs())
	})
}

// lockout reports SSH (tcp/22) unreachable from everywhere, noting the
// failed lines that would have opened it.
func (res *Result) lockout(o Options) {
	if res.an.t == nil {
		return
	}
	hr := res.Hooks["INPUT"]
	if hr == nil {
		return
	}
	if !hr.Verdict[VAccept].May.Intersect(res.sshProbe()).IsEmpty() {
		return
	}
	var failed []FailedLine
	for _, fl := range o.Failed {
		if res.failedOpensSSH(fl) {
			failed = append(failed, fl)
		}
	}
	f := Finding{Severity: Warning, Kind: "ssh-unreachable", Chain: "INPUT", File: o.File,
		Message: "SSH (tcp/22) is reachable from nowhere: a remote administrator is locked out"}
	if o.Script {
		f.Severity = Error
		f.Kind = "lockout"
	}
	if len(failed) > 0 {
		f.Severity = Error
		f.Kind = "lockout"
		fl := failed[0]
		f.File, f.Line = fl.File, fl.Line
		f.Message = fmt.Sprintf("lock-out: SSH (tcp/22) would only be reachable through line %d, which failed (%s) and was skipped", fl.Line, fl.Msg)
		if fl.Token != "" {
			f.Message += "; " + fl.Token + " is a placeholder for the administrator's address"
		}
		for _, x := range failed[1:] {
			f.Related = append(f.Related, fmt.Sprintf("%s:%d", x.File, x.Line))
		}
	}
	if w, ok := res.an.Witness(res.sshProbe()); ok {
		f.Witness = w.String()
	}
	res.add(f)
}

// failedOpensSSH reports whether a failed script line, with its failing
// token replaced by an address, accepts SSH.
func (res *Result) failedOpensSSH(fl FailedLine) bool {
	if fl.Text == "" || !strings.Contains(fl.Text, "ACCEPT") {
		return false
	}
	line := fl.Text
	if fl.Token != "" {
		addr := "198.51.100.1"
		if res.Family == ruleset.IPv6 {
			addr = "2001:db8::1"
		}
		line = strings.ReplaceAll(line, fl.Token, addr)
	}
	rs, diags, err := ipt.Load("failed-line", []byte(line+"\n"), ipt.LoadOptions{Family: res.Family})
	if err != nil || len(diags) > 0 || rs == nil || rs.Table("filter") == nil {
		return false
	}
	an := newAnalyzer(rs)
	probe := Set{FullBox(int(res.Family), len(an.ifs.syms))}
	probe[0].Proto = protoBit(6)
	probe[0].DPort = span(22, 22)
	probe[0].State = stNew
	for _, ri := range an.order {
		if ri.Chain == "INPUT" && ri.Rule.TargetName() == "ACCEPT" && !ri.Own.Intersect(probe).IsEmpty() {
			return true
		}
	}
	return false
}

// saneFlags restricts a probe to the packets ordinary traffic consists
// of: new connections start with a SYN, established ones carry ACK (or a
// RST), so rules dropping odd flag combinations do not count against it.
func saneFlags(s Set) Set {
	const (
		fin, syn, rst, psh, ack = 1, 2, 4, 8, 16
	)
	est := uint64(1)<<ack | 1<<(syn|ack) | 1<<(psh|ack) | 1<<(fin|ack) | 1<<(fin|psh|ack) | 1<<rst | 1<<(rst|ack)
	var out Set
	for _, b := range s {
		n := b
		n.State &= stNew
		n.Flags &= 1 << syn
		o := b
		o.State &^= stNew | stInvalid | stUntracked
		o.Flags &= est
		for _, x := range []Box{n, o} {
			if !x.empty() {
				out = append(out, x)
			}
		}
	}
	return out
}
