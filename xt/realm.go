package xt

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// RealmsFile is iproute2's realm name table, as iptables reads it.
var RealmsFile = "/etc/iproute2/rt_realms"

var (
	realmOnce   sync.Once
	realmByName map[string]uint32
	realmByID   map[uint32]string
	realmLoaded bool
)

func loadRealms() {
	realmByName = map[string]uint32{}
	realmByID = map[uint32]string{}
	f, err := os.Open(RealmsFile)
	if err != nil {
		return
	}
	defer f.Close()
	realmLoaded = true
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 || strings.HasPrefix(fs[0], "#") {
			continue
		}
		id, err := strconv.ParseUint(fs[0], 0, 32)
		if err != nil {
			continue
		}
		if _, ok := realmByName[fs[1]]; !ok {
			realmByName[fs[1]] = uint32(id)
		}
		if _, ok := realmByID[uint32(id)]; !ok {
			realmByID[uint32(id)] = fs[1]
		}
	}
}

// Realm is the realm match (IPv4): the routing realm of the packet.
type Realm struct {
	ID, Mask uint32
	Inv      bool
	set      bool
}

func init() {
	Register(&Def{Name: "realm", Family: ruleset.IPv4, New: func() Parser { return &Realm{} },
		Options: []Option{{Name: "realm", Arg: ReqArg, Invert: true}}})
}

// Name implements ruleset.Extension.
func (m *Realm) Name() string { return "realm" }

// Parse implements Parser (xtables_parse_val_mask with the realm names).
func (m *Realm) Parse(_ *Context, _, arg string, inv bool) error {
	realmOnce.Do(loadRealms)
	m.Mask = ^uint32(0)
	byName := func() error {
		if !realmLoaded {
			return Errorf("realm: bad integer value for option \"--realm\", or out of range.\n")
		}
		id, ok := realmByName[arg]
		if !ok {
			return Errorf("realm: could not map name %s to an integer value for option \"--realm\".\n", arg)
		}
		m.ID = id
		return nil
	}
	v, rest, ok := ParseUintPrefix(arg)
	switch {
	case !ok || v > 1<<32-1:
		if err := byName(); err != nil {
			return err
		}
	case rest == "":
		m.ID = uint32(v)
	case rest[0] != '/':
		if err := byName(); err != nil {
			return err
		}
	default:
		m.ID = uint32(v)
		mv, rest2, ok := ParseUintPrefix(rest[1:])
		if !ok || mv > 1<<32-1 {
			return Errorf("realm: bad integer value for option \"--realm\", or out of range.\n")
		}
		if rest2 != "" {
			return Errorf("realm: trailing garbage after value for option \"--realm\".\n")
		}
		m.Mask = uint32(mv)
	}
	m.Inv, m.set = inv, true
	return nil
}

// Final implements Parser.
func (m *Realm) Final(ctx *Context) (ruleset.Extension, error) {
	if !m.set {
		return nil, Errorf("realm: option \"--realm\" must be specified\n")
	}
	if !xtHookAllowed(ctx, ruleset.PostRouting, ruleset.Forward, ruleset.LocalOut, ruleset.LocalIn) {
		return nil, KernelInval()
	}
	return m, nil
}

func (m *Realm) value(numeric bool) string {
	if m.Mask != ^uint32(0) {
		return " " + Hex(uint64(m.ID)) + "/" + Hex(uint64(m.Mask))
	}
	if !numeric {
		realmOnce.Do(loadRealms)
		if n, ok := realmByID[m.ID]; ok {
			return " " + n
		}
	}
	return " " + Hex(uint64(m.ID))
}

// Save implements ruleset.Extension.
func (m *Realm) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(Bang(m.Inv) + " --realm" + m.value(false))
}

// Print implements ruleset.Extension.
func (m *Realm) Print(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(Bang(m.Inv) + " realm" + m.value(f.Numeric))
}

// Match implements pkt.Matcher as xt_realm's realm_mt does:
// (dst->tclassid & mask) == id. The routing realm comes from the route, so
// it is undecidable, except with mask 0, where the realm plays no part (the
// allowed hooks all run after routing, so the packet has a dst).
func (m *Realm) Match(c *pkt.Ctx) bool {
	if m.Mask == 0 {
		return (m.ID == 0) != m.Inv
	}
	return c.Undecide("realm: the routing realm of the packet is unknown")
}
