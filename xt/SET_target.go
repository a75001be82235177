package xt

import (
	"strconv"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// SET target flags (IPSET_FLAG_*).
const (
	SetTgExist    uint32 = 1 << 6
	SetTgMapMark  uint32 = 1 << 7
	SetTgMapPrio  uint32 = 1 << 8
	SetTgMapQueue uint32 = 1 << 9
)

// SetTargetRef is one set of the SET target: its name and, per dimension,
// whether the source (true) or destination (false) is used.
type SetTargetRef struct {
	Name string
	Dirs []bool
}

// SetTarget is the SET target (revision 3): add to, delete from or map
// from ipsets. As with the set match (set.go), rampart knows no kernel
// sets: any set name is accepted and kept.
type SetTarget struct {
	Add, Del, Map SetTargetRef
	Flags         uint32
	Timeout       uint32 // 0xFFFFFFFF: none given

	seen map[string]bool
}

func init() {
	Register(&Def{Name: "SET", Target: true, Legacy: true,
		Options: []Option{
			{Name: "add-set", Arg: ReqArg, Invert: true}, {Name: "del-set", Arg: ReqArg, Invert: true},
			{Name: "exist", Invert: true}, {Name: "timeout", Arg: ReqArg, Invert: true},
			{Name: "map-set", Arg: ReqArg, Invert: true}, {Name: "map-mark", Invert: true},
			{Name: "map-prio", Invert: true}, {Name: "map-queue", Invert: true},
		},
		New: func() Parser { return &SetTarget{Timeout: 0xFFFFFFFF, seen: map[string]bool{}} }})
}

// Name implements ruleset.Extension.
func (t *SetTarget) Name() string { return "SET" }

// setTgParse is libxt_set's parse_target: NAME DIRS (two arguments).
// (The "spefify" typo is the real tool's.)
func setTgParse(ctx *Context, ref *SetTargetRef, what, name string) error {
	if len(ref.Dirs) > 0 {
		return Errorf("--%s can be specified only once", what)
	}
	dirs, ok := ctx.Next()
	if !ok {
		return Errorf("--%s requires two args.", what)
	}
	if len(name) > 31 {
		return Errorf("setname `%s' too long, max %d characters.", name, 31)
	}
	ref.Name = name
	parts := strings.Split(dirs, ",")
	for i, p := range parts {
		if i == 6 {
			return Errorf("Can't be more src/dst options than %d.", 6)
		}
		switch {
		case strings.HasPrefix(p, "src"):
			ref.Dirs = append(ref.Dirs, true)
		case strings.HasPrefix(p, "dst"):
			ref.Dirs = append(ref.Dirs, false)
		default:
			return Errorf("You must spefify (the comma separated list of) 'src' or 'dst'.")
		}
	}
	return nil
}

// Parse implements Parser.
func (t *SetTarget) Parse(ctx *Context, opt, arg string, _ bool) error {
	t.seen[opt] = true
	switch opt {
	case "add-set":
		return setTgParse(ctx, &t.Add, opt, arg)
	case "del-set":
		return setTgParse(ctx, &t.Del, opt, arg)
	case "map-set":
		return setTgParse(ctx, &t.Map, opt, arg)
	case "exist":
		t.Flags |= SetTgExist
	case "timeout":
		v, rest, ok := tgStrtoul(arg)
		if !ok || rest != "" || v > 0xFFFFFFFE {
			return Errorf("Invalid value for option --timeout or out of range 0-%d", uint32(0xFFFFFFFE))
		}
		t.Timeout = uint32(v)
	case "map-mark":
		t.Flags |= SetTgMapMark
	case "map-prio":
		t.Flags |= SetTgMapPrio
	case "map-queue":
		t.Flags |= SetTgMapQueue
	}
	return nil
}

// Final implements Parser.
func (t *SetTarget) Final(*Context) (ruleset.Extension, error) {
	s := t.seen
	switch {
	case !s["add-set"] && !s["del-set"] && !s["map-set"]:
		return nil, Errorf("You must specify either `--add-set' or `--del-set' or `--map-set'")
	case !s["add-set"] && s["exist"]:
		return nil, Errorf("Flag `--exist' can be used with `--add-set' only")
	case !s["add-set"] && s["timeout"]:
		return nil, Errorf("Option `--timeout' can be used with `--add-set' only")
	case !s["map-set"] && s["map-mark"]:
		return nil, Errorf("Flag `--map-mark' can be used with `--map-set' only")
	case !s["map-set"] && s["map-prio"]:
		return nil, Errorf("Flag `--map-prio' can be used with `--map-set' only")
	case !s["map-set"] && s["map-queue"]:
		return nil, Errorf("Flag `--map-queue' can be used with `--map-set' only")
	case s["map-set"] && !s["map-mark"] && !s["map-prio"] && !s["map-queue"]:
		return nil, Errorf("You must specify flags `--map-mark' or '--map-prio` or `--map-queue'")
	}
	return t, nil
}

func setTgWriteRef(b *strings.Builder, prefix string, r SetTargetRef) {
	if len(r.Dirs) == 0 {
		return
	}
	b.WriteString(" " + prefix + " " + r.Name)
	for i, src := range r.Dirs {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteByte(',')
		}
		if src {
			b.WriteString("src")
		} else {
			b.WriteString("dst")
		}
	}
}

func (t *SetTarget) write(b *strings.Builder, pfx string) {
	setTgWriteRef(b, pfx+"add-set", t.Add)
	if t.Flags&SetTgExist != 0 {
		b.WriteString(" " + pfx + "exist")
	}
	if t.Timeout != 0xFFFFFFFF {
		b.WriteString(" " + pfx + "timeout " + strconv.FormatUint(uint64(t.Timeout), 10))
	}
	setTgWriteRef(b, pfx+"del-set", t.Del)
	setTgWriteRef(b, pfx+"map-set", t.Map)
	for _, f := range []struct {
		bit  uint32
		name string
	}{{SetTgMapMark, "map-mark"}, {SetTgMapPrio, "map-prio"}, {SetTgMapQueue, "map-queue"}} {
		if t.Flags&f.bit != 0 {
			b.WriteString(" " + pfx + f.name)
		}
	}
}

// Save implements ruleset.Extension.
func (t *SetTarget) Save(b *strings.Builder, _ ruleset.Fmt) { t.write(b, "--") }

// Print implements ruleset.Extension.
func (t *SetTarget) Print(b *strings.Builder, _ ruleset.Fmt) { t.write(b, "") }

// SetTargetFacts is implemented by a pkt.Facts that keeps ipset contents:
// ApplySetTarget does what xt_set's set_target_v3 does for the packet
// (ip_set_add with --exist and --timeout, ip_set_del, and for --map-set
// the skbinfo extensions: c.Mark from --map-mark, priority and queue
// mapping) and reports false when it cannot.
type SetTargetFacts interface {
	ApplySetTarget(c *pkt.Ctx, t *SetTarget) bool
}

// Act implements pkt.Actor: the SET target changes ipsets that later set
// matches see (and with --map-set the mark), which only c.Facts can model;
// without it the packet is undecided. The verdict is always XT_CONTINUE.
func (t *SetTarget) Act(c *pkt.Ctx) pkt.Verdict {
	if f, ok := c.Facts.(SetTargetFacts); ok && f.ApplySetTarget(c, t) {
		return pkt.Continue
	}
	c.Undecide("SET: ipset contents are unknown")
	return pkt.Continue
}
