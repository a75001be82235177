package xt

import (
	"strings"
	"time"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Defaults of the time match (xt_time.h).
const (
	TimeAllMonthdays uint32 = 0xFFFFFFFE
	TimeAllWeekdays  uint8  = 0xFE
	TimeMaxDaytime   uint32 = 24*60*60 - 1
	timeDateMax      uint32 = 1<<31 - 1 // INT_MAX: no end date
)

var weekDays = []string{"", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

// Time is the time match: daytime window, week and month days, date range
// (seconds since the epoch, UTC), kernel timezone and contiguous flags.
type Time struct {
	DateStart, DateStop       uint32
	DaytimeStart, DaytimeStop uint32 // seconds since midnight
	Monthdays                 uint32 // bit n: day n
	Weekdays                  uint8  // bit n: Mon=1 ... Sun=7
	KernelTZ                  bool
	Contiguous                bool

	utc, localtz bool
}

func init() {
	Register(&Def{Name: "time", New: func() Parser {
		return &Time{DateStop: timeDateMax, DaytimeStop: TimeMaxDaytime, Monthdays: TimeAllMonthdays, Weekdays: TimeAllWeekdays}
	},
		Options: []Option{
			{Name: "datestart", Arg: ReqArg}, {Name: "datestop", Arg: ReqArg},
			{Name: "timestart", Arg: ReqArg}, {Name: "timestop", Arg: ReqArg},
			{Name: "contiguous"},
			{Name: "weekdays", Arg: ReqArg, Invert: true},
			{Name: "monthdays", Arg: ReqArg, Invert: true},
			{Name: "localtz"}, {Name: "utc"}, {Name: "kerneltz"},
		}})
}

// Name implements ruleset.Extension.
func (m *Time) Name() string { return "time" }

// strtoul10 reads leading decimal digits as strtoul(s, &e, 10) does
// (no digits: 0 and the whole string left).
func strtoul10(s string) (uint64, string) {
	i := 0
	var v uint64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if v < 1<<60 {
			v = v*10 + uint64(s[i]-'0')
		}
		i++
	}
	return v, s[i:]
}

// parseTimeDate is time_parse_date: YYYY[-MM[-DD[Thh[:mm[:ss]]]]] in UTC,
// normalized as mktime does.
func parseTimeDate(os string) (uint32, error) {
	bad := Errorf("Invalid date \"%s\" specified. Should be YYYY[-MM[-DD[Thh[:mm[:ss]]]]]", os)
	vals := []uint64{0, 1, 1, 0, 0, 0}
	seps := []byte{'-', '-', 'T', ':', ':', 0}
	limits := []uint64{2038, 12, 31, 23, 59, 59}
	s := os
	for i := 0; i < 6; i++ {
		v, e := strtoul10(s)
		if e != "" && (seps[i] == 0 || e[0] != seps[i]) || v > limits[i] || i == 0 && v < 1970 {
			return 0, bad
		}
		vals[i] = v
		if e == "" {
			break
		}
		s = e[1:]
	}
	t := time.Date(int(vals[0]), time.Month(vals[1]), int(vals[2]), int(vals[3]), int(vals[4]), int(vals[5]), 0, time.UTC)
	u := t.Unix()
	if u < 0 {
		return 0, Errorf("mktime returned an error")
	}
	return uint32(u), nil
}

// parseTimeMinutes is time_parse_minutes: hh:mm[:ss]; the error names the
// part being read when it failed.
func parseTimeMinutes(s string) (uint32, error) {
	bad := func(part string) error {
		return Errorf("invalid time \"%s\" specified, should be hh:mm[:ss] format and within the boundaries", part)
	}
	h, e := strtoul10(s)
	if e == "" || e[0] != ':' || h > 23 {
		return 0, bad(s)
	}
	s = e[1:]
	mi, e := strtoul10(s)
	if e != "" && e[0] != ':' || mi > 59 {
		return 0, bad(s)
	}
	var sec uint64
	if e != "" {
		s = e[1:]
		sec, e = strtoul10(s)
		if e != "" || sec > 59 {
			return 0, bad(s)
		}
	}
	return uint32(h*3600 + mi*60 + sec), nil
}

// timeSegments splits a day list as my_strseg does: at most max-1 bytes of
// each comma-separated part, stopping at the end of the string.
func timeSegments(s string, max int) []string {
	var out []string
	for s != "" {
		part, rest, found := strings.Cut(s, ",")
		if len(part) > max-1 {
			part = part[:max-1]
		}
		out = append(out, part)
		if !found {
			break
		}
		s = rest
	}
	return out
}

// Parse implements Parser.
func (m *Time) Parse(ctx *Context, opt, arg string, inv bool) error {
	var err error
	switch opt {
	case "datestart":
		m.DateStart, err = parseTimeDate(arg)
	case "datestop":
		m.DateStop, err = parseTimeDate(arg)
	case "timestart":
		m.DaytimeStart, err = parseTimeMinutes(arg)
	case "timestop":
		m.DaytimeStop, err = parseTimeMinutes(arg)
	case "contiguous":
		m.Contiguous = true
	case "localtz":
		if ctx.Warn != nil {
			ctx.Warn("WARNING: --localtz is being replaced by --kerneltz, since \"local\" is ambiguous. Note the kernel timezone has caveats - see manpage for details.")
		}
		m.localtz, m.KernelTZ = true, true
	case "kerneltz":
		m.KernelTZ = true
	case "utc":
		m.utc = true
	case "monthdays":
		var v uint32
		for _, d := range timeSegments(arg, 3) {
			n, rest, ok := ParseUintPrefix(d)
			if !ok {
				n, rest = 0, d
			}
			if rest != "" || n > 31 {
				return Errorf("%s is not a valid day for --monthdays", d)
			}
			v |= 1 << n
		}
		if inv {
			v ^= TimeAllMonthdays
		}
		m.Monthdays = v
	case "weekdays":
		var v uint32
		for _, d := range timeSegments(arg, 4) {
			if n, rest, ok := ParseUintPrefix(d); ok && rest == "" || d == "" {
				if n == 0 {
					return Errorf("No, the week does NOT begin with Sunday.")
				}
				if n < 32 {
					v |= 1 << n
				}
				continue
			}
			valid := false
			for i := 1; i < len(weekDays); i++ {
				if len(d) >= 2 && d[:2] == weekDays[i][:2] {
					v |= 1 << uint(i)
					valid = true
				}
			}
			if !valid {
				return Errorf("%s is not a valid day specifier", d)
			}
		}
		w := uint8(v)
		if inv {
			w ^= TimeAllWeekdays
		}
		m.Weekdays = w
	}
	return err
}

// Final implements Parser.
func (m *Time) Final(*Context) (ruleset.Extension, error) {
	if m.Contiguous && m.DaytimeStart < m.DaytimeStop {
		return nil, Errorf("time: --contiguous only makes sense when stoptime is smaller than starttime")
	}
	if m.localtz && m.utc {
		return nil, Errorf("time: option \"--localtz\" cannot be used together with \"--utc\".\n")
	}
	if m.utc && m.KernelTZ {
		return nil, Errorf("time: option \"--utc\" cannot be used together with \"--kerneltz\".\n")
	}
	return m, nil
}

func hms(v uint32) string {
	two := func(n uint32) string {
		return string([]byte{byte('0' + n/10), byte('0' + n%10)})
	}
	return two(v/3600) + ":" + two(v/60%60) + ":" + two(v%60)
}

func timeDate(v uint32, sep string) string {
	t := time.Unix(int64(v), 0).UTC()
	return t.Format("2006-01-02") + sep + t.Format("15:04:05")
}

func (m *Time) monthdays(human bool) string {
	var parts []string
	for i := 1; i <= 31; i++ {
		if m.Monthdays&(1<<uint(i)) == 0 {
			continue
		}
		s := Utoa(uint64(i))
		if human {
			switch i % 10 {
			case 1:
				s += "st"
			case 2:
				s += "nd"
			case 3:
				s += "rd"
			default:
				s += "th"
			}
		}
		parts = append(parts, s)
	}
	return " " + strings.Join(parts, ",")
}

func (m *Time) weekdays() string {
	var parts []string
	for i := 1; i <= 7; i++ {
		if m.Weekdays&(1<<uint(i)) != 0 {
			parts = append(parts, weekDays[i])
		}
	}
	return " " + strings.Join(parts, ",")
}

// Save implements ruleset.Extension.
func (m *Time) Save(b *strings.Builder, _ ruleset.Fmt) {
	if m.DaytimeStart != 0 || m.DaytimeStop != TimeMaxDaytime {
		b.WriteString(" --timestart " + hms(m.DaytimeStart) + " --timestop " + hms(m.DaytimeStop))
	}
	if m.Monthdays != TimeAllMonthdays {
		b.WriteString(" --monthdays" + m.monthdays(false))
	}
	if m.Weekdays != TimeAllWeekdays {
		b.WriteString(" --weekdays" + m.weekdays())
	}
	if m.DateStart != 0 {
		b.WriteString(" --datestart " + timeDate(m.DateStart, "T"))
	}
	if m.DateStop != 0 {
		b.WriteString(" --datestop " + timeDate(m.DateStop, "T"))
	}
	if m.KernelTZ {
		b.WriteString(" --kerneltz")
	}
	if m.Contiguous {
		b.WriteString(" --contiguous")
	}
}

// Print implements ruleset.Extension.
func (m *Time) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" TIME")
	if m.DaytimeStart != 0 || m.DaytimeStop != TimeMaxDaytime {
		b.WriteString(" from " + hms(m.DaytimeStart) + " to " + hms(m.DaytimeStop))
	}
	if m.Weekdays != TimeAllWeekdays {
		b.WriteString(" on" + m.weekdays())
	}
	if m.Monthdays != TimeAllMonthdays {
		b.WriteString(" on" + m.monthdays(true))
	}
	if m.DateStart != 0 {
		b.WriteString(" starting from " + timeDate(m.DateStart, " "))
	}
	if m.DateStop != timeDateMax {
		b.WriteString(" until date")
		if m.DateStop != 0 {
			b.WriteString(" " + timeDate(m.DateStop, " "))
		}
	}
	if !m.KernelTZ {
		b.WriteString(" UTC")
	}
	if m.Contiguous {
		b.WriteString(" contiguous")
	}
}

// TimeKernelMinutesWest is the kernel's sys_tz.tz_minuteswest, which
// --kerneltz (and --localtz) rules apply: a fixed offset set by
// settimeofday (systemd leaves it 0 unless the RTC keeps local time; the
// kernel never follows DST changes). It is not c.Now's location.
var TimeKernelMinutesWest int64

// timeDaysSinceEpoch is xt_time's days_since_epoch: day number of 1 Jan of
// the years 2039 down to 1970.
var timeDaysSinceEpoch = func() (t [70]uint32) {
	for i := range t {
		y := 2039 - i
		t[i] = uint32(time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	}
	return
}()

var (
	timeDaysSinceYear     = [12]uint32{0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334}
	timeDaysSinceLeapYear = [12]uint32{0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335}
)

// timeMonthday is xt_time's localtime_3: the day of the month of day dse,
// with the kernel's table (from 2039 on, the arithmetic goes on from 2039
// as the kernel's does; the result is a u8).
func timeMonthday(dse uint32) uint8 {
	i, year := 0, 2039
	for ; i < len(timeDaysSinceEpoch)-1 && timeDaysSinceEpoch[i] > dse; i, year = i+1, year-1 {
	}
	w := dse - timeDaysSinceEpoch[i]
	tbl := &timeDaysSinceYear
	if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		tbl = &timeDaysSinceLeapYear
	}
	j := len(tbl) - 1
	for ; j > 0 && tbl[j] > w; j-- {
	}
	return uint8(w - tbl[j] + 1)
}

// Match implements pkt.Matcher as xt_time's time_mt does, with c.Now as
// the kernel's ktime_get_real_seconds (the kernel uses the time the rule is
// evaluated, not the packet's timestamp; the capture time stands for it).
// All fields are UTC unless --kerneltz, which shifts the clock by the
// kernel's fixed timezone (TimeKernelMinutesWest) - never by DST or the
// host's zone. A daytime window that wraps midnight matches on either
// side; with --contiguous the early-morning part counts as the previous
// day for the week and month days.
func (m *Time) Match(c *pkt.Ctx) bool {
	stamp := c.Now.Unix()
	if m.KernelTZ {
		stamp -= 60 * TimeKernelMinutesWest
	}
	if stamp < int64(m.DateStart) || stamp > int64(m.DateStop) {
		return false
	}
	packetTime := uint32(uint64(stamp) % 86400)
	if m.DaytimeStart < m.DaytimeStop {
		if packetTime < m.DaytimeStart || packetTime > m.DaytimeStop {
			return false
		}
	} else {
		if packetTime < m.DaytimeStart && packetTime > m.DaytimeStop {
			return false
		}
		if m.Contiguous && packetTime <= m.DaytimeStop {
			stamp -= 86400
		}
	}
	dse := uint32(uint64(stamp) / 86400)
	weekday := (4+dse-1)%7 + 1
	if m.Weekdays&(1<<weekday) == 0 {
		return false
	}
	if m.Monthdays != TimeAllMonthdays {
		// C's 1 << monthday on x86 uses the count modulo 32.
		if m.Monthdays&(1<<(timeMonthday(dse)&31)) == 0 {
			return false
		}
	}
	return true
}
