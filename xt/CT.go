package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// CT target flags (xt_CT.h).
const (
	CTNoTrack  uint16 = 1 << 0
	CTZoneOrig uint16 = 1 << 2 // --zone-orig: zone applies to the original direction
	CTZoneRepl uint16 = 1 << 3 // --zone-reply: zone applies to the reply direction
	CTZoneMark uint16 = 1 << 4 // the zone is taken from the packet mark
)

// CTTarget is the CT target (revision 2): it attaches a conntrack template
// (or none, with notrack) to packets in the raw table. The NOTRACK target
// is the same target with Alias set.
type CTTarget struct {
	Flags     uint16
	Helper    string // at most 15 characters
	Timeout   string // at most 4 characters (see Parse)
	CtEvents  uint32 // bits by ctEventNames index
	ExpEvents uint32 // bits by ctExpEventNames index
	Zone      uint16
	// Alias is set for -j NOTRACK: saved as NOTRACK, listed as CT with
	// " NOTRACK".
	Alias bool
}

var ctEventNames = []string{"new", "related", "destroy", "reply", "assured", "protoinfo",
	"helper", "mark", "natseqinfo", "secmark"}

var ctExpEventNames = []string{"new"}

// ctHelpers are the conntrack helpers the kernel offers: name, layer 4
// protocol, and whether it exists for IPv6 too.
var ctHelpers = []struct {
	name  string
	proto uint8
	ipv6  bool
}{
	{"ftp", 6, true}, {"tftp", 17, true}, {"irc", 6, false}, {"sip", 6, true}, {"sip", 17, true},
	{"amanda", 17, true}, {"netbios-ns", 17, false}, {"snmp", 17, false}, {"pptp", 6, false},
	{"sane", 6, true}, {"RAS", 17, true}, {"Q.931", 6, true}, {"H.245", 17, true},
}

func init() {
	Register(&Def{Name: "CT", Target: true, New: func() Parser { return &CTTarget{} },
		Options: []Option{
			{Name: "notrack"}, {Name: "helper", Arg: ReqArg}, {Name: "timeout", Arg: ReqArg},
			{Name: "ctevents", Arg: ReqArg}, {Name: "expevents", Arg: ReqArg},
			{Name: "zone-orig", Arg: ReqArg}, {Name: "zone-reply", Arg: ReqArg}, {Name: "zone", Arg: ReqArg},
		}})
}

// Name implements ruleset.Extension.
func (t *CTTarget) Name() string {
	if t.Alias {
		return "NOTRACK"
	}
	return "CT"
}

// ListName is the name in the target column of -L, which shows the real
// target (CT) also for the NOTRACK alias.
func (t *CTTarget) ListName() string { return "CT" }

// Parse implements Parser.
func (t *CTTarget) Parse(_ *Context, opt, arg string, _ bool) error {
	switch opt {
	case "notrack":
		t.Flags |= CTNoTrack
	case "helper":
		t.Helper = ctTrunc(arg, 15)
	case "timeout":
		// The field holds 31 characters, but iptables 1.8.9 (nf_tables)
		// keeps only the first 4 of a timeout policy name: observed with
		// the real tool (with --notrack, the one way such a rule loads).
		t.Timeout = ctTrunc(arg, 4)
	case "zone", "zone-orig", "zone-reply":
		switch opt {
		case "zone-orig":
			t.Flags |= CTZoneOrig
		case "zone-reply":
			t.Flags |= CTZoneRepl
		}
		t.Zone = 0
		if strings.EqualFold(arg, "mark") {
			t.Flags |= CTZoneMark
			return nil
		}
		v, rest, ok := StrtoulX(arg)
		if !ok || rest != "" || v > 0xFFFF {
			return Errorf("Cannot parse %s as a zone ID", arg)
		}
		t.Zone = uint16(v)
	case "ctevents":
		m, err := ctParseEvents(ctEventNames, arg)
		if err != nil {
			return err
		}
		t.CtEvents = m
	case "expevents":
		m, err := ctParseEvents(ctExpEventNames, arg)
		if err != nil {
			return err
		}
		t.ExpEvents = m
	}
	return nil
}

// ctTrunc cuts s to at most n bytes, as XTTYPE_STRING stores a string
// into a fixed-size field.
func ctTrunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func ctParseEvents(names []string, arg string) (uint32, error) {
	var m uint32
	for _, e := range strings.Split(arg, ",") {
		found := false
		for i, n := range names {
			if e == n {
				m |= 1 << i
				found = true
				break
			}
		}
		if !found {
			return 0, Errorf("Unknown event type \"%s\"", e)
		}
	}
	return m, nil
}

// Final implements Parser.
func (t *CTTarget) Final(ctx *Context) (ruleset.Extension, error) {
	return t, t.kernelCheck(ctx)
}

// kernelCheck is what the kernel checks when the rule is added: the raw
// table only; unless notrack, a helper must exist for the rule's protocol
// and a timeout policy must exist (rampart knows none).
func (t *CTTarget) kernelCheck(ctx *Context) error {
	if ctx.Table != "raw" {
		return KernelInval()
	}
	if t.Flags&CTNoTrack != 0 {
		return nil
	}
	if t.Helper != "" {
		proto := ctx.Rule.Proto
		if ctx.Rule.Inv&ruleset.InvProto != 0 {
			proto = 0
		}
		found := false
		for _, h := range ctHelpers {
			if h.name == t.Helper && h.proto == proto && (h.ipv6 || ctx.Family != ruleset.IPv6) {
				found = true
			}
		}
		if !found {
			return Kernel("No such file or directory")
		}
	}
	if t.Timeout != "" {
		return KernelInval()
	}
	return nil
}

func (t *CTTarget) write(b *strings.Builder, pfx string) {
	if t.Flags&CTNoTrack != 0 {
		b.WriteString(" " + pfx + "notrack")
	}
	if t.Helper != "" {
		b.WriteString(" " + pfx + "helper " + t.Helper)
	}
	if t.Timeout != "" {
		b.WriteString(" " + pfx + "timeout " + t.Timeout)
	}
	ctWriteEvents(b, pfx+"ctevents", ctEventNames, t.CtEvents)
	ctWriteEvents(b, pfx+"expevents", ctExpEventNames, t.ExpEvents)
	if t.Flags&CTZoneMark != 0 || t.Zone != 0 {
		b.WriteString(" " + pfx + "zone")
		switch t.Flags & (CTZoneOrig | CTZoneRepl) {
		case CTZoneOrig:
			b.WriteString("-orig")
		case CTZoneRepl:
			b.WriteString("-reply")
		}
		if t.Flags&CTZoneMark != 0 {
			b.WriteString(" mark")
		} else {
			b.WriteString(" " + Utoa(uint64(t.Zone)))
		}
	}
}

func ctWriteEvents(b *strings.Builder, name string, names []string, mask uint32) {
	if mask == 0 {
		return
	}
	b.WriteString(" " + name + " ")
	sep := ""
	for i, n := range names {
		if mask&(1<<i) != 0 {
			b.WriteString(sep + n)
			sep = ","
		}
	}
}

// Save implements ruleset.Extension.
func (t *CTTarget) Save(b *strings.Builder, _ ruleset.Fmt) {
	if t.Alias {
		return
	}
	t.write(b, "--")
}

// Print implements ruleset.Extension.
func (t *CTTarget) Print(b *strings.Builder, _ ruleset.Fmt) {
	if t.Alias {
		b.WriteString(" NOTRACK")
		return
	}
	b.WriteString(" CT")
	t.write(b, "")
}

// Act implements pkt.Actor as xt_CT's xt_ct_target does (NOTRACK is the
// same target with notrack set). A packet that already carries conntrack
// (a looped-back packet seen before) is left alone. --notrack marks the
// packet untracked (conntrack will skip it). Otherwise the kernel attaches
// a template that conntrack copies into the new entry: a zone (part of the
// tuple), a helper or a timeout policy change what conntrack does, and the
// conntrack model has none of them, so such a rule leaves the packet
// undecided; event masks change nothing the rules can see.
func (t *CTTarget) Act(c *pkt.Ctx) pkt.Verdict {
	if c.NoTrack || c.Conn != nil || c.CTState != 0 {
		return pkt.Continue
	}
	switch {
	case t.Flags&CTNoTrack != 0:
		c.NoTrack = true
	case t.Helper != "":
		c.Undecide("CT --helper: conntrack helpers are not modelled")
	case t.Timeout != "":
		c.Undecide("CT --timeout: conntrack timeout policies are not modelled")
	case t.Zone != 0 || t.Flags&CTZoneMark != 0:
		c.Undecide("CT --zone: conntrack zones are not modelled")
	}
	return pkt.Continue
}
