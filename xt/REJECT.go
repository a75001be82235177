package xt

import (
	"strconv"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// IPv4 reject types (the kernel's enum ipt_reject_with).
const (
	RejectNetUnreachable uint8 = iota
	RejectHostUnreachable
	RejectProtoUnreachable
	RejectPortUnreachable
	RejectEchoReply
	RejectNetProhibited
	RejectHostProhibited
	RejectTCPReset
	RejectAdminProhibited
)

// IPv6 reject types (the kernel's enum ip6t_reject_with).
const (
	Reject6NoRoute uint8 = iota
	Reject6AdmProhibited
	Reject6NotNeighbour
	Reject6AddrUnreach
	Reject6PortUnreach
	Reject6EchoReply
	Reject6TCPReset
	Reject6PolicyFail
	Reject6RejectRoute
)

type rejectName struct {
	name, alias string
	with        uint8
}

// Table order matters: --reject-with takes the first entry whose name or
// alias starts with the argument (case-insensitive).
var rejectNames4 = []rejectName{
	{"icmp-net-unreachable", "net-unreach", RejectNetUnreachable},
	{"icmp-host-unreachable", "host-unreach", RejectHostUnreachable},
	{"icmp-proto-unreachable", "proto-unreach", RejectProtoUnreachable},
	{"icmp-port-unreachable", "port-unreach", RejectPortUnreachable},
	{"icmp-net-prohibited", "net-prohib", RejectNetProhibited},
	{"icmp-host-prohibited", "host-prohib", RejectHostProhibited},
	{"tcp-reset", "tcp-rst", RejectTCPReset},
	{"icmp-admin-prohibited", "admin-prohib", RejectAdminProhibited},
}

var rejectNames6 = []rejectName{
	{"icmp6-no-route", "no-route", Reject6NoRoute},
	{"icmp6-adm-prohibited", "adm-prohibited", Reject6AdmProhibited},
	{"icmp6-addr-unreachable", "addr-unreach", Reject6AddrUnreach},
	{"icmp6-port-unreachable", "port-unreach", Reject6PortUnreach},
	{"tcp-reset", "tcp-reset", Reject6TCPReset},
	{"icmp6-policy-fail", "policy-fail", Reject6PolicyFail},
	{"icmp6-reject-route", "reject-route", Reject6RejectRoute},
}

// Reject is the REJECT target (-j REJECT [--reject-with TYPE]). With holds
// the kernel's reject type of the rule's family (Reject* or Reject6*).
type Reject struct {
	Family ruleset.Family
	With   uint8
}

func init() {
	Register(&Def{Name: "REJECT", Family: ruleset.IPv4, Target: true,
		New:     func() Parser { return &Reject{Family: ruleset.IPv4, With: RejectPortUnreachable} },
		Options: []Option{{Name: "reject-with", Arg: ReqArg}}})
	Register(&Def{Name: "REJECT", Family: ruleset.IPv6, Target: true,
		New:     func() Parser { return &Reject{Family: ruleset.IPv6, With: Reject6PortUnreach} },
		Options: []Option{{Name: "reject-with", Arg: ReqArg}}})
}

// Name implements ruleset.Extension.
func (t *Reject) Name() string { return "REJECT" }

func (t *Reject) names() []rejectName {
	if t.Family == ruleset.IPv6 {
		return rejectNames6
	}
	return rejectNames4
}

// Parse implements Parser.
func (t *Reject) Parse(_ *Context, _, arg string, _ bool) error {
	a := strings.ToLower(arg)
	for _, n := range t.names() {
		if strings.HasPrefix(n.name, a) || strings.HasPrefix(n.alias, a) {
			t.With = n.with
			return nil
		}
	}
	return Errorf("unknown reject type \"%s\"", arg)
}

// Final implements Parser: the kernel's checks (filter table, input,
// forward and output hooks; tcp-reset only for -p tcp).
func (t *Reject) Final(ctx *Context) (ruleset.Extension, error) {
	if err := tgKernelPlace(ctx, "filter", "INPUT", "FORWARD", "OUTPUT"); err != nil {
		return nil, err
	}
	reset := RejectTCPReset
	if t.Family == ruleset.IPv6 {
		reset = Reject6TCPReset
	}
	if t.With == reset && (ctx.Rule.Proto != 6 || ctx.Rule.Inv&ruleset.InvProto != 0) {
		return nil, KernelInval()
	}
	return t, nil
}

// WithName returns the name of the reject type, as iptables prints it.
func (t *Reject) WithName() string {
	for _, n := range t.names() {
		if n.with == t.With {
			return n.name
		}
	}
	return strconv.Itoa(int(t.With))
}

// Save implements ruleset.Extension.
func (t *Reject) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" --reject-with " + t.WithName())
}

// Print implements ruleset.Extension.
func (t *Reject) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" reject-with " + t.WithName())
}

// Act implements pkt.Actor as ipt_REJECT's reject_tg / ip6t_REJECT's
// reject_tg6 do: whatever the reject type, the verdict is NF_DROP; c.Reject
// names the reply the kernel tries to send (the --reject-with type).
//
// The engine does not inject the reply. In the kernel it is a new packet:
// nf_send_unreach/nf_send_unreach6 hand it to icmp_send/icmpv6_send,
// nf_send_reset/nf_send_reset6 build the RST themselves; both leave through
// ip_local_out/ip6_local_out, that is through the OUTPUT hook (raw,
// mangle, nat, filter, security) and then POSTROUTING, like any locally
// generated packet, even a RST whose source is the forwarded packet's
// destination. Either way the reply carries the rejected packet's conntrack
// (nf_ct_attach, from icmp_glue_bits/icmpv6_getfrag for ICMP errors): it is
// RELATED, in the other direction, and conntrack at OUTPUT does not look it
// up; the rejected packet's unconfirmed entry lives on with it and is
// never confirmed. nf_send_reset also moves a confirmed TCP entry to CLOSE
// (nf_ct_set_closing, 10 s). The engine applies all this to the next
// packet it processes when that packet is the reply (engine.Attacher). No reply is sent at all for a non-first fragment, a
// packet whose checksum fails (where nf_reject_verify_csum applies), a
// TCP RST (tcp-reset), or, for ICMP replies, an ICMP error, a broadcast or
// multicast destination and a reply suppressed by icmp rate limiting;
// icmp-echo-reply does nothing but drop. The verdict is the same in every
// case.
func (t *Reject) Act(c *pkt.Ctx) pkt.Verdict {
	c.Reject = t.WithName()
	return pkt.Drop
}

// Helpers shared by the target extensions (REJECT.go, LOG.go, ...).

// tgBuiltinChains are the chain names that are netfilter hooks.
var tgBuiltinChains = map[string]bool{"PREROUTING": true, "INPUT": true, "FORWARD": true, "OUTPUT": true, "POSTROUTING": true}

// tgKernelPlace is the kernel's table and hook check of a target: table
// ("" for any) must be the rule's table, and a built-in chain must be one
// of hooks (none given: any). User chains are checked only when jumped to,
// which the kernel does on the jump; here they pass.
func tgKernelPlace(ctx *Context, table string, hooks ...string) error {
	if table != "" && ctx.Table != table {
		return KernelInval()
	}
	if len(hooks) == 0 || !tgBuiltinChains[ctx.Chain] {
		return nil
	}
	for _, h := range hooks {
		if h == ctx.Chain {
			return nil
		}
	}
	return KernelInval()
}

// tgStrtoul is libxtables' xtables_strtoul with an end pointer: leading
// white space, an optional '+', base 0 (0x hex, 0 octal); no '-'. It
// returns the value and the unparsed rest; ok is false when no digits were
// read or the value overflows.
func tgStrtoul(s string) (v uint64, rest string, ok bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] >= '\t' && s[i] <= '\r') {
		i++
	}
	if i < len(s) && s[i] == '-' {
		return 0, s, false
	}
	if i < len(s) && s[i] == '+' {
		i++
	}
	base := uint64(10)
	switch {
	case i+2 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && isHex(s[i+2]):
		base, i = 16, i+2
	case i < len(s) && s[i] == '0':
		base = 8
	}
	j := i
	overflow := false
	for ; j < len(s); j++ {
		var d uint64
		c := s[j]
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			d = 99
		}
		if d >= base {
			break
		}
		if v > (^uint64(0)-d)/base {
			overflow = true
		}
		v = v*base + d
	}
	if j == i {
		return 0, s, false
	}
	if overflow {
		return 0, s[j:], false
	}
	return v, s[j:], true
}

// tgUint parses a whole-string unsigned option value within [min, max] as
// the x6 parser does for XTTYPE_UINT*, with its error message.
func tgUint(ext, opt, arg string, min, max uint64) (uint64, error) {
	v, rest, ok := tgStrtoul(arg)
	if !ok || rest != "" || v < min || v > max {
		return 0, Errorf("%s: bad value for option \"--%s\", or out of range (%d-%d).\n", ext, opt, min, max)
	}
	return v, nil
}

// tgSaveString writes " VALUE" as xtables_save_string does: bare when
// it has only [A-Za-z0-9_-], else double-quoted with \, " and ' escaped.
func tgSaveString(b *strings.Builder, v string) {
	plain := v != ""
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			plain = false
			break
		}
	}
	if plain {
		b.WriteString(" " + v)
		return
	}
	b.WriteString(" \"")
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '"' || c == '\\' || c == '\'' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
}

// tgExcl reports the first pair of mutually exclusive options that were
// both given, in option-table order, as xtables_options_fcheck does.
// names is the option table order, seen the given options, excl the
// exclusion pairs (by name).
func tgExcl(ext string, names []string, seen map[string]bool, excl map[string][]string) error {
	for _, n := range names {
		if !seen[n] {
			continue
		}
		for _, o := range names {
			for _, x := range excl[n] {
				if x == o && seen[o] {
					return Errorf("%s: option \"--%s\" cannot be used together with \"--%s\".\n", ext, n, o)
				}
			}
		}
	}
	return nil
}
