package xt

import (
	"fmt"
	"sort"

	"github.com/rampartfw/rampart/ruleset"
)

// Arg says whether an option takes an argument.
type Arg uint8

// Argument kinds.
const (
	NoArg Arg = iota
	ReqArg
)

// Option is one long option (without the leading "--") of an extension.
type Option struct {
	Name   string
	Arg    Arg
	Invert bool // may be preceded by "!"
	Multi  bool // may be given more than once
}

// Context is what an extension sees of the rule being parsed.
type Context struct {
	Family ruleset.Family
	Table  string
	Chain  string
	// Rule holds the generic options (-p, -s, -i, ...). During Parse it has
	// what was parsed so far; during Final it is complete (but for
	// Matches/Target, which are being built).
	Rule *ruleset.Rule
	// Numeric is set by -n (affects nothing at parse time but is passed on).
	Numeric bool
	// Next consumes the next command-line argument, for options that take
	// more than one (tcp's --tcp-flags MASK COMP). ok is false when there is
	// none or it starts with '-' or '!'. Nil outside Parse.
	Next func() (arg string, ok bool)
	// Warn reports a warning iptables prints on stderr while parsing (nil
	// outside a command-line parse).
	Warn func(msg string)
}

// Parser is the parse-time state of one extension instance. Parse is called
// for each of its options in order; Final once the whole rule has been read.
type Parser interface {
	// Parse handles --opt (name without dashes) with its argument (""
	// for NoArg options) and whether it was preceded by "!".
	Parse(ctx *Context, opt, arg string, inv bool) error
	// Final checks the options together and with the rule and returns the
	// finished, immutable extension. A nil extension with a nil error
	// drops it from the rule (iptables-nft loses a match that translates
	// to no nftables expression).
	Final(ctx *Context) (ruleset.Extension, error)
}

// Def describes one extension.
type Def struct {
	Name    string
	Family  ruleset.Family // 0: both families
	Target  bool           // a target (-j) rather than a match (-m)
	Options []Option
	New     func() Parser
	// Legacy is set for extensions whose parsers check repeated and
	// inverted options themselves, with their own messages (iptables'
	// old-style parsers). Otherwise the framework enforces Option.Multi and
	// Option.Invert with the x6 messages.
	Legacy bool
}

type key struct {
	name   string
	target bool
	fam    ruleset.Family
}

var registry = map[key]*Def{}

// Register adds an extension. It panics on a duplicate (a programming error).
func Register(d *Def) {
	fams := []ruleset.Family{d.Family}
	if d.Family == 0 {
		fams = []ruleset.Family{ruleset.IPv4, ruleset.IPv6}
	}
	for _, f := range fams {
		k := key{d.Name, d.Target, f}
		if _, dup := registry[k]; dup {
			panic("xt: duplicate extension " + d.Name)
		}
		registry[k] = d
	}
}

// LookupMatch returns the match extension of that name for family f.
func LookupMatch(name string, f ruleset.Family) *Def { return registry[key{name, false, f}] }

// LookupTarget returns the target extension of that name for family f.
func LookupTarget(name string, f ruleset.Family) *Def { return registry[key{name, true, f}] }

// Names lists the registered extension names of a kind for family f, sorted.
func Names(target bool, f ruleset.Family) []string {
	var out []string
	for k := range registry {
		if k.target == target && k.fam == f {
			out = append(out, k.name)
		}
	}
	sort.Strings(out)
	return out
}

// FindOption returns the option of d named exactly name.
func (d *Def) FindOption(name string) (Option, bool) {
	for _, o := range d.Options {
		if o.Name == name {
			return o, true
		}
	}
	return Option{}, false
}

// Error is a problem found by an extension. Kernel errors are those the
// kernel (not iptables' parser) would refuse with an errno.
type Error struct {
	Msg    string
	Kernel bool   // refused by the kernel at commit time
	Errno  string // with Kernel: e.g. "Invalid argument"
	Hint   string
}

// Error returns the message as iptables prints it.
func (e *Error) Error() string { return e.Msg }

// Errorf returns a parameter problem, as iptables' xtables_error(PARAMETER_PROBLEM, ...).
func Errorf(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}

// KernelInval returns an error for a rule that iptables accepts but the
// kernel refuses with EINVAL.
func KernelInval() error {
	return &Error{Msg: "Invalid argument", Kernel: true, Errno: "Invalid argument"}
}

// Kernel returns an error for a rule the kernel refuses with the given errno text.
func Kernel(errno string) error {
	return &Error{Msg: errno, Kernel: true, Errno: errno}
}
