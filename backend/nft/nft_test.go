package nft

import (
	"strings"
	"testing"

	"github.com/rampartfw/rampart/internal/testenv"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
)

const rules4 = `*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -i lo -j RETURN
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A OUTPUT -o eth+ -p udp -m udp --dport 53
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -s 10.0.0.0/8 ! -d 10.0.0.0/8 -j RETURN
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:PORTSCAN - [0:0]
:SVC - [0:0]
[7:420] -A INPUT -i lo -j ACCEPT
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -m conntrack --ctstate INVALID,UNTRACKED -j DROP
-A INPUT -m conntrack ! --ctstate NEW -m comment --comment "not new" -j DROP
-A INPUT -f -j DROP
-A INPUT ! -f -s 192.168.0.0/255.255.0.255 -j SVC
-A INPUT -s 203.0.113.7/32 -d 198.51.100.0/24 -i eth0 -p tcp -m tcp --sport 1024:65535 --dport 22 -j ACCEPT
-A INPUT ! -s 10.1.0.0/16 ! -i eth1+ -p tcp -m tcp ! --dport 1:1023 -j DROP
-A INPUT -p tcp -m tcp --sport 80 --dport 8080 -j ACCEPT
-A INPUT -p tcp -m tcp ! --sport 80 ! --dport 8080 -j DROP
-A INPUT -p tcp -m tcp --dport :1023 -j DROP
-A INPUT -p tcp -m tcp ! --syn -m state --state NEW -j DROP
-A INPUT -p tcp -j PORTSCAN
-A INPUT ! -p udp -g SVC
-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT
-A INPUT -p icmp -m icmp --icmp-type 3/4 -j ACCEPT
-A INPUT -p icmp -m icmp ! --icmp-type 11 -j DROP
-A INPUT -p icmp -m icmp --icmp-type any -m comment --comment "any icmp" -j ACCEPT
-A INPUT -p udp -m udp --sport 53 -m udp --dport 1024:65535 -j ACCEPT
-A INPUT -p 47 -j ACCEPT
-A FORWARD -i eth0 -o eth1 -j ACCEPT
-A FORWARD ! -o eth+ -j DROP
-A FORWARD
-A OUTPUT -o lo
-A PORTSCAN -p tcp -m tcp --tcp-flags FIN,ACK FIN -j DROP
-A PORTSCAN -p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE -j DROP
-A PORTSCAN -p tcp -m tcp ! --tcp-flags SYN,RST SYN,RST -j RETURN
-A PORTSCAN -j DROP
-A SVC -p tcp -m tcp --dport 443 -j ACCEPT
-A SVC -j RETURN
COMMIT
`

const rules6 = `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -s 2001:db8::/32 -d fe80::/ffff:ffff:ffff:ffff:: -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT
-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 1/0:3 -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
`

func loadRules(t *testing.T, f ruleset.Family, name, text string) *ruleset.Ruleset {
	t.Helper()
	rs, _, err := ipt.Load(name, []byte(text), ipt.LoadOptions{Family: f, Counters: true})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func save(rs *ruleset.Ruleset) string { return iptext.Save(rs, iptext.SaveOptions{Counters: true}) }

func TestApplyReadBack(t *testing.T) {
	ns := testenv.NewNetns(t)
	b := Backend{Netns: ns.Name, StateDir: t.TempDir()}
	r4 := loadRules(t, ruleset.IPv4, "rules4", rules4)
	r6 := loadRules(t, ruleset.IPv6, "rules6", rules6)
	if err := b.Apply(r4, r6); err != nil {
		t.Fatal(err)
	}
	list := ns.Run("", "nft", "list", "ruleset")
	if list.Code != 0 {
		t.Fatalf("nft list ruleset: %d: %s", list.Code, list.Stderr)
	}
	t.Logf("nft list ruleset:\n%s", list.Stdout)
	for _, want := range []string{
		"table ip rampart", "table ip6 rampart",
		"type filter hook input priority filter; policy drop;",
		"type nat hook postrouting priority srcnat; policy accept;",
		"type filter hook prerouting priority raw; policy accept;",
		"type route hook output priority mangle; policy accept;",
		"ip saddr 203.0.113.7 ip daddr 198.51.100.0/24",
		"tcp dport 22",
		"jump filter/PORTSCAN", "goto filter/INPUT -g filter/SVC",
		"counter packets 7 bytes 420 accept",
		`comment "not new"`,
	} {
		if !strings.Contains(list.Stdout, want) {
			t.Errorf("nft list ruleset lacks %q", want)
		}
	}
	for _, c := range []struct {
		f    ruleset.Family
		want *ruleset.Ruleset
	}{{ruleset.IPv4, r4}, {ruleset.IPv6, r6}} {
		got, err := b.Save(c.f)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := save(got), save(c.want); g != w {
			t.Errorf("%s read back differs:\n--- got\n%s--- want\n%s", c.f, g, w)
		}
	}
	// iptables-nft sees none of it: rampart's tables are its own.
	if r := ns.Run("", "iptables-save"); strings.Contains(r.Stdout, "-A ") {
		t.Errorf("iptables-save shows rules:\n%s", r.Stdout)
	}

	// A re-apply replaces the table atomically; applying only IPv4 leaves
	// IPv6 alone.
	r4b := loadRules(t, ruleset.IPv4, "rules4b", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport 25 -j DROP\nCOMMIT\n")
	if err := b.Apply(r4b); err != nil {
		t.Fatal(err)
	}
	got, err := b.Save(ruleset.IPv4)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := save(got), save(r4b); g != w {
		t.Errorf("re-apply: got\n%s\nwant\n%s", g, w)
	}
	got6, err := b.Save(ruleset.IPv6)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := save(got6), save(r6); g != w {
		t.Errorf("IPv6 changed by an IPv4 apply:\n%s", g)
	}

	if err := b.Delete(ruleset.IPv4, ruleset.IPv6); err != nil {
		t.Fatal(err)
	}
	if r := ns.Run("", "nft", "list", "ruleset"); strings.Contains(r.Stdout, "rampart") {
		t.Errorf("tables left after Delete:\n%s", r.Stdout)
	}
}

func TestRefuseUnsupported(t *testing.T) {
	for _, c := range []struct{ rule, want string }{
		{"-A INPUT -p tcp -m tcp --dport 22 -j AUDIT --type accept", `target AUDIT not supported`},
		{"-A INPUT -m time --timestart 10:00 -j ACCEPT", `extension "-m time" not supported`},
		{"-A INPUT -p tcp -m tcp --tcp-option 2 -j DROP", `"-m tcp" option --tcp-option`},
		{"-A INPUT -m conntrack --ctstate INVALID --ctproto tcp -j ACCEPT", `"-m conntrack": a --ctstate that accepts INVALID`},
		{"-A INPUT -j CONNMARK --save-mark --mask 0xff", `target CONNMARK --save-mark with --nfmask 0xff --ctmask 0xff not supported`},
	} {
		rs := loadRules(t, ruleset.IPv4, "bad.rules", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\n"+c.rule+"\nCOMMIT\n")
		_, err := translate(rs)
		if err == nil {
			t.Errorf("%s: accepted", c.rule)
			continue
		}
		if !strings.HasPrefix(err.Error(), "bad.rules:4: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want bad.rules:4: ... %s", c.rule, err, c.want)
		}
	}
}

func TestRefusedApplyChangesNothing(t *testing.T) {
	ns := testenv.NewNetns(t)
	b := Backend{Netns: ns.Name, StateDir: t.TempDir()}
	good := loadRules(t, ruleset.IPv4, "good", "*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n")
	if err := b.Apply(good); err != nil {
		t.Fatal(err)
	}
	before := ns.Run("", "nft", "list", "ruleset").Stdout
	bad := loadRules(t, ruleset.IPv4, "bad", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j AUDIT --type drop\nCOMMIT\n")
	if err := b.Apply(bad); err == nil {
		t.Fatal("AUDIT accepted")
	}
	if after := ns.Run("", "nft", "list", "ruleset").Stdout; after != before {
		t.Fatalf("refused apply changed the ruleset:\n%s\nbefore:\n%s", after, before)
	}
}

func TestUserdataLongText(t *testing.T) {
	long := strings.Repeat("x", 250)
	rs := loadRules(t, ruleset.IPv4, "long", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 10.0.0.1/32 -m comment --comment \""+long+"\" -j ACCEPT\nCOMMIT\n")
	r := rs.Table("filter").Chain("INPUT").Rules[0]
	ud, err := ruleUserdata(r, ruleset.IPv4)
	if err != nil {
		t.Fatal(err)
	}
	if len(ud) > maxUserdata {
		t.Fatalf("userdata %d bytes", len(ud))
	}
	text, ok := ruleText(ud)
	var b strings.Builder
	iptext.RuleSpecLossless(&b, r, ruleset.IPv4)
	if !ok || text != b.String() {
		t.Fatalf("got %q, want %q", text, b.String())
	}
}
