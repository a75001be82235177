package nft

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/rampartfw/rampart/internal/testenv"
	"github.com/rampartfw/rampart/ruleset"
)

// tgRules4 and tgRules6 use every target the backend translates (but
// NFQUEUE: see TestTargetExprs), with policy counters, in their canonical
// iptables-save form.
const tgRules4 = `*raw
:PREROUTING ACCEPT [3:180]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p udp -m udp --dport 53 -j CT --notrack
-A PREROUTING -p udp -m udp --dport 54 -j NOTRACK
-A PREROUTING -p tcp -m tcp --dport 9 -j TRACE
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [11:2200]
-A PREROUTING -i eth0 -j MARK --set-xmark 0x10/0xff
-A PREROUTING -i eth1 -j MARK --set-xmark 0x7/0xffffffff
-A PREROUTING -i eth2 -j MARK --set-xmark 0x0/0xf0
-A PREROUTING -i eth3 -j MARK --set-xmark 0x3/0x3
-A PREROUTING -i eth4 -j MARK --set-xmark 0x5/0x0
-A PREROUTING -j CONNMARK --set-xmark 0x1/0xf
-A PREROUTING -j CONNMARK --set-xmark 0x2/0xffffffff
-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff
-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xff00
-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0x0
-A POSTROUTING -j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff
-A POSTROUTING -j CONNMARK --save-mark --nfmask 0xf0 --ctmask 0xffffffff
-A POSTROUTING -o eth0 -j CLASSIFY --set-class 0001:0010
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [5:300]
-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80
-A PREROUTING -p tcp -m tcp --dport 8081 -j DNAT --to-destination 10.0.0.2-10.0.0.9:80-89 --random --persistent
-A PREROUTING -p udp -m udp --dport 53 -j DNAT --to-destination :5353
-A PREROUTING -d 192.0.2.1/32 -j DNAT --to-destination 10.0.0.3
-A PREROUTING -p tcp -m tcp --dport 2222 -j REDIRECT --to-ports 22
-A PREROUTING -p tcp -m tcp --dport 2223 -j REDIRECT --to-ports 22-24 --random
-A PREROUTING -p tcp -m tcp --dport 2224 -j REDIRECT
-A PREROUTING -d 198.51.100.0/24 -j NETMAP --to 10.1.2.0/24
-A INPUT -s 10.9.0.0/16 -j SNAT --to-source 10.0.0.1
-A OUTPUT -p tcp -m tcp --dport 80 -j DNAT --to-destination 127.0.0.1:8080
-A POSTROUTING -s 10.0.0.0/8 -o eth0 -j MASQUERADE
-A POSTROUTING -s 10.1.0.0/16 -o eth0 -j MASQUERADE --random-fully
-A POSTROUTING -s 10.2.0.0/16 -o eth0 -p tcp -j MASQUERADE --to-ports 1024-2047
-A POSTROUTING -s 10.3.0.0/16 -o eth1 -p udp -j SNAT --to-source 203.0.113.1-203.0.113.5:1000-2000 --random-fully
-A POSTROUTING -s 10.4.0.0/16 -o eth1 -j SNAT --to-source 203.0.113.9 --persistent
-A POSTROUTING -s 10.1.2.0/24 -j NETMAP --to 198.51.100.0/24
COMMIT
*filter
:INPUT DROP [10:1000]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [7:77]
:SUB - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp -m tcp --dport 23 -j REJECT --reject-with tcp-reset
-A INPUT -p udp -m udp --dport 1 -j REJECT --reject-with icmp-net-unreachable
-A INPUT -p udp -m udp --dport 2 -j REJECT --reject-with icmp-host-unreachable
-A INPUT -p udp -m udp --dport 3 -j REJECT --reject-with icmp-proto-unreachable
-A INPUT -p udp -m udp --dport 4 -j REJECT
-A INPUT -p udp -m udp --dport 5 -j REJECT --reject-with icmp-net-prohibited
-A INPUT -p udp -m udp --dport 6 -j REJECT --reject-with icmp-host-prohibited
-A INPUT -p udp -m udp --dport 7 -j REJECT --reject-with icmp-admin-prohibited
-A INPUT -p tcp -m tcp --dport 22 -j LOG
-A INPUT -p tcp -m tcp --dport 21 -j LOG --log-prefix "ftp: " --log-level 6 --log-tcp-sequence --log-tcp-options --log-ip-options --log-uid --log-macdecode
-A INPUT -j NFLOG
-A INPUT -j NFLOG --nflog-prefix "x y" --nflog-group 5 --nflog-size 128 --nflog-threshold 3
-A INPUT -j NFLOG --nflog-size 0
-A INPUT -p udp -m udp --dport 9 -j RETURN
-A INPUT -p udp -m udp --dport 10 -g SUB
-A INPUT -p udp -m udp --dport 11 -g SUB
-A FORWARD -j SUB
-A FORWARD -g SUB
-A SUB -p udp -m udp --dport 11 -j RETURN
-A SUB -j RETURN
COMMIT
`

const tgRules6 = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [4:400]
-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination [2001:db8::2]:80
-A PREROUTING -p tcp -m tcp --dport 8081 -j DNAT --to-destination [2001:db8::2-2001:db8::9]:80-89
-A PREROUTING -d 2001:db8:1::/64 -j NETMAP --to 2001:db8:2::/64
-A PREROUTING -p tcp -m tcp --dport 2222 -j REDIRECT --to-ports 22
-A POSTROUTING -o eth0 -j MASQUERADE
-A POSTROUTING -s 2001:db8:3::/64 -j SNAT --to-source 2001:db8::1
COMMIT
*filter
:INPUT DROP [1:2]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 23 -j REJECT --reject-with tcp-reset
-A INPUT -p udp -m udp --dport 1 -j REJECT --reject-with icmp6-no-route
-A INPUT -p udp -m udp --dport 2 -j REJECT --reject-with icmp6-adm-prohibited
-A INPUT -p udp -m udp --dport 3 -j REJECT --reject-with icmp6-addr-unreachable
-A INPUT -p udp -m udp --dport 4 -j REJECT
-A INPUT -p udp -m udp --dport 5 -j REJECT --reject-with icmp6-policy-fail
-A INPUT -p udp -m udp --dport 6 -j REJECT --reject-with icmp6-reject-route
-A INPUT -p tcp -m tcp --dport 21 -j LOG --log-prefix v6 --log-level 1 --log-ip-options
-A INPUT -j RETURN
COMMIT
`

// TestTargetReadBack loads rulesets using every translated target into the
// kernel and reads them back exactly, policy counters included; nft(8)
// shows the native statements.
func TestTargetReadBack(t *testing.T) {
	ns := testenv.NewNetns(t)
	b := Backend{Netns: ns.Name, StateDir: t.TempDir()}
	r4 := loadRules(t, ruleset.IPv4, "tg4", tgRules4)
	r6 := loadRules(t, ruleset.IPv6, "tg6", tgRules6)
	if err := b.Apply(r4, r6); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f    ruleset.Family
		want string
	}{{ruleset.IPv4, tgRules4}, {ruleset.IPv6, tgRules6}} {
		got, err := b.Save(c.f)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := save(got), save(loadRules(t, c.f, "want", c.want)); g != w || !strings.Contains(g, ":INPUT DROP [10:1000]") && c.f == ruleset.IPv4 {
			t.Errorf("%s read back differs:\n--- got\n%s--- want\n%s", c.f, g, w)
		}
	}
	list := ns.Run("", "nft", "list", "ruleset")
	if list.Code != 0 {
		t.Fatalf("nft list ruleset: %s", list.Stderr)
	}
	for _, want := range []string{
		"reject with tcp reset", "reject with icmp net-unreachable", "reject with icmp host-unreachable",
		"reject with icmp prot-unreachable", "udp dport 4 counter packets 0 bytes 0 reject\n", "reject with icmp net-prohibited",
		"reject with icmp host-prohibited", "reject with icmp admin-prohibited",
		"reject with icmpv6 no-route", "reject with icmpv6 admin-prohibited", "reject with icmpv6 addr-unreachable",
		"reject with icmpv6 policy-fail", "reject with icmpv6 reject-route",
		`log prefix "ftp: " level info flags all`,
		`log prefix "x y" group 5 snaplen 128 queue-threshold 3`, "log group 0 snaplen 0",
		"dnat to 10.0.0.2:80", "dnat to 10.0.0.2-10.0.0.9:80-89 random,persistent", "dnat to :5353",
		"dnat to [2001:db8::2]:80", "dnat to [2001:db8::2]-[2001:db8::9]:80-89", "dnat prefix to 2001:db8:2::/64", "dnat prefix to 10.1.2.0/24", "snat prefix to 198.51.100.0/24", "snat to 10.0.0.1", "dnat to 127.0.0.1:8080",
		"snat to 203.0.113.1-203.0.113.5:1000-2000 fully-random", "snat to 203.0.113.9 persistent",
		"masquerade fully-random", "masquerade to :1024-2047", "redirect to :22", "redirect to :22-24 random",
		"meta mark set meta mark & 0xffffff10 | 0x00000010", "meta mark set meta mark & 0xffffff0f",
		"meta mark set meta mark | 0x00000003", "meta mark set meta mark ^ 0x00000005", "meta mark set 0x00000007",
		"ct mark set ct mark & 0xfffffff1 | 0x00000001", "ct mark set 0x00000002", "meta mark set ct mark",
		"meta mark set ct mark & 0x0000ff00", "ct mark set meta mark & 0x000000f0", "ct mark set meta mark\n", "meta mark set meta mark & 0xffffff00",
		"udp dport 54 counter packets 0 bytes 0 notrack", "meta nftrace set 1", "meta priority set 1:10",
		"goto filter/INPUT -g filter/SUB", "chain filter/INPUT -g filter/SUB {", "redirect\n", "masquerade\n",
		"counter packets 0 bytes 0 counter packets 0 bytes 0 return", "counter packets 10 bytes 1000\n", "counter packets 11 bytes 2200\n",
	} {
		if !strings.Contains(list.Stdout, want) {
			t.Errorf("nft list ruleset lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("nft list ruleset:\n%s", list.Stdout)
	}
}

// TestTargetExprs checks the expressions of targets whose kernel modules
// may be missing (this project's test kernel has no nft_queue: the queue
// expression is refused with ENOENT there, while xt_NFQUEUE loads).
func TestTargetExprs(t *testing.T) {
	for _, c := range []struct {
		rule string
		want []expr.Any
	}{
		{"-A POSTROUTING -j NFQUEUE --queue-num 3", []expr.Any{&expr.Queue{Num: 3, Total: 1}}},
		{"-A POSTROUTING -j NFQUEUE", []expr.Any{&expr.Queue{Num: 0, Total: 1}}},
		{"-A POSTROUTING -j NFQUEUE --queue-balance 4:7 --queue-bypass --queue-cpu-fanout",
			[]expr.Any{&expr.Queue{Num: 4, Total: 4, Flag: expr.QueueFlagBypass | expr.QueueFlagFanout}}},
		{"-A POSTROUTING -j NFQUEUE --queue-num 9 --queue-bypass", []expr.Any{&expr.Queue{Num: 9, Total: 1, Flag: expr.QueueFlagBypass}}},
	} {
		rs := loadRules(t, ruleset.IPv4, "q.rules", "*mangle\n"+c.rule+"\nCOMMIT\n")
		p, err := translate(rs)
		if err != nil {
			t.Fatalf("%s: %v", c.rule, err)
		}
		var got []expr.Any
		for _, r := range p.rules {
			if r.Chain.Name == "mangle/POSTROUTING" && !isPolicyRule(r.UserData) {
				got = r.Exprs[1:] // after the rule's counter
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.rule, got, c.want)
		}
	}
}

// TestTargetRefused lists the target forms that stay refused, each with
// the rule's file:line.
func TestTargetRefused(t *testing.T) {
	for _, c := range []struct {
		fam         ruleset.Family
		table, rule string
		want        string
	}{
		{ruleset.IPv4, "mangle", "-A PREROUTING -j CONNMARK --save-mark --mask 0xff", "CONNMARK --save-mark with --nfmask 0xff --ctmask 0xff"},
		{ruleset.IPv4, "mangle", "-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xf --ctmask 0xf0", "CONNMARK --restore-mark"},
		{ruleset.IPv4, "mangle", "-A PREROUTING -j CONNMARK --set-mark 1 --left-shift-mark 2", "--left-shift-mark"},
		{ruleset.IPv4, "raw", "-A PREROUTING -p tcp -j CT --helper ftp", "CT without --notrack"},
		{ruleset.IPv4, "nat", "-A POSTROUTING -p tcp -j SNAT --to-source 10.0.0.1:1000-2000/80", "SNAT with a port offset"},
		{ruleset.IPv4, "nat", "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:1000-2000/80", "DNAT with a port offset"},
		{ruleset.IPv4, "nat", "-A POSTROUTING -p tcp -j MASQUERADE --to-ports 1000-2000 --random", "MASQUERADE with --to-ports and --random"},
		{ruleset.IPv4, "nat", "-N X\n-A X -j NETMAP --to 10.0.0.0/8", "NETMAP in a user chain"},
		{ruleset.IPv6, "nat", "-N X\n-A X -j NETMAP --to 2001:db8::/32", "NETMAP in a user chain"},
	} {
		text := "*" + c.table + "\n" + c.rule + "\nCOMMIT\n"
		rs := loadRules(t, c.fam, "bad.rules", text)
		_, err := translate(rs)
		line := strings.Count(c.rule, "\n") + 2
		if err == nil {
			t.Errorf("%s: accepted", c.rule)
			continue
		}
		if pfx := fmt.Sprintf("bad.rules:%d: ", line); !strings.HasPrefix(err.Error(), pfx) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want %s... %s", c.rule, err, pfx, c.want)
		}
	}
}

// TestTargetSeedCentos7 loads the CentOS 7 web server seed (REJECT
// without options) and reads it back exactly.
func TestTargetSeedCentos7(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.Shared(t), "seeds", "centos7-web.rules"))
	if err != nil {
		t.Fatal(err)
	}
	rs := loadRules(t, ruleset.IPv4, "centos7-web.rules", string(data))
	ns := testenv.NewNetns(t)
	b := Backend{Netns: ns.Name, StateDir: t.TempDir()}
	if err := b.Apply(rs); err != nil {
		t.Fatal(err)
	}
	got, err := b.SaveText(ruleset.IPv4)
	if err != nil {
		t.Fatal(err)
	}
	if w := save(rs); got != w {
		t.Errorf("read back differs:\n--- got\n%s--- want\n%s", got, w)
	}
}

// tgPair is two network namespaces joined by a veth pair: fw (v0,
// 10.9.0.1/24 and 10.9.0.77/32, fd00:9::1/64) and peer (v1, 10.9.0.2/24,
// fd00:9::2/64).
type tgPair struct {
	fw, peer *testenv.Netns
}

func tgNewPair(t *testing.T) *tgPair {
	t.Helper()
	p := &tgPair{fw: testenv.NewNetns(t), peer: testenv.NewNetns(t)}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("-n", p.fw.Name, "link", "add", "v0", "type", "veth", "peer", "name", "v1", "netns", p.peer.Name)
	for _, c := range []struct{ ns, dev, a4, a6 string }{
		{p.fw.Name, "v0", "10.9.0.1/24", "fd00:9::1/64"},
		{p.peer.Name, "v1", "10.9.0.2/24", "fd00:9::2/64"},
	} {
		run("-n", c.ns, "link", "set", "lo", "up")
		run("-n", c.ns, "addr", "add", c.a4, "dev", c.dev)
		run("-n", c.ns, "addr", "add", c.a6, "dev", c.dev, "nodad")
		run("-n", c.ns, "link", "set", c.dev, "up")
	}
	run("-n", p.fw.Name, "addr", "add", "10.9.0.77/32", "dev", "v0")
	run("-n", p.fw.Name, "addr", "add", "fd00:9::77/128", "dev", "v0", "nodad")
	// NETMAP's and DNAT's other networks are reached through fw.
	run("-n", p.peer.Name, "route", "add", "10.9.1.0/24", "via", "10.9.0.1")
	run("-n", p.peer.Name, "route", "add", "192.0.2.0/24", "via", "10.9.0.1")
	run("-n", p.peer.Name, "route", "add", "fd00:1::/64", "via", "fd00:9::1")
	// No ICMP rate limit: the tests send many errors to one peer.
	for _, k := range []string{"ipv4/icmp_ratelimit", "ipv6/icmp/ratelimit"} {
		if r := p.fw.Run("", "sh", "-c", "echo 0 >/proc/sys/net/"+k); r.Code != 0 {
			t.Fatalf("%s: %s", k, r.Stderr)
		}
	}
	return p
}

// tgIn runs f with the calling goroutine's thread in network namespace ns:
// the sockets f opens belong to it.
func tgIn(t *testing.T, ns string, f func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := os.Open(filepath.Join("/var/run/netns", ns))
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("setns %s: %v", ns, err)
	}
	defer func() {
		// A thread that cannot go back dies with its goroutine.
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	f()
}

// tgLoad loads rules with the nft backend (rampart) or iptables-restore
// (the reference) into fw, after emptying its nftables ruleset.
func tgLoad(t *testing.T, ns *testenv.Netns, f ruleset.Family, rules string, rampart bool) {
	t.Helper()
	if r := ns.Run("", "nft", "flush", "ruleset"); r.Code != 0 {
		t.Fatalf("nft flush ruleset: %s", r.Stderr)
	}
	if rampart {
		if err := (Backend{Netns: ns.Name, StateDir: t.TempDir()}).Apply(loadRules(t, f, "rules", rules)); err != nil {
			t.Fatal(err)
		}
		return
	}
	cmd := "iptables-restore"
	if f == ruleset.IPv6 {
		cmd = "ip6tables-restore"
	}
	if r := ns.Run(rules, cmd, "-c"); r.Code != 0 {
		t.Fatalf("%s: %s", cmd, r.Stderr)
	}
}

// tgRejectProbe sends one UDP datagram (or a TCP connection attempt when
// tcp) from peer to fw's port and describes the reply fw sends: the ICMP
// error's type, code, length and the addresses and ports it quotes, or
// the TCP segment's flags, sequence number, window and source port, and
// what the socket reported.
func tgRejectProbe(t *testing.T, p *tgPair, f ruleset.Family, tcp bool, port int) string {
	t.Helper()
	src, dst, netw := "10.9.0.2", "10.9.0.1", "ip4:"
	if f == ruleset.IPv6 {
		src, dst, netw = "fd00:9::2", "fd00:9::1", "ip6:"
	}
	proto := "icmp"
	switch {
	case tcp:
		proto = "tcp"
	case f == ruleset.IPv6:
		proto = "ipv6-icmp"
	}
	var desc string
	tgIn(t, p.peer.Name, func() {
		raw, err := net.ListenPacket(netw+proto, src)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		hp := net.JoinHostPort(dst, fmt.Sprint(port))
		var sockErr error
		var udp net.Conn
		if tcp {
			c, err := net.DialTimeout("tcp", hp, 3*time.Second)
			if err == nil {
				c.Close()
			}
			sockErr = err
		} else {
			c, err := net.Dial("udp", hp)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte("probe")); err != nil {
				t.Fatal(err)
			}
			udp = c
		}
		raw.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 2048)
		for {
			n, from, err := raw.ReadFrom(buf)
			if err != nil {
				desc = "no reply"
				break
			}
			if from.String() != dst {
				continue
			}
			if d, ok := tgDescribe(f, tcp, buf[:n]); ok {
				desc = d
				break
			}
		}
		if udp != nil {
			// The error the ICMP message caused, if any, is queued on
			// the socket by now or very soon.
			udp.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			_, sockErr = udp.Read(make([]byte, 64))
		}
		var errno unix.Errno
		switch {
		case sockErr == nil:
			desc += "; socket: no error"
		case errors.As(sockErr, &errno):
			desc += "; socket: " + errno.Error()
		default:
			desc += "; socket: timeout"
		}
	})
	return desc
}

// tgDescribe describes an ICMP destination unreachable message or a TCP
// segment from fw (ok false for other messages: neighbour discovery, the
// UDP socket's own traffic).
func tgDescribe(f ruleset.Family, tcp bool, m []byte) (string, bool) {
	if tcp {
		if len(m) < 20 {
			return "", false
		}
		if m[13]&0x04 == 0 {
			return "", false // not a reset
		}
		return fmt.Sprintf("tcp sport=%d seq=%x flags=%02x win=%d len=%d",
			uint16(m[0])<<8|uint16(m[1]), m[4:8], m[13], uint16(m[14])<<8|uint16(m[15]), len(m)), true
	}
	unreach := byte(3)
	if f == ruleset.IPv6 {
		unreach = 1
	}
	if len(m) < 8 || m[0] != unreach {
		return "", false
	}
	q := m[8:]
	var qs string
	switch {
	case f == ruleset.IPv4 && len(q) >= 28:
		ihl := int(q[0]&15) * 4
		a, _ := netip.AddrFromSlice(q[12:16])
		b, _ := netip.AddrFromSlice(q[16:20])
		qs = fmt.Sprintf("quotes proto %d %s > %s dport %x", q[9], a, b, q[ihl+2:ihl+4])
	case f == ruleset.IPv6 && len(q) >= 48:
		a, _ := netip.AddrFromSlice(q[8:24])
		b, _ := netip.AddrFromSlice(q[24:40])
		qs = fmt.Sprintf("quotes next %d %s > %s dport %x", q[6], a, b, q[42:44])
	}
	return fmt.Sprintf("icmp type=%d code=%d len=%d %s", m[0], m[1], len(m), qs), true
}

// TestTargetRejectKernel: every reject type sends the same reply from the
// nft backend's reject expression as from iptables' REJECT target.
func TestTargetRejectKernel(t *testing.T) {
	p := tgNewPair(t)
	for _, c := range []struct {
		f    ruleset.Family
		with string
	}{
		{ruleset.IPv4, "icmp-net-unreachable"}, {ruleset.IPv4, "icmp-host-unreachable"},
		{ruleset.IPv4, "icmp-proto-unreachable"}, {ruleset.IPv4, "icmp-port-unreachable"},
		{ruleset.IPv4, "icmp-net-prohibited"}, {ruleset.IPv4, "icmp-host-prohibited"},
		{ruleset.IPv4, "icmp-admin-prohibited"}, {ruleset.IPv4, "tcp-reset"},
		{ruleset.IPv6, "icmp6-no-route"}, {ruleset.IPv6, "icmp6-adm-prohibited"},
		{ruleset.IPv6, "icmp6-addr-unreachable"}, {ruleset.IPv6, "icmp6-port-unreachable"},
		{ruleset.IPv6, "icmp6-policy-fail"}, {ruleset.IPv6, "icmp6-reject-route"},
		{ruleset.IPv6, "tcp-reset"},
	} {
		tcp := c.with == "tcp-reset"
		proto, port := "udp", 7
		if tcp {
			proto, port = "tcp", 23
		}
		rules := fmt.Sprintf("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"+
			"-A INPUT -p %s -m %s --dport %d -j REJECT --reject-with %s\nCOMMIT\n", proto, proto, port, c.with)
		tgLoad(t, p.fw, c.f, rules, false)
		want := tgRejectProbe(t, p, c.f, tcp, port)
		tgLoad(t, p.fw, c.f, rules, true)
		got := tgRejectProbe(t, p, c.f, tcp, port)
		t.Logf("%s %s: %s", c.f, c.with, got)
		if got != want {
			t.Errorf("%s --reject-with %s: nft backend: %s\niptables: %s", c.f, c.with, got, want)
		}
		if strings.HasPrefix(want, "no reply") {
			t.Errorf("%s --reject-with %s: iptables sent no reply: the probe is broken", c.f, c.with)
		}
	}
	p.fw.Run("", "nft", "flush", "ruleset")
}

// TestTargetLogKernel loads the same LOG rule with iptables (xt_LOG, in
// table ip filter) and with the nft backend (table ip rampart) at once:
// one packet through both gives two kernel log lines, which must be equal
// but for the prefix.
func TestTargetLogKernel(t *testing.T) {
	p := tgNewPair(t)
	tgLogAllNetns(t)
	for i, c := range []struct {
		f     ruleset.Family
		tcp   bool
		flags string
	}{
		{ruleset.IPv4, false, ""},
		{ruleset.IPv4, false, "--log-level 6 --log-ip-options --log-macdecode"},
		{ruleset.IPv4, true, "--log-tcp-sequence --log-tcp-options --log-ip-options --log-uid"},
		{ruleset.IPv6, false, "--log-level 3"},
		{ruleset.IPv6, true, "--log-tcp-sequence --log-tcp-options --log-ip-options --log-macdecode"},
	} {
		tag := fmt.Sprintf("rt%x%d", time.Now().UnixNano()&0xffffff, i)
		proto := "udp"
		if c.tcp {
			proto = "tcp"
		}
		rule := fmt.Sprintf("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"+
			"-A INPUT -p %s -m %s --dport 7 -j LOG --log-prefix %%s %s\nCOMMIT\n", proto, proto, c.flags)
		tgLoad(t, p.fw, c.f, fmt.Sprintf(rule, "xt-"+tag+":"), false)
		if err := (Backend{Netns: p.fw.Name, StateDir: t.TempDir()}).Apply(loadRules(t, c.f, "log", fmt.Sprintf(rule, "nf-"+tag+":"))); err != nil {
			t.Fatal(err)
		}
		tgRejectProbe(t, p, c.f, c.tcp, 7)
		lines := map[string][]string{"xt": tgDmesg(t, "xt-"+tag+":"), "nf": tgDmesg(t, "nf-"+tag+":")}
		if len(lines["xt"]) == 0 {
			t.Errorf("%s %s %s: xt_LOG logged nothing", c.f, proto, c.flags)
			continue
		}
		t.Logf("%s %s %s: %s", c.f, proto, c.flags, lines["nf"])
		if g, w := strings.Join(lines["nf"], "\n"), strings.Join(lines["xt"], "\n"); g != w {
			t.Errorf("%s %s %s: log lines differ:\nnft: %s\nxt:  %s", c.f, proto, c.flags, g, w)
		}
	}
	p.fw.Run("", "nft", "flush", "ruleset")
}

// tgLogAllNetns makes the kernel's syslog logger log in every network
// namespace (net.netfilter.nf_log_all_netns, a setting of the initial
// namespace) for the test.
func tgLogAllNetns(t *testing.T) {
	t.Helper()
	const knob = "/proc/sys/net/netfilter/nf_log_all_netns"
	old, err := os.ReadFile(knob)
	if err != nil {
		testenv.Missing(t, "nf_log_all_netns: %v", err)
	}
	if err := os.WriteFile(knob, []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(knob, old, 0o644) })
	if _, err := exec.LookPath("dmesg"); err != nil {
		testenv.Missing(t, "dmesg: %v", err)
	}
}

// tgDmesg returns the kernel log lines with prefix, each as "<PRI>" and
// the text after the prefix (PRI holds the syslog level).
func tgDmesg(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := exec.Command("dmesg", "-r").Output()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	// dmesg -r: "<PRI>[time] text".
	re := regexp.MustCompile(`^<(\d+)>\[[^]]*\] ` + regexp.QuoteMeta(prefix) + `(.*)`)
	for _, l := range strings.Split(string(out), "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			lines = append(lines, "<"+m[1]+">"+m[2])
		}
	}
	return lines
}

// TestTargetHeaderKernel: the TTL, HL, DSCP and TOS targets in fw's
// POSTROUTING change a datagram to peer as iptables' do. peer logs what
// arrives (xt_LOG: TTL, TOS, HOPLIMIT, TC); an IPv4 header with a bad
// checksum would not arrive.
func TestTargetHeaderKernel(t *testing.T) {
	p := tgNewPair(t)
	tgLogAllNetns(t)
	const tos = 0xb9 // DSCP 0x2e, ECN 01: the datagram's TOS / traffic class
	mask := regexp.MustCompile(`(ID|SPT|FLOWLBL)=\d+`)
	for i, c := range []struct {
		f      ruleset.Family
		target string
	}{
		{ruleset.IPv4, "TTL --ttl-set 9"}, {ruleset.IPv4, "TTL --ttl-set 255"},
		{ruleset.IPv4, "DSCP --set-dscp 0x0a"}, {ruleset.IPv4, "DSCP --set-dscp 0x3f"},
		{ruleset.IPv4, "TOS --set-tos 0x10/0x3f"}, {ruleset.IPv4, "TOS --set-tos 0x04"},
		{ruleset.IPv4, "TOS --and-tos 0x0f"}, {ruleset.IPv4, "TOS --xor-tos 0xff"},
		{ruleset.IPv6, "HL --hl-set 7"}, {ruleset.IPv6, "DSCP --set-dscp 0x0a"},
		{ruleset.IPv6, "TOS --set-tos 0x04/0x0f"}, {ruleset.IPv6, "TOS --or-tos 0x42"},
	} {
		rules := "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n" +
			"-A POSTROUTING -p udp -m udp --dport 7 -j " + c.target + "\nCOMMIT\n"
		var res [2][]string
		for run, rampart := range []bool{false, true} {
			tag := fmt.Sprintf("hd%x-%d-%d:", time.Now().UnixNano()&0xffffff, i, run)
			// The log shows no ECN bits: a second line shows that they
			// arrived as sent (ECT(1)).
			logRule := "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p udp -m udp --dport 7 -j LOG --log-prefix " + tag + "\n" +
				"-A INPUT -p udp -m udp --dport 7 -m ecn --ecn-ip-ect 1 -j LOG --log-prefix " + tag + "ect1\nCOMMIT\n"
			tgLoad(t, p.peer, c.f, logRule, false)
			tgLoad(t, p.fw, c.f, rules, rampart)
			tgSendTOS(t, p.fw.Name, c.f, tos)
			for _, l := range tgDmesg(t, tag) {
				res[run] = append(res[run], mask.ReplaceAllString(l, "$1=N"))
			}
		}
		t.Logf("%s %s: %s", c.f, c.target, res[1])
		if len(res[0]) == 0 {
			t.Errorf("%s %s: peer logged nothing with iptables", c.f, c.target)
		}
		if g, w := strings.Join(res[1], "\n"), strings.Join(res[0], "\n"); g != w {
			t.Errorf("%s %s: peer received\nnft backend: %s\niptables:    %s", c.f, c.target, g, w)
		}
	}
	p.fw.Run("", "nft", "flush", "ruleset")
	p.peer.Run("", "nft", "flush", "ruleset")
}

// tgSendTOS sends one datagram from fw to peer's port 7 with the TOS
// byte or traffic class tos.
func tgSendTOS(t *testing.T, ns string, f ruleset.Family, tos int) {
	t.Helper()
	tgIn(t, ns, func() {
		network, dst := "udp4", &net.UDPAddr{IP: net.IPv4(10, 9, 0, 2), Port: 7}
		level, opt := unix.IPPROTO_IP, unix.IP_TOS
		if f == ruleset.IPv6 {
			network, dst = "udp6", &net.UDPAddr{IP: net.ParseIP("fd00:9::2"), Port: 7}
			level, opt = unix.IPPROTO_IPV6, unix.IPV6_TCLASS
		}
		c, err := net.ListenUDP(network, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		rc, err := c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var serr error
		rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), level, opt, tos) })
		if serr != nil {
			t.Fatal(serr)
		}
		if _, err := c.WriteTo([]byte("header"), dst); err != nil {
			t.Fatal(err)
		}
	})
}

// tgServe accepts one connection on a listener opened in ns and writes
// the client's address to it.
func tgServe(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	tgIn(t, ns, func() {
		var err error
		network := "tcp4"
		if strings.HasPrefix(addr, "[") {
			network = "tcp6"
		}
		if l, err = net.Listen(network, addr); err != nil {
			t.Fatal(err)
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			ra := c.RemoteAddr().(*net.TCPAddr)
			fmt.Fprintf(c, "%s", ra.IP)
			if ra.Port < 32768 {
				// Not from the ephemeral range: a port NAT chose.
				fmt.Fprintf(c, ":%d", ra.Port)
			}
			fmt.Fprintf(c, " -> %s", c.LocalAddr())
			c.Close()
		}
	}()
	return l
}

// tgConnect connects from ns (from local address src when not empty) and
// returns what the server wrote, or the error.
func tgConnect(t *testing.T, ns, src, dst string) string {
	t.Helper()
	var out string
	tgIn(t, ns, func() {
		d := net.Dialer{Timeout: 3 * time.Second}
		if src != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
		}
		c, err := d.Dial("tcp", dst)
		if err != nil {
			out = "error: " + err.Error()
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil {
			out = "error: " + err.Error()
			return
		}
		out = string(b)
	})
	return out
}

// TestTargetNATKernel: connections between the namespaces are translated
// by the nft backend's nat, masq and redir expressions as by iptables'
// targets.
func TestTargetNATKernel(t *testing.T) {
	p := tgNewPair(t)
	for _, l := range []net.Listener{
		tgServe(t, p.fw.Name, "10.9.0.1:80"), tgServe(t, p.fw.Name, "[::]:80"),
		tgServe(t, p.peer.Name, "10.9.0.2:80"), tgServe(t, p.peer.Name, "[fd00:9::2]:80"),
	} {
		defer l.Close()
	}
	const head = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
	for _, c := range []struct {
		name      string
		f         ruleset.Family
		rule      string
		ns        *testenv.Netns
		src, dst  string
		wantMatch string // what the server must see ({i}: the run, 0 or 1)
		anyPort   bool   // the kernel picks the port at random
	}{
		{"DNAT", ruleset.IPv4, "-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.9.0.1:80",
			p.peer, "", "10.9.0.1:8080", "10.9.0.2 -> 10.9.0.1:80", false},
		{"DNAT6", ruleset.IPv6, "-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination [fd00:9::1]:80",
			p.peer, "", "[fd00:9::1]:8080", "fd00:9::2 -> [fd00:9::1]:80", false},
		{"DNAT OUTPUT", ruleset.IPv4, "-A OUTPUT -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.9.0.2:80",
			p.fw, "", "10.9.0.2:8080", "10.9.0.1 -> 10.9.0.2:80", false},
		{"REDIRECT", ruleset.IPv4, "-A PREROUTING -p tcp -m tcp --dport 8081 -j REDIRECT --to-ports 80",
			p.peer, "", "10.9.0.1:8081", "10.9.0.2 -> 10.9.0.1:80", false},
		{"REDIRECT6", ruleset.IPv6, "-A PREROUTING -p tcp -m tcp --dport 8081 -j REDIRECT --to-ports 80",
			p.peer, "", "[fd00:9::1]:8081", "fd00:9::2 -> [fd00:9::77]:80", false},
		{"SNAT", ruleset.IPv4, "-A POSTROUTING -d 10.9.0.2/32 -p tcp -j SNAT --to-source 10.9.0.77",
			p.fw, "", "10.9.0.2:80", "10.9.0.77 -> 10.9.0.2:80", false},
		{"SNAT ports", ruleset.IPv4, "-A POSTROUTING -d 10.9.0.2/32 -p tcp -j SNAT --to-source 10.9.0.77:200{i}-200{i}",
			p.fw, "", "10.9.0.2:80", "10.9.0.77:200{i} -> 10.9.0.2:80", false},
		{"SNAT6", ruleset.IPv6, "-A POSTROUTING -d fd00:9::2/128 -p tcp -j SNAT --to-source [fd00:9::77]:300{i}-300{i}",
			p.fw, "", "[fd00:9::2]:80", "fd00:9::77:300{i} -> [fd00:9::2]:80", false},
		// ipv6_dev_get_saddr: fd00:9::77/128 matches fd00:9::2 on 121 bits,
		// fd00:9::1/64 on its prefix length, 64 (rule 8).
		{"MASQUERADE6", ruleset.IPv6, "-A POSTROUTING -o v0 -j MASQUERADE",
			p.fw, "fd00:9::1", "[fd00:9::2]:80", "fd00:9::77 -> [fd00:9::2]:80", false},
		{"MASQUERADE", ruleset.IPv4, "-A POSTROUTING -o v0 -j MASQUERADE",
			p.fw, "10.9.0.77", "10.9.0.2:80", "10.9.0.1 -> 10.9.0.2:80", false},
		{"MASQUERADE random-fully", ruleset.IPv4, "-A POSTROUTING -o v0 -j MASQUERADE --random-fully",
			p.fw, "10.9.0.77", "10.9.0.2:80", "10.9.0.1 -> 10.9.0.2:80", true},
		{"NETMAP", ruleset.IPv4, "-A POSTROUTING -d 10.9.0.2/32 -j NETMAP --to 10.9.1.0/24",
			p.fw, "10.9.0.77", "10.9.0.2:80", "10.9.1.77 -> 10.9.0.2:80", false},
		{"NETMAP6 dst", ruleset.IPv6, "-A PREROUTING -d fd00:1::/64 -j NETMAP --to fd00:9::/64",
			p.peer, "", "[fd00:1::1]:80", "fd00:9::2 -> [fd00:9::1]:80", false},
		{"NETMAP dst", ruleset.IPv4, "-A PREROUTING -d 192.0.2.0/24 -j NETMAP --to 10.9.0.0/24",
			p.peer, "", "192.0.2.1:80", "10.9.0.2 -> 10.9.0.1:80", false},
	} {
		// Each run NATs to other ports where the range allows: the first
		// run's mapping lingers in TIME_WAIT.
		run := func(s string, i int) string { return strings.ReplaceAll(s, "{i}", fmt.Sprint(i)) }
		var res, want [2]string
		for i, rampart := range []bool{false, true} {
			tgLoad(t, p.fw, c.f, run(head+c.rule+"\nCOMMIT\n", i), rampart)
			res[i], want[i] = tgConnect(t, c.ns.Name, c.src, c.dst), run(c.wantMatch, i)
			if c.anyPort {
				res[i] = regexp.MustCompile(`:\d+ -> `).ReplaceAllString(res[i], " -> ")
			}
		}
		t.Logf("%s: %s", c.name, res[1])
		if res[1] != want[1] {
			t.Errorf("%s: nft backend: %q, want %q", c.name, res[1], want[1])
		}
		if res[0] != want[0] {
			t.Errorf("%s: iptables: %q, want %q (the case is broken)", c.name, res[0], want[0])
		}
	}
	p.fw.Run("", "nft", "flush", "ruleset")
}

// TestPolicyCountersKernel sends the same datagrams to a DROP-policy INPUT
// chain loaded by iptables-restore and by the nft backend; every counter,
// the policies' included (packets reaching the policy at the end, by a
// RETURN and by a goto), reads back as iptables-save -c shows iptables'.
func TestPolicyCountersKernel(t *testing.T) {
	p := tgNewPair(t)
	const rules = `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:SUB - [0:0]
-A INPUT -p udp -m udp --dport 1 -j RETURN
-A INPUT -p udp -m udp --dport 2 -g SUB
-A INPUT -p udp -m udp --dport 3 -g SUB
-A INPUT -p udp -m udp --dport 4 -j SUB
-A INPUT -p udp -m udp --dport 5 -j ACCEPT
-A SUB -p udp -m udp --dport 3 -j DROP
-A SUB -j RETURN
COMMIT
`
	send := func() {
		tgIn(t, p.peer.Name, func() {
			// Unconnected: the port unreachable errors fw sends back for
			// port 5 do not stop the later datagrams.
			c, err := net.ListenPacket("udp4", "10.9.0.2:0")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for port := 1; port <= 6; port++ {
				for n := 0; n < port; n++ {
					if _, err := c.WriteTo(make([]byte, 10*port+n), &net.UDPAddr{IP: net.IPv4(10, 9, 0, 1), Port: port}); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
	tgLoad(t, p.fw, ruleset.IPv4, rules, false)
	send()
	ref := p.fw.Run("", "iptables-save", "-c", "-t", "filter")
	if ref.Code != 0 {
		t.Fatal(ref.Stderr)
	}
	want := testenv.StripComments(ref.Stdout)
	t.Logf("iptables:\n%s", want)
	// Also with the chains in chunks of 1 and 2 rules (chunk.go): a
	// RETURN or goto in a later chunk of INPUT, and running off its last
	// chunk, count as from INPUT itself.
	for _, size := range []int{0, 1, 2} {
		if r := p.fw.Run("", "nft", "flush", "ruleset"); r.Code != 0 {
			t.Fatalf("nft flush ruleset: %s", r.Stderr)
		}
		b := Backend{Netns: p.fw.Name, StateDir: t.TempDir(), ChunkSize: size}
		if err := b.Apply(loadRules(t, ruleset.IPv4, "rules", rules)); err != nil {
			t.Fatal(err)
		}
		send()
		got, err := b.SaveText(ruleset.IPv4)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("chunk size %d: counters differ:\n--- nft backend\n%s--- iptables\n%s", size, got, want)
		}
		if list := p.fw.Run("", "nft", "list", "ruleset").Stdout; size > 0 && !strings.Contains(list, "goto filter/INPUT #2") {
			t.Errorf("chunk size %d: INPUT is not in chunks:\n%s", size, list)
		}
	}
	if !strings.Contains(want, ":INPUT DROP [") || strings.Contains(want, ":INPUT DROP [0:0]") {
		t.Errorf("the policy counted nothing: the test is broken")
	}
	p.fw.Run("", "nft", "flush", "ruleset")
}

// TestTargetMarkKernel: MARK, CONNMARK and NOTRACK in fw's raw and mangle
// PREROUTING leave a datagram from peer with the same packet mark (and
// conntrack state) at INPUT, where xt_LOG shows them, as iptables' targets.
func TestTargetMarkKernel(t *testing.T) {
	p := tgNewPair(t)
	tgLogAllNetns(t)
	mask := regexp.MustCompile(`(ID|SPT)=\d+`)
	for i, c := range []struct {
		name, raw, mangle string
	}{
		{"xmark", "", "-j MARK --set-mark 0x12345678\n-j MARK --set-xmark 0x10/0xff"},
		{"and/or/xor", "", "-j MARK --set-mark 0xf0f0\n-j MARK --and-mark 0xff00\n-j MARK --or-mark 0x3\n-j MARK --xor-mark 0x101"},
		{"set-mark mask", "", "-j MARK --set-mark 0xffff\n-j MARK --set-mark 0x1/0xf0"},
		{"connmark set restore", "", "-j CONNMARK --set-xmark 0x5/0xf\n-j CONNMARK --or-mark 0x100\n-j CONNMARK --restore-mark"},
		{"connmark save masks", "", "-j MARK --set-mark 0xabcd\n-j CONNMARK --save-mark --nfmask 0xfff0 --ctmask 0xffffffff\n" +
			"-j MARK --set-mark 0x1\n-j CONNMARK --restore-mark --ctmask 0xff00 --nfmask 0xffffffff"},
		{"connmark restore clears", "", "-j MARK --set-mark 0x1234\n-j CONNMARK --restore-mark --nfmask 0xff --ctmask 0x0"},
		{"untracked", "-j NOTRACK", "-j MARK --set-mark 0x1234\n-j CONNMARK --restore-mark --nfmask 0xff --ctmask 0x0\n" +
			"-j CONNMARK --restore-mark\n-j CONNMARK --set-mark 0x9"},
		{"ct notrack", "-j CT --notrack", "-j MARK --set-mark 0x7\n-j CONNMARK --restore-mark"},
	} {
		var res [2][]string
		for run, rampart := range []bool{false, true} {
			tag := fmt.Sprintf("mk%x-%d-%d:", time.Now().UnixNano()&0xffffff, i, run)
			var b strings.Builder
			b.WriteString("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
			if c.raw != "" {
				b.WriteString("-A PREROUTING -p udp -m udp --dport 7 " + c.raw + "\n")
			}
			b.WriteString("COMMIT\n*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n")
			for _, r := range strings.Split(c.mangle, "\n") {
				b.WriteString("-A PREROUTING -p udp -m udp --dport 7 " + r + "\n")
			}
			b.WriteString("COMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
				"-A INPUT -p udp -m udp --dport 7 -j LOG --log-prefix " + tag + "\n" +
				"-A INPUT -p udp -m udp --dport 7 -m state --state UNTRACKED -j LOG --log-prefix " + tag + "untracked\n" +
				"COMMIT\n")
			tgLoad(t, p.fw, ruleset.IPv4, b.String(), rampart)
			tgIn(t, p.peer.Name, func() {
				c, err := net.Dial("udp4", "10.9.0.1:7")
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if _, err := c.Write([]byte("mark")); err != nil {
					t.Fatal(err)
				}
			})
			for _, l := range tgDmesg(t, tag) {
				res[run] = append(res[run], mask.ReplaceAllString(l, "$1=N"))
			}
		}
		t.Logf("%s: %s", c.name, res[1])
		if len(res[0]) == 0 {
			t.Errorf("%s: nothing logged with iptables", c.name)
		}
		if g, w := strings.Join(res[1], "\n"), strings.Join(res[0], "\n"); g != w {
			t.Errorf("%s: logged\nnft backend: %s\niptables:    %s", c.name, g, w)
		}
	}
	p.fw.Run("", "nft", "flush", "ruleset")
}

// TestTargetNflogEncoding: the nft backend's log expression of each NFLOG
// rule is the one iptables-nft makes (nft --debug=netlink shows both).
func TestTargetNflogEncoding(t *testing.T) {
	ns := testenv.NewNetns(t)
	logExprs := func() []string {
		r := ns.Run("", "nft", "--debug=netlink", "list", "ruleset")
		if r.Code != 0 {
			t.Fatalf("nft list ruleset: %s", r.Stderr)
		}
		var out []string
		for _, l := range strings.Split(r.Stdout, "\n") {
			if strings.HasPrefix(l, "  [ log ") {
				out = append(out, l)
			}
		}
		return out
	}
	for _, rule := range []string{
		"-j NFLOG",
		"-j NFLOG --nflog-prefix \"x y\" --nflog-group 5 --nflog-size 128 --nflog-threshold 3",
		"-j NFLOG --nflog-size 0",
		"-j NFLOG --nflog-range 64 --nflog-group 65535",
		"-j NFLOG --nflog-threshold 1 --nflog-prefix " + strings.Repeat("p", 127),
	} {
		rules := "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT " + rule + "\nCOMMIT\n"
		tgLoad(t, ns, ruleset.IPv4, rules, false)
		want := logExprs()
		tgLoad(t, ns, ruleset.IPv4, rules, true)
		got := logExprs()
		if len(want) != 1 || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: nft backend %q, iptables-nft %q", rule, got, want)
		}
	}
}
