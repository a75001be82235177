package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	checkV4 = "*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n" +
		"-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n"
	checkV6 = "*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n" +
		"-A INPUT -p ipv6-icmp -j ACCEPT\n-A INPUT -s 2001:db8::/32 -p tcp --dport 22 -j ACCEPT\nCOMMIT\n"
)

type checkOut struct {
	File     string `json:"file"`
	Families []struct {
		Family string `json:"family"`
	} `json:"families"`
	Findings []struct {
		Kind   string `json:"kind"`
		Family string `json:"family"`
	} `json:"findings"`
}

func runCheckJSON(t *testing.T, args ...string) (int, []checkOut, string) {
	t.Helper()
	var o, e bytes.Buffer
	code := runCheck(append([]string{"--format", "json"}, args...), &o, &e)
	var reps []checkOut
	if code != 2 {
		if err := json.Unmarshal(o.Bytes(), &reps); err != nil {
			t.Fatalf("json: %v\n%s", err, o.String())
		}
	}
	return code, reps, e.String()
}

func (c checkOut) has(kind string) bool {
	for _, f := range c.Findings {
		if f.Kind == kind {
			return true
		}
	}
	return false
}

func (c checkOut) families() string {
	var s []string
	for _, f := range c.Families {
		s = append(s, f.Family)
	}
	return strings.Join(s, ",")
}

func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckIPv6Files(t *testing.T) {
	dir := t.TempDir()
	v4 := writeFile(t, dir, "rules.v4", checkV4)
	v6 := writeFile(t, dir, "rules.v6", checkV6)
	plain6 := writeFile(t, dir, "six.rules", checkV6)
	// IPv4 alone: IPv6 may be left open
	code, reps, errs := runCheckJSON(t, v4)
	if code != 0 || len(reps) != 1 || !reps[0].has("ipv6-open") || reps[0].families() != "ipv4" {
		t.Fatalf("v4 alone: code %d %+v %s", code, reps, errs)
	}
	// with rules.v6 (family by name), no ipv6-open
	code, reps, errs = runCheckJSON(t, v4, v6)
	if code != 0 || len(reps) != 2 || reps[0].has("ipv6-open") || reps[1].families() != "ipv6" {
		t.Fatalf("v4+v6: code %d %+v %s", code, reps, errs)
	}
	// family by content (an IPv6 address), and by -6
	for _, args := range [][]string{{v4, plain6}, {v4, "-6", plain6}} {
		code, reps, errs = runCheckJSON(t, args...)
		if code != 0 || len(reps) != 2 || reps[0].has("ipv6-open") || reps[1].families() != "ipv6" {
			t.Fatalf("%v: code %d %+v %s", args, code, reps, errs)
		}
	}
	ambiguous := writeFile(t, dir, "plain.rules", "*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n")
	code, reps, errs = runCheckJSON(t, v4, "-6", ambiguous)
	if code != 0 || len(reps) != 2 || reps[0].has("ipv6-open") || reps[1].families() != "ipv6" {
		t.Fatalf("-6 plain.rules: code %d %+v %s", code, reps, errs)
	}
	// -4 forces IPv4: the IPv6 file does not load
	if code, _, errs = runCheckJSON(t, "-4", v6); code != 2 {
		t.Fatalf("-4 rules.v6: code %d %s", code, errs)
	}
}

func TestCheckDefaults(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("RAMPART_ROOT", dir)
	// no system files: both embedded defaults, no findings at all
	code, reps, errs := runCheckJSON(t, "--fail-on", "info")
	if code != 0 || len(reps) != 2 || reps[0].families() != "ipv4" || reps[1].families() != "ipv6" {
		t.Fatalf("embedded defaults: code %d %+v %s", code, reps, errs)
	}
	for _, r := range reps {
		if len(r.Findings) > 0 {
			t.Errorf("%s: findings %+v", r.File, r.Findings)
		}
	}
	// Debian's files when CentOS's are absent; CentOS's win when present
	os.MkdirAll(filepath.Join(dir, "etc/iptables"), 0o755)
	writeFile(t, filepath.Join(dir, "etc/iptables"), "rules.v4", checkV4)
	code, reps, errs = runCheckJSON(t)
	if code != 0 || len(reps) != 1 || !reps[0].has("ipv6-open") || !strings.HasSuffix(reps[0].File, "etc/iptables/rules.v4") {
		t.Fatalf("IPv4 system file only: code %d %+v %s", code, reps, errs)
	}
	os.MkdirAll(filepath.Join(dir, "etc/sysconfig"), 0o755)
	writeFile(t, filepath.Join(dir, "etc/sysconfig"), "iptables", checkV4)
	writeFile(t, filepath.Join(dir, "etc/sysconfig"), "ip6tables", checkV6)
	code, reps, errs = runCheckJSON(t)
	if code != 0 || len(reps) != 2 || reps[0].has("ipv6-open") || reps[1].families() != "ipv6" || !strings.HasSuffix(reps[0].File, "sysconfig/iptables") {
		t.Fatalf("system files: code %d %+v %s", code, reps, errs)
	}
}
