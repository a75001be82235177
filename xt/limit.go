package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// LimitScale is XT_LIMIT_SCALE: the limit match keeps its average as the
// interval between packets in 1/10000 s.
const LimitScale = 10000

// limitRates are the units print_rate chooses from, in scale units.
var limitRates = []struct {
	name string
	mult uint32
}{{"day", LimitScale * 24 * 60 * 60}, {"hour", LimitScale * 60 * 60}, {"min", LimitScale * 60}, {"sec", LimitScale}}

// Limit is the limit match (-m limit --limit RATE --limit-burst N).
// iptables-nft turns it into a native nftables limit expression; the values
// kept here are those it reads back.
type Limit struct {
	// Avg is the average interval between packets in 1/LimitScale seconds
	// (struct xt_rateinfo.avg).
	Avg uint32
	// Burst is the bucket size in packets.
	Burst uint32
}

type limitParser struct {
	avg, burst uint32
}

func init() {
	Register(&Def{Name: "limit", New: func() Parser { return &limitParser{avg: LimitScale * 60 * 60 / 3, burst: 5} },
		Options: []Option{{Name: "limit", Arg: ReqArg}, {Name: "limit-burst", Arg: ReqArg}}})
}

// parseRateSuffix returns the multiplier (seconds) of a "/unit" suffix as
// libxt_limit's parse_rate accepts it: any prefix of second, minute, hour
// or day, case-insensitive. ok is false for anything else.
func parseRateSuffix(rate string) (mult uint32, ok bool) {
	i := strings.IndexByte(rate, '/')
	if i < 0 {
		return 1, true
	}
	unit := rate[i+1:]
	if unit == "" {
		return 0, false
	}
	for _, u := range []struct {
		name string
		mult uint32
	}{{"second", 1}, {"minute", 60}, {"hour", 60 * 60}, {"day", 24 * 60 * 60}} {
		if len(unit) <= len(u.name) && strings.EqualFold(unit, u.name[:len(unit)]) {
			return u.mult, true
		}
	}
	return 0, false
}

// Parse implements Parser.
func (p *limitParser) Parse(_ *Context, opt, arg string, _ bool) error {
	switch opt {
	case "limit":
		mult, ok := parseRateSuffix(arg)
		r := uint32(cAtoi(arg))
		if !ok || r == 0 {
			return Errorf("bad rate \"%s\"'", arg)
		}
		p.avg = LimitScale * mult / r
		if p.avg == 0 {
			return Errorf("Rate too fast \"%s\"", arg)
		}
	case "limit-burst":
		v, err := x6Uint("limit", opt, arg, 0, 10000)
		if err != nil {
			return err
		}
		p.burst = uint32(v)
	}
	return nil
}

// Final implements Parser. The rate goes through the nftables limit
// expression (rate per unit) and back, as iptables-nft stores it; the
// kernel turns a burst of 0 into 5.
func (p *limitParser) Final(*Context) (ruleset.Extension, error) {
	i := 1
	for ; i < len(limitRates); i++ {
		m := limitRates[i].mult
		if p.avg > m || m/p.avg < m%p.avg {
			break
		}
	}
	rate := uint64(limitRates[i-1].mult / p.avg)
	unit := uint64(limitRates[i-1].mult / LimitScale)
	m := &Limit{Avg: uint32(LimitScale * unit / rate), Burst: p.burst}
	if m.Burst == 0 {
		m.Burst = 5
	}
	return m, nil
}

// Name implements ruleset.Extension.
func (m *Limit) Name() string { return "limit" }

// LimitRateString formats an average interval as libxt_limit's print_rate
// does ("3/hour").
func LimitRateString(period uint32) string {
	if period == 0 {
		return "inf"
	}
	i := 1
	for ; i < len(limitRates); i++ {
		m := limitRates[i].mult
		if period > m || m/period < m%period {
			break
		}
	}
	return Utoa(uint64(limitRates[i-1].mult/period)) + "/" + limitRates[i-1].name
}

// Save implements ruleset.Extension.
func (m *Limit) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" --limit " + LimitRateString(m.Avg))
	if m.Burst != 5 {
		b.WriteString(" --limit-burst " + Utoa(uint64(m.Burst)))
	}
}

// Print implements ruleset.Extension.
func (m *Limit) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" limit: avg " + LimitRateString(m.Avg) + " burst " + Utoa(uint64(m.Burst)))
}

// x6Uint parses an XTTYPE_UINT* option argument as libxtables does, with
// its message on failure.
func x6Uint(ext, opt, arg string, min, max uint64) (uint64, error) {
	v, ok := cStrtoul(arg, min, max)
	if !ok {
		return 0, Errorf("%s: bad value for option \"--%s\", or out of range (%d-%d).\n", ext, opt, min, max)
	}
	return v, nil
}

// cStrtoul is xtables_strtoul without an end pointer: the whole string as
// strtoumax base 0 reads it (leading blanks and sign allowed, a negative
// number wrapping), within [min, max].
func cStrtoul(s string, min, max uint64) (uint64, bool) {
	v, rest, ok := cStrtoumaxPrefix(s)
	if !ok || rest != "" || v < min || v > max {
		return 0, false
	}
	return v, true
}

// cStrtoumaxPrefix reads a number as xtables_strtoul does with an end
// pointer (base 0; "+" allowed, a negative number refused) and returns the
// rest of the string. ok is false when no digits were read or the value
// overflows.
func cStrtoumaxPrefix(s string) (v uint64, rest string, ok bool) {
	t := strings.TrimPrefix(s, "+")
	if t == "" || t[0] == '-' || t[0] == ' ' {
		return 0, s, false
	}
	v, rest, ok = ParseUintPrefix(t)
	if !ok {
		return 0, s, false
	}
	return v, rest, true
}

// cAtoll is C's atoll: leading blanks, a sign and decimal digits, saturating.
func cAtoll(s string) int64 {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	var v uint64
	over := false
	for i := 0; i < len(t) && t[i] >= '0' && t[i] <= '9'; i++ {
		if v > (1<<63)/10 {
			over = true
		}
		v = v*10 + uint64(t[i]-'0')
		if v > 1<<63 {
			over = true
		}
	}
	switch {
	case over && neg:
		return -1 << 63
	case over:
		return 1<<63 - 1
	case neg:
		return -int64(v)
	case v == 1<<63:
		return 1<<63 - 1
	}
	return int64(v)
}

// cAtoi is C's atoi on a 64-bit system: (int)strtol(s, NULL, 10).
func cAtoi(s string) int32 { return int32(cAtoll(s)) }

// limitNft is iptables-nft's add_nft_limit: the rate per unit (seconds) of
// the nftables limit expression an xt_rateinfo average becomes. Going
// through Avg and back gives the same pair for every rate iptables accepts.
func limitNft(avg uint32) (rate, unit uint64) {
	i := 1
	for ; i < len(limitRates); i++ {
		m := limitRates[i].mult
		if avg > m || m/avg < m%avg {
			break
		}
	}
	return uint64(limitRates[i-1].mult / avg), uint64(limitRates[i-1].mult / LimitScale)
}

// NftRate is the rate per unit (seconds) of the nftables limit expression
// iptables-nft makes of the match (add_nft_limit).
func (m *Limit) NftRate() (rate, unit uint64) { return limitNft(m.Avg) }

// limitState is nft_limit_priv_pkts with its struct nft_limit: tokens
// and the bucket size in nanoseconds.
type limitState struct {
	last, tokens    uint64
	tokensMax, cost uint64
	ok              bool
}

func newLimitState() any { return &limitState{} }

// Match implements pkt.Matcher. iptables-nft 1.8.9 stores -m limit as a
// native nftables limit expression (type packets, no invert), so this is
// net/netfilter/nft_limit.c: a token bucket in nanoseconds where one packet
// costs unit*1e9/rate and the bucket holds burst packets (0 becomes 5).
// The kernel fills the bucket when the rule is loaded; here when the rule
// first sees a packet, which is the same since a full bucket cannot gain.
// ktime_get_ns is c.Now in Unix nanoseconds: only differences count.
func (m *Limit) Match(c *pkt.Ctx) bool {
	s := c.Store.Get(m, newLimitState).(*limitState)
	now := uint64(c.Now.UnixNano())
	first := !s.ok
	if !s.ok {
		if m.Avg == 0 {
			return c.Undecide("limit: zero average")
		}
		rate, unit := limitNft(m.Avg)
		nsecs := unit * 1000000000
		burst := uint64(m.Burst)
		if burst == 0 {
			burst = 5
		}
		s.cost = nsecs / rate
		s.tokens = s.cost * burst
		s.tokensMax = s.tokens
		s.last = now
		s.ok = true
	}
	tokens := s.tokens + now - s.last
	// Marginal: the tokens before the cap (the bucket is never smaller
	// than one packet's cost) are within MarginalWindow of the cost, so
	// the packet's time moved that little either way flips the decision.
	// The first packet finds the bucket full since the rule was loaded.
	if d := int64(tokens - s.cost); !first && d < int64(MarginalWindow) && d > -int64(MarginalWindow) {
		c.Marginal = true
	}
	if tokens > s.tokensMax {
		tokens = s.tokensMax
	}
	s.last = now
	if delta := int64(tokens - s.cost); delta >= 0 {
		s.tokens = uint64(delta)
		return true
	}
	s.tokens = tokens
	return false
}
