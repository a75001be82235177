package nft_test

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rampartfw/rampart/backend/nft"
	"github.com/rampartfw/rampart/difftest"
	"github.com/rampartfw/rampart/internal/testenv"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// hmNetns creates a throwaway network namespace named with this file's
// prefix ("hm-"), deleted when the test ends.
func hmNetns(t *testing.T) string {
	t.Helper()
	testenv.RequireKernel(t)
	var b [4]byte
	rand.Read(b[:])
	name := "hm-" + hex.EncodeToString(b[:])
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		testenv.Missing(t, "ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	return name
}

func mustLoad(t *testing.T, f ruleset.Family, name, text string) *ruleset.Ruleset {
	t.Helper()
	rs, _, err := ipt.Load(name, []byte(text), ipt.LoadOptions{Family: f, Counters: true})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// matchCases are rules of each translated extension with what
// `nft list ruleset` shows for the rule (the encoding, after the
// family's own generic matches).
var matchCases = []struct {
	fam   ruleset.Family
	chain string
	rule  string
	nft   string
}{
	{ruleset.IPv4, "INPUT", "-m limit --limit 3/sec", "limit rate 3/second counter"},
	{ruleset.IPv4, "INPUT", "-m limit --limit 3/hour --limit-burst 7 -j ACCEPT", "limit rate 3/hour burst 7 packets counter"},
	{ruleset.IPv4, "INPUT", "-p icmp -m icmp --icmp-type 8 -m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 10 --hashlimit-mode srcip --hashlimit-name t_PING_OF_DEATH --hashlimit-htable-expire 300000 -j RETURN",
		"update @hashlimit/t_PING_OF_DEATH { ip saddr timeout 5m limit rate 1/second burst 10 packets }"},
	{ruleset.IPv4, "INPUT", "-m hashlimit --hashlimit-above 5/min --hashlimit-burst 3 --hashlimit-mode srcip,dstip --hashlimit-name two --hashlimit-htable-max 100 --hashlimit-srcmask 24 -j DROP",
		"update @hashlimit/two { ip saddr & 255.255.255.0 . ip daddr timeout 1m limit rate over 5/minute burst 3 packets }"},
	{ruleset.IPv4, "INPUT", "-m hashlimit --hashlimit-upto 2/sec --hashlimit-name none", "update @hashlimit/none { 0x0 [invalid type] timeout 1s limit rate 2/second }"},
	{ruleset.IPv4, "INPUT", "-p tcp -m multiport --dports 80,443,1000:2000", "tcp sport . tcp dport { 0-65535 . 80, 0-65535 . 443, 0-65535 . 1000-2000 }"},
	{ruleset.IPv4, "INPUT", "-p udp -m multiport ! --sports 7,5:9,100", "udp sport . udp dport != { 5-9 . 0-65535, 100 . 0-65535 }"},
	{ruleset.IPv4, "INPUT", "-p tcp -m multiport --ports 22,80:81",
		"tcp sport . tcp dport { 22 . 0-65535, 80-81 . 0-65535, 0-21 . 22, 0-21 . 80-81, 23-79 . 22, 23-79 . 80-81, 82-65535 . 22, 82-65535 . 80-81 }"},
	{ruleset.IPv4, "INPUT", "-m iprange --src-range 10.0.0.1-10.0.0.9 ! --dst-range 10.1.0.0-10.1.255.255", "ip saddr 10.0.0.1-10.0.0.9 ip daddr != 10.1.0.0-10.1.255.255"},
	{ruleset.IPv4, "INPUT", "-m mark --mark 0x5", "meta mark 0x00000005"},
	{ruleset.IPv4, "INPUT", "-m mark ! --mark 0x5/0xff", "meta mark & 0x000000ff != 0x00000005"},
	{ruleset.IPv4, "INPUT", "-m connmark --mark 0x7/0xf0", "ct mark & 0x000000f0 == 0x00000007"},
	{ruleset.IPv4, "INPUT", "-m length --length 100:200", "ip length 100-200"},
	{ruleset.IPv4, "INPUT", "-m length ! --length 1500", "ip length != 1500"},
	{ruleset.IPv4, "INPUT", "-m ttl --ttl-gt 5", "ip ttl > 5"},
	{ruleset.IPv4, "INPUT", "-m ttl ! --ttl-eq 64", "ip ttl != 64"},
	{ruleset.IPv4, "INPUT", "-m pkttype --pkt-type broadcast", "pkttype broadcast"},
	{ruleset.IPv4, "INPUT", "-m mac --mac-source 00:11:22:33:44:55", "ether saddr 00:11:22:33:44:55"},
	{ruleset.IPv4, "FORWARD", "-m mac ! --mac-source 00:11:22:33:44:56", "ether saddr != 00:11:22:33:44:56"},
	{ruleset.IPv4, "INPUT", "-m dscp --dscp 0x0a", "ip dscp af11"},
	{ruleset.IPv4, "INPUT", "-m tos --tos 0x10/0x3f", "@nh,8,8 & 0x3f == 0x10"},
	{ruleset.IPv4, "OUTPUT", "-m recent --set --name ssh --mask 255.255.255.0 --rsource", "update @recent/ssh { ip saddr & 255.255.255.0 timeout 1m }"},
	{ruleset.IPv4, "INPUT", "-m recent --rcheck --seconds 60 --name ssh --mask 255.255.255.0 --rsource -j DROP", "ip saddr & 255.255.255.0 == @recent/ssh counter"},
	{ruleset.IPv4, "INPUT", "-m recent --update --seconds 60 --name ssh --mask 255.255.255.0 --rsource", "ip saddr & 255.255.255.0 == @recent/ssh update @recent/ssh { ip saddr & 255.255.255.0 timeout 1m }"},
	{ruleset.IPv4, "INPUT", "-m recent ! --rcheck --name other --rdest", "ip daddr != @recent/other"},
	{ruleset.IPv4, "INPUT", "-m recent --remove --name other --rdest", "ip daddr @recent/other delete @recent/other { ip daddr }"},
	{ruleset.IPv4, "OUTPUT", "-m owner --uid-owner 1000", "meta skuid 1000"},
	{ruleset.IPv4, "OUTPUT", "-m owner --uid-owner 1000-2000 --gid-owner 5", "meta skuid 1000-2000 meta skgid 5"},
	{ruleset.IPv4, "INPUT", "-m conntrack --ctstate NEW --ctproto udp --ctstatus ASSURED --ctexpire 10:20 --ctdir ORIGINAL",
		"ct state new ct direction original ct protocol udp ct status assured ct expiration 10s-20s counter"},
	{ruleset.IPv4, "INPUT", "-m conntrack ! --ctstate INVALID,UNTRACKED ! --ctproto tcp ! --ctstatus SEEN_REPLY --ctdir REPLY",
		"ct state ! invalid,untracked ct direction reply ct protocol != tcp ct status ! seen-reply counter"},
	{ruleset.IPv4, "INPUT", "-m conntrack --ctstate SNAT,DNAT", "ct status snat,dnat counter"},
	// nft lists a bare header load as its dependency only.
	{ruleset.IPv4, "INPUT", "-p udp -m udp", "meta l4proto udp counter"},
	{ruleset.IPv4, "INPUT", "-p tcp -m tcp", "meta l4proto tcp counter"},
	{ruleset.IPv4, "INPUT", "-p icmp -m icmp ! --icmp-type any", "meta l4proto icmp 0x0 [invalid type] != 0x0 [invalid type] counter"},
	// nft prints the set's host-order route types (RTN_BROADCAST 3,
	// RTN_MULTICAST 5 ...) as big-endian integers.
	{ruleset.IPv4, "INPUT", "-m addrtype --dst-type LOCAL", "fib daddr type local counter"},
	{ruleset.IPv4, "INPUT", "-m addrtype ! --src-type BROADCAST,MULTICAST --limit-iface-in", "fib saddr . iif type != { 50331648, 83886080 } counter"},
	{ruleset.IPv4, "OUTPUT", "-m addrtype --src-type UNICAST ! --dst-type LOCAL,UNREACHABLE --limit-iface-out", "fib saddr . oif type unicast fib daddr . oif type != { 33554432, 117440512 } counter"},
	{ruleset.IPv6, "INPUT", "-m hl --hl-lt 2", "ip6 hoplimit < 2"},
	{ruleset.IPv6, "INPUT", "-m length --length 40:100", "ip6 length 0-60"},
	{ruleset.IPv6, "INPUT", "-m length --length 0:39", "ip6 length 65496-65535"},
	{ruleset.IPv6, "INPUT", "-m length ! --length 20:50", "ip6 length 11-65515"},
	{ruleset.IPv6, "INPUT", "-m iprange --src-range 2001:db8::1-2001:db8::ff", "ip6 saddr 2001:db8::1-2001:db8::ff"},
	{ruleset.IPv6, "INPUT", "-m dscp ! --dscp 0x2e", "ip6 dscp != ef"},
	{ruleset.IPv6, "INPUT", "-m hashlimit --hashlimit-upto 10/sec --hashlimit-mode dstip --hashlimit-dstmask 64 --hashlimit-name v6",
		"update @hashlimit/v6 { ip6 daddr & ffff:ffff:ffff:ffff:: timeout 1s limit rate 10/second }"},
}

// TestMatchTranslate loads every case into the kernel (each family's
// rules as one ruleset), reads the ruleset back and checks both the
// iptables text and nft's listing of each rule.
func TestMatchTranslate(t *testing.T) {
	ns := hmNetns(t)
	b := nft.Backend{Netns: ns, StateDir: t.TempDir()}
	var sets []*ruleset.Ruleset
	for _, f := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		var text strings.Builder
		text.WriteString("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
		for _, c := range matchCases {
			if c.fam == f {
				text.WriteString("-A " + c.chain + " " + c.rule + "\n")
			}
		}
		text.WriteString("COMMIT\n")
		sets = append(sets, mustLoad(t, f, "matches-"+f.String()+".rules", text.String()))
	}
	if err := b.Apply(sets...); err != nil {
		t.Fatal(err)
	}
	list := testenv.Netns{Name: ns}
	out := list.Run("", "nft", "list", "ruleset")
	if out.Code != 0 {
		t.Fatalf("nft list ruleset: %s", out.Stderr)
	}
	defer func() {
		if t.Failed() {
			t.Logf("nft list ruleset:\n%s", out.Stdout)
		}
	}()
	// Each case's listing is on the line of its rule, in rule order.
	lines := map[ruleset.Family][]string{}
	fam := ruleset.IPv4
	for _, l := range strings.Split(out.Stdout, "\n") {
		switch {
		case strings.HasPrefix(l, "table ip6 "):
			fam = ruleset.IPv6
		case strings.HasPrefix(l, "table ip "):
			fam = ruleset.IPv4
		case strings.Contains(l, "counter packets"):
			lines[fam] = append(lines[fam], strings.TrimSpace(l))
		}
	}
	seen := map[ruleset.Family]map[string]int{ruleset.IPv4: {}, ruleset.IPv6: {}}
	for _, c := range matchCases {
		// Rules are listed chain by chain: find this one among its
		// family's lines by its position in the chain order.
		found := false
		for _, l := range lines[c.fam] {
			if strings.Contains(l, c.nft) {
				found = true
				break
			}
		}
		seen[c.fam][c.chain]++
		if !found {
			t.Errorf("%s -A %s %s: nft lists no rule with %q", c.fam, c.chain, c.rule, c.nft)
		}
	}
	for i, f := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		got, err := b.SaveText(f)
		if err != nil {
			t.Fatal(err)
		}
		want := iptext.Save(sets[i], iptext.SaveOptions{Counters: true})
		if ruleLines(got) != ruleLines(want) {
			t.Errorf("%s read back differs:\n--- got\n%s--- want\n%s", f, got, want)
		}
	}
}

// ruleLines keeps a save text's rule lines.
func ruleLines(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "-A ") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// TestMatchRefused: what the backend cannot express exactly is refused,
// naming the rule's file:line and the reason; nothing reaches the kernel
// (the translation fails before the backend connects).
func TestMatchRefused(t *testing.T) {
	for _, c := range []struct {
		fam         ruleset.Family
		rules, want string
	}{
		{ruleset.IPv4, "-A INPUT -m hashlimit --hashlimit-upto 10kb/s --hashlimit-name b", `byte rate not supported`},
		{ruleset.IPv4, "-A INPUT -m hashlimit --hashlimit-upto 10/s --hashlimit-rate-match --hashlimit-name b", `--hashlimit-rate-match not supported`},
		{ruleset.IPv4, "-A INPUT -p tcp -m hashlimit --hashlimit-upto 10/s --hashlimit-mode srcip,dstport --hashlimit-name b", `srcport/dstport not supported`},
		{ruleset.IPv4, "-A INPUT -m hashlimit --hashlimit-upto 10/s --hashlimit-name b\n-A INPUT -m hashlimit --hashlimit-upto 11/s --hashlimit-name b", `--hashlimit-name b is used with other settings`},
		{ruleset.IPv4, "-A INPUT -m recent --rcheck --hitcount 3 --name r", `--hitcount not supported`},
		{ruleset.IPv4, "-A INPUT -m recent --rcheck --rttl --name r", `--rttl not supported`},
		{ruleset.IPv4, "-A INPUT -m recent --rcheck --seconds 5 --reap --name r", `--reap not supported`},
		{ruleset.IPv4, "-A INPUT -m recent ! --update --name r", `inverted --update/--remove`},
		{ruleset.IPv4, "-A INPUT -m recent --rcheck --seconds 5 --name r\n-A INPUT -m recent --update --seconds 6 --name r", `one --seconds per list`},
		{ruleset.IPv4, "-A INPUT -m recent --rcheck --name r\n-A INPUT -m recent --rcheck --seconds 6 --name r", `one --seconds per list`},
		{ruleset.IPv4, "-A INPUT -m recent --rcheck --seconds 5 --name r\n-A INPUT -m recent --remove --name r", `--remove and --seconds`},
		{ruleset.IPv4, "-A INPUT -m recent --set --name r --rsource\n-A INPUT -m recent --rcheck --name r --rdest", `another --rsource/--rdest or --mask`},
		{ruleset.IPv4, "-A INPUT -p tcp -m tcp --tcp-option 2", `option --tcp-option not supported`},
		{ruleset.IPv4, "-A OUTPUT -m owner ! --uid-owner 0", `inverted --uid-owner/--gid-owner`},
		{ruleset.IPv4, "-A OUTPUT -m owner --socket-exists", `--socket-exists not supported`},
		{ruleset.IPv4, "-A OUTPUT -m owner --gid-owner 5 --suppl-groups", `--suppl-groups not supported`},
		{ruleset.IPv4, "-A INPUT -m conntrack --ctstate SNAT,NEW", `SNAT/DNAT with other states or inverted`},
		{ruleset.IPv4, "-A INPUT -m conntrack ! --ctstate DNAT", `SNAT/DNAT with other states or inverted`},
		{ruleset.IPv4, "-A INPUT -m conntrack --ctstate NEW,UNTRACKED --ctdir ORIGINAL", `accepts INVALID or UNTRACKED`},
		{ruleset.IPv4, "-A INPUT -m conntrack ! --ctstate INVALID --ctproto udp", `accepts INVALID or UNTRACKED`},
		{ruleset.IPv4, "-A INPUT -m conntrack --ctorigsrc 10.0.0.1", `mis-encodes the ct direction`},
		{ruleset.IPv6, "-A INPUT -m addrtype --dst-type LOCAL", `addrtype_mt6 differs`},
		{ruleset.IPv4, "-A INPUT -m conntrack --ctstate NEW --ctrepldstport 53", `mis-encodes the ct direction`},
	} {
		text := "*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\n" + c.rules + "\nCOMMIT\n"
		rs := mustLoad(t, c.fam, "bad.rules", text)
		err := nft.Backend{Netns: "/nonexistent/hm-never", StateDir: t.TempDir()}.Apply(rs)
		if err == nil {
			t.Errorf("%s: accepted", c.rules)
			continue
		}
		if !regexp.MustCompile(`^bad\.rules:[56]: `).MatchString(err.Error()) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want bad.rules:LINE: ... %s", c.rules, err, c.want)
		}
	}
}

// TestMatchMacHooks: like iptables-restore, the backend's load fails when
// a mac match can be reached from OUTPUT (here through a user chain,
// which the ruleset's own checks do not follow), and nothing changes.
func TestMatchMacHooks(t *testing.T) {
	ns := hmNetns(t)
	b := nft.Backend{Netns: ns, StateDir: t.TempDir()}
	const rules = "*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:MAC - [0:0]\n-A %s -j MAC\n-A MAC -m mac --mac-source 00:11:22:33:44:55\nCOMMIT\n"
	if err := b.Apply(mustLoad(t, ruleset.IPv4, "in.rules", fmt.Sprintf(rules, "INPUT"))); err != nil {
		t.Fatalf("mac reached from INPUT: %v", err)
	}
	before, err := b.SaveText(ruleset.IPv4)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Apply(mustLoad(t, ruleset.IPv4, "out.rules", fmt.Sprintf(rules, "OUTPUT"))); err == nil {
		t.Fatal("mac reached from OUTPUT: loaded")
	}
	if after, _ := b.SaveText(ruleset.IPv4); after != before {
		t.Errorf("refused load changed the ruleset:\n%s", after)
	}
	r := (&testenv.Netns{Name: ns}).Run(fmt.Sprintf(rules, "OUTPUT"), "iptables-restore")
	if r.Code == 0 {
		t.Errorf("iptables-restore took mac reached from OUTPUT")
	}
}

// step is one crafted packet of a semantic case, sent from a side of the
// difftest topology after a pause.
type step struct {
	side difftest.Side
	spec pkt.Spec
	gap  time.Duration
}

// ip4 builds an IPv4 packet with a valid header checksum (ip_rcv drops
// any other before the hooks; netfilter checks no other checksum).
func ip4(s pkt.Spec) []byte {
	b := pkt.Build(s)
	ihl := int(b[0]&0x0f) * 4
	b[10], b[11] = 0, 0
	var sum uint32
	for i := 0; i < ihl; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(b[10:], ^uint16(sum))
	return b
}

var (
	peer2 = netip.MustParseAddr("10.9.0.2")
	peer3 = netip.MustParseAddr("10.9.0.3")
	peer4 = netip.MustParseAddr("10.9.0.4")
	fw    = difftest.FWPeer4
)

func echo(src netip.Addr, seq uint16, gap time.Duration) step {
	return step{difftest.Peer, pkt.Spec{Src: src, Dst: fw, Proto: pkt.ProtoICMP, ICMPType: 8, ICMPID: 7, ICMPSeq: seq}, gap}
}

func udp(src netip.Addr, sport, dport uint16, ttl, tos uint8, payload int) step {
	return step{difftest.Peer, pkt.Spec{Src: src, Dst: fw, Proto: pkt.ProtoUDP, SrcPort: sport, DstPort: dport, TTL: ttl, TOS: tos, Payload: make([]byte, payload)}, time.Millisecond}
}

// topology builds difftest's fw/peer/far namespaces.
func topology(t *testing.T) *difftest.Topo {
	t.Helper()
	tp, err := difftest.Setup(hmNetns(t), hmNetns(t), hmNetns(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tp.Close)
	return tp
}

var counterLine = regexp.MustCompile(`^\[(\d+):(\d+)\] -A (\S+) `)

// counters returns each chain's rule counters, in order, from save -c
// text, and the packets of the rule commented "sentinel".
func counters(text string) (map[string][]string, uint64) {
	out := map[string][]string{}
	var sentinel uint64
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		m := counterLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		out[m[3]] = append(out[m[3]], m[1]+":"+m[2])
		if strings.Contains(sc.Text(), "--comment sentinel") {
			fmt.Sscan(m[1], &sentinel)
		}
	}
	return out, sentinel
}

// run loads rules into fw of a fresh topology, with the real
// iptables-restore (kernel) or rampart's nft backend, sends the steps and
// returns the rule counters once the sentinel rule has seen every packet
// that reaches it (want).
func run(t *testing.T, useNft bool, rules string, steps []step, want uint64) map[string][]string {
	t.Helper()
	fam, tool := ruleset.IPv4, "iptables"
	if steps[0].spec.Src.Is6() {
		fam, tool = ruleset.IPv6, "ip6tables"
	}
	tp := topology(t)
	ns := testenv.Netns{Name: tp.FW}
	read := func() string {
		if useNft {
			s, err := nft.Backend{Netns: tp.FW, StateDir: t.TempDir()}.SaveText(fam)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		r := ns.Run("", tool+"-save", "-c", "-t", "filter")
		if r.Code != 0 {
			t.Fatalf("%s-save: %s", tool, r.Stderr)
		}
		return r.Stdout
	}
	if useNft {
		if err := (nft.Backend{Netns: tp.FW, StateDir: t.TempDir()}).Apply(mustLoad(t, fam, "sem.rules", rules)); err != nil {
			t.Fatal(err)
		}
	} else if r := ns.Run(rules, tool+"-restore"); r.Code != 0 {
		t.Fatalf("%s-restore: %s", tool, r.Stderr)
	}
	for _, s := range steps {
		time.Sleep(s.gap)
		b := pkt.Build(s.spec)
		if fam == ruleset.IPv4 {
			b = ip4(s.spec)
		}
		tp.Send(s.side, b) // an error is a packet OUTPUT dropped: counted all the same
	}
	// The packets are processed asynchronously (softirq of the veth):
	// wait until the sentinel has counted them all.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, n := counters(read())
		if n >= want {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("sentinel saw %d of %d packets:\n%v", n, want, c)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// seedHashlimit returns the PING_OF_DEATH chain of the CentOS 7 seed
// (its hashlimit rule) as a filter table.
func seedHashlimit(t *testing.T) string {
	data, err := os.ReadFile(filepath.Join(testenv.Shared(t), "seeds", "centos7-web.rules"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:PING_OF_DEATH - [0:0]\n")
	b.WriteString("-A INPUT -p icmp -m comment --comment sentinel\n")
	n := 0
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "-A ") && strings.Contains(l, "PING_OF_DEATH") {
			b.WriteString(l + "\n")
			n++
		}
	}
	if n != 3 || !strings.Contains(b.String(), "--hashlimit-name t_PING_OF_DEATH") {
		t.Fatalf("the seed's PING_OF_DEATH rules are not where expected:\n%s", b.String())
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// TestMatchSemantics sends the same packets through the same rules loaded
// by iptables-restore and by the nft backend, and compares every rule's
// counters.
func TestMatchSemantics(t *testing.T) {
	var flood, flood2 []step
	for i := range 30 {
		flood = append(flood, echo(peer2, uint16(i), 5*time.Millisecond))
		src := peer2
		if i%2 == 1 {
			src = peer3
		}
		flood2 = append(flood2, echo(src, uint16(i), 5*time.Millisecond))
	}
	const head = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
	var ports []step
	for i, p := range [][2]uint16{{5, 53}, {7, 53}, {53, 9}, {1000, 1005}, {1011, 2}, {99, 99}, {8, 40000}, {40000, 8}} {
		src := []netip.Addr{peer2, peer3, peer4}[i%3]
		ports = append(ports, udp(src, p[0], p[1], uint8(30+i*20), uint8(i*8), i*100))
	}
	// The same flows again (confirmed entries with a running timeout),
	// and new ones.
	cts := append(append([]step{}, ports...), ports[0], ports[1], ports[0], udp(peer4, 9, 9, 64, 0, 10))
	var recent []step
	for i, src := range []netip.Addr{peer2, peer2, peer3, peer2, peer4, peer3, peer4, peer4} {
		recent = append(recent, echo(src, uint16(i), 2*time.Millisecond))
	}
	for _, c := range []struct {
		name  string
		rules string
		steps []step
		want  uint64
	}{
		{"seed hashlimit, one source", "", flood, 30},
		{"seed hashlimit, two sources", "", flood2, 30},
		{"limit", head + "-A INPUT -p icmp -m comment --comment sentinel\n-A INPUT -p icmp -m limit --limit 2/sec --limit-burst 4 -j ACCEPT\n-A INPUT -p icmp -m limit --limit 1/min -j ACCEPT\nCOMMIT\n", flood, 30},
		{"hashlimit above, masked", head + "-A INPUT -p icmp -m comment --comment sentinel\n-A INPUT -p icmp -m hashlimit --hashlimit-above 1/sec --hashlimit-burst 3 --hashlimit-mode srcip --hashlimit-srcmask 24 --hashlimit-name m24 -j DROP\nCOMMIT\n", flood2, 30},
		{"multiport, iprange, length, ttl, tos, pkttype, mac", head + `-A INPUT -p udp -m comment --comment sentinel
-A INPUT -p udp -m multiport --dports 53,1000:1010
-A INPUT -p udp -m multiport ! --sports 7,8
-A INPUT -p udp -m multiport --ports 53,99
-A INPUT -p udp -m multiport ! --ports 8,1000:1005
-A INPUT -m iprange --src-range 10.9.0.3-10.9.0.5
-A INPUT -m iprange ! --src-range 10.9.0.3-10.9.0.3 --dst-range 10.9.0.1-10.9.0.1
-A INPUT -m length --length 100:400
-A INPUT -m length ! --length 128
-A INPUT -m ttl --ttl-lt 100
-A INPUT -m ttl --ttl-eq 70
-A INPUT -m dscp --dscp 0x4
-A INPUT -m tos --tos 0x20/0xe0
-A INPUT -m pkttype --pkt-type unicast
-A INPUT -m pkttype ! --pkt-type host
-A INPUT -m mac --mac-source 02:00:00:00:00:02
-A INPUT -m mac ! --mac-source 02:00:00:00:00:02
-A INPUT -m addrtype --dst-type LOCAL
-A INPUT -m addrtype ! --dst-type LOCAL
-A INPUT -m addrtype --src-type UNICAST,BROADCAST --limit-iface-in
-A INPUT -m addrtype --src-type LOCAL
-A INPUT -m addrtype ! --src-type LOCAL,MULTICAST --dst-type LOCAL
COMMIT
`, ports, 8},
		{"conntrack, udp", head + `-A INPUT -p udp -m comment --comment sentinel
-A INPUT -p udp -m udp
-A INPUT -m conntrack --ctstate NEW --ctproto udp
-A INPUT -m conntrack ! --ctproto udp
-A INPUT -m conntrack --ctstatus CONFIRMED
-A INPUT -m conntrack ! --ctstatus CONFIRMED,ASSURED
-A INPUT -m conntrack --ctexpire 0:5
-A INPUT -m conntrack --ctexpire 25:30
-A INPUT -m conntrack --ctdir ORIGINAL
-A INPUT -m conntrack --ctdir REPLY
-A INPUT -m conntrack ! --ctstate INVALID,UNTRACKED --ctstatus CONFIRMED
-A INPUT -m conntrack --ctstate DNAT
COMMIT
`, cts, 12},
		{"recent", head + `-A INPUT -p icmp -m comment --comment sentinel
-A INPUT -p icmp -m icmp ! --icmp-type any
-A INPUT -p icmp -m recent --rcheck --name seen
-A INPUT -p icmp -m recent ! --rcheck --name seen
-A INPUT -p icmp -m recent --update --name seen
-A INPUT -p icmp -m recent --set --name seen
-A INPUT -p icmp -m recent --rcheck --name gone --mask 255.255.255.254
-A INPUT -p icmp -m recent --remove --name gone --mask 255.255.255.254
-A INPUT -p icmp -m recent --set --name gone --mask 255.255.255.254
-A INPUT -p icmp -m recent --update --seconds 60 --name timed
-A INPUT -p icmp -m recent ! --set --name timed
COMMIT
`, recent, 8},
	} {
		t.Run(c.name, func(t *testing.T) {
			rules := c.rules
			if rules == "" {
				rules = seedHashlimit(t)
			}
			kernel := run(t, false, rules, c.steps, c.want)
			rampart := run(t, true, rules, c.steps, c.want)
			if fmt.Sprint(kernel) != fmt.Sprint(rampart) {
				t.Errorf("counters differ:\nkernel  %v\nrampart %v", kernel, rampart)
			}
			t.Logf("counters %v", rampart)
		})
	}
}

// TestMatchSemantics6: IPv6 header fields (the length's wrap past 65535,
// hop limit, traffic class) and IPv6 keys, against ip6tables-restore.
func TestMatchSemantics6(t *testing.T) {
	rules := `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p udp -m comment --comment sentinel
-A INPUT -p udp -m length --length 40:100
-A INPUT -p udp -m length ! --length 0:60
-A INPUT -p udp -m length --length 150:65535
-A INPUT -p udp -m hl --hl-lt 50
-A INPUT -p udp -m hl --hl-gt 50
-A INPUT -p udp -m hl --hl-eq 64
-A INPUT -p udp -m hl ! --hl-eq 64
-A INPUT -p udp -m dscp --dscp 0x2
-A INPUT -p udp -m tos --tos 0x20/0xf0
-A INPUT -p udp -m iprange --src-range fd00:9::3-fd00:9::4
-A INPUT -p udp -m iprange ! --dst-range fd00:9::1-fd00:9::1
-A INPUT -p udp -m multiport --dports 53,1000:1010
-A INPUT -p udp -m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 2 --hashlimit-mode srcip --hashlimit-srcmask 127 --hashlimit-name v6
-A INPUT -p udp -m mac --mac-source 02:00:00:00:00:02
-A INPUT -p udp -m pkttype --pkt-type host
COMMIT
`
	fw6 := difftest.FWPeer6
	var steps []step
	for i := range 10 {
		src := netip.MustParseAddr(fmt.Sprintf("fd00:9::%d", 2+i%3))
		steps = append(steps, step{difftest.Peer, pkt.Spec{Src: src, Dst: fw6, Proto: pkt.ProtoUDP, SrcPort: 4000,
			DstPort: uint16(50 + 240*i), TTL: uint8(20 + 10*i), TOS: uint8(i * 8), Payload: make([]byte, i*20)}, time.Millisecond})
	}
	kernel := run(t, false, rules, steps, 10)
	rampart := run(t, true, rules, steps, 10)
	if fmt.Sprint(kernel) != fmt.Sprint(rampart) {
		t.Errorf("counters differ:\nkernel  %v\nrampart %v", kernel, rampart)
	}
	t.Logf("counters %v", rampart)
}

// TestMatchOutputSemantics: packets fw sends itself (difftest's raw
// socket, root's, marks them 0x77) through mark, connmark and owner rules
// in OUTPUT.
func TestMatchOutputSemantics(t *testing.T) {
	rules := `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A OUTPUT -p udp -m comment --comment sentinel
-A OUTPUT -m mark --mark 0x77
-A OUTPUT -m mark --mark 0x7/0xf
-A OUTPUT -m mark ! --mark 0x70/0xf0
-A OUTPUT -m mark --mark 0x78
-A OUTPUT -m connmark --mark 0x0
-A OUTPUT -m connmark ! --mark 0x1/0x1
-A OUTPUT -m owner --uid-owner 0
-A OUTPUT -m owner --uid-owner 1-100
-A OUTPUT -m owner --uid-owner 0-5 --gid-owner 0
-A OUTPUT -m owner --gid-owner 7
COMMIT
`
	var steps []step
	for i := range 5 {
		steps = append(steps, step{difftest.FW, pkt.Spec{Src: fw, Dst: peer2, Proto: pkt.ProtoUDP, SrcPort: 1000 + uint16(i), DstPort: 53}, time.Millisecond})
	}
	kernel := run(t, false, rules, steps, 5)
	rampart := run(t, true, rules, steps, 5)
	if fmt.Sprint(kernel) != fmt.Sprint(rampart) {
		t.Errorf("counters differ:\nkernel  %v\nrampart %v", kernel, rampart)
	}
	t.Logf("counters %v", rampart)
}
