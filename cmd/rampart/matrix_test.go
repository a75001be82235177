package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampartfw/rampart/internal/testenv"
)

func runMatrixArgs(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var o, e bytes.Buffer
	code := runMatrix(args, strings.NewReader(stdin), &o, &e)
	return code, o.String(), e.String()
}

func writeTemp(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMatrixSeedGolden runs `rampart matrix` on the CentOS 7 seed with
// fffuu's default services: the text and DOT output are the analyzer's
// golden files.
func TestMatrixSeedGolden(t *testing.T) {
	seed := filepath.Join(testenv.Shared(t), "seeds", "centos7-web.rules")
	for _, tc := range []struct{ format, golden string }{{"text", "centos7-web.txt"}, {"dot", "centos7-web.dot"}} {
		code, out, errs := runMatrixArgs(t, "", seed, "--chain", "INPUT", "--format="+tc.format)
		if code != 0 || errs != "" {
			t.Fatalf("%s: exit %d, stderr %q", tc.format, code, errs)
		}
		want, err := os.ReadFile(filepath.Join("..", "..", "analyze", "testdata", "matrix", tc.golden))
		if err != nil {
			t.Fatal(err)
		}
		if out != string(want) {
			t.Errorf("%s output differs from %s:\n%s", tc.format, tc.golden, out)
		}
	}
}

// TestMatrixCommand checks options, formats, families and the
// --ipassmt file.
func TestMatrixCommand(t *testing.T) {
	rules := writeTemp(t, "fw.rules", "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"+
		"-A FORWARD -i eth0 -d 192.168.0.0/16 -p tcp --dport 22 -j ACCEPT\n"+
		"-A FORWARD -s 10.0.0.0/8 -p tcp -m multiport --dports 80,443 -j ACCEPT\nCOMMIT\n")
	assmt := writeTemp(t, "ipassmt", "eth0 = [10.0.0.0/8]\n+ = []\n")
	script6 := writeTemp(t, "fw6.sh", "ip6tables -P FORWARD DROP\nip6tables -A FORWARD -s 2001:db8::/32 -p tcp --dport 22 -j ACCEPT\n"+
		"iptables -A FORWARD -p tcp --dport 22 -j ACCEPT\n")
	assmt6 := writeTemp(t, "ipassmt6", "eth0 = [2001:db8::/32]\n")

	t.Run("default services", func(t *testing.T) {
		code, out, _ := runMatrixArgs(t, "", rules)
		if code != 0 || !strings.Contains(out, "=========== TCP port any->22 (ipv4 FORWARD) =========") ||
			!strings.Contains(out, "=========== TCP port any->80 (ipv4 FORWARD) =========") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		// without an assignment, -i eth0 makes ssh's edge uncertain
		if !strings.Contains(out, "(a,c) may\n(c,c) may\n") || !strings.Contains(out, "FORWARD#1: depends on the input interface (-i eth0)") {
			t.Errorf("no uncertain edge:\n%s", out)
		}
	})
	t.Run("ipassmt json", func(t *testing.T) {
		code, out, errs := runMatrixArgs(t, "", rules, "--ipassmt", assmt, "--service", "tcp/22,tcp/https", "--format", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		var got struct {
			File     string `json:"file"`
			Matrices []struct {
				Service string `json:"service"`
				Exact   bool   `json:"exact"`
				Classes []struct {
					ID   string `json:"id"`
					Text string `json:"text"`
				} `json:"classes"`
				Edges []struct {
					From, To string
					Certain  bool
				} `json:"edges"`
			} `json:"matrices"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var sum []string
		for _, m := range got.Matrices {
			s := m.Service + ":"
			for _, c := range m.Classes {
				s += " " + c.ID + "=" + c.Text
			}
			for _, e := range m.Edges {
				s += " " + e.From + "->" + e.To
			}
			if m.Exact {
				s += " exact"
			}
			sum = append(sum, s)
		}
		want := []string{
			"tcp/22: a=all but {10.0.0.0/8, 192.168.0.0/16} b={10.0.0.0/8} c={192.168.0.0/16} b->c exact",
			"tcp/443: a=all but {10.0.0.0/8, 127.0.0.0/8} b={10.0.0.0/8} c={127.0.0.0/8} b->a b->b exact",
		}
		if got.File != rules || strings.Join(sum, "\n") != strings.Join(want, "\n") {
			t.Errorf("got %s\n%s\nwant\n%s", got.File, strings.Join(sum, "\n"), strings.Join(want, "\n"))
		}
	})
	t.Run("stdin, input chain, sport", func(t *testing.T) {
		code, out, _ := runMatrixArgs(t, "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --sport 53 -j ACCEPT\nCOMMIT\n", "-", "--chain=INPUT", "--sport", "53", "--service", "tcp/8080")
		if code != 0 || !strings.Contains(out, "TCP port 53->8080 (ipv4 INPUT)") || !strings.Contains(out, "(a,a)\n") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("ipv6 script", func(t *testing.T) {
		for _, args := range [][]string{{"-6", script6}, {script6, "--ipassmt", assmt6}} {
			code, out, errs := runMatrixArgs(t, "", append(args, "--service", "tcp/22", "--format", "dot")...)
			if code != 0 || !strings.Contains(out, `digraph "ipv6 FORWARD tcp/22"`) || !strings.Contains(out, "2001:db8::/32") {
				t.Errorf("%v: exit %d %s:\n%s", args, code, errs, out)
			}
		}
	})
	errCases := []struct {
		args []string
		want string
	}{
		{nil, "usage: rampart matrix"},
		{[]string{rules, "--service", "icmp/8"}, `protocol "icmp": tcp or udp expected`},
		{[]string{rules, "--service", "tcp/99999"}, `bad port "99999"`},
		{[]string{rules, "--format", "xml"}, `--format "xml": text, json or dot`},
		{[]string{rules, "--chain", "OUTPUT"}, `--chain "OUTPUT": INPUT or FORWARD`},
		{[]string{rules, "--sport", "-1"}, `--sport "-1": a port 1-65535`},
		{[]string{rules, "--sport", "0"}, `--sport "0": a port 1-65535`},
		{[]string{rules, "--service"}, "--service needs a value"},
		{[]string{rules, "--bogus"}, `unknown option "--bogus"`},
		{[]string{rules, rules}, "one rules file expected"},
		{[]string{rules + ".missing"}, "no such file"},
		{[]string{rules, "--ipassmt", assmt + ".missing"}, "no such file"},
		{[]string{rules, "--ipassmt", rules}, rules + `:2:1: ":INPUT": "=" expected after *filter`},
		{[]string{rules, "--ipassmt", assmt6}, assmt6 + ": ipv6 addresses, but the ruleset is ipv4"},
	}
	for _, tc := range errCases {
		code, _, errs := runMatrixArgs(t, "", tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
}
