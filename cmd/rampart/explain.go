package main

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rampartfw/rampart/capture"
	"github.com/rampartfw/rampart/engine"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// fixedState is a tracker that gives every packet the state the user
// named in the packet description: a tracked state (NEW, ESTABLISHED,
// RELATED) comes with a connection whose original direction is the packet
// (the conntrack match sees no connection as INVALID).
type fixedState uint8

func (s fixedState) Track(c *pkt.Ctx) {
	c.CTState = uint8(s)
	c.Conn = nil
	switch uint8(s) {
	case pkt.CTNew, pkt.CTEstablished, pkt.CTRelated:
		p := c.P
		orig := pkt.Tuple{Src: p.Src, Dst: p.Dst, SrcPort: p.SrcPort, DstPort: p.DstPort, Proto: p.Proto}
		c.Conn = &pkt.Conn{Orig: orig, Reply: pkt.Tuple{Src: p.Dst, Dst: p.Src, SrcPort: p.DstPort, DstPort: p.SrcPort, Proto: p.Proto}}
	}
}
func (s fixedState) Confirm(c *pkt.Ctx) {}
func (s fixedState) Abort(c *pkt.Ctx)   {}

// PacketText is the explain command's packet description:
//
//	PROTO SRC[:PORT] > DST[:PORT] [flags LIST] [type T[/C]] [in IF] [out IF]
//	      [state S] [len N] [ttl N] [payload TEXT]
//
// PROTO is tcp, udp, icmp, icmpv6 or a number; IPv6 addresses with a port
// are written [ADDR]:PORT; flags are letters (S A F R P U) or names joined
// by commas; state is NEW (default), ESTABLISHED, RELATED, INVALID or
// UNTRACKED.
type PacketText struct {
	Spec    pkt.Spec
	In, Out string
	State   uint8
}

func parseEndpoint(s string) (netip.Addr, uint16, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), ap.Port(), nil
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a, 0, nil
	}
	return netip.Addr{}, 0, fmt.Errorf("bad address %q (want ADDR, ADDR:PORT or [V6ADDR]:PORT)", s)
}

func parseFlags(s string) (uint8, error) {
	var v uint8
	names := map[string]uint8{"FIN": 1, "SYN": 2, "RST": 4, "PSH": 8, "ACK": 16, "URG": 32, "F": 1, "S": 2, "R": 4, "P": 8, "A": 16, "U": 32}
	parts := strings.Split(strings.ToUpper(s), ",")
	if len(parts) == 1 && len(s) <= 6 && !strings.Contains(s, ",") {
		if _, whole := names[strings.ToUpper(s)]; !whole {
			parts = strings.Split(strings.ToUpper(s), "")
		}
	}
	for _, p := range parts {
		if p == "" || p == "NONE" || p == "." {
			continue
		}
		b, ok := names[p]
		if !ok {
			return 0, fmt.Errorf("unknown TCP flag %q", p)
		}
		v |= b
	}
	return v, nil
}

// ParsePacketText parses the explain packet description.
func ParsePacketText(words []string) (PacketText, error) {
	pt := PacketText{State: pkt.CTNew}
	if len(words) < 4 || words[2] != ">" {
		return pt, fmt.Errorf("want: PROTO SRC[:PORT] > DST[:PORT] [options]")
	}
	switch strings.ToLower(words[0]) {
	case "tcp":
		pt.Spec.Proto = pkt.ProtoTCP
	case "udp":
		pt.Spec.Proto = pkt.ProtoUDP
	case "icmp":
		pt.Spec.Proto = pkt.ProtoICMP
	case "icmpv6", "icmp6", "ipv6-icmp":
		pt.Spec.Proto = pkt.ProtoICMPv6
	default:
		n, err := strconv.ParseUint(words[0], 10, 8)
		if err != nil {
			return pt, fmt.Errorf("unknown protocol %q", words[0])
		}
		pt.Spec.Proto = uint8(n)
	}
	var err error
	if pt.Spec.Src, pt.Spec.SrcPort, err = parseEndpoint(words[1]); err != nil {
		return pt, err
	}
	if pt.Spec.Dst, pt.Spec.DstPort, err = parseEndpoint(words[3]); err != nil {
		return pt, err
	}
	if pt.Spec.Src.Is4() != pt.Spec.Dst.Is4() {
		return pt, fmt.Errorf("source and destination are of different families")
	}
	if pt.Spec.Proto == pkt.ProtoICMP && pt.Spec.Src.Is6() {
		pt.Spec.Proto = pkt.ProtoICMPv6
	}
	if pt.Spec.Proto == pkt.ProtoICMP || pt.Spec.Proto == pkt.ProtoICMPv6 {
		pt.Spec.ICMPType = 8
		if pt.Spec.Src.Is6() {
			pt.Spec.ICMPType = 128
		}
	}
	for i := 4; i < len(words); i += 2 {
		if i+1 >= len(words) {
			return pt, fmt.Errorf("%q needs a value", words[i])
		}
		k, v := words[i], words[i+1]
		switch k {
		case "flags":
			if pt.Spec.TCPFlags, err = parseFlags(v); err != nil {
				return pt, err
			}
		case "type":
			t, c, _ := strings.Cut(v, "/")
			n, err := strconv.ParseUint(t, 10, 8)
			if err != nil {
				return pt, fmt.Errorf("bad ICMP type %q", v)
			}
			pt.Spec.ICMPType = uint8(n)
			if c != "" {
				m, err := strconv.ParseUint(c, 10, 8)
				if err != nil {
					return pt, fmt.Errorf("bad ICMP code %q", v)
				}
				pt.Spec.ICMPCode = uint8(m)
			}
		case "in":
			pt.In = v
		case "out":
			pt.Out = v
		case "state":
			s := map[string]uint8{"NEW": pkt.CTNew, "ESTABLISHED": pkt.CTEstablished, "RELATED": pkt.CTRelated,
				"INVALID": pkt.CTInvalid, "UNTRACKED": pkt.CTUntracked}[strings.ToUpper(v)]
			if s == 0 {
				return pt, fmt.Errorf("unknown state %q", v)
			}
			pt.State = s
		case "len":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 65000 {
				return pt, fmt.Errorf("bad length %q", v)
			}
			pt.Spec.Payload = make([]byte, n)
		case "payload":
			pt.Spec.Payload = []byte(v)
		case "ttl":
			n, err := strconv.ParseUint(v, 10, 8)
			if err != nil {
				return pt, fmt.Errorf("bad ttl %q", v)
			}
			pt.Spec.TTL = uint8(n)
		default:
			return pt, fmt.Errorf("unknown packet option %q", k)
		}
	}
	return pt, nil
}

func cmdExplain(args []string) int {
	fam := ruleset.IPv4
	var rest []string
	var ifaces, routes multiFlag
	pcapFile, index := "", -1
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-6":
			fam = ruleset.IPv6
		case "-4":
		case "--pcap", "--index":
			if i+1 >= len(args) {
				fmt.Fprintf(os.Stderr, "rampart explain: %s needs a value\n", args[i])
				return 2
			}
			if args[i] == "--pcap" {
				pcapFile = args[i+1]
			} else {
				n, err := strconv.Atoi(args[i+1])
				if err != nil || n < 0 {
					fmt.Fprintf(os.Stderr, "rampart explain: bad --index %q\n", args[i+1])
					return 2
				}
				index = n
			}
			i++
		case "--iface", "--route":
			if i+1 >= len(args) {
				fmt.Fprintf(os.Stderr, "rampart explain: %s needs a value\n", args[i])
				return 2
			}
			if args[i] == "--iface" {
				ifaces = append(ifaces, args[i+1])
			} else {
				routes = append(routes, args[i+1])
			}
			i++
		default:
			rest = append(rest, args[i])
		}
	}
	if pcapFile != "" || index >= 0 {
		if pcapFile == "" || index < 0 || len(rest) != 1 {
			fmt.Fprintln(os.Stderr, "usage: rampart explain [-6] RULES --pcap IN --index N [--iface ...] [--route ...]")
			return 2
		}
		return explainCapture(fam, rest[0], pcapFile, index, ifaces, routes)
	}
	if len(rest) < 2 {
		fmt.Fprintln(os.Stderr, "usage: rampart explain [-6] RULES PROTO SRC[:PORT] > DST[:PORT] [flags F] [type T/C] [in IF] [out IF] [state S] [len N]")
		fmt.Fprintln(os.Stderr, "       rampart explain [-6] RULES --pcap IN --index N [--iface ...] [--route ...]")
		return 2
	}
	words := rest[1:]
	if len(words) == 1 {
		words = strings.Fields(words[0])
	}
	pt, err := ParsePacketText(words)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rampart explain:", err)
		return 2
	}
	if pt.Spec.Src.Is6() {
		fam = ruleset.IPv6
	}
	rs, ok := loadRules(rest[0], fam)
	if !ok {
		return 2
	}
	host, ok := buildHost("explain", ifaces, routes)
	if !ok {
		return 2
	}
	// Without --iface, the packet's own direction decides: "in IF" makes
	// the destination local, "out IF" the source.
	if len(ifaces) == 0 {
		switch {
		case pt.Out != "" && pt.In == "":
			host.AddIface(pt.Out + "=" + netip.PrefixFrom(pt.Spec.Src, pt.Spec.Src.BitLen()).String())
		case pt.In != "" && pt.Out != "":
			host.AddRoute(netip.PrefixFrom(pt.Spec.Src, pt.Spec.Src.BitLen()).String() + "=" + pt.In)
			host.AddRoute(netip.PrefixFrom(pt.Spec.Dst, pt.Spec.Dst.BitLen()).String() + "=" + pt.Out)
		default:
			in := pt.In
			if in == "" {
				in = "eth0"
			}
			host.AddIface(in + "=" + netip.PrefixFrom(pt.Spec.Dst, pt.Spec.Dst.BitLen()).String())
			host.AddRoute(netip.PrefixFrom(pt.Spec.Src, pt.Spec.Src.BitLen()).String() + "=" + in)
		}
	}
	var p pkt.Packet
	if err := p.Decode(pkt.Build(pt.Spec)); err != nil {
		fmt.Fprintln(os.Stderr, "rampart explain:", err)
		return 2
	}
	e := newEngine(rs, host, fixedState(pt.State))
	res := e.Process(&p, time.Unix(0, 0), printTracer(rs))
	printVerdict(res)
	return 0
}

// printTracer prints every rule a packet visits.
func printTracer(rs *ruleset.Ruleset) engine.Tracer {
	lastHook := ""
	return func(s engine.Step) {
		if h := s.Table + "/" + s.Chain; h != lastHook {
			fmt.Printf("%s %s:\n", s.Table, s.Chain)
			lastHook = h
		}
		switch {
		case s.Rule == 0:
			fmt.Printf("  policy: %s\n", s.Why)
		case s.Matched:
			fmt.Printf("  %3d  matched    %s\n", s.Rule, ruleText(rs, s))
		default:
			fmt.Printf("  %3d  no match   %s  (%s)\n", s.Rule, ruleText(rs, s), s.Why)
		}
	}
}

// explainCapture runs a capture through the rules (so that connection
// tracking and rate limits see everything before it) and explains packet
// index of it.
func explainCapture(fam ruleset.Family, rulesFile, pcapFile string, index int, ifaces, routes multiFlag) int {
	rs, ok := loadRules(rulesFile, fam)
	if !ok {
		return 2
	}
	host, ok := buildHost("explain", ifaces, routes)
	if !ok {
		return 2
	}
	e := newEngine(rs, host, newTracker())
	in, err := os.Open(pcapFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rampart explain:", err)
		return 1
	}
	defer in.Close()
	r, err := capture.Open(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rampart explain:", err)
		return 2
	}
	found := false
	_, err = engine.RunCapture(e, r, engine.CaptureOptions{
		Trace: func(fr capture.Frame) engine.Tracer {
			if fr.Index != index {
				return nil
			}
			fmt.Printf("packet %d at %s\n", fr.Index, fr.Time.UTC().Format("2006-01-02T15:04:05.000000Z"))
			return printTracer(rs)
		},
		Each: func(fr capture.Frame, p *pkt.Packet, res engine.Result) {
			if fr.Index == index {
				found = true
				printVerdict(res)
			}
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "rampart explain:", err)
		return 1
	}
	if !found {
		fmt.Fprintf(os.Stderr, "rampart explain: packet %d did not reach the rules (not in the capture, of the other family, or a fragment)\n", index)
		return 1
	}
	return 0
}

func printVerdict(res engine.Result) {
	if res.Path.Routing != "" {
		fmt.Printf("routing: %s\n", res.Path.Routing)
	}
	if res.Undecided != "" {
		fmt.Printf("undecidable: %s\n", res.Undecided)
	}
	where := fmt.Sprintf("%s %s rule %d", res.Reason.Table, res.Reason.Chain, res.Reason.Rule)
	if res.Reason.Policy {
		where = fmt.Sprintf("%s %s policy", res.Reason.Table, res.Reason.Chain)
	}
	if res.Reason.Table == "" {
		where = "no rule (no table has chains at its hooks)"
	}
	fmt.Printf("verdict: %s (%s)\n", res.Verdict, where)
}

func ruleText(rs *ruleset.Ruleset, s engine.Step) string {
	t := rs.Table(s.Table)
	if t == nil {
		return ""
	}
	c := t.Chain(s.Chain)
	if c == nil || s.Rule < 1 || s.Rule > len(c.Rules) {
		return ""
	}
	var b strings.Builder
	b.WriteString("-A " + s.Chain)
	iptextRuleSpec(&b, c.Rules[s.Rule-1], rs.Family)
	return b.String()
}
