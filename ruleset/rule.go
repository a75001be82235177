package ruleset

import "strings"

// Counters are packet and byte counters, as iptables-save -c prints them.
type Counters struct {
	Packets uint64
	Bytes   uint64
}

// Fmt carries what an extension needs to print itself.
type Fmt struct {
	Family  Family
	Numeric bool  // -n: no name lookups
	Proto   uint8 // the rule's -p protocol, 0 for any
	// Lossless asks Save for a form that parses back to the same match
	// even where iptables-save drops information (an inverted default
	// range, an ICMP code range): rampart's state file uses it.
	Lossless bool
}

// Extension is what matches and targets have in common: a name and two
// printers, Save for iptables-save and -S (each option with a leading
// space), Print for the right-hand column of -L (with a leading space).
type Extension interface {
	// Name is the extension name as written after -m or -j.
	Name() string
	// Save appends the options in iptables-save form, e.g. " --dport 22".
	Save(b *strings.Builder, f Fmt)
	// Print appends the -L form, e.g. " tcp dpt:22".
	Print(b *strings.Builder, f Fmt)
}

// Match is an extension match (-m NAME ...).
type Match interface {
	Extension
}

// Target is a rule's target (-j NAME ... or a chain).
type Target interface {
	Extension
}

// Verdict is a standard target: ACCEPT, DROP, RETURN or QUEUE.
type Verdict string

// The standard verdicts.
const (
	Accept Verdict = "ACCEPT"
	Drop   Verdict = "DROP"
	Return Verdict = "RETURN"
	Queue  Verdict = "QUEUE"
)

// Name implements Extension.
func (v Verdict) Name() string { return string(v) }

// Save implements Extension; standard verdicts have no options.
func (v Verdict) Save(*strings.Builder, Fmt) {}

// Print implements Extension; standard verdicts print nothing extra.
func (v Verdict) Print(*strings.Builder, Fmt) {}

// IsVerdict reports whether name is a standard verdict.
func IsVerdict(name string) bool {
	switch Verdict(name) {
	case Accept, Drop, Return, Queue:
		return true
	}
	return false
}

// Jump is a target that is a user chain (-j CHAIN or, with Rule.Goto, -g CHAIN).
type Jump struct{ Chain string }

// Name implements Extension.
func (j Jump) Name() string { return j.Chain }

// Save implements Extension.
func (j Jump) Save(*strings.Builder, Fmt) {}

// Print implements Extension.
func (j Jump) Print(*strings.Builder, Fmt) {}

// Inv holds the inversion flags of a rule's generic options.
type Inv uint8

// Inversion bits of the generic options.
const (
	InvSrc Inv = 1 << iota
	InvDst
	InvIn
	InvOut
	InvProto
	InvFrag
)

// Pos is where a rule came from, for error messages and findings.
type Pos struct {
	File string
	Line int
}

// Rule is one iptables rule.
type Rule struct {
	Src, Dst AddrMask
	InIface  string // "" for any; a trailing '+' is a wildcard
	OutIface string
	Proto    uint8 // 0 = all
	Frag     bool  // -f (IPv4 only)
	Inv      Inv
	Matches  []Match
	Target   Target // nil: no target (counting rule)
	Goto     bool   // -g instead of -j
	Counters Counters
	Pos      Pos
}

// JumpChain returns the user chain the rule jumps or goes to, if any.
func (r *Rule) JumpChain() (string, bool) {
	if j, ok := r.Target.(Jump); ok {
		return j.Chain, true
	}
	return "", false
}

// TargetName returns the name of the target, or "" when there is none.
func (r *Rule) TargetName() string {
	if r.Target == nil {
		return ""
	}
	return r.Target.Name()
}
