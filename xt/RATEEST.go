package xt

import (
	"math"
	"strconv"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// RateEst is the RATEEST target: feed the packet into the named rate
// estimator. Interval and EWMA are kept as the kernel keeps them: the
// interval as a power of two of 1s (-2..3) and the EWMA log.
type RateEst struct {
	Est      string // at most 15 bytes (IFNAMSIZ)
	Interval int8
	EWMALog  uint8
	ival, ew uint32 // given values in µs (parse time)
}

func init() {
	Register(&Def{Name: "RATEEST", Target: true, New: func() Parser { return &RateEst{} },
		Options: []Option{{Name: "rateest-name", Arg: ReqArg}, {Name: "rateest-interval", Arg: ReqArg},
			{Name: "rateest-ewmalog", Arg: ReqArg}}})
}

// Name implements ruleset.Extension.
func (t *RateEst) Name() string { return "RATEEST" }

// rateestTime parses a time as RATEEST_get_time: a strtod number with an
// optional unit (s, sec, secs, ms, msec, msecs, us, usec, usecs; none: µs).
func rateestTime(s string) (uint32, bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] >= '\t' && s[i] <= '\r') {
		i++
	}
	j := i
	if j < len(s) && (s[j] == '+' || s[j] == '-') {
		j++
	}
	d0 := j
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j < len(s) && s[j] == '.' {
		j++
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
	}
	if j == d0 || s[d0:j] == "." {
		return 0, false
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k < len(s) && s[k] >= '0' && s[k] <= '9' {
			for k < len(s) && s[k] >= '0' && s[k] <= '9' {
				k++
			}
			j = k
		}
	}
	v, err := strconv.ParseFloat(s[i:j], 64)
	if err != nil && !math.IsInf(v, 0) {
		return 0, false
	}
	mul := 1.0
	switch strings.ToLower(s[j:]) {
	case "":
	case "s", "sec", "secs":
		mul = 1e6
	case "ms", "msec", "msecs":
		mul = 1e3
	case "us", "usec", "usecs":
	default:
		return 0, false
	}
	return uint32(int64(v * mul)), true
}

// Parse implements Parser.
func (t *RateEst) Parse(_ *Context, opt, arg string, _ bool) error {
	switch opt {
	case "rateest-name":
		if len(arg) > 15 {
			arg = arg[:15]
		}
		t.Est = arg
	case "rateest-interval":
		v, ok := rateestTime(arg)
		if !ok {
			return Errorf("RATEEST: bad interval value \"%s\"", arg)
		}
		t.ival = v
	case "rateest-ewmalog":
		v, ok := rateestTime(arg)
		if !ok {
			return Errorf("RATEEST: bad ewmalog value \"%s\"", arg)
		}
		t.ew = v
	}
	return nil
}

// Final implements Parser (RATEEST_final_check).
func (t *RateEst) Final(*Context) (ruleset.Extension, error) {
	if t.Est == "" {
		return nil, Errorf("RATEEST: option \"--rateest-name\" must be specified\n")
	}
	iv := 0
	for ; iv <= 5; iv++ {
		if uint64(t.ival) <= uint64(1<<uint(iv))*250000 {
			break
		}
	}
	if iv > 5 {
		return nil, Errorf("RATEEST: interval value is too large")
	}
	t.Interval = int8(iv - 2)
	l := 1
	for ; l < 32; l++ {
		w := 1.0 - 1.0/float64(uint64(1)<<uint(l))
		if float64(t.ival)/(-math.Log(w)) > float64(t.ew) {
			break
		}
	}
	l--
	if l == 0 || l >= 31 {
		return nil, Errorf("RATEEST: ewmalog value is out of range")
	}
	t.EWMALog = uint8(l)
	return t, nil
}

func rateestPrintTime(b *strings.Builder, v uint32) {
	f := float64(v)
	switch {
	case f >= 1e6:
		b.WriteString(" " + strconv.FormatFloat(f/1e6, 'f', 1, 64) + "s")
	case f >= 1e3:
		b.WriteString(" " + strconv.FormatFloat(f/1e3, 'f', 1, 64) + "ms")
	default:
		b.WriteString(" " + Utoa(uint64(v)) + "us")
	}
}

func (t *RateEst) write(b *strings.Builder, pfx string) {
	ival := uint32((uint64(1000000) << uint(int(t.Interval)+2)) / 4)
	b.WriteString(" " + pfx + "name " + t.Est + " " + pfx + "interval")
	rateestPrintTime(b, ival)
	b.WriteString(" " + pfx + "ewmalog")
	rateestPrintTime(b, ival*(uint32(1)<<t.EWMALog))
}

// Save implements ruleset.Extension.
func (t *RateEst) Save(b *strings.Builder, _ ruleset.Fmt) { t.write(b, "--rateest-") }

// Print implements ruleset.Extension.
func (t *RateEst) Print(b *strings.Builder, _ ruleset.Fmt) { t.write(b, "") }

// Act implements pkt.Actor: the kernel adds the packet to the named
// estimator's byte and packet counts and goes on. Estimators (read by the
// rateest match) are not modelled: pkt.Continue.
func (t *RateEst) Act(*pkt.Ctx) pkt.Verdict { return pkt.Continue }
