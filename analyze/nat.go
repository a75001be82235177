package analyze

import (
	"fmt"
	"net/netip"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// natAnalyzer is an analyzer over the nat table of rs (nil without one):
// the same symbolic walk, over the nat chains.
func natAnalyzer(rs *ruleset.Ruleset, ifs *alphabet) *analyzer {
	an := newTableAnalyzer(rs, "nat", ifs)
	if an.t == nil {
		return nil
	}
	an.conntrack = true
	return an
}

// walkPrerouting walks nat PREROUTING with the packets that reach it: the
// first packet of each connection (state NEW), arriving on an interface.
func (an *analyzer) walkPrerouting() *HookResult {
	c := an.t.Chain("PREROUTING")
	if c == nil {
		return nil
	}
	b := an.full
	b.In &^= 1 // arrives on an interface
	b.Out = 1  // not routed yet
	b.State = stNew
	b.Frag = fragFirst
	e := Set{b}
	hr := &HookResult{Chain: c.Name, Hook: ruleset.PreRouting, Policy: c.Policy, Entry: e, Verdict: map[string]*Region{}}
	for _, v := range []string{VAccept, VDrop, VReject, VQueue} {
		hr.Verdict[v] = &Region{}
	}
	retMay, retMust := an.walk(c, e, e, hr, map[string]bool{})
	hr.PolicyRegion = Region{retMay, retMust}
	return hr
}

// dnatImage is the set of packets a DNAT rule's matched packets become:
// the new destination address and port, routed out of some interface.
func dnatImage(s Set, r xt.NATRange, fam int) Set {
	var out Set
	for _, b := range s {
		b.Out = ^uint64(0) &^ 1
		if r.Flags&xt.NATMapIPs != 0 {
			b.Dst = ivs{{addrVal(r.MinAddr), addrVal(r.MaxAddr)}}
		}
		if r.Flags&xt.NATProtoSpecified != 0 {
			b.DPort = span(uint64(r.MinPort), uint64(r.MaxPort))
		}
		out = append(out, b)
	}
	return out
}

// forwardedTo reports whether a DNAT range sends packets away from the
// host: a new address that is not loopback. (A rule that only changes the
// port keeps the original, local, destination.)
func forwardedTo(r xt.NATRange) bool {
	if r.Flags&xt.NATMapIPs == 0 {
		return false
	}
	lo := netip.MustParsePrefix("127.0.0.0/8")
	if r.MinAddr.Is6() {
		lo = netip.MustParsePrefix("::1/128")
	}
	return !lo.Contains(r.MinAddr) || !lo.Contains(r.MaxAddr)
}

// dnatBypass reports the Docker/ufw trap: a DNAT rule in nat PREROUTING
// sends new connections to another host, so they go through the filter
// FORWARD chain and never meet INPUT. When FORWARD accepts them while INPUT
// would not accept the same packets addressed to the host, the port is
// open although INPUT says it is closed.
func (res *Result) dnatBypass(o Options) {
	nan := natAnalyzer(res.an.rs, res.an.ifs)
	if nan == nil {
		return
	}
	if nan.walkPrerouting() == nil {
		return
	}
	fwdAccept := Set{res.an.full}
	fwdWhy := "there is no filter table to stop them"
	if hr := res.Hooks["FORWARD"]; hr != nil {
		fwdAccept = hr.Verdict[VAccept].May
		fwdWhy = "FORWARD accepts them (default " + res.defaultOf(hr) + ")"
	}
	var inAccept Set
	inputWalked := false
	if hr := res.Hooks["INPUT"]; hr != nil {
		inAccept, inputWalked = hr.Verdict[VAccept].Must, true
	}
	for _, ri := range nan.order {
		if ri.Chain != "PREROUTING" && ri.Hooks&(1<<ruleset.PreRouting) == 0 {
			continue
		}
		d, ok := ri.Rule.Target.(*xt.Dnat)
		if !ok || !forwardedTo(d.Range) || ri.Match.May.IsEmpty() {
			continue
		}
		// Per box: the image accepted by FORWARD, mapped back to the
		// original packet (DNAT changes only the destination).
		var open Set
		for _, b := range ri.Match.May {
			img := dnatImage(Set{b}, d.Range, nan.fam)
			for _, a := range img.Intersect(fwdAccept) {
				a.Dst, a.DPort, a.Out = b.Dst, b.DPort, b.Out
				open = append(open, a)
			}
		}
		if open.IsEmpty() {
			res.add(Finding{Severity: Info, Kind: "dnat-dropped", File: ri.Rule.Pos.File, Line: ri.Rule.Pos.Line,
				Chain: "nat " + ri.Chain, Rule: ri.Num,
				Message: "the connections this DNAT rule redirects are all dropped by the filter FORWARD chain"})
			continue
		}
		// Would INPUT have accepted these packets, addressed to the host?
		var asInput Set
		for _, b := range open {
			b.Out = 1
			asInput = append(asInput, b)
		}
		if inputWalked && asInput.SubsetOf(inAccept) {
			continue // INPUT opens the same port: no surprise
		}
		f := Finding{Severity: Warning, Kind: "dnat-bypasses-input", File: ri.Rule.Pos.File, Line: ri.Rule.Pos.Line,
			Chain: "nat " + ri.Chain, Rule: ri.Num,
			Message: fmt.Sprintf("new connections (%s) are sent to %s through FORWARD and never meet INPUT: %s, so they are open although INPUT does not accept them (the Docker/ufw trap; filter them in FORWARD, e.g. with -m conntrack --ctorigdstport, or in DOCKER-USER)",
				res.describeIn(open[0]), natTo(d.Range), fwdWhy),
			Approximate: !ri.Match.Exact()}
		if w, ok := nan.Witness(open.Subtract(inAccept)); ok {
			f.Witness = w.String()
		} else if w, ok := nan.Witness(open); ok {
			f.Witness = w.String()
		}
		res.add(f)
	}
}

// natTo writes a NAT range as --to-destination shows it.
func natTo(r xt.NATRange) string {
	s := ""
	if r.Flags&xt.NATMapIPs != 0 {
		s = r.MinAddr.String()
		if r.MaxAddr != r.MinAddr {
			s += "-" + r.MaxAddr.String()
		}
		if r.MinAddr.Is6() && r.Flags&xt.NATProtoSpecified != 0 {
			s = "[" + s + "]"
		}
	}
	if r.Flags&xt.NATProtoSpecified != 0 {
		s += fmt.Sprintf(":%d", r.MinPort)
		if r.MaxPort != r.MinPort {
			s += fmt.Sprintf("-%d", r.MaxPort)
		}
	}
	return s
}

// describeIn describes a box of packets arriving at the host, before routing.
func (res *Result) describeIn(b Box) string {
	b.Out = res.an.entry(ruleset.PreRouting).Out &^ res.an.ifs.index("lo")
	return res.describe(&b, ruleset.PreRouting)
}
