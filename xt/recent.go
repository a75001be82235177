package xt

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/rampartfw/rampart/ruleset"
)

// Recent command and modifier bits (struct xt_recent_mtinfo.check_set).
const (
	RecentCheck  uint8 = 1 << 0
	RecentSet    uint8 = 1 << 1
	RecentUpdate uint8 = 1 << 2
	RecentRemove uint8 = 1 << 3
	RecentTTL    uint8 = 1 << 4
	RecentReap   uint8 = 1 << 5
)

// Recent list sides.
const (
	RecentSource uint8 = 0
	RecentDest   uint8 = 1
)

const recentNameLen = 199 // char name[XT_RECENT_NAME_LEN=200], NUL-terminated

// Recent is the recent match, revision 1 (-m recent).
type Recent struct {
	CheckSet uint8 // Recent* bits
	Invert   bool
	Seconds  uint32
	HitCount uint32
	List     string // --name
	Side     uint8  // RecentSource or RecentDest
	Mask     netip.Addr
}

// recent option ids, in the order of libxt_recent's table.
const (
	rcSet = iota
	rcRcheck
	rcUpdate
	rcRemove
	rcSeconds
	rcReap
	rcHitcount
	rcRttl
	rcName
	rcRsource
	rcRdest
	rcMask
)

var recentOpts = []string{"set", "rcheck", "update", "remove", "seconds", "reap", "hitcount", "rttl", "name", "rsource", "rdest", "mask"}

type recentParser struct {
	m    Recent
	seen uint32
}

func init() {
	Register(&Def{Name: "recent", New: func() Parser { return &recentParser{} },
		Options: []Option{
			{Name: "set", Invert: true}, {Name: "rcheck", Invert: true},
			{Name: "update", Invert: true}, {Name: "remove", Invert: true},
			{Name: "seconds", Arg: ReqArg}, {Name: "reap"},
			{Name: "hitcount", Arg: ReqArg}, {Name: "rttl"},
			{Name: "name", Arg: ReqArg}, {Name: "rsource"}, {Name: "rdest"},
			{Name: "mask", Arg: ReqArg},
		}})
}

// Parse implements Parser.
func (p *recentParser) Parse(ctx *Context, opt, arg string, inv bool) error {
	id := 0
	for i, n := range recentOpts {
		if n == opt {
			id = i
		}
	}
	p.seen |= 1 << id
	m := &p.m
	switch id {
	case rcSet, rcRcheck, rcUpdate, rcRemove:
		m.CheckSet |= []uint8{RecentSet, RecentCheck, RecentUpdate, RecentRemove}[id]
		if inv {
			m.Invert = true
		}
	case rcSeconds:
		v, err := x6Uint("recent", opt, arg, 1, 1<<32-1)
		if err != nil {
			return err
		}
		m.Seconds = uint32(v)
	case rcHitcount:
		v, err := x6Uint("recent", opt, arg, 0, 1<<32-1)
		if err != nil {
			return err
		}
		m.HitCount = uint32(v)
	case rcReap:
		m.CheckSet |= RecentReap
	case rcRttl:
		m.CheckSet |= RecentTTL
	case rcName:
		if len(arg) > recentNameLen {
			arg = arg[:recentNameLen]
		}
		m.List = arg
	case rcRsource:
		m.Side = RecentSource
	case rcRdest:
		m.Side = RecentDest
	case rcMask:
		a, err := parseHostArg(arg, ctx.Family)
		if err != nil {
			return err
		}
		m.Mask = a
	}
	return nil
}

// parseHostArg parses an XTTYPE_HOST argument: an address of the family,
// or a name resolved as getaddrinfo would (it must give one address).
func parseHostArg(arg string, f ruleset.Family) (netip.Addr, error) {
	if a, ok := parseIPv6Numeric(arg); ok {
		if f == ruleset.IPv6 {
			return a, nil
		}
		return netip.Addr{}, Errorf("getaddrinfo: Address family for hostname not supported\n")
	}
	if a, ok := inetAtonAddr(arg); ok {
		if f == ruleset.IPv4 {
			return a, nil
		}
		return netip.Addr{}, Errorf("getaddrinfo: Address family for hostname not supported\n")
	}
	network := "ip4"
	if f == ruleset.IPv6 {
		network = "ip6"
	}
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(c, network, arg)
	if err != nil || len(ips) == 0 {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return netip.Addr{}, Errorf("getaddrinfo: Name or service not known\n")
		}
		return netip.Addr{}, Errorf("getaddrinfo: Temporary failure in name resolution\n")
	}
	for _, ip := range ips[1:] {
		if ip.Unmap() != ips[0].Unmap() {
			return netip.Addr{}, Errorf("%s resolves to more than one address\n", arg)
		}
	}
	a := ips[0]
	if f == ruleset.IPv4 {
		a = a.Unmap()
	}
	return a, nil
}

// Final implements Parser.
func (p *recentParser) Final(ctx *Context) (ruleset.Extension, error) {
	m := p.m
	if p.seen&(1<<rcName) == 0 {
		m.List = "DEFAULT"
	}
	if p.seen&(1<<rcMask) == 0 {
		if ctx.Family == ruleset.IPv6 {
			m.Mask = netip.IPv6Unspecified()
			b := m.Mask.As16()
			for i := range b {
				b[i] = 0xff
			}
			m.Mask = netip.AddrFrom16(b)
		} else {
			m.Mask = netip.AddrFrom4([4]byte{255, 255, 255, 255})
		}
	}
	const anyOp = 1<<rcSet | 1<<rcRcheck | 1<<rcUpdate | 1<<rcRemove
	if p.seen&anyOp == 0 {
		return nil, Errorf("recent: you must specify one of `--set', `--rcheck' `--update' or `--remove'")
	}
	// The option table: each command excludes the others, --reap needs
	// --seconds, --rttl excludes --set and --remove.
	for id := rcSet; id <= rcRemove; id++ {
		if p.seen&(1<<id) == 0 {
			continue
		}
		for o := rcSet; o <= rcRemove; o++ {
			if o != id && p.seen&(1<<o) != 0 {
				return nil, Errorf("recent: option \"--%s\" cannot be used together with \"--%s\".\n", recentOpts[id], recentOpts[o])
			}
		}
	}
	if p.seen&(1<<rcReap) != 0 && p.seen&(1<<rcSeconds) == 0 {
		return nil, Errorf("recent: option \"--reap\" also requires \"--seconds\".\n")
	}
	if p.seen&(1<<rcRttl) != 0 {
		for _, o := range []int{rcSet, rcRemove} {
			if p.seen&(1<<o) != 0 {
				return nil, Errorf("recent: option \"--rttl\" cannot be used together with \"--%s\".\n", recentOpts[o])
			}
		}
	}
	// The kernel's recent_mt_check.
	if m.CheckSet&(RecentSet|RecentRemove) != 0 && (m.Seconds != 0 || m.HitCount != 0 || m.CheckSet&(RecentTTL|RecentReap) != 0) {
		return nil, KernelInval()
	}
	if m.HitCount >= 65536 {
		return nil, KernelInval()
	}
	if m.List == "" || m.List == "." || m.List == ".." || strings.ContainsRune(m.List, '/') {
		return nil, KernelInval()
	}
	return &m, nil
}

// Name implements ruleset.Extension.
func (m *Recent) Name() string { return "recent" }

// Save implements ruleset.Extension.
func (m *Recent) Save(b *strings.Builder, _ ruleset.Fmt) {
	if m.Invert {
		b.WriteString(" !")
	}
	for _, x := range []struct {
		bit  uint8
		name string
	}{{RecentSet, " --set"}, {RecentCheck, " --rcheck"}, {RecentUpdate, " --update"}, {RecentRemove, " --remove"}} {
		if m.CheckSet&x.bit != 0 {
			b.WriteString(x.name)
		}
	}
	if m.Seconds != 0 {
		b.WriteString(" --seconds " + Utoa(uint64(m.Seconds)))
	}
	if m.CheckSet&RecentReap != 0 {
		b.WriteString(" --reap")
	}
	if m.HitCount != 0 {
		b.WriteString(" --hitcount " + Utoa(uint64(m.HitCount)))
	}
	if m.CheckSet&RecentTTL != 0 {
		b.WriteString(" --rttl")
	}
	b.WriteString(" --name " + m.List + " --mask " + m.Mask.String())
	if m.Side == RecentSource {
		b.WriteString(" --rsource")
	} else {
		b.WriteString(" --rdest")
	}
}

// Print implements ruleset.Extension.
func (m *Recent) Print(b *strings.Builder, _ ruleset.Fmt) {
	if m.Invert {
		b.WriteString(" !")
	}
	b.WriteString(" recent:")
	for _, x := range []struct {
		bit  uint8
		name string
	}{{RecentSet, " SET"}, {RecentCheck, " CHECK"}, {RecentUpdate, " UPDATE"}, {RecentRemove, " REMOVE"}} {
		if m.CheckSet&x.bit != 0 {
			b.WriteString(x.name)
		}
	}
	if m.Seconds != 0 {
		b.WriteString(" seconds: " + Utoa(uint64(m.Seconds)))
	}
	if m.CheckSet&RecentReap != 0 {
		b.WriteString(" reap")
	}
	if m.HitCount != 0 {
		b.WriteString(" hit_count: " + Utoa(uint64(m.HitCount)))
	}
	if m.CheckSet&RecentTTL != 0 {
		b.WriteString(" TTL-Match")
	}
	b.WriteString(" name: " + m.List)
	if m.Side == RecentSource {
		b.WriteString(" side: source")
	} else {
		b.WriteString(" side: dest")
	}
	b.WriteString(" mask: " + m.Mask.String())
}
