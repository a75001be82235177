package xt

import (
	"math"
	"strconv"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Statistic modes.
const (
	StatisticRandom uint16 = 0
	StatisticNth    uint16 = 1
)

// Statistic is the statistic match (-m statistic --mode random|nth ...),
// struct xt_statistic_info.
type Statistic struct {
	Mode   uint16
	Invert bool
	// Probability is, in random mode, the match probability times 2^31.
	Probability uint32
	// Every is, in nth mode, n-1 (the kernel's value); Packet the initial
	// counter.
	Every, Packet uint32
}

// statistic option ids, in the order of libxt_statistic's table.
const (
	stMode = iota
	stProbability
	stEvery
	stPacket
)

var statisticOpts = []string{"mode", "probability", "every", "packet"}

type statisticParser struct {
	m    Statistic
	u0   uint32 // the union: probability or every-1, whichever was written last
	seen uint32
}

func init() {
	Register(&Def{Name: "statistic", New: func() Parser { return &statisticParser{} },
		Options: []Option{
			{Name: "mode", Arg: ReqArg}, {Name: "probability", Arg: ReqArg, Invert: true},
			{Name: "every", Arg: ReqArg, Invert: true}, {Name: "packet", Arg: ReqArg},
		}})
}

// cStrtod parses the whole string as strtod does (leading blanks, decimal
// or hex floats, inf, nan).
func cStrtod(s string) (float64, bool) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	if t == "" || strings.ContainsRune(t, '_') {
		return 0, false
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return v, true
		}
		return 0, false
	}
	return v, true
}

// Parse implements Parser.
func (p *statisticParser) Parse(_ *Context, opt, arg string, inv bool) error {
	if inv {
		p.m.Invert = true
	}
	switch opt {
	case "mode":
		p.seen |= 1 << stMode
		switch arg {
		case "random":
			p.m.Mode = StatisticRandom
		case "nth":
			p.m.Mode = StatisticNth
		default:
			return Errorf("Bad mode \"%s\"", arg)
		}
	case "probability":
		v, ok := cStrtod(arg)
		if !ok || v < 0 || v > 1 {
			return Errorf("statistic: bad value for option \"--probability\", or out of range (0-1).\n")
		}
		p.seen |= 1 << stProbability
		if math.IsNaN(v) {
			p.u0 = 0
		} else {
			p.u0 = uint32(int64(math.Round(0x80000000 * v)))
		}
	case "every":
		v, err := x6Uint("statistic", opt, arg, 1, 1<<32-1)
		if err != nil {
			return err
		}
		p.seen |= 1 << stEvery
		p.u0 = uint32(v) - 1
	case "packet":
		v, err := x6Uint("statistic", opt, arg, 0, 1<<32-1)
		if err != nil {
			return err
		}
		p.seen |= 1 << stPacket
		p.m.Packet = uint32(v)
	}
	return nil
}

// Final implements Parser.
func (p *statisticParser) Final(*Context) (ruleset.Extension, error) {
	m := p.m
	if m.Mode == StatisticRandom && p.seen&(1<<stProbability) == 0 {
		return nil, Errorf("--probability must be specified when using random mode")
	}
	if m.Mode == StatisticNth && p.seen&(1<<stEvery|1<<stPacket) == 0 {
		return nil, Errorf("--every and --packet must be specified when using nth mode")
	}
	if m.Packet > p.u0 {
		return nil, Errorf("the --packet p must be 0 <= p <= n-1")
	}
	if p.seen&(1<<stMode) == 0 {
		return nil, Errorf("statistic: option \"--mode\" must be specified\n")
	}
	// The option table: --probability excludes --every and --packet,
	// which need each other.
	excl := map[int][]int{stProbability: {stEvery, stPacket}, stEvery: {stProbability}, stPacket: {stProbability}}
	also := map[int]int{stEvery: stPacket, stPacket: stEvery}
	for id := stProbability; id <= stPacket; id++ {
		if p.seen&(1<<id) == 0 {
			continue
		}
		for o := stMode; o <= stPacket; o++ {
			if a, ok := also[id]; ok && a == o && p.seen&(1<<o) == 0 {
				return nil, Errorf("statistic: option \"--%s\" also requires \"--%s\".\n", statisticOpts[id], statisticOpts[o])
			}
			for _, e := range excl[id] {
				if e == o && p.seen&(1<<o) != 0 {
					return nil, Errorf("statistic: option \"--%s\" cannot be used together with \"--%s\".\n", statisticOpts[id], statisticOpts[o])
				}
			}
		}
	}
	if m.Mode == StatisticRandom {
		m.Probability = p.u0
		m.Packet = 0
	} else {
		m.Every = p.u0
	}
	return &m, nil
}

// Name implements ruleset.Extension.
func (m *Statistic) Name() string { return "statistic" }

func (m *Statistic) write(b *strings.Builder, prefix string) {
	bang := ""
	if m.Invert {
		bang = " !"
	}
	if m.Mode == StatisticRandom {
		b.WriteString(" " + prefix + "mode random" + bang + " " + prefix + "probability " +
			strconv.FormatFloat(float64(m.Probability)/0x80000000, 'f', 11, 64))
		return
	}
	b.WriteString(" " + prefix + "mode nth" + bang + " " + prefix + "every " + Utoa(uint64(m.Every)+1))
	if m.Packet != 0 || prefix != "" {
		b.WriteString(" " + prefix + "packet " + Utoa(uint64(m.Packet)))
	}
}

// Save implements ruleset.Extension.
func (m *Statistic) Save(b *strings.Builder, _ ruleset.Fmt) { m.write(b, "--") }

// Print implements ruleset.Extension.
func (m *Statistic) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" statistic")
	m.write(b, "")
}

// statisticState is struct xt_statistic_priv: the nth counter.
type statisticState struct {
	count uint32
	ok    bool
}

func newStatisticState() any { return &statisticState{} }

// Match implements pkt.Matcher as xt_statistic's statistic_mt. nth mode is
// exact: the rule's counter starts at --packet, moves to 0 after every-1
// (Every) and otherwise counts up, and the rule matches when it becomes 0.
// random mode compares prandom_u32() & 0x7FFFFFFF with Probability, which
// no capture can repeat: it is decided only when the outcome is certain
// (probability 0 never, 1 always), else undecided.
func (m *Statistic) Match(c *pkt.Ctx) bool {
	if m.Mode == StatisticRandom {
		switch {
		case m.Probability == 0:
			return m.Invert
		case m.Probability >= 0x80000000:
			return !m.Invert
		}
		return c.Undecide("statistic: random mode draws a random number")
	}
	s := c.Store.Get(m, newStatisticState).(*statisticState)
	if !s.ok {
		s.count, s.ok = m.Packet, true
	}
	if s.count == m.Every {
		s.count = 0
	} else {
		s.count++
	}
	return (s.count == 0) != m.Invert
}
