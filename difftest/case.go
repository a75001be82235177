package difftest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/rampartfw/rampart/backend"
	"github.com/rampartfw/rampart/backend/nft"
	"github.com/rampartfw/rampart/capture"
	"github.com/rampartfw/rampart/engine"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// EmptyFilter is a filter table with ACCEPT policies and no rules.
const EmptyFilter = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"

// Case is one differential run: the rules of each family and the packets.
type Case struct {
	Name string
	// Rules4 and Rules6 are rules files: iptables-restore format, or a
	// shell script of iptables/ip6tables commands (run line by line in fw
	// with sh, failing lines skipped, as rampart's ipt.Load does).
	Rules4, Rules6 string
	Steps          []Step
	// Backend loads the rules into fw's kernel: "" with the real
	// iptables-restore (or sh for a script), "nft" or "iptables" with
	// rampart's backend of that name (the rules parsed by rampart, as
	// `rampart apply --backend NAME` loads them), or "nft-chunk3": the nft
	// backend with its chains in chunks of 3 rules. The kernel's counters
	// are read back through the same backend. The nft backend keeps its
	// handle cache in the case's directory.
	Backend string
}

// Mismatch is one line of iptables-save -c that differs.
type Mismatch struct {
	Family  ruleset.Family
	Key     string // "CHAIN policy" or "CHAIN #n"
	Kernel  string // the kernel's line ("" when missing)
	Rampart string // rampart's line
	Format  bool   // the lines differ beyond their counters
	Packets []int  // capture indexes of packets that rampart counted on this line
}

// PacketInfo is what rampart decided for one captured packet.
type PacketInfo struct {
	Index   int
	Family  ruleset.Family
	Summary string
	Result  engine.Result
}

// Outcome is the result of a case.
type Outcome struct {
	Case       string
	Dir        string // where the capture and the rules are kept
	Sent       int    // packets injected
	SendErrors int    // injections the kernel refused (OUTPUT drops: EPERM)
	Dropped    int    // packets tcpdump says the kernel dropped (capture unreliable)
	Stats      engine.CaptureStats
	Mismatches []Mismatch
	Packets    map[int]PacketInfo
	Kernel     map[ruleset.Family]string
	Rampart    map[ruleset.Family]string
	Diags      []string // rampart's load diagnostics (script lines skipped)
	KernelErrs string   // what the kernel's tools printed when loading
}

var counterRE = regexp.MustCompile(`\[\d+:\d+\]`)

// splitSave returns the non-comment lines of iptables-save output.
func splitSave(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// lineKeys names each line: "CHAIN policy", "CHAIN #n" or the line itself.
func lineKeys(lines []string) []string {
	keys := make([]string, len(lines))
	table := ""
	n := map[string]int{}
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "*"):
			table = l[1:]
			keys[i] = l
		case strings.HasPrefix(l, ":"):
			f := strings.Fields(l[1:])
			keys[i] = table + " " + f[0] + " policy"
		default:
			f := strings.Fields(counterRE.ReplaceAllString(l, ""))
			if len(f) >= 2 && f[0] == "-A" {
				n[f[1]]++
				keys[i] = fmt.Sprintf("%s %s #%d", table, f[1], n[f[1]])
			} else {
				keys[i] = l
			}
		}
	}
	return keys
}

// Compare compares kernel and rampart iptables-save -c outputs ("#" lines
// ignored) line by line; matched maps line keys to the packets rampart
// counted there.
func Compare(fam ruleset.Family, kernel, rampart string, matched map[string][]int) []Mismatch {
	kl, rl := splitSave(kernel), splitSave(rampart)
	kk, rk := lineKeys(kl), lineKeys(rl)
	var out []Mismatch
	n := max(len(kl), len(rl))
	for i := range n {
		var k, r, key string
		if i < len(kl) {
			k, key = kl[i], kk[i]
		}
		if i < len(rl) {
			r = rl[i]
			if key == "" {
				key = rk[i]
			}
		}
		if k == r {
			continue
		}
		m := Mismatch{Family: fam, Key: key, Kernel: k, Rampart: r}
		m.Format = counterRE.ReplaceAllString(k, "") != counterRE.ReplaceAllString(r, "")
		m.Packets = matched[key]
		out = append(out, m)
	}
	return out
}

// loadKernel loads a rules file into fw's kernel for one family.
func (t *Topo) loadKernel(fam ruleset.Family, rules string) (string, error) {
	tool := fam.Tool()
	if _, err := t.Exec(EmptyFilter, tool+"-restore"); err != nil {
		return "", err
	}
	if ipt.DetectFormat([]byte(rules)) == ipt.FormatScript {
		// Line by line, failing lines reported and skipped, as a shell
		// running the script without -e.
		out, _ := exec.Command("ip", "netns", "exec", t.FW, "sh", "-c", rules+"\ntrue\n").CombinedOutput()
		return string(out), nil
	}
	if _, err := t.Exec(rules, tool+"-restore"); err != nil {
		return "", err
	}
	return "", nil
}

// RunCase runs a case in the kernel and in rampart and compares the
// counters. dir receives the capture (capture.pcap, with the kernel's
// packet times: see retime; tcpdump's own in capture.tcpdump.pcap), the
// rules and, on mismatch, a report. rampart runs with the kernel's jiffy
// phase (xt.JiffyPhase).
func (t *Topo) RunCase(c Case, dir string) (*Outcome, error) {
	o := &Outcome{Case: c.Name, Dir: dir, Kernel: map[ruleset.Family]string{}, Rampart: map[ruleset.Family]string{}, Packets: map[int]PacketInfo{}}
	rules := map[ruleset.Family]string{ruleset.IPv4: c.Rules4, ruleset.IPv6: c.Rules6}
	for fam, r := range rules {
		if r == "" {
			rules[fam] = EmptyFilter
		}
	}
	os.WriteFile(filepath.Join(dir, "rules.v4"), []byte(rules[ruleset.IPv4]), 0o644)
	os.WriteFile(filepath.Join(dir, "rules.v6"), []byte(rules[ruleset.IPv6]), 0o644)
	// rampart's view of the rules (also what its backends load)
	rss := map[ruleset.Family]*ruleset.Ruleset{}
	for _, fam := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		rs, diags, err := ipt.Load("rules."+fam.String(), []byte(rules[fam]), ipt.LoadOptions{Family: fam})
		if err != nil {
			return nil, fmt.Errorf("%s: rampart cannot load the %s rules: %v", c.Name, fam, err)
		}
		for _, d := range diags {
			o.Diags = append(o.Diags, ipt.FormatDiag(d, ""))
		}
		rss[fam] = rs
	}
	nftState := filepath.Join(dir, "nft-state")
	if err := (nft.Backend{Netns: t.FW, StateDir: nftState}).Delete(ruleset.IPv4, ruleset.IPv6); err != nil {
		return nil, fmt.Errorf("%s: deleting rampart's nft tables: %v", c.Name, err)
	}
	// The iptables tables of an earlier case other than filter (the
	// capture's own table is inet rampartcap and stays).
	for _, fam := range []string{"ip", "ip6"} {
		for _, tbl := range []string{"raw", "mangle", "nat", "security"} {
			t.Exec("", "nft", "delete", "table", fam, tbl) // absent: no matter
		}
	}
	var be backend.Backend
	if c.Backend == "" {
		for _, fam := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
			msg, err := t.loadKernel(fam, rules[fam])
			if err != nil {
				return nil, fmt.Errorf("%s: loading the %s rules into the kernel: %v", c.Name, fam.Tool(), err)
			}
			o.KernelErrs += msg
		}
	} else {
		var err error
		switch c.Backend {
		case "nft":
			be = nft.Backend{Netns: t.FW, StateDir: nftState}
		case "nft-chunk3":
			be = nft.Backend{Netns: t.FW, StateDir: nftState, ChunkSize: 3}
		default:
			if be, err = backend.Open(c.Backend, t.FW); err != nil {
				return nil, err
			}
		}
		for _, fam := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
			if _, err := t.Exec(EmptyFilter, fam.Tool()+"-restore"); err != nil {
				return nil, err
			}
		}
		if err := be.Apply(rss[ruleset.IPv4].Clone(), rss[ruleset.IPv6].Clone()); err != nil {
			return nil, fmt.Errorf("%s: rampart's %s backend: %w", c.Name, c.Backend, err)
		}
	}
	if err := t.FlushConntrack(); err != nil {
		return nil, err
	}
	pcap := filepath.Join(dir, "capture.pcap")
	cap, err := t.StartCapture(pcap)
	if err != nil {
		return nil, err
	}
	time.Sleep(20 * time.Millisecond)
	var log strings.Builder
	var sent []sentPacket
	for i, s := range c.Steps {
		time.Sleep(s.Gap)
		if s.Side == FW {
			sent = append(sent, sentPacket{at: time.Now(), ip: s.IP})
		}
		if err := t.Send(s.Side, s.IP); err != nil {
			o.SendErrors++
			fmt.Fprintf(&log, "step %d (%s from %s): %v\n", i, s.Note, s.Side, err)
		}
		o.Sent++
	}
	time.Sleep(100 * time.Millisecond)
	o.Dropped, _ = cap.Stop()
	// The kernel's times, not tcpdump's (the original is kept).
	if raw, err := os.ReadFile(pcap); err == nil {
		os.WriteFile(filepath.Join(dir, "capture.tcpdump.pcap"), raw, 0o644)
		os.WriteFile(pcap, retime(raw, sent), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "send.log"), []byte(log.String()), 0o644)
	for _, fam := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		var out string
		var err error
		if be != nil {
			out, err = be.SaveText(fam)
		} else {
			out, err = t.Exec("", fam.Tool()+"-save", "-c")
		}
		if err != nil {
			return nil, err
		}
		o.Kernel[fam] = out
	}
	// rampart
	xt.JiffyPhase = KernelJiffyPhase()
	e := engine.New(rss[ruleset.IPv4], rss[ruleset.IPv6], Host(), NewTracker())
	f, err := os.Open(pcap)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := capture.Open(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", pcap, err)
	}
	matched := map[ruleset.Family]map[string][]int{ruleset.IPv4: {}, ruleset.IPv6: {}}
	o.Stats, err = engine.RunCapture(e, r, engine.CaptureOptions{
		Trace: func(fr capture.Frame) engine.Tracer {
			fam := ruleset.IPv4
			if fr.IP[0]>>4 == 6 {
				fam = ruleset.IPv6
			}
			return func(s engine.Step) {
				if !s.Matched {
					return
				}
				key := fmt.Sprintf("%s %s #%d", s.Table, s.Chain, s.Rule)
				if s.Rule == 0 {
					key = fmt.Sprintf("%s %s policy", s.Table, s.Chain)
				}
				m := matched[fam]
				if l := m[key]; len(l) == 0 || l[len(l)-1] != fr.Index {
					m[key] = append(l, fr.Index)
				}
			}
		},
		Each: func(fr capture.Frame, p *pkt.Packet, res engine.Result) {
			o.Packets[fr.Index] = PacketInfo{Index: fr.Index, Family: p.Family, Summary: Summarize(p), Result: res}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %v", pcap, err)
	}
	for _, fam := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		o.Rampart[fam] = iptext.Save(rss[fam], iptext.SaveOptions{Counters: true})
		o.Mismatches = append(o.Mismatches, Compare(fam, o.Kernel[fam], o.Rampart[fam], matched[fam])...)
	}
	return o, nil
}

// Summarize describes a packet in one line.
func Summarize(p *pkt.Packet) string {
	s := fmt.Sprintf("%s > %s", p.Src, p.Dst)
	switch p.Proto {
	case pkt.ProtoTCP:
		s = fmt.Sprintf("tcp %s:%d > %s:%d [%s] seq %d ack %d", p.Src, p.SrcPort, p.Dst, p.DstPort, tcpFlags(p.TCPFlags), p.Seq, p.Ack)
	case pkt.ProtoUDP:
		s = fmt.Sprintf("udp %s:%d > %s:%d", p.Src, p.SrcPort, p.Dst, p.DstPort)
	case pkt.ProtoICMP, pkt.ProtoICMPv6:
		s = fmt.Sprintf("icmp %s > %s type %d code %d id %d seq %d", p.Src, p.Dst, p.ICMPType, p.ICMPCode, p.ICMPID, p.ICMPSeq)
	default:
		s = fmt.Sprintf("proto %d %s", p.Proto, s)
	}
	return fmt.Sprintf("%s len %d", s, p.Len)
}

// packetList formats capture indexes as "#3 #17 ...", at most max of them.
func packetList(idx []int, max int) string {
	var b strings.Builder
	for i, n := range idx {
		if i == max {
			fmt.Fprintf(&b, " ... %d more", len(idx)-i)
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "#%d", n)
	}
	return b.String()
}

func tcpFlags(f uint8) string {
	var b strings.Builder
	for i, n := range []string{"F", "S", "R", "P", ".", "U"} {
		if f&(1<<i) != 0 {
			b.WriteString(n)
		}
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

func stateName(s uint8) string {
	switch s {
	case pkt.CTNew:
		return "NEW"
	case pkt.CTEstablished:
		return "ESTABLISHED"
	case pkt.CTRelated:
		return "RELATED"
	case pkt.CTInvalid:
		return "INVALID"
	case pkt.CTUntracked:
		return "UNTRACKED"
	}
	return "-"
}

// Report describes the mismatches of an outcome: the differing lines, the
// packets rampart counted on them with its verdicts.
func (o *Outcome) Report(maxPackets int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "case %s: %d mismatching lines; capture and rules kept in %s\n", o.Case, len(o.Mismatches), o.Dir)
	if o.Dropped > 0 {
		fmt.Fprintf(&b, "  WARNING: tcpdump reports %d packets dropped by the kernel: the capture is incomplete\n", o.Dropped)
	}
	if m := o.Marginal(); len(m) > 0 {
		fmt.Fprintf(&b, "  timing-marginal rate decisions (%d packets): %s\n", len(m), packetList(m, 20))
	}
	for why, n := range o.Stats.Undecided {
		fmt.Fprintf(&b, "  undecided (%d packets): %s\n", n, why)
	}
	for _, d := range o.Diags {
		fmt.Fprintf(&b, "  rampart load: %s\n", d)
	}
	for _, m := range o.Mismatches {
		kind := "counters"
		if m.Format {
			kind = "TEXT"
		}
		fmt.Fprintf(&b, "  %s %s (%s):\n    kernel:  %s\n    rampart: %s\n", m.Family, m.Key, kind, m.Kernel, m.Rampart)
		for i, idx := range m.Packets {
			if i == maxPackets {
				fmt.Fprintf(&b, "      ... %d more\n", len(m.Packets)-i)
				break
			}
			pi := o.Packets[idx]
			marg := ""
			if pi.Result.Marginal {
				marg = " (timing-marginal)"
			}
			fmt.Fprintf(&b, "      #%d %s: %s %s by %s %s rule %d (%s) state %s%s\n", idx, pi.Summary, pi.Result.Hook, pi.Result.Verdict,
				pi.Result.Reason.Table, pi.Result.Reason.Chain, pi.Result.Reason.Rule, pi.Result.Reason.Why, stateName(pi.Result.CTState), marg)
		}
	}
	return b.String()
}

// Marginal lists, in capture order, the packets for which rampart made a
// timing-marginal rate decision (engine.Result.Marginal): a token or jiffy
// boundary was within xt.MarginalWindow of the packet's time, so the
// capture's timestamp jitter may have decided it.
func (o *Outcome) Marginal() []int {
	var idx []int
	for i, pi := range o.Packets {
		if pi.Result.Marginal {
			idx = append(idx, i)
		}
	}
	sort.Ints(idx)
	return idx
}

// Verdicts lists rampart's decision for every packet, in capture order.
func (o *Outcome) Verdicts() string {
	idx := make([]int, 0, len(o.Packets))
	for i := range o.Packets {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var b strings.Builder
	for _, i := range idx {
		pi := o.Packets[i]
		var path []string
		for _, h := range pi.Result.Path.Steps() {
			path = append(path, h.Hook.String()+"("+h.In+">"+h.Out+")")
		}
		fmt.Fprintf(&b, "#%d %s | %s | %s by %s/%s/%d (%s) | %s\n", i, pi.Summary, strings.Join(path, " "), pi.Result.Verdict,
			pi.Result.Reason.Table, pi.Result.Reason.Chain, pi.Result.Reason.Rule, pi.Result.Reason.Why, stateName(pi.Result.CTState))
	}
	return b.String()
}
