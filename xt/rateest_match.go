package xt

import (
	"strconv"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// rateest match flags (XT_RATEEST_MATCH_*).
const (
	RateestInvert uint16 = 1 << iota
	RateestAbs
	RateestRel
	RateestDelta
	RateestBPS
	RateestPPS
)

// rateest modes (XT_RATEEST_MATCH_EQ/LT/GT; 0 none).
const (
	RateestEQ uint16 = 1 + iota
	RateestLT
	RateestGT
)

// Rateest is the rateest match: it compares the rates of one or two
// estimators (made by the RATEEST target) with each other or with given
// rates. BPS1/BPS2 are bytes per second.
type Rateest struct {
	Name1, Name2 string
	Flags, Mode  uint16
	BPS1, PPS1   uint32
	BPS2, PPS2   uint32
	given        uint32
}

// rateest option codes, as libxt_rateest's enum (the given bits).
const (
	reOpt1 = iota
	reOpt2
	reBPS1
	rePPS1
	reBPS2
	rePPS2
	reDelta
	reLT
	reGT
	reEQ
)

func init() {
	Register(&Def{Name: "rateest", Legacy: true, New: func() Parser { return &Rateest{} },
		Options: []Option{
			{Name: "rateest1", Arg: ReqArg, Invert: true, Multi: true},
			{Name: "rateest", Arg: ReqArg, Invert: true, Multi: true},
			{Name: "rateest2", Arg: ReqArg, Invert: true, Multi: true},
			{Name: "rateest-bps1", Invert: true, Multi: true},
			{Name: "rateest-pps1", Invert: true, Multi: true},
			{Name: "rateest-bps2", Invert: true, Multi: true},
			{Name: "rateest-pps2", Invert: true, Multi: true},
			{Name: "rateest-bps", Invert: true, Multi: true},
			{Name: "rateest-pps", Invert: true, Multi: true},
			{Name: "rateest-delta", Invert: true, Multi: true},
			{Name: "rateest-lt", Invert: true, Multi: true},
			{Name: "rateest-gt", Invert: true, Multi: true},
			{Name: "rateest-eq", Invert: true, Multi: true},
		}})
}

// Name implements ruleset.Extension.
func (m *Rateest) Name() string { return "rateest" }

// rateSuffixes is libxt_rateest's (iproute's) table, in its order.
var rateSuffixes = []struct {
	name  string
	scale float64
}{
	{"bit", 1}, {"Kibit", 1024}, {"kbit", 1000}, {"Mibit", 1024 * 1024}, {"mbit", 1000000},
	{"Gibit", 1024 * 1024 * 1024}, {"gbit", 1000000000}, {"Tibit", 1024 * 1024 * 1024 * 1024},
	{"tbit", 1000000000000}, {"Bps", 8}, {"KiBps", 8 * 1024}, {"KBps", 8000},
	{"MiBps", 8 * 1024 * 1024}, {"MBps", 8000000}, {"GiBps", 8 * 1024 * 1024 * 1024},
	{"GBps", 8000000000}, {"TiBps", 8 * 1024 * 1024 * 1024 * 1024}, {"TBps", 8000000000000},
}

// strtodPrefix reads the longest decimal floating-point prefix of s as
// strtod does (leading white space, sign, digits, point, exponent).
func strtodPrefix(s string) (float64, string, bool) {
	i := 0
	for i < len(s) && isSpaceC(s[i]) {
		i++
	}
	start := i
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, s, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && s[j] >= '0' && s[j] <= '9' {
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			i = j
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(s[start:i], "."), 64)
	if err != nil && v == 0 {
		return 0, s, false
	}
	return v, s[i:], true
}

// rateestGetRate is rateest_get_rate: a number with an optional rate
// suffix (bytes per second without one), stored as bytes per second.
func rateestGetRate(s string) (uint32, bool) {
	bps, rest, ok := strtodPrefix(s)
	if !ok {
		return 0, false
	}
	if rest == "" {
		return uint32(bps / 8), true
	}
	for _, sf := range rateSuffixes {
		if strings.EqualFold(sf.name, rest) {
			return uint32(bps * sf.scale / 8), true
		}
	}
	return 0, false
}

// Parse implements Parser, as rateest_parse does.
func (m *Rateest) Parse(ctx *Context, opt, arg string, inv bool) error {
	code := map[string]int{"rateest1": reOpt1, "rateest": reOpt1, "rateest2": reOpt2,
		"rateest-bps1": reBPS1, "rateest-pps1": rePPS1, "rateest-bps2": reBPS2, "rateest-pps2": rePPS2,
		"rateest-bps": reBPS2, "rateest-pps": rePPS2, "rateest-delta": reDelta,
		"rateest-lt": reLT, "rateest-gt": reGT, "rateest-eq": reEQ}[opt]
	once := func(what string) error {
		if m.given&(1<<code) != 0 {
			return Errorf("rateest: can't specify %s twice", what)
		}
		m.given |= 1 << code
		return nil
	}
	noInv := func(what string) error {
		if inv {
			return Errorf("rateest: %s can't be inverted", what)
		}
		return nil
	}
	switch code {
	case reOpt1, reOpt2:
		if err := noInv("rateest"); err != nil {
			return err
		}
		name := "--rateest1"
		if code == reOpt2 {
			name = "--rateest2"
		}
		if err := once(name); err != nil {
			return err
		}
		if len(arg) > 15 {
			arg = arg[:15]
		}
		if code == reOpt1 {
			m.Name1 = arg
		} else {
			m.Name2 = arg
			m.Flags |= RateestRel
		}
	case reBPS1, reBPS2:
		if err := noInv("rateest-bps"); err != nil {
			return err
		}
		name := "--rateest-bps1"
		if code == reBPS2 {
			name = "--rateest-bps2"
		}
		if err := once(name); err != nil {
			return err
		}
		m.Flags |= RateestBPS
		if ctx.Next == nil {
			return nil
		}
		a, ok := ctx.Next()
		if !ok {
			return nil
		}
		r, ok := rateestGetRate(a)
		if !ok {
			return Errorf("rateest: could not parse rate `%s'", a)
		}
		if code == reBPS1 {
			m.BPS1 = r
		} else {
			m.BPS2 = r
		}
	case rePPS1, rePPS2:
		if err := noInv("rateest-pps"); err != nil {
			return err
		}
		name := "--rateest-pps1"
		if code == rePPS2 {
			name = "--rateest-pps2"
		}
		if err := once(name); err != nil {
			return err
		}
		m.Flags |= RateestPPS
		if ctx.Next == nil {
			return nil
		}
		a, ok := ctx.Next()
		if !ok {
			return nil
		}
		v, rest, ok := StrtoulX(a)
		if !ok || rest != "" || v > 0xFFFFFFFF {
			return Errorf("rateest: could not parse pps `%s'", a)
		}
		if code == rePPS1 {
			m.PPS1 = uint32(v)
		} else {
			m.PPS2 = uint32(v)
		}
	case reDelta:
		if err := noInv("rateest-delta"); err != nil {
			return err
		}
		if err := once("--rateest-delta"); err != nil {
			return err
		}
		m.Flags |= RateestDelta
	case reLT, reGT, reEQ:
		if err := once("lt/gt/eq"); err != nil {
			return err
		}
		m.Mode = map[int]uint16{reLT: RateestLT, reGT: RateestGT, reEQ: RateestEQ}[code]
		if inv {
			m.Flags |= RateestInvert
		}
	}
	return nil
}

// Final implements Parser: rateest_final_check, then the kernel's
// xt_rateest_mt_checkentry checks of the flags and mode. The kernel
// also refuses estimator names no RATEEST rule has created (ENOENT);
// rampart does not model estimators and accepts them.
func (m *Rateest) Final(*Context) (ruleset.Extension, error) {
	if m.Flags&RateestRel == 0 {
		m.Flags |= RateestAbs
	}
	if m.Flags&(RateestBPS|RateestPPS) == 0 || m.Mode == 0 || m.Mode > RateestGT {
		return nil, KernelInval()
	}
	return m, nil
}

// rateestRate is rateest_print_rate.
func rateestRate(b *strings.Builder, rate uint32, numeric bool) {
	tmp := float64(rate) * 8
	switch {
	case numeric:
		b.WriteString(" " + Utoa(uint64(rate)))
	case tmp >= 1000.0*1000000.0:
		b.WriteString(" " + strconv.FormatFloat(tmp/1000000.0, 'f', 0, 64) + "Mbit")
	case tmp >= 1000.0*1000.0:
		b.WriteString(" " + strconv.FormatFloat(tmp/1000.0, 'f', 0, 64) + "Kbit")
	default:
		b.WriteString(" " + strconv.FormatFloat(tmp, 'f', 0, 64) + "bit")
	}
}

func (m *Rateest) mode(b *strings.Builder, prefix string) {
	if m.Flags&RateestInvert != 0 {
		b.WriteString(" !")
	}
	switch m.Mode {
	case RateestEQ:
		b.WriteString(" " + prefix + "eq")
	case RateestLT:
		b.WriteString(" " + prefix + "lt")
	case RateestGT:
		b.WriteString(" " + prefix + "gt")
	}
}

// Print implements ruleset.Extension (rateest_print).
func (m *Rateest) Print(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(" rateest match " + m.Name1)
	delta := m.Flags&RateestDelta != 0
	if delta {
		b.WriteString(" delta")
	}
	if m.Flags&RateestBPS != 0 {
		b.WriteString(" bps")
		if delta {
			rateestRate(b, m.BPS1, f.Numeric)
		}
		if m.Flags&RateestAbs != 0 {
			rateestRate(b, m.BPS2, f.Numeric)
			m.mode(b, "")
		}
	}
	if m.Flags&RateestPPS != 0 {
		b.WriteString(" pps")
		if delta {
			b.WriteString(" " + Utoa(uint64(m.PPS1)))
		}
		if m.Flags&RateestAbs != 0 {
			m.mode(b, "")
			b.WriteString(" " + Utoa(uint64(m.PPS2)))
		}
	}
	if m.Flags&RateestRel != 0 {
		m.mode(b, "")
		b.WriteString(" " + m.Name2)
		if m.Flags&RateestBPS != 0 {
			b.WriteString(" bps")
			if delta {
				rateestRate(b, m.BPS2, f.Numeric)
			}
		}
		if m.Flags&RateestPPS != 0 {
			b.WriteString(" pps")
			if delta {
				b.WriteString(" " + Utoa(uint64(m.PPS2)))
			}
		}
	}
}

func (m *Rateest) saveRate(b *strings.Builder, name string, r1, r2 uint32, numeric bool) {
	if m.Flags&RateestDelta != 0 {
		b.WriteString(" --rateest-" + name + "1")
		rateestRate(b, r1, numeric)
		m.mode(b, "--rateest-")
		b.WriteString(" --rateest-" + name + "2")
	} else {
		m.mode(b, "--rateest-")
		b.WriteString(" --rateest-" + name)
	}
	if m.Flags&(RateestAbs|RateestDelta) != 0 {
		rateestRate(b, r2, numeric)
	}
}

// Save implements ruleset.Extension (rateest_save).
func (m *Rateest) Save(b *strings.Builder, _ ruleset.Fmt) {
	if m.Flags&RateestDelta != 0 {
		b.WriteString(" --rateest-delta")
	}
	if m.Flags&RateestRel != 0 {
		b.WriteString(" --rateest1 " + m.Name1)
	} else {
		b.WriteString(" --rateest " + m.Name1)
	}
	if m.Flags&RateestBPS != 0 {
		m.saveRate(b, "bps", m.BPS1, m.BPS2, false)
	}
	if m.Flags&RateestPPS != 0 {
		m.saveRate(b, "pps", m.PPS1, m.PPS2, true)
	}
	if m.Flags&RateestRel != 0 {
		b.WriteString(" --rateest2 " + m.Name2)
	}
}

// Match implements pkt.Matcher: xt_rateest_mt compares the estimators'
// current rates, kernel state (gen_estimator) a capture lacks.
func (m *Rateest) Match(c *pkt.Ctx) bool {
	return c.Undecide("rateest: the rate estimators' rates are unknown")
}
