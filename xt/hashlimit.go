package xt

import (
	"math/bits"
	"net/netip"
	"strings"
	"time"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Hashlimit mode bits (struct hashlimit_cfg3.mode).
const (
	HashlimitDstIP     uint32 = 1 << 0
	HashlimitDstPort   uint32 = 1 << 1
	HashlimitSrcIP     uint32 = 1 << 2
	HashlimitSrcPort   uint32 = 1 << 3
	HashlimitInvert    uint32 = 1 << 4
	HashlimitBytes     uint32 = 1 << 5
	HashlimitRateMatch uint32 = 1 << 6
)

// HashlimitScale is XT_HASHLIMIT_SCALE_v2: in packet mode the average is
// the interval between packets in 1/1000000 s.
const HashlimitScale = 1000000

const (
	hashlimitBurstMax     = 1000000
	hashlimitByteShift    = 4
	hashlimitByteExpire   = 15
	hashlimitByteExpireBu = 60
	hashlimitGCInterval   = 1000
	hashlimitNameMax      = 254 // char name[NAME_MAX], NUL-terminated
)

// Hashlimit is the hashlimit match, revision 3 (-m hashlimit). The fields
// are the kernel's struct hashlimit_cfg3.
type Hashlimit struct {
	TableName string // --hashlimit-name
	// Mode holds the Hashlimit* bits: what the buckets are keyed on,
	// above/upto, bytes and rate-match mode.
	Mode uint32
	// Avg is, in packet mode, the interval between packets in
	// 1/HashlimitScale s (divided by the rate interval in rate-match
	// mode); in byte mode the cost of one byte unit (bytes_to_cost).
	Avg uint64
	// Burst is the bucket size in packets, or in byte mode in multiples
	// of the byte rate (0: none).
	Burst      uint64
	Size       uint32 // htable-size, 0 = kernel default
	Max        uint32 // htable-max, 0 = kernel default
	GCInterval uint32 // ms
	Expire     uint32 // ms
	SrcMask    uint8
	DstMask    uint8
	Interval   uint32 // rate-match interval in seconds
	// Family is the rule's family (it decides the default masks).
	Family ruleset.Family

	key any // the store key of the table, hashlimitKey boxed once
}

type hashlimitParser struct {
	m    Hashlimit
	mult uint32 // struct hashlimit_mt_udata
	seen uint32 // x6 option ids given
}

// Option ids as libxt_hashlimit numbers them (the order of its table).
const (
	hlUpto = iota
	hlAbove
	hlLimit // not an id of its own; unused
	hlMode
	hlSrcMask
	hlDstMask
	hlName
	hlBurst
	hlSize
	hlMax
	hlGCInt
	hlExpire
	hlRateMatch
	hlInterval
)

func init() {
	Register(&Def{Name: "hashlimit", New: func() Parser { return &hashlimitParser{} },
		Options: []Option{
			{Name: "hashlimit-upto", Arg: ReqArg, Invert: true},
			{Name: "hashlimit-above", Arg: ReqArg, Invert: true},
			{Name: "hashlimit", Arg: ReqArg, Invert: true},
			{Name: "hashlimit-srcmask", Arg: ReqArg},
			{Name: "hashlimit-dstmask", Arg: ReqArg},
			{Name: "hashlimit-burst", Arg: ReqArg},
			{Name: "hashlimit-htable-size", Arg: ReqArg},
			{Name: "hashlimit-htable-max", Arg: ReqArg},
			{Name: "hashlimit-htable-gcinterval", Arg: ReqArg},
			{Name: "hashlimit-htable-expire", Arg: ReqArg},
			{Name: "hashlimit-mode", Arg: ReqArg},
			{Name: "hashlimit-name", Arg: ReqArg},
			{Name: "hashlimit-rate-match"},
			{Name: "hashlimit-rate-interval", Arg: ReqArg},
		}})
}

func hashlimitID(opt string) int {
	switch opt {
	case "hashlimit-upto", "hashlimit":
		return hlUpto
	case "hashlimit-above":
		return hlAbove
	case "hashlimit-mode":
		return hlMode
	case "hashlimit-srcmask":
		return hlSrcMask
	case "hashlimit-dstmask":
		return hlDstMask
	case "hashlimit-name":
		return hlName
	case "hashlimit-burst":
		return hlBurst
	case "hashlimit-htable-size":
		return hlSize
	case "hashlimit-htable-max":
		return hlMax
	case "hashlimit-htable-gcinterval":
		return hlGCInt
	case "hashlimit-htable-expire":
		return hlExpire
	case "hashlimit-rate-match":
		return hlRateMatch
	}
	return hlInterval
}

// Parse implements Parser.
func (p *hashlimitParser) Parse(ctx *Context, opt, arg string, inv bool) error {
	id := hashlimitID(opt)
	if p.seen&(1<<id) != 0 {
		// --hashlimit and --hashlimit-upto share one id.
		return Errorf("hashlimit: option \"--%s\" can only be used once.\n", opt)
	}
	p.seen |= 1 << id
	m := &p.m
	switch id {
	case hlUpto, hlAbove:
		if (id == hlUpto) == inv {
			m.Mode |= HashlimitInvert
		}
		name := "--hashlimit-upto"
		if id == hlAbove {
			name = "--hashlimit-above"
		}
		ok, err := p.parseBytes(arg)
		if err != nil {
			return err
		}
		if ok {
			m.Mode |= HashlimitBytes
			return nil
		}
		ok, err = p.parseRate(arg)
		if err != nil {
			return err
		}
		if !ok {
			return Errorf("hashlimit: Bad value for \"%s\" option: \"%s\"", name, arg)
		}
	case hlMode:
		for _, tok := range strings.FieldsFunc(arg, func(r rune) bool { return r == ',' || r == '|' }) {
			switch tok {
			case "dstip":
				m.Mode |= HashlimitDstIP
			case "srcip":
				m.Mode |= HashlimitSrcIP
			case "srcport":
				m.Mode |= HashlimitSrcPort
			case "dstport":
				m.Mode |= HashlimitDstPort
			default:
				return Errorf("hashlimit: Bad value for \"--hashlimit-mode\" option: \"%s\"", arg)
			}
		}
	case hlSrcMask, hlDstMask:
		n, err := parsePlen("hashlimit", opt, arg, ctx.Family)
		if err != nil {
			return err
		}
		if id == hlSrcMask {
			m.SrcMask = n
		} else {
			m.DstMask = n
		}
	case hlName:
		if arg == "" {
			return Errorf("Argument must have a minimum length of 1 characters\n")
		}
		if len(arg) > hashlimitNameMax {
			arg = arg[:hashlimitNameMax]
		}
		m.TableName = arg
	case hlBurst:
		v, rest, ok := cStrtoumaxPrefix(arg)
		if !ok || v < 1 || (rest == "" && v > hashlimitBurstMax) {
			return Errorf("bad value for option \"--hashlimit-burst\", or out of range (1-%d).", hashlimitBurstMax)
		}
		m.Burst = v * uint64(hashlimitFactor(rest))
	case hlSize, hlMax, hlGCInt, hlExpire:
		v, err := x6Uint("hashlimit", opt, arg, 0, 1<<32-1)
		if err != nil {
			return err
		}
		switch id {
		case hlSize:
			m.Size = uint32(v)
		case hlMax:
			m.Max = uint32(v)
		case hlGCInt:
			m.GCInterval = uint32(v)
		default:
			m.Expire = uint32(v)
		}
	case hlRateMatch:
		m.Mode |= HashlimitRateMatch
	case hlInterval:
		r := cAtoi(arg)
		if r <= 0 {
			return Errorf("hashlimit: Bad value for \"--hashlimit-rate-interval\" option: \"%s\"", arg)
		}
		m.Interval = uint32(r)
	}
	return nil
}

// hashlimitFactor is get_factor: the multiplier of a k or m suffix.
func hashlimitFactor(s string) uint32 {
	if s == "" {
		return 1
	}
	switch s[0] {
	case 'm':
		return 1024 * 1024
	case 'k':
		return 1024
	}
	return 1
}

// hashlimitBytesToCost is bytes_to_cost.
func hashlimitBytesToCost(bytes uint64) (uint64, bool) {
	r := uint32(bytes >> hashlimitByteShift)
	if r+1 == 0 {
		return 0, false // division by zero in iptables
	}
	return uint64(^uint32(0) / (r + 1)), true
}

// hashlimitCostToBytes is cost_to_bytes.
func hashlimitCostToBytes(cost uint64) uint64 {
	r := uint64(^uint32(0))
	if cost != 0 {
		r = uint64(^uint32(0)) / cost
	}
	return (r - 1) << hashlimitByteShift
}

// parseBytes is parse_bytes: a rate in bytes per second ("10kb/s").
func (p *hashlimitParser) parseBytes(rate string) (bool, error) {
	i := strings.Index(rate, "b/s")
	if i <= 0 {
		return false, nil
	}
	r := uint64(cAtoll(rate))
	if r == 0 {
		if rate == "0b/s" {
			// iptables prints rates under 16 b/s as "0b/s" and cannot
			// read that back; rampart's state file must, so it takes
			// it as the slowest byte rate.
			p.mult = hashlimitByteExpire
			p.m.Avg = uint64(^uint32(0))
			return true, nil
		}
		return false, nil
	}
	tmp := r * uint64(hashlimitFactor(rate[i-1:]))
	cost, ok := hashlimitBytesToCost(tmp)
	if !ok {
		return false, Errorf("Rate too high \"%s\"", rate)
	}
	if cost == 0 {
		return false, Errorf("Rate too high \"%s\"", rate)
	}
	p.mult = hashlimitByteExpire
	p.m.Avg = cost
	return true, nil
}

// parseRate is parse_rate: packets per second, minute, hour or day.
func (p *hashlimitParser) parseRate(rate string) (bool, error) {
	p.mult = 1
	mult, ok := parseRateSuffix(rate)
	if !ok {
		return false, nil
	}
	p.mult = mult
	r := uint64(cAtoll(rate))
	if r == 0 {
		return false, nil
	}
	tmp := HashlimitScale * uint64(mult) / r
	if tmp == 0 {
		return false, Errorf("Rate too fast \"%s\"", rate)
	}
	p.m.Avg = tmp
	return true, nil
}

// Final implements Parser: hashlimit_mt_check, the option table checks,
// then the kernel's hashlimit_mt_check_common.
func (p *hashlimitParser) Final(ctx *Context) (ruleset.Extension, error) {
	m := p.m
	m.Family = ctx.Family
	dmask := uint8(ctx.Family.AddrBits())
	if p.seen&(1<<hlSrcMask) == 0 {
		m.SrcMask = dmask
	}
	if p.seen&(1<<hlDstMask) == 0 {
		m.DstMask = dmask
	}
	if p.seen&(1<<hlBurst) == 0 {
		m.Burst = 5
	}
	if p.seen&(1<<hlGCInt) == 0 {
		m.GCInterval = hashlimitGCInterval
	}
	if p.seen&(1<<hlUpto|1<<hlAbove) == 0 {
		return nil, Errorf("You have to specify --hashlimit")
	}
	if p.seen&(1<<hlExpire) == 0 {
		m.Expire = p.mult * 1000
	}
	if m.Mode&HashlimitBytes != 0 {
		var burst uint32
		if p.seen&(1<<hlBurst) != 0 {
			unit := hashlimitCostToBytes(m.Avg)
			if m.Burst < unit {
				return nil, Errorf("burst cannot be smaller than %db", unit)
			}
			if unit == 0 {
				// iptables dies of a division by zero here.
				return nil, Errorf("burst cannot be smaller than %db", unit)
			}
			burst = uint32(uint64(uint32(m.Burst)) / unit)
			if m.Burst%unit != 0 {
				burst++
			}
			if p.seen&(1<<hlExpire) == 0 {
				m.Expire = hashlimitByteExpireBu * 1000
			}
		}
		m.Burst = uint64(burst)
	} else if m.Burst > hashlimitBurstMax {
		return nil, Errorf("bad value for option \"--hashlimit-burst\", or out of range (1-%d).", hashlimitBurstMax)
	}
	if m.Mode&HashlimitRateMatch != 0 {
		if m.Mode&HashlimitBytes == 0 {
			m.Avg /= uint64(p.mult)
		}
		if m.Interval == 0 {
			if m.Mode&HashlimitBytes != 0 {
				m.Interval = 1
			} else {
				m.Interval = p.mult
			}
		}
	}
	if p.seen&(1<<hlName) == 0 {
		return nil, Errorf("hashlimit: option \"--hashlimit-name\" must be specified\n")
	}
	if p.seen&(1<<hlUpto) != 0 && p.seen&(1<<hlAbove) != 0 {
		return nil, Errorf("hashlimit: option \"--hashlimit-upto\" cannot be used together with \"--hashlimit-above\".\n")
	}
	// The kernel's checks.
	if m.GCInterval == 0 || m.Expire == 0 || m.SrcMask > dmask || m.DstMask > dmask {
		return nil, KernelInval()
	}
	switch {
	case m.Mode&HashlimitRateMatch != 0:
		if m.Avg == 0 || m.Avg > 1<<32-1 {
			return nil, Kernel("Numerical result out of range")
		}
	case m.Mode&HashlimitBytes != 0:
		if hashlimitUser2CreditsByte(uint32(m.Avg)) == 0 {
			return nil, KernelInval()
		}
	default:
		if m.Burst == 0 || hashlimitUser2Credits(m.Avg*m.Burst) < hashlimitUser2Credits(m.Avg) {
			return nil, Kernel("Numerical result out of range")
		}
	}
	m.key = hashlimitKey{m.TableName, m.Family}
	return &m, nil
}

// The kernel's credit arithmetic (net/netfilter/xt_hashlimit.c) for HZ=250.
const (
	hashlimitHZ = 250
	// CREDITS_PER_JIFFY = POW2_BELOW64(2^64-1 / (HZ*86400)).
	hashlimitCPJ = 1 << 39
	// CREDITS_PER_JIFFY_BYTES = POW2_BELOW32(0xFFFFFFFF / HZ).
	hashlimitCPJBytes = 1 << 24
)

// hashlimitUser2Credits is user2credits for revision 3 (wrapping as the
// kernel's u64 arithmetic does).
func hashlimitUser2Credits(user uint64) uint64 {
	return user * (hashlimitHZ * hashlimitCPJ / HashlimitScale)
}

// hashlimitUser2CreditsByte is user2credits_byte.
func hashlimitUser2CreditsByte(user uint32) uint32 {
	us := uint64(user) * hashlimitHZ * hashlimitCPJBytes
	return uint32(us >> 32)
}

// parsePlen parses an XTTYPE_PLEN argument: a prefix length or a netmask
// (a mask that is not contiguous gives 255, which the kernel refuses).
func parsePlen(ext, opt, arg string, f ruleset.Family) (uint8, error) {
	max := uint64(f.AddrBits())
	if v, ok := ParseUint(arg, 0, max); ok {
		return uint8(v), nil
	}
	var a netip.Addr
	var ok bool
	if f == ruleset.IPv6 {
		a, ok = parseIPv6Numeric(arg)
	} else {
		a, ok = inetAtonAddr(arg)
	}
	if !ok {
		return 0, Errorf("%s: bad value for option \"--%s\", neither a valid network mask nor valid CIDR (0-%d).\n", ext, opt, max)
	}
	return maskToCIDR(a), nil
}

// maskToCIDR returns the prefix length of a contiguous mask, 255 otherwise
// (xtables_ipmask_to_cidr's -1 in a uint8).
func maskToCIDR(a netip.Addr) uint8 {
	b := a.AsSlice()
	n := 0
	for _, c := range b {
		n += bits.OnesCount8(c)
	}
	p, err := a.Prefix(n)
	if err != nil || p.Addr() != a {
		return 255
	}
	return uint8(n)
}

// parseIPv6Numeric is inet_pton(AF_INET6).
func parseIPv6Numeric(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}

// inetAtonAddr parses an IPv4 address as inet_aton does: one to four parts,
// each decimal, octal or hex, the last one filling the remaining bytes.
func inetAtonAddr(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		if p == "" || p[0] == '+' || p[0] == '-' {
			return netip.Addr{}, false
		}
		v, rest, ok := ParseUintPrefix(p)
		if !ok || rest != "" {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var out uint64
	n := len(vals)
	for i := 0; i < n-1; i++ {
		if vals[i] > 255 {
			return netip.Addr{}, false
		}
		out |= vals[i] << (8 * (3 - i))
	}
	last := vals[n-1]
	if last >= 1<<(8*(5-n)) {
		return netip.Addr{}, false
	}
	out |= last
	return netip.AddrFrom4([4]byte{byte(out >> 24), byte(out >> 16), byte(out >> 8), byte(out)}), true
}

// Name implements ruleset.Extension.
func (m *Hashlimit) Name() string { return "hashlimit" }

var hashlimitRates = []struct {
	name string
	mult uint64
}{{"day", HashlimitScale * 24 * 60 * 60}, {"hour", HashlimitScale * 60 * 60}, {"min", HashlimitScale * 60}, {"sec", HashlimitScale}}

// hashlimitRate is print_rate: the rate text and the quantum (ms) that
// makes an htable-expire the default.
func hashlimitRate(period uint64) (string, uint64) {
	if period == 0 {
		return "inf", 0
	}
	i := 1
	for ; i < len(hashlimitRates); i++ {
		m := hashlimitRates[i].mult
		if period > m || m/period < m%period {
			break
		}
	}
	r := hashlimitRates[i-1]
	return Utoa(r.mult/period) + "/" + r.name, r.mult / HashlimitScale * 1000
}

var hashlimitUnits = []struct {
	name   string
	thresh uint64
}{{"m", 1024 * 1024}, {"k", 1024}, {"", 1}}

// bytes is print_bytes: " RATEb/s" and, with a burst, " PREFIXburst Nb".
func (m *Hashlimit) bytes(b *strings.Builder, prefix string) uint64 {
	r := hashlimitCostToBytes(m.Avg)
	i := 0
	for ; i < len(hashlimitUnits)-1; i++ {
		t := hashlimitUnits[i].thresh
		if c, ok := hashlimitBytesToCost(r &^ (t - 1)); ok && r >= t && c == m.Avg {
			break
		}
	}
	b.WriteString(" " + Utoa(r/hashlimitUnits[i].thresh) + hashlimitUnits[i].name + "b/s")
	if m.Burst == 0 {
		return hashlimitByteExpire * 1000
	}
	r *= m.Burst
	b.WriteString(" " + prefix)
	for i = 0; i < len(hashlimitUnits)-1; i++ {
		if r >= hashlimitUnits[i].thresh {
			break
		}
	}
	b.WriteString("burst " + Utoa(r/hashlimitUnits[i].thresh) + hashlimitUnits[i].name + "b")
	return hashlimitByteExpireBu * 1000
}

func (m *Hashlimit) modeString(sep string) string {
	var parts []string
	for _, x := range []struct {
		bit  uint32
		name string
	}{{HashlimitSrcIP, "srcip"}, {HashlimitSrcPort, "srcport"}, {HashlimitDstIP, "dstip"}, {HashlimitDstPort, "dstport"}} {
		if m.Mode&x.bit != 0 {
			parts = append(parts, x.name)
		}
	}
	return strings.Join(parts, sep)
}

func (m *Hashlimit) dmask() uint8 {
	if m.Family == ruleset.IPv6 {
		return 128
	}
	return 32
}

// write is hashlimit_mt_save (save) and hashlimit_mt_print (!save).
func (m *Hashlimit) write(b *strings.Builder, save bool) {
	pre := " "
	if save {
		pre = " --hashlimit-"
	}
	switch {
	case save && m.Mode&HashlimitInvert != 0:
		b.WriteString(" --hashlimit-above")
	case save:
		b.WriteString(" --hashlimit-upto")
	case m.Mode&HashlimitInvert != 0:
		b.WriteString(" limit: above")
	default:
		b.WriteString(" limit: up to")
	}
	var quantum uint64
	if m.Mode&HashlimitBytes != 0 {
		if save {
			quantum = m.bytes(b, "--hashlimit-")
		} else {
			quantum = m.bytes(b, "")
		}
	} else {
		period := m.Avg
		if !save && m.Interval != 0 {
			period *= uint64(m.Interval)
		}
		var s string
		s, quantum = hashlimitRate(period)
		b.WriteString(" " + s + pre + "burst " + Utoa(m.Burst))
	}
	if m.Mode&(HashlimitSrcIP|HashlimitSrcPort|HashlimitDstIP|HashlimitDstPort) != 0 {
		if save {
			b.WriteString(" --hashlimit-mode " + m.modeString(","))
		} else {
			b.WriteString(" mode " + m.modeString("-"))
		}
	}
	if save {
		b.WriteString(" --hashlimit-name " + m.TableName)
	}
	if m.Size != 0 {
		b.WriteString(pre + "htable-size " + Utoa(uint64(m.Size)))
	}
	if m.Max != 0 {
		b.WriteString(pre + "htable-max " + Utoa(uint64(m.Max)))
	}
	if m.GCInterval != hashlimitGCInterval {
		b.WriteString(pre + "htable-gcinterval " + Utoa(uint64(m.GCInterval)))
	}
	if uint64(m.Expire) != quantum {
		b.WriteString(pre + "htable-expire " + Utoa(uint64(m.Expire)))
	}
	if m.SrcMask != m.dmask() {
		b.WriteString(pre + "srcmask " + Utoa(uint64(m.SrcMask)))
	}
	if m.DstMask != m.dmask() {
		b.WriteString(pre + "dstmask " + Utoa(uint64(m.DstMask)))
	}
	if m.Mode&HashlimitRateMatch != 0 {
		b.WriteString(pre + "rate-match")
		if m.Interval != 1 {
			b.WriteString(pre + "rate-interval " + Utoa(uint64(m.Interval)))
		}
	}
}

// Save implements ruleset.Extension.
func (m *Hashlimit) Save(b *strings.Builder, _ ruleset.Fmt) { m.write(b, true) }

// Print implements ruleset.Extension.
func (m *Hashlimit) Print(b *strings.Builder, _ ruleset.Fmt) { m.write(b, false) }

// Checker is implemented by matches whose kernel checkentry creates or
// changes state shared between rules (hashlimit tables, recent lists). The
// kernel runs it when a rule is loaded, so the first rule loaded decides a
// shared table's settings; an engine that calls Check for every rule in
// load order before the first packet gets that exactly. Without it, Match
// does the same when the rule first sees a packet.
type Checker interface {
	Check(s pkt.StateStore, now time.Time)
}

// Kernel settings of xt_hashlimit that depend on the machine.
var (
	// HashlimitDefaultSize is the htable-size the kernel picks when the
	// rule gives none: 8192 on a machine with more than 1 GiB of memory
	// (smaller ones get RAM/16384/8 buckets, at least 16). The default
	// htable-max is 8 times the size.
	HashlimitDefaultSize uint32 = 8192
)

const hashlimitMaxSize = 1048576 // HASHLIMIT_MAX_SIZE

// hashlimitJiffy is one jiffy at HZ=250 in nanoseconds.
const hashlimitJiffy = int64(time.Second / hashlimitHZ)

// JiffyPhase is where the simulated kernel's jiffies tick, in Unix time:
// jiffies advance when CLOCK_MONOTONIC reaches a multiple of TICK_NSEC
// (4 ms at HZ=250; tick_init_jiffy_update aligns the tick so), that is at
// the Unix times JiffyPhase + k*4ms, where JiffyPhase is the machine's
// CLOCK_REALTIME - CLOCK_MONOTONIC offset modulo 4 ms (the "offset" of
// clock 1 in /proc/timer_list). Which jiffy a packet falls in decides the
// credit of hashlimit and the age of recent entries when packets are a
// few milliseconds apart. 0 puts the ticks on multiples of 4 ms of Unix
// time (the phase of the machine is unknown).
var JiffyPhase time.Duration

// rlJiffies is jiffies (HZ=250) at the packet's time, counted from the
// Unix epoch shifted by JiffyPhase: the kernel's jiffies start at an
// arbitrary value, and only differences and the jiffy boundaries matter to
// the rate matches.
func rlJiffies(t time.Time) uint64 {
	n := t.UnixNano() - int64(JiffyPhase%time.Duration(hashlimitJiffy))
	q := n / hashlimitJiffy
	if n%hashlimitJiffy != 0 && n < 0 {
		q--
	}
	return uint64(q)
}

// msecsToJiffies is msecs_to_jiffies at HZ=250 (rounding up).
func msecsToJiffies(ms uint32) uint64 { return (uint64(ms) + 3) / 4 }

// hashlimitKey names a table: the kernel keeps one per name and family in
// each network namespace (a Store).
type hashlimitKey struct {
	name string
	fam  ruleset.Family
}

// hashlimitDst is struct dsthash_dst: the masked addresses and ports the
// table is keyed on.
type hashlimitDst struct {
	src, dst         [16]byte
	srcPort, dstPort uint16
}

// hashlimitEnt is struct dsthash_ent. w is the rateinfo union as the
// kernel lays it out on a 64-bit little-endian machine: credit,
// credit_cap, cost; or interval|prev_window<<32, current_rate, rate,
// burst. A table and a rule that disagree on rate-match read each other's
// fields as the kernel does.
type hashlimitEnt struct {
	expires, prev uint64
	w             [4]uint64
}

// hashlimitTable is struct xt_hashlimit_htable: the settings of the rule
// that created it (size and max adjusted), its entries and its garbage
// collection clock.
type hashlimitTable struct {
	ok      bool
	cfg     Hashlimit
	size    uint32
	max     uint32
	ents    map[hashlimitDst]*hashlimitEnt
	free    []*hashlimitEnt
	gcEvery uint64 // jiffies
	nextGC  uint64
}

func newHashlimitTable() any { return &hashlimitTable{} }

func (m *Hashlimit) storeKey() any {
	if m.key == nil {
		m.key = hashlimitKey{m.TableName, m.Family}
	}
	return m.key
}

// table is htable_find_get, or htable_create with this rule's settings.
func (m *Hashlimit) table(s pkt.StateStore, now time.Time) *hashlimitTable {
	t := s.Get(m.storeKey(), newHashlimitTable).(*hashlimitTable)
	if t.ok {
		return t
	}
	t.ok = true
	t.cfg = *m
	t.cfg.key = nil
	size, max := m.Size, m.Max
	if size > hashlimitMaxSize {
		size = hashlimitMaxSize
	}
	if max > hashlimitMaxSize {
		max = hashlimitMaxSize
	}
	if size == 0 {
		size = HashlimitDefaultSize
	}
	if max == 0 {
		max = 8 * size
	} else if max < size {
		max = size
	}
	t.size, t.max = size, max
	t.ents = map[hashlimitDst]*hashlimitEnt{}
	t.gcEvery = msecsToJiffies(m.GCInterval)
	if t.gcEvery == 0 {
		t.gcEvery = 1
	}
	t.nextGC = rlJiffies(now) + t.gcEvery
	return t
}

// Check implements Checker: hashlimit_mt_check_common finds the table of
// the rule's name and family or creates it with the rule's settings, and
// starts its garbage collection every gc-interval from then.
func (m *Hashlimit) Check(s pkt.StateStore, now time.Time) { m.table(s, now) }

// gc runs the garbage collection passes due by now (htable_gc every
// gc-interval after creation): the last pass frees every entry expired at
// its time, which the earlier ones could only have freed too. The kernel's
// work is deferrable and may run later on an idle CPU; here it runs on
// time, before a packet of the same jiffy.
func (t *hashlimitTable) gc(now uint64) {
	if now < t.nextGC {
		return
	}
	at := t.nextGC + (now-t.nextGC)/t.gcEvery*t.gcEvery
	t.nextGC = at + t.gcEvery
	for k, e := range t.ents {
		if int64(at-e.expires) >= 0 {
			delete(t.ents, k)
			t.free = append(t.free, e)
		}
	}
}

// lastPass is the last garbage collection pass due by jiffy j that has
// not run yet (ok false: none).
func (t *hashlimitTable) lastPass(j uint64) (at uint64, ok bool) {
	if int64(j-t.nextGC) < 0 {
		return 0, false
	}
	return t.nextGC + (j-t.nextGC)/t.gcEvery*t.gcEvery, true
}

// gcMarginal reports whether the garbage collection frees an
// entry that expires at jiffy expires before a packet at jiffy now could
// go either way: the packet one jiffy off (when near a boundary) or the
// expiry one jiffy off (the jitter of the packet that set it) decides it.
func (t *hashlimitTable) gcMarginal(expires, now uint64, near bool) bool {
	freed := func(j, exp uint64) bool {
		at, ok := t.lastPass(j)
		return ok && int64(at-exp) >= 0
	}
	base := freed(now, expires)
	for dj := -1; dj <= 1; dj++ {
		if dj != 0 && !near {
			continue
		}
		for de := -1; de <= 1; de++ {
			if freed(now+uint64(dj), expires+uint64(de)) != base {
				return true
			}
		}
	}
	return false
}

// maskl is the kernel's maskl on a 32-bit word.
func maskl(a uint32, l uint) uint32 {
	if l == 0 {
		return 0
	}
	return a & (^uint32(0) << (32 - l))
}

// maskAddr masks an address as hashlimit_init_dst does: the IPv4 address
// in the first word, an IPv6 one word by word (hashlimit_ipv6_mask).
func maskAddr(a netip.Addr, plen uint8) [16]byte {
	var out [16]byte
	if a.Is4() {
		b := a.As4()
		w := maskl(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]), uint(plen))
		out[0], out[1], out[2], out[3] = byte(w>>24), byte(w>>16), byte(w>>8), byte(w)
		return out
	}
	out = a.As16()
	if plen >= 128 {
		return out
	}
	i := int(plen / 32)
	w := uint32(out[4*i])<<24 | uint32(out[4*i+1])<<16 | uint32(out[4*i+2])<<8 | uint32(out[4*i+3])
	w = maskl(w, uint(plen%32))
	out[4*i], out[4*i+1], out[4*i+2], out[4*i+3] = byte(w>>24), byte(w>>16), byte(w>>8), byte(w)
	for j := 4 * (i + 1); j < 16; j++ {
		out[j] = 0
	}
	return out
}

// ipv6SkipExthdr is ipv6_skip_exthdr from the end of the fixed header:
// the offset of the first header that is not an extension header and its
// type, stopping at a fragment header of a non-first fragment. ok is false
// for "no next header" or a truncated header.
func ipv6SkipExthdr(b []byte) (off int, next uint8, ok bool) {
	next = b[6]
	off = 40
	for {
		switch next {
		case pkt.ProtoHopOpts, pkt.ProtoRouting, pkt.ProtoFragment, pkt.ProtoAH, pkt.ProtoDstOpts:
		case pkt.ProtoNone:
			return 0, 0, false
		default:
			return off, next, true
		}
		if len(b) < off+2 {
			return 0, 0, false
		}
		var n int
		switch next {
		case pkt.ProtoFragment:
			if len(b) < off+4 {
				return 0, 0, false
			}
			if (uint16(b[off+2])<<8|uint16(b[off+3]))&^7 != 0 {
				return off, next, true
			}
			n = 8
		case pkt.ProtoAH:
			n = (int(b[off+1]) + 2) << 2
		default:
			n = (int(b[off+1]) + 1) << 3
		}
		next = b[off]
		off += n
	}
}

// initDst is hashlimit_init_dst with the table's settings; ok false is
// the kernel's -1 (the match then drops the packet).
func (t *hashlimitTable) initDst(p *pkt.Packet) (d hashlimitDst, ok bool) {
	cfg := &t.cfg
	if cfg.Mode&HashlimitDstIP != 0 {
		d.dst = maskAddr(p.Dst, cfg.DstMask)
	}
	if cfg.Mode&HashlimitSrcIP != 0 {
		d.src = maskAddr(p.Src, cfg.SrcMask)
	}
	if cfg.Mode&(HashlimitDstPort|HashlimitSrcPort) == 0 {
		return d, true
	}
	b := p.Raw
	var off int
	var next uint8
	if cfg.Family == ruleset.IPv4 {
		off, next = int(b[0]&0x0f)*4, b[9]
	} else {
		off, next, ok = ipv6SkipExthdr(b)
		if !ok {
			return d, false
		}
	}
	// proto_ports_offset
	poff := -1
	switch next {
	case pkt.ProtoTCP, pkt.ProtoUDP, pkt.ProtoUDPLite, pkt.ProtoSCTP, pkt.ProtoESP, 33: // 33: DCCP
		poff = 0
	case pkt.ProtoAH:
		poff = 4
	}
	var sp, dp uint16
	if poff >= 0 {
		o := off + poff
		if o+4 > len(b) {
			return d, false
		}
		sp = uint16(b[o])<<8 | uint16(b[o+1])
		dp = uint16(b[o+2])<<8 | uint16(b[o+3])
	}
	if cfg.Mode&HashlimitSrcPort != 0 {
		d.srcPort = sp
	}
	if cfg.Mode&HashlimitDstPort != 0 {
		d.dstPort = dp
	}
	return d, true
}

// user2rate is user2rate, user2rateBytes user2rate_bytes.
func hashlimitUser2Rate(user uint64) uint64 {
	if user == 0 {
		return 0
	}
	return HashlimitScale / user
}

func hashlimitUser2RateBytes(user uint32) uint64 {
	r := uint64(^uint32(0))
	if user != 0 {
		r = uint64(^uint32(0) / user)
	}
	return (r - 1) << hashlimitByteShift
}

// rateinfoInit is rateinfo_init (revision 3) with the table's settings.
func (t *hashlimitTable) rateinfoInit(e *hashlimitEnt, now uint64) {
	cfg := &t.cfg
	e.prev = now
	switch {
	case cfg.Mode&HashlimitRateMatch != 0:
		var rate, burst uint64
		if cfg.Mode&HashlimitBytes != 0 {
			rate = hashlimitUser2RateBytes(uint32(cfg.Avg))
			burst = rate
			if cfg.Burst != 0 {
				burst = cfg.Burst * rate
			}
		} else {
			rate = hashlimitUser2Rate(cfg.Avg)
			burst = cfg.Burst + rate
		}
		e.w = [4]uint64{uint64(cfg.Interval), 0, rate, burst}
	case cfg.Mode&HashlimitBytes != 0:
		e.w = [4]uint64{hashlimitCPJBytes * hashlimitHZ, cfg.Burst, uint64(hashlimitUser2CreditsByte(uint32(cfg.Avg))), 0}
	default:
		credit := hashlimitUser2Credits(cfg.Avg * cfg.Burst)
		e.w = [4]uint64{credit, credit, hashlimitUser2Credits(cfg.Avg), 0}
	}
}

// rateinfoRecalc is rateinfo_recalc (revision 3) with the table's mode.
func (t *hashlimitTable) rateinfoRecalc(e *hashlimitEnt, now uint64) {
	delta := now - e.prev
	if delta == 0 {
		return
	}
	mode := t.cfg.Mode
	if mode&HashlimitRateMatch != 0 {
		interval := uint64(uint32(e.w[0]) * hashlimitHZ) // u32 arithmetic
		if delta < interval {
			return
		}
		e.prev = now
		var pw uint64
		if e.w[1]*interval > delta*e.w[2] {
			pw = 1
		}
		e.w[0] = e.w[0]&0xffffffff | pw<<32
		e.w[1] = 0
		return
	}
	e.prev = now
	var limit uint64
	if mode&HashlimitBytes != 0 {
		tmp := e.w[0]
		e.w[0] += hashlimitCPJBytes * delta
		limit = hashlimitCPJBytes * hashlimitHZ
		if tmp >= e.w[0] {
			e.w[0] = limit
			return
		}
	} else {
		e.w[0] += delta * hashlimitCPJ
		limit = e.w[1]
	}
	if e.w[0] > limit {
		e.w[0] = limit
	}
}

// byteCost is hashlimit_byte_cost.
func hashlimitByteCost(n uint32, e *hashlimitEnt) uint64 {
	tmp := uint64(n>>hashlimitByteShift+1) * e.w[2]
	if tmp > hashlimitCPJBytes*hashlimitHZ {
		tmp = hashlimitCPJBytes * hashlimitHZ
	}
	if e.w[0] < tmp && e.w[1] != 0 {
		e.w[1]--
		e.w[0] = hashlimitCPJBytes * hashlimitHZ
	}
	return uint64(uint32(tmp))
}

// Match implements pkt.Matcher as hashlimit_mt_common (revision 3). The
// table is shared by name and family in the store and keeps the settings
// of the rule that created it: the key (mode, masks), the bucket sizes of
// new entries, expiry and garbage collection come from the table, the
// decision (upto/above, bytes, rate-match) from this rule. Times are
// jiffies at HZ=250 (rlJiffies); entries expire only when the garbage
// collection runs (a lookup finds an expired entry and refills it), and
// a full table (htable-max) or a packet whose ports cannot be read drops
// the packet (hotdrop: c.DropNow).
func (m *Hashlimit) Match(c *pkt.Ctx) bool {
	t := m.table(c.Store, c.Now)
	now := rlJiffies(c.Now)
	near := nearJiffyBoundary(c.Now)
	d, ok := t.initDst(c.P)
	if ok {
		if pe := t.ents[d]; pe != nil && t.gcMarginal(pe.expires, now, near) {
			c.Marginal = true
		}
	}
	t.gc(now)
	if !ok {
		c.DropNow = true
		return false
	}
	e := t.ents[d]
	fresh := e == nil
	expires := now + msecsToJiffies(t.cfg.Expire)
	if e == nil {
		if uint32(len(t.ents)) >= t.max {
			c.DropNow = true
			return false
		}
		if n := len(t.free); n > 0 {
			e = t.free[n-1]
			t.free = t.free[:n-1]
		} else {
			e = &hashlimitEnt{}
		}
		t.ents[d] = e
		e.expires = expires
		t.rateinfoInit(e, now)
	}
	prev, credit0 := e.prev, e.w[0]
	if !fresh {
		e.expires = expires
		t.rateinfoRecalc(e, now)
	}
	inv := m.Mode&HashlimitInvert != 0
	if m.Mode&HashlimitRateMatch != 0 {
		// Marginal: one jiffy more or less would (or would not) close
		// the rate window.
		if interval := uint64(uint32(e.w[0]) * hashlimitHZ); near && !fresh && (now-prev == interval || now-prev+1 == interval) {
			c.Marginal = true
		}
		cost := uint64(1)
		if m.Mode&HashlimitBytes != 0 {
			cost = uint64(c.P.Len)
		}
		e.w[1] += cost
		if e.w[0]>>32 == 0 && e.w[1] <= e.w[3] {
			return !inv
		}
		return inv
	}
	var cost uint64
	if m.Mode&HashlimitBytes != 0 {
		cost = hashlimitByteCost(c.P.Len, e)
	} else {
		cost = e.w[2]
	}
	// Marginal: the packet is near a jiffy boundary and one jiffy's
	// credit more or less would decide otherwise (a new entry starts
	// full whatever its jiffy).
	if near && !fresh {
		switch {
		case m.Mode&HashlimitBytes != 0:
			// Byte mode (a refill of the burst on the way): one jiffy's
			// credit either way.
			if e.w[0]+hashlimitCPJBytes >= cost && e.w[0] < cost+hashlimitCPJBytes {
				c.Marginal = true
			}
		case e.w[0] >= cost:
			// A jiffy earlier: one jiffy's credit less, unless that still
			// fills the bucket. In the jiffy of the previous packet the
			// two move together.
			if d := now - prev; d >= 1 && d-1 < (e.w[1]-min(credit0, e.w[1]))/hashlimitCPJ+1 &&
				credit0+(d-1)*hashlimitCPJ < cost {
				c.Marginal = true
			}
		default:
			// A jiffy later: one jiffy's credit more (the bucket holds
			// at least the cost).
			if e.w[0]+hashlimitCPJ >= cost {
				c.Marginal = true
			}
		}
	}
	if e.w[0] >= cost {
		e.w[0] -= cost
		return !inv
	}
	return inv
}
