package analyze

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampartfw/rampart/engine"
	"github.com/rampartfw/rampart/internal/testenv"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

var updateMatrix = flag.Bool("update-matrix", false, "rewrite analyze/testdata/matrix golden files")

// edgeStrings lists the edges as "a->b", "a->b?" when uncertain.
func edgeStrings(m *Matrix) []string {
	var out []string
	for _, e := range m.Edges {
		s := e.From + "->" + e.To
		if !e.Certain {
			s += "?"
		}
		out = append(out, s)
	}
	return out
}

func classTexts(m *Matrix) []string {
	var out []string
	for _, c := range m.Classes {
		out = append(out, c.Text)
	}
	return out
}

// TestMatrixTable checks hand-computed matrices of small rulesets.
func TestMatrixTable(t *testing.T) {
	const fwd = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
	cases := []struct {
		name    string
		rules   string
		fam     ruleset.Family
		chain   string
		service Service
		sport   int
		assmt   string
		classes []string
		edges   []string
		exact   bool
		why     string // a substring of the approximations
	}{
		{
			name:    "one accept",
			rules:   fwd + "-A FORWARD -s 10.0.0.0/8 -d 192.168.0.0/16 -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			service: Service{6, 22},
			classes: []string{"all but {10.0.0.0/8, 192.168.0.0/16}", "{10.0.0.0/8}", "{192.168.0.0/16}"},
			edges:   []string{"b->c"},
			exact:   true,
		},
		{
			name:    "other service",
			rules:   fwd + "-A FORWARD -s 10.0.0.0/8 -d 192.168.0.0/16 -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			service: Service{6, 80},
			classes: []string{"{0.0.0.0/0}"},
			exact:   true,
		},
		{
			name:    "udp service",
			rules:   fwd + "-A FORWARD -s 10.0.0.0/8 -p udp --dport 53 -j ACCEPT\n-A FORWARD -s 10.0.0.0/8 -p tcp --dport 53 -j DROP\nCOMMIT\n",
			service: Service{17, 53},
			classes: []string{"all but {10.0.0.0/8, 127.0.0.0/8}", "{10.0.0.0/8}", "{127.0.0.0/8}"},
			edges:   []string{"b->a", "b->b"},
			exact:   true,
		},
		{
			// INPUT open to all: every pair but a non-loopback source to
			// a loopback destination (a martian)
			name:    "input open",
			rules:   "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n",
			chain:   "INPUT",
			service: Service{6, 22},
			classes: []string{"all but {127.0.0.0/8}", "{127.0.0.0/8}"},
			edges:   []string{"a->a", "b->a", "b->b"},
			exact:   true,
		},
		{
			name: "user chains, goto, return",
			rules: "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:C - [0:0]\n:D - [0:0]\n" +
				"-A FORWARD -p tcp -j C\n-A FORWARD -d 10.1.0.0/16 -j ACCEPT\n" +
				"-A C -s 10.0.0.0/8 -g D\n-A C -p tcp --dport 22 -j ACCEPT\n" +
				"-A D -s 10.1.0.0/16 -j RETURN\n-A D -j DROP\nCOMMIT\n",
			service: Service{6, 22},
			classes: []string{"all but {10.0.0.0/8, 127.0.0.0/8}", "{10.0.0.0/16, 10.2.0.0-10.255.255.255}", "{10.1.0.0/16}", "{127.0.0.0/8}"},
			edges:   []string{"a->a", "a->b", "a->c", "c->c"},
			exact:   true,
		},
		{
			name:    "input interface, no assignment",
			rules:   fwd + "-A FORWARD -i eth0 -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			service: Service{6, 22},
			classes: []string{"all but {127.0.0.0/8}", "{127.0.0.0/8}"},
			edges:   []string{"a->a?"},
			why:     "t.rules:5 FORWARD#1: depends on the input interface (-i eth0)",
		},
		{
			name:    "input interface, complete assignment",
			rules:   fwd + "-A FORWARD -i eth0 -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			service: Service{6, 22},
			assmt:   "eth0 = [10.0.0.0/8]\n+ = []\n",
			classes: []string{"all but {10.0.0.0/8, 127.0.0.0/8}", "{10.0.0.0/8}", "{127.0.0.0/8}"},
			edges:   []string{"b->a", "b->b"},
			exact:   true,
		},
		{
			name:    "input interface, open assignment",
			rules:   fwd + "-A FORWARD -i eth0 -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			service: Service{6, 22},
			assmt:   "eth0 = [10.0.0.0/8]\n",
			classes: []string{"all but {10.0.0.0/8, 127.0.0.0/8}", "{10.0.0.0/8}", "{127.0.0.0/8}"},
			edges:   []string{"b->a?", "b->b?"},
			why:     "-i eth0",
		},
		{
			// a wildcard assignment and a negated one: eth1 carries all
			// but 10/8, so the rule for eth+ from 10/8 is eth0's only
			name:  "wildcard and negated assignment",
			rules: fwd + "-A FORWARD -i eth+ -s 10.0.0.0/8 -p tcp --dport 22 -j ACCEPT\n-A FORWARD -i eth1 -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			assmt: "eth+ = [10.0.0.0/8]\neth1 = all_but_those_ips [10.0.0.0/8, 127.0.0.0/8]\n+ = []",
			// every source but 127/8 reaches everyone but 127/8
			service: Service{6, 22},
			classes: []string{"all but {127.0.0.0/8}", "{127.0.0.0/8}"},
			edges:   []string{"a->a"},
			exact:   true,
		},
		{
			name:    "loopback accept",
			rules:   "*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -s 192.0.2.0/24 -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			chain:   "INPUT",
			service: Service{6, 22},
			classes: []string{"all but {127.0.0.0/8, 192.0.2.0/24}", "{127.0.0.0/8}", "{192.0.2.0/24}"},
			edges:   []string{"b->a", "b->b", "b->c", "c->a", "c->c"},
			exact:   true,
		},
		{
			name:    "rate limit",
			rules:   fwd + "-A FORWARD -p tcp --dport 22 -m limit --limit 1/s -j ACCEPT\nCOMMIT\n",
			service: Service{6, 22},
			classes: []string{"all but {127.0.0.0/8}", "{127.0.0.0/8}"},
			edges:   []string{"a->a?"},
			why:     "over-approximated: -m limit",
		},
		{
			name:    "source port, any",
			rules:   fwd + "-A FORWARD -d 10.0.0.0/8 -p tcp --sport 1024:65535 --dport 22 -j ACCEPT\nCOMMIT\n",
			service: Service{6, 22},
			classes: []string{"all but {10.0.0.0/8, 127.0.0.0/8}", "{10.0.0.0/8}", "{127.0.0.0/8}"},
			edges:   []string{"a->b?", "b->b?"},
			why:     "depends on the source port",
		},
		{
			name:    "source port, fixed",
			rules:   fwd + "-A FORWARD -d 10.0.0.0/8 -p tcp --sport 1024:65535 --dport 22 -j ACCEPT\nCOMMIT\n",
			service: Service{6, 22},
			sport:   10000,
			classes: []string{"all but {10.0.0.0/8, 127.0.0.0/8}", "{10.0.0.0/8}", "{127.0.0.0/8}"},
			edges:   []string{"a->b", "b->b"},
			exact:   true,
		},
		{
			name:    "reject and syn",
			rules:   fwd + "-A FORWARD -s 10.0.0.0/9 -j REJECT\n-A FORWARD -p tcp ! --syn -j ACCEPT\n-A FORWARD -s 10.0.0.0/8 -p tcp --syn -j ACCEPT\nCOMMIT\n",
			service: Service{6, 80},
			classes: []string{"all but {10.128.0.0/9, 127.0.0.0/8}", "{10.128.0.0/9}", "{127.0.0.0/8}"},
			edges:   []string{"b->a", "b->b"},
			exact:   true,
		},
		{
			name:    "queued to userspace",
			rules:   fwd + "-A FORWARD -s 10.0.0.0/8 -j DROP\n-A FORWARD -p tcp --dport 22 -j NFQUEUE --queue-num 1\nCOMMIT\n",
			service: Service{6, 22},
			classes: []string{"all but {10.0.0.0/8, 127.0.0.0/8}", "{10.0.0.0/8}", "{127.0.0.0/8}"},
			edges:   []string{"a->a?", "a->b?"},
			why:     "queued to userspace",
		},
		{
			name:    "ipv6",
			rules:   "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -s 2001:db8::/32 -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
			fam:     ruleset.IPv6,
			service: Service{6, 22},
			classes: []string{"all but {::1/128, 2001:db8::/32}", "{::1/128}", "{2001:db8::/32}"},
			edges:   []string{"c->a", "c->c"},
			exact:   true,
		},
		{
			name:    "no filter table",
			rules:   "*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n",
			chain:   "INPUT",
			service: Service{6, 22},
			classes: []string{"all but {127.0.0.0/8}", "{127.0.0.0/8}"},
			edges:   []string{"a->a", "b->a", "b->b"},
			exact:   true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fam := tc.fam
			if fam == 0 {
				fam = ruleset.IPv4
			}
			rs := loadRules(t, fam, tc.rules)
			o := MatrixOptions{Chain: tc.chain, Service: tc.service, SPort: tc.sport}
			if tc.assmt != "" {
				a, err := ParseIPAssignment("t.ipassmt", []byte(tc.assmt))
				if err != nil {
					t.Fatal(err)
				}
				o.IPAssmt = a
			}
			m, err := ComputeMatrix(rs, o)
			if err != nil {
				t.Fatal(err)
			}
			var text bytes.Buffer
			m.WriteText(&text)
			if got := classTexts(m); strings.Join(got, "\n") != strings.Join(tc.classes, "\n") {
				t.Errorf("classes:\n got %q\nwant %q\n%s", got, tc.classes, text.String())
			}
			if got := edgeStrings(m); strings.Join(got, " ") != strings.Join(tc.edges, " ") {
				t.Errorf("edges: got %q, want %q\n%s", got, tc.edges, text.String())
			}
			if m.Exact != tc.exact {
				t.Errorf("exact: got %v, want %v\n%s", m.Exact, tc.exact, text.String())
			}
			if tc.why != "" && !strings.Contains(strings.Join(m.Approximations, "\n"), tc.why) {
				t.Errorf("approximations %q lack %q", m.Approximations, tc.why)
			}
			if tc.exact && len(m.Approximations) > 0 {
				t.Errorf("exact matrix with approximations %q", m.Approximations)
			}
		})
	}
}

// TestMatrixOptionsErrors checks the refusals of ComputeMatrix.
func TestMatrixOptionsErrors(t *testing.T) {
	rs := loadRules(t, ruleset.IPv4, "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n")
	a6, err := ParseIPAssignment("six", []byte("eth0 = [2001:db8::/32]"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		o    MatrixOptions
		want string
	}{
		{MatrixOptions{Chain: "OUTPUT", Service: Service{6, 22}}, `chain "OUTPUT"`},
		{MatrixOptions{Service: Service{1, 0}}, "tcp or udp"},
		{MatrixOptions{Service: Service{6, 22}, SPort: 70000}, "source port 70000: 1-65535 expected"},
		{MatrixOptions{Service: Service{6, 22}, IPAssmt: a6}, "six: ipv6 addresses, but the ruleset is ipv4"},
	}
	for _, tc := range cases {
		_, err := ComputeMatrix(rs, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.o, err, tc.want)
		}
	}
}

// TestMatrixAlphabetFull checks that assignment entries the interface
// alphabet cannot hold leave the interfaces they might name unconstrained
// (sound), with a warning.
func TestMatrixAlphabetFull(t *testing.T) {
	var b strings.Builder
	b.WriteString("*filter\n:FORWARD DROP [0:0]\n")
	for i := 0; i < 70; i++ {
		fmt.Fprintf(&b, "-A FORWARD -i e%d -j DROP\n", i)
	}
	b.WriteString("-A FORWARD -p tcp --dport 22 -j ACCEPT\nCOMMIT\n")
	rs := loadRules(t, ruleset.IPv4, b.String())
	a, err := ParseIPAssignment("full.ipassmt", []byte("x9 = [10.0.0.0/8]\n+ = []\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ComputeMatrix(rs, MatrixOptions{Service: Service{6, 22}, IPAssmt: a})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(m.Warnings, "\n"), "too many interface names") {
		t.Errorf("no warning: %q", m.Warnings)
	}
	for _, src := range []string{"10.0.0.1", "192.0.2.1"} {
		if ok, _ := m.Edge(netip.MustParseAddr(src), netip.MustParseAddr("198.51.100.1")); !ok {
			var out bytes.Buffer
			m.WriteText(&out)
			t.Errorf("%s reaches nobody:\n%s", src, out.String())
		}
	}
}

// TestMatrixParseService checks PROTO/PORT parsing.
func TestMatrixParseService(t *testing.T) {
	cases := []struct {
		in, want, err string
	}{
		{"tcp/22", "tcp/22", ""},
		{"UDP/53", "udp/53", ""},
		{"tcp/0x50", "tcp/80", ""},
		{"tcp/65535", "tcp/65535", ""},
		{"tcp/65536", "", "bad port"},
		{"tcp/", "", "bad port"},
		{"icmp/8", "", "tcp or udp"},
		{"22", "", "PROTO/PORT"},
	}
	for _, tc := range cases {
		s, err := ParseService(tc.in)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: got %v, %v; want error %q", tc.in, s, err, tc.err)
			}
		case err != nil || s.String() != tc.want:
			t.Errorf("%q: got %v, %v; want %s", tc.in, s, err, tc.want)
		}
	}
}

// TestMatrixIPAssmt checks the --ipassmt parser: entries, and errors
// with file:line:col and the token.
func TestMatrixIPAssmt(t *testing.T) {
	good := "# interfaces\nldit = [10.13.42.136/29]\nlup = all_but_those_ips [\n    192.168.0.0/16,\n    172.16.0.0/12,\n    10.0.0.0/8\n]\n" +
		"lo = [127.0.0.0/8]\nvpriv = [10.13.37.0/24,10.13.44.0/24]\nr = [10.0.0.1-10.0.0.9, 10.0.0.77]\nh = [10.1.2.3/8]\nlua = []\nppp+ = [0.0.0.0-255.255.255.255]\n"
	a, err := ParseIPAssignment("a.ipassmt", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range a.Entries {
		got = append(got, fmt.Sprintf("%d:%s", e.Line, e.String()))
	}
	want := []string{
		"2:ldit = [10.13.42.136/29]",
		"3:lup = all_but_those_ips [192.168.0.0/16, 172.16.0.0/12, 10.0.0.0/8]",
		"8:lo = [127.0.0.0/8]",
		"9:vpriv = [10.13.37.0/24, 10.13.44.0/24]",
		"10:r = [10.0.0.1-10.0.0.9, 10.0.0.77]",
		"11:h = [10.0.0.0/8]",
		"12:lua = []",
		"13:ppp+ = [0.0.0.0-255.255.255.255]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || a.Family != ruleset.IPv4 {
		t.Errorf("got family %v\n%s\nwant\n%s", a.Family, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	six, err := ParseIPAssignment("six", []byte("eth0 = [2001:db8::/32, ::1-::ff]\neth1=[fe80::1]"))
	if err != nil || six.Family != ruleset.IPv6 || len(six.Entries) != 2 {
		t.Errorf("IPv6: %v %+v", err, six)
	}
	bad := []struct{ in, want string }{
		{"eth0 [10.0.0.0/8]", `f:1:6: "[": "=" expected after eth0`},
		{"eth0 = 10.0.0.0/8", `f:1:8: "10.0.0.0/8": "[" expected`},
		{"eth0 = [10.0.0.0/33]", `f:1:9: 10.0.0.0/33: bad CIDR`},
		{"eth0 = [10.0.0.9-10.0.0.1]", `f:1:9: 10.0.0.9-10.0.0.1: range ends before it starts`},
		{"eth0 = [10.0.0.1-::1]", `f:1:9: 10.0.0.1-::1: range mixes IPv4 and IPv6`},
		{"eth0 = [10.0.0.1,\n  ::1]", `f:2:3: ::1: the file mixes IPv4 and IPv6 addresses`},
		{"eth0 = [10.0.0.1 10.0.0.2]", `f:1:18: "10.0.0.2": "," or "]" expected`},
		{"eth0 = [10.0.0.1,]", `f:1:18: "]": address expected`},
		{"eth0 = [10.0.0.1", `f:1:17: end of file: "]" expected`},
		{"eth0 = [foo]", `f:1:9: foo: bad address`},
		{"eth0 = [1.2.3.4]\neth0 = []", `f:2:1: eth0: interface assigned twice (first on line 1)`},
		{"= []", `f:1:1: "=": interface name expected`},
		{"eth+0 = []", `f:1:1: "eth+0": interface name expected`},
		{"averyveryverylongname = []", `f:1:1: "averyveryverylongname": interface name expected`},
		{"eth0 =", `f:1:7: "": "[" expected`},
	}
	for _, tc := range bad {
		_, err := ParseIPAssignment("f", []byte(tc.in))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: got %v, want %s", tc.in, err, tc.want)
		}
	}
}

// TestMatrixCIDRs checks the splitting of ranges into CIDRs.
func TestMatrixCIDRs(t *testing.T) {
	cases := []struct {
		lo, hi string
		want   string
	}{
		{"0.0.0.0", "255.255.255.255", "0.0.0.0/0"},
		{"10.0.0.0", "10.0.0.255", "10.0.0.0/24"},
		{"10.0.0.1", "10.0.0.6", "10.0.0.1/32 10.0.0.2/31 10.0.0.4/31 10.0.0.6/32"},
		{"0.0.0.0", "126.255.255.255", "0.0.0.0/2 64.0.0.0/3 96.0.0.0/4 112.0.0.0/5 120.0.0.0/6 124.0.0.0/7 126.0.0.0/8"},
		{"255.255.255.255", "255.255.255.255", "255.255.255.255/32"},
		{"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0"},
		{"::2", "::3", "::2/127"},
		{"2001:db8::", "2001:db8:0:1:ffff:ffff:ffff:ffff", "2001:db8::/63"},
		{"::1:0:0:0:0", "::1:ffff:ffff:ffff:ffff", "0:0:0:1::/64"},
	}
	for _, tc := range cases {
		lo, hi := netip.MustParseAddr(tc.lo), netip.MustParseAddr(tc.hi)
		fam := 4
		if lo.Is6() {
			fam = 6
		}
		var got []string
		for _, p := range mxCIDRs(iv{addrVal(lo), addrVal(hi)}, fam) {
			got = append(got, p.String())
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s-%s: got %s, want %s", tc.lo, tc.hi, strings.Join(got, " "), tc.want)
		}
	}
	for i, want := range map[int]string{0: "a", 25: "z", 26: "aa", 27: "ab", 51: "az", 52: "ba", 701: "zz", 702: "aaa"} {
		if got := mxClassID(i); got != want {
			t.Errorf("mxClassID(%d) = %s, want %s", i, got, want)
		}
	}
}

// TestMatrixGolden compares the three formats for the CentOS 7 web
// server seed (INPUT, ssh and http) with the golden files.
func TestMatrixGolden(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.Shared(t), "seeds", "centos7-web.rules"))
	if err != nil {
		t.Fatal(err)
	}
	ms, warns, err := MatrixFile("centos7-web.rules", data, 0, MatrixOptions{Chain: "INPUT"}, []Service{{6, 22}, {6, 80}})
	if err != nil || len(warns) > 0 {
		t.Fatal(err, warns)
	}
	var text, dot bytes.Buffer
	for i, m := range ms {
		if i > 0 {
			text.WriteString("\n")
		}
		m.WriteText(&text)
		m.WriteDOT(&dot)
	}
	js, err := json.MarshalIndent(ms, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{"centos7-web.txt": text.Bytes(), "centos7-web.dot": dot.Bytes(), "centos7-web.json": append(js, '\n')} {
		goldenFile(t, "matrix", name, got, *updateMatrix, "update-matrix")
	}
}

// Random rulesets for the property test: -s/-d prefixes, user chains
// (jump, goto, RETURN), the service and other ports.
var mxPrefixes = []string{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3", "192.168.0.0/16", "192.168.1.128/25",
	"203.0.113.0/24", "0.0.0.0/1", "172.16.0.0/12", "127.0.0.0/8"}

func mxRandRule(r *rand.Rand, chain string) string {
	p := func() string { return mxPrefixes[r.Intn(len(mxPrefixes))] }
	neg := func() string {
		if r.Intn(4) == 0 {
			return "! "
		}
		return ""
	}
	var m string
	for _, part := range []func() string{
		func() string { return neg() + "-s " + p() },
		func() string { return neg() + "-d " + p() },
		func() string {
			return []string{"-p tcp --dport 22", "-p tcp --dport 80", "-p tcp ! --dport 22", "-p tcp -m multiport --dports 22,80",
				"-p tcp --syn", "-p udp", "-m state --state NEW", "-m state --state ESTABLISHED", "-p tcp --dport 20:30",
				"-m iprange --src-range 10.1.2.0-10.1.3.7", "-m iprange ! --dst-range 192.168.0.0-192.168.0.255", "-i lo",
				"-i eth0", "! -i eth1", "-i eth+", "-p tcp --sport 1024:65535", "-m mark --mark 0x1"}[r.Intn(17)]
		},
	} {
		if r.Intn(2) == 0 {
			m += " " + part()
		}
	}
	targets := []string{"ACCEPT", "DROP", "REJECT", "C1", "C2"}
	if chain == "C1" {
		targets = []string{"ACCEPT", "DROP", "RETURN", "C2", "RETURN"}
	} else if chain == "C2" {
		targets = []string{"ACCEPT", "DROP", "RETURN", "REJECT"}
	}
	tg := targets[r.Intn(len(targets))]
	jump := "-j"
	if (tg == "C1" || tg == "C2") && r.Intn(3) == 0 {
		jump = "-g"
	}
	return fmt.Sprintf("-A %s%s %s %s", chain, m, jump, tg)
}

func mxRandRuleset(r *rand.Rand) string {
	var b strings.Builder
	pol := func() string { return []string{"ACCEPT", "DROP"}[r.Intn(2)] }
	fmt.Fprintf(&b, "*filter\n:INPUT %s [0:0]\n:FORWARD %s [0:0]\n:OUTPUT ACCEPT [0:0]\n:C1 - [0:0]\n:C2 - [0:0]\n", pol(), pol())
	for _, c := range []struct {
		name string
		max  int
	}{{"INPUT", 8}, {"FORWARD", 8}, {"C1", 5}, {"C2", 4}} {
		for i, n := 0, r.Intn(c.max+1); i < n; i++ {
			b.WriteString(mxRandRule(r, c.name) + "\n")
		}
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// mxAddrs are addresses at and around the prefixes' edges.
func mxAddrs() []netip.Addr {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	add := func(a netip.Addr) {
		if a.IsValid() && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, s := range append(mxPrefixes, "10.1.3.7", "10.1.3.8", "192.168.0.255", "192.168.1.0") {
		if !strings.Contains(s, "/") {
			s += "/32"
		}
		p := netip.MustParsePrefix(s)
		r := prefixIvs(p)[0]
		add(p.Addr())
		add(p.Addr().Prev())
		add(valAddr(r.hi, 4))
		add(valAddr(r.hi, 4).Next())
		add(p.Addr().Next())
	}
	add(netip.MustParseAddr("8.8.8.8"))
	add(netip.MustParseAddr("255.255.255.254"))
	return out
}

// TestMatrixAgainstEngine checks, for random rulesets and address pairs,
// that the edge between the classes of (src, dst) exists iff the engine
// accepts a new connection (a SYN, conntrack NEW) from src to dst, where
// the matrix says the edge (or its absence) is certain; and that the
// partition is the coarsest: any two classes differ in some edge. Half
// the rulesets are read with a complete interface assignment (the packet
// then arrives on the interface that carries its source), half with the
// default one (on eth0).
func TestMatrixAgainstEngine(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	addrs := mxAddrs()
	loop := netip.MustParsePrefix("127.0.0.0/8")
	inside := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.0.0/16")}
	assmt, err := ParseIPAssignment("t.ipassmt", []byte("eth0 = [10.0.0.0/8, 192.168.0.0/16]\n"+
		"eth1 = all_but_those_ips [10.0.0.0/8, 192.168.0.0/16, 127.0.0.0/8]\nlo = [127.0.0.0/8]\n+ = []\n"))
	if err != nil {
		t.Fatal(err)
	}
	checked, accepted, uncertain, exact := 0, 0, 0, 0
	for iter := 0; iter < 250; iter++ {
		text := mxRandRuleset(r)
		rs, diags, err := ipt.Load("r.rules", []byte(text), ipt.LoadOptions{Family: ruleset.IPv4})
		if err != nil || len(diags) > 0 {
			t.Fatalf("%v %v\n%s", err, diags, text)
		}
		withAssmt := r.Intn(2) == 0
		for _, chain := range []string{"INPUT", "FORWARD"} {
			sv := DefaultServices[r.Intn(2)]
			o := MatrixOptions{Chain: chain, Service: sv}
			if withAssmt {
				o.IPAssmt = assmt
			}
			m, err := ComputeMatrix(rs, o)
			if err != nil {
				t.Fatal(err)
			}
			if m.Exact {
				exact++
			}
			mxCheckMinimal(t, m, text)
			for k := 0; k < 60; k++ {
				src, dst := addrs[r.Intn(len(addrs))], addrs[r.Intn(len(addrs))]
				in := "eth0"
				if withAssmt && !inside[0].Contains(src) && !inside[1].Contains(src) {
					in = "eth1"
				}
				switch {
				case loop.Contains(src) && chain == "INPUT":
					in = "lo"
				case loop.Contains(src) || loop.Contains(dst):
					continue // a martian (the kernel drops it before the filter table), or lo at FORWARD
				}
				exists, certain := m.Edge(src, dst)
				if exists && !certain {
					uncertain++
					continue
				}
				s := pkt.Spec{Src: src, Dst: dst, Proto: 6, SrcPort: 40000, DstPort: sv.Port, TCPFlags: 0x02, TTL: 64}
				var p pkt.Packet
				if err := p.Decode(pkt.Build(s)); err != nil {
					t.Fatal(err)
				}
				c := &pkt.Ctx{P: &p, Hook: ruleset.LocalIn, Table: "filter", In: in, CTState: pkt.CTNew}
				if chain == "FORWARD" {
					c.Hook, c.Out = ruleset.Forward, "eth1"
				}
				v, _ := engine.Table(rs.Clone().Table("filter"), chain, c, nil)
				if c.Undecided != "" {
					continue
				}
				checked++
				if v == pkt.Accept {
					accepted++
				}
				if (v == pkt.Accept) != exists {
					var b bytes.Buffer
					m.WriteText(&b)
					t.Fatalf("ruleset:\n%s\n%s %s %s -> %s: engine %v, matrix edge %v\n%s", text, chain, sv, src, dst, v, exists, b.String())
				}
			}
		}
	}
	t.Logf("%d pairs checked (%d accepted), %d uncertain skipped, %d of 500 matrices exact", checked, accepted, uncertain, exact)
	if checked < 10000 || accepted < 2000 || exact < 300 {
		t.Errorf("too little checked: %d pairs (%d accepted), %d exact matrices", checked, accepted, exact)
	}
}

// mxCheckMinimal checks that the classes partition the address space and
// that no two classes could be merged: some third class (or one of them)
// tells them apart by an edge from or to it.
func mxCheckMinimal(t *testing.T, m *Matrix, text string) {
	t.Helper()
	n := len(m.Classes)
	var union ivs
	for i, c := range m.Classes {
		if len(c.set) == 0 || len(union.inter(c.set)) > 0 {
			t.Fatalf("class %s empty or overlapping\n%s", c.ID, text)
		}
		union = union.union(c.set)
		if got := m.ClassOf(valAddr(c.set[0].lo, m.fam)); got != i {
			t.Fatalf("ClassOf(first address of %s) = %d\n%s", c.ID, got, text)
		}
	}
	if !union.equal(ivs{{u128{}, mxMaxAddr(m.fam)}}) {
		t.Fatalf("classes do not cover the address space\n%s", text)
	}
	has := func(x, y int) bool { _, ok := m.edge[[2]int{x, y}]; return ok }
	for x := 0; x < n; x++ {
		for y := x + 1; y < n; y++ {
			differ := false
			for z := 0; z < n && !differ; z++ {
				differ = has(x, z) != has(y, z) || has(z, x) != has(z, y)
			}
			if !differ {
				t.Fatalf("classes %s and %s are treated alike: the partition is not the coarsest\n%s", m.Classes[x].ID, m.Classes[y].ID, text)
			}
		}
	}
}

// TestMatrixLarge checks the partition of the generated enterprise
// ruleset (coarsest, covering) and the text output's bound on the listed
// approximations.
func TestMatrixLarge(t *testing.T) {
	text := genLargeRuleset(2000, 60, 3)
	rs := loadRules(t, ruleset.IPv4, text)
	for _, chain := range []string{"INPUT", "FORWARD"} {
		m, err := ComputeMatrix(rs, MatrixOptions{Chain: chain, Service: Service{6, 22}})
		if err != nil {
			t.Fatal(err)
		}
		mxCheckMinimal(t, m, chain)
		t.Logf("%s: %d classes, %d edges, %d approximations", chain, len(m.Classes), len(m.Edges), len(m.Approximations))
		if len(m.Classes) < 3 || len(m.Edges) == 0 {
			t.Errorf("%s: %d classes, %d edges", chain, len(m.Classes), len(m.Edges))
		}
		var out bytes.Buffer
		m.WriteText(&out)
		more := fmt.Sprintf("... and %d more", len(m.Approximations)-mxMaxReasons)
		if (len(m.Approximations) > mxMaxReasons) != strings.Contains(out.String(), more) {
			t.Errorf("%s: %d approximations, text:\n%s", chain, len(m.Approximations), out.String())
		}
	}
}

// BenchmarkMatrix computes the ssh matrix of INPUT and FORWARD of the
// generated enterprise ruleset (5,000 rules, 90 user chains); the goal is
// well under 1 s.
func BenchmarkMatrix(b *testing.B) {
	text := genLargeRuleset(5000, 90, 1)
	rs, _, err := ipt.Load("bench.rules", []byte(text), ipt.LoadOptions{Family: ruleset.IPv4})
	if err != nil {
		b.Fatal(err)
	}
	var classes, edges int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		classes, edges = 0, 0
		for _, chain := range []string{"INPUT", "FORWARD"} {
			m, err := ComputeMatrix(rs, MatrixOptions{Chain: chain, Service: Service{6, 22}})
			if err != nil {
				b.Fatal(err)
			}
			classes += len(m.Classes)
			edges += len(m.Edges)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(classes), "classes")
	b.ReportMetric(float64(edges), "edges")
}
