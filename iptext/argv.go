package iptext

import (
	"strings"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// Op is an iptables command.
type Op uint32

// OpNone is no command.
const OpNone Op = 0

// The iptables commands. List and Zero may be combined (-L -Z).
const (
	OpAppend Op = 1 << iota
	OpCheck
	OpDelete
	OpDeleteNum
	OpInsert
	OpReplace
	OpList
	OpListRules
	OpFlush
	OpZero
	OpZeroNum
	OpNewChain
	OpDeleteChain
	OpRename
	OpPolicy
	OpVersion
	OpHelp
)

// Command is one parsed iptables command line.
type Command struct {
	Op      Op
	Table   string
	Chain   string
	RuleNum int    // -I/-R/-D position, -L/-S/-Z rule number (0: none)
	NewName string // -E
	Policy  string // -P
	// Rule is the rule of -A/-I/-R/-D/-C with one source and one
	// destination; Srcs and Dsts hold every address given (iptables adds
	// one rule per source x destination pair).
	Rule        *ruleset.Rule
	Srcs, Dsts  []ruleset.AddrMask
	Verbose     int
	Numeric     bool
	Exact       bool
	LineNumbers bool
	Counters    *ruleset.Counters // -c PKTS BYTES
	TableSet    bool
	// Skip is set when a restore line is meant for the other family (-4/-6).
	Skip bool
	// Warnings are messages iptables prints to stdout while parsing.
	Warnings []string
}

// Rules expands the command's rule into one rule per source x destination.
func (c *Command) Rules() []*ruleset.Rule {
	if c.Rule == nil {
		return nil
	}
	var out []*ruleset.Rule
	for _, s := range c.Srcs {
		for _, d := range c.Dsts {
			r := *c.Rule
			r.Src, r.Dst = s, d
			r.Matches = append([]ruleset.Match(nil), c.Rule.Matches...)
			out = append(out, &r)
		}
	}
	return out
}

// ParseOptions control how a command line is read.
type ParseOptions struct {
	Family  ruleset.Family
	Restore bool   // a line of a restore file: -t is refused
	Table   string // the table of the restore block (default "filter")
	Pos     ruleset.Pos
}

// Option bits for generic_opt_check.
const (
	optNumeric = 1 << iota
	optSource
	optDest
	optProto
	optJump
	optVerbose
	optExpanded
	optViaIn
	optViaOut
	optLineNumbers
	optCounters
	optFragment
)

var optChars = []byte{'n', 's', 'd', 'p', 'j', 'v', 'x', 'i', 'o', '0', 'c', 'f'}

// commandsVsOptions is iptables' table of which options each command takes:
// 'x' illegal, '+' mandatory, ' ' allowed.
var commandsVsOptions = []struct {
	op  Op
	row string
}{
	//            nsdpjvxio0cf
	{OpInsert, "x     x  x  "},
	{OpDelete, "x     x  xx "},
	{OpDeleteNum, "xxxxx xxxxxx"},
	{OpReplace, "x     x  x  "},
	{OpAppend, "x     x  x  "},
	{OpList, " xxxx  xx xx"},
	{OpFlush, "xxxxx xxxxxx"},
	{OpZero, "xxxxx xxxxxx"},
	{OpZeroNum, "xxxxx xxxxxx"},
	{OpNewChain, "xxxxx xxxxxx"},
	{OpDeleteChain, "xxxxx xxxxxx"},
	{OpPolicy, "xxxxx xxxx x"},
	{OpRename, "xxxxx xxxxxx"},
	{OpListRules, "xxxxx xxxxxx"},
	{OpCheck, "x     x  xx "},
}

var cmdChars = map[Op]byte{
	OpAppend: 'A', OpCheck: 'C', OpDelete: 'D', OpDeleteNum: 'D', OpInsert: 'I',
	OpReplace: 'R', OpList: 'L', OpListRules: 'S', OpFlush: 'F', OpZero: 'Z', OpZeroNum: 'Z',
	OpNewChain: 'N', OpDeleteChain: 'X', OpRename: 'E', OpPolicy: 'P',
}

type longOpt struct {
	name  string
	short byte // the equivalent short option
	arg   int  // 0 none, 1 required, 2 optional
}

var baseLong = []longOpt{
	{"append", 'A', 1}, {"delete", 'D', 1}, {"check", 'C', 1}, {"insert", 'I', 1},
	{"replace", 'R', 1}, {"list", 'L', 2}, {"list-rules", 'S', 2}, {"flush", 'F', 2},
	{"zero", 'Z', 2}, {"new-chain", 'N', 1}, {"delete-chain", 'X', 2},
	{"rename-chain", 'E', 1}, {"policy", 'P', 1}, {"source", 's', 1}, {"src", 's', 1},
	{"destination", 'd', 1}, {"dst", 'd', 1}, {"protocol", 'p', 1},
	{"in-interface", 'i', 1}, {"jump", 'j', 1}, {"table", 't', 1}, {"match", 'm', 1},
	{"numeric", 'n', 0}, {"out-interface", 'o', 1}, {"verbose", 'v', 0},
	{"wait", 'w', 2}, {"wait-interval", 'W', 2}, {"exact", 'x', 0},
	{"fragments", 'f', 0}, {"fragment", 'f', 0}, {"version", 'V', 0}, {"help", 'h', 2},
	{"line-numbers", '0', 0}, {"modprobe", 'M', 1}, {"set-counters", 'c', 1},
	{"goto", 'g', 1}, {"ipv4", '4', 0}, {"ipv6", '6', 0},
}

// shortArg: 1 required, 2 optional, 0 none; absent: unknown.
var shortArg = map[byte]int{
	'A': 1, 'C': 1, 'D': 1, 'R': 1, 'I': 1, 'L': 2, 'S': 2, 'M': 1, 'F': 2, 'Z': 2,
	'N': 1, 'X': 2, 'E': 1, 'P': 1, 'V': 0, 'h': 2, 'o': 1, 'p': 1, 's': 1, 'd': 1,
	'j': 1, 'i': 1, 'f': 0, 'b': 0, 'v': 0, 'w': 2, 'W': 2, 'n': 0, 't': 1, 'm': 1,
	'x': 0, 'c': 1, 'g': 1, '4': 0, '6': 0,
}

// loaded is one extension instance of the rule being parsed.
type loaded struct {
	def    *xt.Def
	p      xt.Parser
	seen   uint64 // bit i: option i of def was given
	done   bool   // a later instance of the same match was loaded
	target bool
	seq    int // load order (-m and -j in command-line order)
}

type parser struct {
	o              ParseOptions
	args           []string
	i              int // index of the next argument
	cmd            *Command
	rule           *ruleset.Rule
	ctx            *xt.Context
	opts           int
	invert         bool
	exts           []*loaded // matches in order, then the target
	nloaded        int       // extensions loaded so far (loaded.seq)
	target         *loaded
	proto          string // -p argument as given (lower-cased)
	protoUsed      bool
	jumpTo         string
	srcArg, dstArg string
	srcIdx, dstIdx int
	valIdx         int // index of the current option's value
}

// ParseCommand parses one iptables command line (without the program name).
func ParseCommand(args []string, o ParseOptions) (*Command, error) {
	if o.Family == 0 {
		o.Family = ruleset.IPv4
	}
	p := &parser{o: o, args: args}
	p.cmd = &Command{Table: "filter"}
	if o.Table != "" {
		p.cmd.Table = o.Table
	}
	p.rule = &ruleset.Rule{Pos: o.Pos}
	p.ctx = &xt.Context{Family: o.Family, Rule: p.rule}
	p.ctx.Warn = func(msg string) { p.cmd.Warnings = append(p.cmd.Warnings, msg) }
	p.ctx.Next = func() (string, bool) {
		if p.i < len(p.args) && !strings.HasPrefix(p.args[p.i], "-") && !strings.HasPrefix(p.args[p.i], "!") {
			p.i++
			return p.args[p.i-1], true
		}
		return "", false
	}
	if err := p.run(); err != nil {
		if e, ok := err.(*Error); ok && len(p.cmd.Warnings) > 0 {
			e.Warnings = p.cmd.Warnings
		}
		return nil, err
	}
	return p.cmd, nil
}

func (p *parser) run() error {
	for p.i < len(p.args) {
		idx := p.i
		a := p.args[p.i]
		p.i++
		switch {
		case a == "!":
			if p.invert {
				return perr(idx, "multiple consecutive ! not allowed")
			}
			p.invert = true
			continue
		case strings.HasPrefix(a, "--") && len(a) > 2:
			if err := p.long(idx, a[2:]); err != nil {
				return err
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			if err := p.shorts(idx, a[1:]); err != nil {
				return err
			}
			if p.cmd.Skip {
				return nil
			}
		default:
			e := perr(idx, "Bad argument `%s'", a)
			e.Style = StyleBare
			return e
		}
		p.invert = false
	}
	return p.finish()
}

// long handles --name[=value].
func (p *parser) long(idx int, s string) error {
	name, val, hasVal := strings.Cut(s, "=")
	// Exact match first: base options, then extensions in load order.
	for _, lo := range baseLong {
		if lo.name == name {
			return p.baseLongOpt(idx, lo, val, hasVal)
		}
	}
	if l, o := p.findExtOpt(name, true); l != nil {
		return p.extOpt(idx, l, o, val, hasVal)
	}
	// Unique prefix (getopt_long abbreviations).
	var baseHit *longOpt
	var extHit *loaded
	var extOpt xt.Option
	n := 0
	for i := range baseLong {
		if strings.HasPrefix(baseLong[i].name, name) {
			if baseHit == nil || baseHit.short != baseLong[i].short {
				n++
			}
			if baseHit == nil {
				baseHit = &baseLong[i]
			}
		}
	}
	seenDefs := map[*xt.Def]bool{}
	for _, l := range p.exts {
		if seenDefs[l.def] {
			continue
		}
		seenDefs[l.def] = true
		for _, o := range l.def.Options {
			if strings.HasPrefix(o.Name, name) {
				n++
				if extHit == nil && baseHit == nil {
					extHit, extOpt = p.latest(l.def), o
				}
			}
		}
	}
	if n == 1 {
		if baseHit != nil {
			return p.baseLongOpt(idx, *baseHit, val, hasVal)
		}
		return p.extOpt(idx, extHit, extOpt, val, hasVal)
	}
	// Unknown: try loading the protocol's match, as iptables does.
	if p.loadProto() {
		return p.long(idx, s)
	}
	return p.unknown(idx, "--"+s)
}

func (p *parser) unknown(idx int, opt string) error {
	e := perr(idx, "unknown option \"%s\"", opt)
	e.Token = opt
	name := strings.TrimLeft(opt, "-")
	if i := strings.IndexByte(name, '='); i >= 0 {
		name = name[:i]
	}
	e.Hint = hintFor(p.o.Family, name, p.proto)
	return e
}

// hintFor suggests the match an unknown option belongs to.
func hintFor(f ruleset.Family, name, proto string) string {
	var owners []string
	for _, n := range xt.Names(false, f) {
		d := xt.LookupMatch(n, f)
		if _, ok := d.FindOption(name); ok {
			owners = append(owners, n)
		}
	}
	if len(owners) == 0 {
		return ""
	}
	for _, o := range owners {
		if o == "tcp" || o == "udp" || o == "sctp" || o == "dccp" {
			if proto == "" {
				return "--" + name + " needs a protocol: add -p tcp (or -p udp, -p sctp) before it, or -m " + owners[0]
			}
		}
	}
	return "--" + name + " belongs to -m " + strings.Join(owners, ", -m ")
}

// findExtOpt finds the extension that defines option name and returns its
// latest instance. The most recently loaded extension wins (-m mark
// -m connmark --mark 1 gives connmark the mark): iptables puts the options
// of each newly loaded extension before the older ones in its merged getopt
// table.
func (p *parser) findExtOpt(name string, exact bool) (*loaded, xt.Option) {
	var best *loaded
	var bestOpt xt.Option
	for _, l := range p.exts {
		if o, ok := l.def.FindOption(name); ok && (best == nil || l.seq > best.seq) {
			best, bestOpt = l, o
		}
	}
	if best == nil {
		return nil, xt.Option{}
	}
	return p.latest(best.def), bestOpt
}

func (p *parser) latest(d *xt.Def) *loaded {
	var last *loaded
	for _, l := range p.exts {
		if l.def == d {
			last = l
		}
	}
	return last
}

func (p *parser) extOpt(idx int, l *loaded, o xt.Option, val string, hasVal bool) error {
	arg := ""
	argIdx := idx
	if o.Arg == xt.ReqArg {
		if hasVal {
			arg = val
		} else {
			if p.i >= len(p.args) {
				return perr(idx, "option \"%s\" requires an argument", p.args[idx])
			}
			arg = p.args[p.i]
			argIdx = p.i
			p.i++
		}
	} else if hasVal {
		return perr(idx, "option '--%s' doesn't allow an argument", o.Name)
	}
	bit := uint64(1) << (optIndex(l.def, o.Name) & 63)
	if !o.Multi && l.seen&bit != 0 && !ownChecks(l.def) {
		return perr(idx, "%s: option \"--%s\" can only be used once.\n", l.def.Name, o.Name)
	}
	if p.invert && !o.Invert && !ownChecks(l.def) {
		return perr(idx, "%s: option \"--%s\" cannot be inverted.\n", l.def.Name, o.Name)
	}
	l.seen |= bit
	if err := l.p.Parse(p.ctx, o.Name, arg, p.invert); err != nil {
		return p.extErr(argIdx, err)
	}
	return nil
}

func ownChecks(d *xt.Def) bool { return d.Legacy }

// optIndex is the position of option name in d's table.
func optIndex(d *xt.Def, name string) int {
	for i, o := range d.Options {
		if o.Name == name {
			return i
		}
	}
	return 0
}

func (p *parser) extErr(idx int, err error) error {
	if xe, ok := err.(*xt.Error); ok {
		if xe.Kernel {
			return &Error{Msg: xe.Errno, Arg: idx, Exit: ExitResource, Kernel: true, Hint: xe.Hint}
		}
		return &Error{Msg: xe.Msg, Arg: idx, Exit: ExitParameter, Hint: xe.Hint}
	}
	return &Error{Msg: err.Error(), Arg: idx, Exit: ExitParameter}
}

// shorts handles a cluster of short options such as -nvL or -pTCP.
func (p *parser) shorts(idx int, s string) error {
	for k := 0; k < len(s); k++ {
		c := s[k]
		kind, ok := shortArg[c]
		if !ok {
			if p.loadProto() {
				return p.shorts(idx, s[k:])
			}
			return perr(idx, "unknown option \"%s\"", p.args[idx])
		}
		rest := s[k+1:]
		var arg string
		hasArg := false
		switch kind {
		case 1:
			if rest != "" {
				arg, hasArg = rest, true
				p.valIdx = idx
			} else if p.i < len(p.args) {
				arg, hasArg = p.args[p.i], true
				p.valIdx = p.i
				p.i++
			} else {
				return perr(idx, "option \"%s\" requires an argument", p.args[idx])
			}
			k = len(s)
		case 2:
			if rest != "" {
				arg, hasArg = rest, true
				k = len(s)
			}
		}
		if err := p.opt(idx, c, arg, hasArg); err != nil {
			return err
		}
		if p.cmd.Skip {
			return nil
		}
		if k < len(s)-1 {
			p.invert = false
		}
	}
	return nil
}

func (p *parser) baseLongOpt(idx int, lo longOpt, val string, hasVal bool) error {
	switch lo.arg {
	case 1:
		if !hasVal {
			if p.i >= len(p.args) {
				return perr(idx, "option \"%s\" requires an argument", p.args[idx])
			}
			val, hasVal = p.args[p.i], true
			p.valIdx = p.i
			p.i++
		} else {
			p.valIdx = idx
		}
	case 0:
		if hasVal {
			return perr(idx, "option '--%s' doesn't allow an argument", lo.name)
		}
	}
	return p.opt(idx, lo.short, val, hasVal)
}

// hasArg mirrors xs_has_arg: the next argument exists and is not an option.
func (p *parser) hasNextArg() bool {
	return p.i < len(p.args) && !strings.HasPrefix(p.args[p.i], "-") && !strings.HasPrefix(p.args[p.i], "!")
}

func (p *parser) addCommand(idx int, op Op) error {
	if p.invert {
		return perr(idx, "unexpected '!' flag")
	}
	if p.cmd.Op != OpNone && !((p.cmd.Op == OpList && op == OpZero) || (p.cmd.Op == OpZero && op == OpList)) {
		return perr(idx, "Cannot use -%c with -%c", cmdChars[op], cmdChars[lowestOp(p.cmd.Op)])
	}
	p.cmd.Op |= op
	return nil
}

func (p *parser) setOpt(idx int, bit int, c byte, invertible bool) error {
	if p.opts&bit != 0 {
		return perr(idx, "multiple -%c flags not allowed", c)
	}
	p.opts |= bit
	if p.invert && !invertible {
		return perr(idx, "cannot have ! before -%c", c)
	}
	return nil
}

func (p *parser) ruleNum(idx int, s string) (int, error) {
	v, ok := xt.ParseUint(s, 1, 1<<31-1)
	if !ok {
		return 0, perr(idx, "Invalid rule number `%s'", s)
	}
	return int(v), nil
}

func (p *parser) opt(idx int, c byte, arg string, hasArg bool) error {
	cmd := p.cmd
	switch c {
	case 'A', 'C', 'D', 'R', 'I':
		op := map[byte]Op{'A': OpAppend, 'C': OpCheck, 'D': OpDelete, 'R': OpReplace, 'I': OpInsert}[c]
		if err := p.addCommand(idx, op); err != nil {
			return err
		}
		cmd.Chain = arg
		switch c {
		case 'D':
			if p.hasNextArg() {
				n, err := p.ruleNum(p.i, p.args[p.i])
				if err != nil {
					return err
				}
				p.i++
				cmd.RuleNum = n
				cmd.Op = OpDeleteNum
			}
		case 'R':
			if !p.hasNextArg() {
				return perr(idx, "-%c requires a rule number", c)
			}
			n, err := p.ruleNum(p.i, p.args[p.i])
			if err != nil {
				return err
			}
			p.i++
			cmd.RuleNum = n
		case 'I':
			cmd.RuleNum = 1
			if p.hasNextArg() {
				n, err := p.ruleNum(p.i, p.args[p.i])
				if err != nil {
					return err
				}
				p.i++
				cmd.RuleNum = n
			}
		}
	case 'L', 'S', 'F', 'Z', 'X':
		op := map[byte]Op{'L': OpList, 'S': OpListRules, 'F': OpFlush, 'Z': OpZero, 'X': OpDeleteChain}[c]
		if err := p.addCommand(idx, op); err != nil {
			return err
		}
		if hasArg {
			cmd.Chain = arg
		} else if p.hasNextArg() {
			cmd.Chain = p.args[p.i]
			p.i++
		}
		if (c == 'L' || c == 'S' || c == 'Z') && cmd.Chain != "" && p.hasNextArg() {
			n, err := p.ruleNum(p.i, p.args[p.i])
			if err != nil {
				return err
			}
			p.i++
			cmd.RuleNum = n
			if c == 'Z' {
				cmd.Op = cmd.Op&^OpZero | OpZeroNum
			}
		}
	case 'N':
		if err := p.addCommand(idx, OpNewChain); err != nil {
			return err
		}
		if err := checkChainName(idx, arg); err != nil {
			return err
		}
		cmd.Chain = arg
	case 'E':
		if err := p.addCommand(idx, OpRename); err != nil {
			return err
		}
		cmd.Chain = arg
		if !p.hasNextArg() {
			return perr(idx, "-%c requires old-chain-name and new-chain-name", c)
		}
		cmd.NewName = p.args[p.i]
		p.i++
		if err := checkChainName(p.i-1, cmd.NewName); err != nil {
			return err
		}
	case 'P':
		if err := p.addCommand(idx, OpPolicy); err != nil {
			return err
		}
		cmd.Chain = arg
		if !p.hasNextArg() {
			return perr(idx, "-%c requires a chain and a policy", c)
		}
		cmd.Policy = p.args[p.i]
		p.i++
	case 'h':
		cmd.Op |= OpHelp
	case 'V':
		cmd.Op |= OpVersion
	case 'p':
		if err := p.setOpt(idx, optProto, c, true); err != nil {
			return err
		}
		p.proto = strings.ToLower(arg)
		proto, err := ParseProtocol(p.valIdx, p.proto)
		if err != nil {
			return err
		}
		p.rule.Proto = proto
		if p.invert {
			p.rule.Inv |= ruleset.InvProto
		}
		if proto == 0 && p.invert {
			return perr(idx, "rule would never match protocol")
		}
		if p.o.Family == ruleset.IPv6 && isExtHdr(proto) && !p.invert {
			cmd.Warnings = append(cmd.Warnings, "Warning: never matched protocol: "+p.proto+". use extension match instead.")
		}
	case 's':
		if err := p.setOpt(idx, optSource, c, true); err != nil {
			return err
		}
		p.srcArg, p.srcIdx = arg, p.valIdx
		if p.invert {
			p.rule.Inv |= ruleset.InvSrc
		}
	case 'd':
		if err := p.setOpt(idx, optDest, c, true); err != nil {
			return err
		}
		p.dstArg, p.dstIdx = arg, p.valIdx
		if p.invert {
			p.rule.Inv |= ruleset.InvDst
		}
	case 'i', 'o':
		bit, inv := optViaIn, ruleset.InvIn
		if c == 'o' {
			bit, inv = optViaOut, ruleset.InvOut
		}
		if err := p.setOpt(idx, bit, c, true); err != nil {
			return err
		}
		if len(arg) >= 16 {
			return perr(p.valIdx, "interface name `%s' must be shorter than IFNAMSIZ (%d)", arg, 15)
		}
		if strings.ContainsAny(arg, "/ ") {
			cmd.Warnings = append(cmd.Warnings, "Warning: weird character in interface `"+arg+"' ('/' and ' ' are not allowed by the kernel).")
		}
		if c == 'i' {
			p.rule.InIface = arg
		} else {
			p.rule.OutIface = arg
		}
		if p.invert {
			p.rule.Inv |= inv
		}
	case 'f':
		if p.o.Family == ruleset.IPv6 {
			return perr(idx, "`-f' is not supported in IPv6, use -m frag instead")
		}
		if err := p.setOpt(idx, optFragment, c, true); err != nil {
			return err
		}
		p.rule.Frag = true
		if p.invert {
			p.rule.Inv |= ruleset.InvFrag
		}
	case 'j', 'g':
		if err := p.setOpt(idx, optJump, 'j', false); err != nil {
			return err
		}
		if err := checkTargetName(idx, arg); err != nil {
			return err
		}
		p.jumpTo = arg
		p.rule.Goto = c == 'g'
		if c == 'j' || true {
			if d := xt.LookupTarget(arg, p.o.Family); d != nil && c == 'j' && !ruleset.IsVerdict(arg) {
				p.nloaded++
				l := &loaded{def: d, p: d.New(), target: true, seq: p.nloaded}
				p.exts = append(p.exts, l)
				p.target = l
			}
		}
	case 'm':
		if p.invert {
			return perr(idx, "unexpected ! flag before --match")
		}
		name := arg
		if name == "icmpv6" || name == "ipv6-icmp" {
			name = "icmp6"
		}
		d := xt.LookupMatch(name, p.o.Family)
		if d == nil {
			e := perr(idx, "Couldn't load match `%s':No such file or directory\n", arg)
			e.Token = arg
			return e
		}
		p.addMatch(d)
	case 'n':
		if err := p.setOpt(idx, optNumeric, c, false); err != nil {
			return err
		}
		cmd.Numeric = true
	case 'v':
		if p.invert {
			return perr(idx, "cannot have ! before -v")
		}
		p.opts |= optVerbose
		cmd.Verbose++
	case 'x':
		if err := p.setOpt(idx, optExpanded, c, false); err != nil {
			return err
		}
		cmd.Exact = true
	case '0':
		if err := p.setOpt(idx, optLineNumbers, c, false); err != nil {
			return err
		}
		cmd.LineNumbers = true
	case 't':
		if p.invert {
			return perr(idx, "unexpected ! flag before --table")
		}
		if p.o.Restore {
			return perr(idx, "The -t option (seen in line %d) cannot be used in %s-restore.\n", p.o.Pos.Line, p.o.Family.Tool())
		}
		cmd.Table = arg
		cmd.TableSet = true
	case 'c':
		if err := p.setOpt(idx, optCounters, c, false); err != nil {
			return err
		}
		pk := arg
		if p.i >= len(p.args) || strings.HasPrefix(p.args[p.i], "-") || strings.HasPrefix(p.args[p.i], "!") {
			return perr(idx, "-%c requires packet and byte counter", c)
		}
		by := p.args[p.i]
		p.i++
		pv, ok1 := parseCounter(pk)
		if !ok1 {
			return perr(idx, "-%c packet counter not numeric", c)
		}
		bv, ok2 := parseCounter(by)
		if !ok2 {
			return perr(idx, "-%c byte counter not numeric", c)
		}
		cmd.Counters = &ruleset.Counters{Packets: pv, Bytes: bv}
	case 'w', 'W':
		// --wait [SECONDS], --wait-interval [USECS]: accepted and ignored
		// (there is no lock to wait for); a following number is theirs.
		if !hasArg && p.hasNextArg() {
			if _, ok := xt.ParseUint(p.args[p.i], 0, 1<<31); ok {
				p.i++
			}
		}
	case 'M', 'b':
		// --modprobe: accepted and ignored.
	case '4':
		if p.o.Family == ruleset.IPv6 {
			if p.o.Restore {
				cmd.Skip = true
				return nil
			}
			return perr(idx, "This is an IPv6 tool: -4 is not supported")
		}
	case '6':
		if p.o.Family == ruleset.IPv4 {
			if p.o.Restore {
				cmd.Skip = true
				return nil
			}
			return perr(idx, "This is an IPv4 tool: -6 is not supported")
		}
	default:
		return perr(idx, "unknown option \"%s\"", p.args[idx])
	}
	return nil
}

func parseCounter(s string) (uint64, bool) {
	// sscanf("%llu"): leading digits are enough.
	v, _, ok := xt.ParseUintPrefix(strings.TrimLeft(s, " "))
	if strings.HasPrefix(s, "0") && len(s) > 1 {
		// %llu is decimal, not octal.
		n := uint64(0)
		for _, ch := range s {
			if ch < '0' || ch > '9' {
				break
			}
			n = n*10 + uint64(ch-'0')
		}
		return n, true
	}
	return v, ok
}

func (p *parser) addMatch(d *xt.Def) {
	for _, l := range p.exts {
		if l.def == d {
			l.done = true
		}
	}
	p.nloaded++
	l := &loaded{def: d, p: d.New(), seq: p.nloaded}
	// Keep the target (if loaded) last.
	if p.target != nil {
		n := len(p.exts)
		p.exts = append(p.exts[:n-1], l, p.target)
		return
	}
	p.exts = append(p.exts, l)
}

// loadProto loads the match named by -p when an option is unknown, once.
func (p *parser) loadProto() bool {
	if p.proto == "" { // loaded for an inverted -p too, as iptables does
		return false
	}
	name := p.proto
	if n, ok := xt.ParseUint(name, 0, 255); ok {
		name = ProtoName(uint8(n), p.o.Family)
	}
	if name == "icmpv6" || name == "ipv6-icmp" {
		name = "icmp6"
	}
	d := xt.LookupMatch(name, p.o.Family)
	if d == nil {
		return false
	}
	for _, l := range p.exts {
		if l.def == d {
			if p.protoUsed {
				return false
			}
		}
	}
	if p.protoUsed {
		return false
	}
	p.protoUsed = true
	p.addMatch(d)
	return true
}

func (p *parser) finish() error {
	cmd := p.cmd
	if p.cmd.Skip {
		return nil
	}
	if cmd.Table == "nat" && (cmd.Policy == "DROP" || p.jumpTo == "DROP") {
		return perr(-1, "\nThe \"nat\" table is not intended for filtering, the use of DROP is therefore inhibited.\n\n")
	}
	p.ctx.Table = cmd.Table
	p.ctx.Chain = cmd.Chain
	p.ctx.Numeric = cmd.Numeric
	// Final checks of the extensions, matches in order, then the target.
	for _, l := range p.exts {
		ext, err := l.p.Final(p.ctx)
		if err != nil {
			e := p.extErr(-1, err).(*Error)
			if e.Kernel && cmd.Op&(OpDelete|OpCheck) != 0 {
				// -D and -C compare in userspace: no such rule can exist.
				return &Error{Msg: "Bad rule (does a matching rule exist in that chain?).", Arg: -1, Exit: ExitOther, Style: StylePlain}
			}
			if e.Kernel {
				e.Msg = KernelMsg(cmd.Op, e.Msg, cmd.Chain)
				e.Style = StyleBanner
			}
			return e
		}
		if ext == nil {
			// The extension vanishes from the rule, as iptables-nft
			// drops a match that translates to no expression.
			continue
		}
		if l.target {
			p.rule.Target = ext
		} else {
			p.rule.Matches = append(p.rule.Matches, ext)
		}
	}
	if p.target == nil && p.jumpTo != "" {
		if ruleset.IsVerdict(p.jumpTo) && !p.rule.Goto {
			p.rule.Target = ruleset.Verdict(p.jumpTo)
		} else {
			p.rule.Target = ruleset.Jump{Chain: p.jumpTo}
		}
	}
	if p.invert {
		return perr(-1, "nothing appropriate following !")
	}
	if cmd.Op == OpNone {
		return perr(-1, "no command specified")
	}
	if cmd.Op&(OpHelp|OpVersion) != 0 {
		return nil
	}
	if cmd.Op&(OpAppend|OpCheck|OpDelete|OpInsert|OpReplace) != 0 {
		if p.opts&optSource == 0 {
			p.srcArg = anyAddr(p.o.Family)
		}
		if p.opts&optDest == 0 {
			p.dstArg = anyAddr(p.o.Family)
		}
	}
	if p.srcArg != "" {
		l, err := ParseAddrList(p.srcIdx, p.srcArg, p.o.Family)
		if err != nil {
			return err
		}
		cmd.Srcs = l
	}
	if p.dstArg != "" {
		l, err := ParseAddrList(p.dstIdx, p.dstArg, p.o.Family)
		if err != nil {
			return err
		}
		cmd.Dsts = l
	}
	if (len(cmd.Srcs) > 1 || len(cmd.Dsts) > 1) && p.rule.Inv&(ruleset.InvSrc|ruleset.InvDst) != 0 {
		return perr(-1, "! not allowed with multiple source or destination IP addresses")
	}
	if cmd.Op == OpReplace && (len(cmd.Srcs) != 1 || len(cmd.Dsts) != 1) {
		return perr(-1, "Replacement rule does not specify a unique address")
	}
	if err := p.genericOptCheck(); err != nil {
		return err
	}
	if len(cmd.Chain) >= 29 {
		return perr(-1, "chain name `%s' too long (must be under %d chars)", cmd.Chain, 29)
	}
	if cmd.Op&(OpAppend|OpDelete|OpCheck|OpInsert|OpReplace) != 0 {
		if (cmd.Chain == "PREROUTING" || cmd.Chain == "INPUT") && p.opts&optViaOut != 0 {
			return perr(-1, "Can't use -%c with %s\n", 'o', cmd.Chain)
		}
		if (cmd.Chain == "POSTROUTING" || cmd.Chain == "OUTPUT") && p.opts&optViaIn != 0 {
			return perr(-1, "Can't use -%c with %s\n", 'i', cmd.Chain)
		}
		p.rule.Pos = p.o.Pos
		cmd.Rule = p.rule
		if cmd.Counters != nil {
			p.rule.Counters = *cmd.Counters
		}
	}
	return nil
}

// genericOptCheck is iptables' generic_opt_check: an option is illegal
// when no command given allows it.
func (p *parser) genericOptCheck() error {
	for i := 0; i < len(optChars); i++ {
		if p.opts&(1<<i) == 0 {
			continue
		}
		legal := 0
		for _, cv := range commandsVsOptions {
			if p.cmd.Op&cv.op == 0 {
				continue
			}
			if cv.row[i] != 'x' {
				legal = 1
			} else if legal == 0 {
				legal = -1
			}
		}
		if legal == -1 {
			c := optChars[i]
			if c == '0' {
				return perr(-1, "Illegal option `-0' with this command")
			}
			return perr(-1, "Illegal option `-%c' with this command", c)
		}
	}
	return nil
}

func anyAddr(f ruleset.Family) string {
	if f == ruleset.IPv6 {
		return "::/0"
	}
	return "0.0.0.0/0"
}

func checkChainName(idx int, name string) error {
	if len(name) >= 29 {
		return perr(idx, "chain name `%s' too long (must be under %d chars)", name, 29)
	}
	if strings.HasPrefix(name, "-") || strings.HasPrefix(name, "!") {
		return perr(idx, "chain name not allowed to start with `%c'", name[0])
	}
	if xt.LookupTarget(name, ruleset.IPv4) != nil || xt.LookupTarget(name, ruleset.IPv6) != nil || ruleset.IsVerdict(name) {
		return perr(idx, "chain name may not clash with target name")
	}
	if strings.ContainsAny(name, " \t\n\v\f\r") {
		return perr(idx, "Invalid chain name `%s'", name)
	}
	return nil
}

func checkTargetName(idx int, name string) error {
	if len(name) < 1 {
		return perr(idx, "Invalid target name (too short)")
	}
	if len(name) >= 29 {
		return perr(idx, "Invalid target name `%s' (%d chars max)", name, 28)
	}
	if strings.ContainsAny(name, " \t\n\v\f\r") {
		return perr(idx, "Invalid target name `%s'", name)
	}
	return nil
}

func isExtHdr(p uint8) bool {
	switch p {
	case 43, 44, 51, 60: // ip6tables 1.8.9: routing, fragment, ah, dstopts
		return true
	}
	return false
}

func lowestOp(o Op) Op { return o & -o }

// KernelMsg formats a kernel refusal as iptables-nft reports it.
func KernelMsg(op Op, errno, chain string) string {
	name := "RULE_APPEND"
	switch op {
	case OpInsert:
		name = "RULE_INSERT"
	case OpReplace:
		name = "RULE_REPLACE"
	case OpDelete:
		name = "RULE_DELETE"
	case OpCheck:
		name = "RULE_CHECK"
	}
	return " " + name + " failed (" + errno + "): rule in chain " + chain
}
