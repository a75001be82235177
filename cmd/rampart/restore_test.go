package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampartfw/rampart/internal/testenv"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/ruleset"
)

const (
	restoreV4 = "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
		"-A INPUT -i lo -j ACCEPT\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n" +
		"-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n" +
		"*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n" +
		"-A POSTROUTING -o eth0 -j MASQUERADE\nCOMMIT\n"
	// restoreV4Script is a second IPv4 configuration, as a command script.
	restoreV4Script = "iptables -P INPUT DROP\niptables -A INPUT -i lo -j ACCEPT\niptables -A INPUT -p tcp --dport 443 -j ACCEPT\n"
	restoreV6       = "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
		"-A INPUT -i lo -j ACCEPT\n-A INPUT -p ipv6-icmp -j ACCEPT\n-A INPUT -s 2001:db8::/32 -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n"
	restoreV6b = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -s 2001:db8:1::/48 -j DROP\nCOMMIT\n"
	// restoreBroken does not load: --dport without a protocol.
	restoreBroken = "*filter\n:INPUT DROP [0:0]\n-A INPUT --dport 22 -j ACCEPT\nCOMMIT\n"
)

// normalized is what iptables-save prints (no comments, no counters) for a
// rules text of family f.
func normalized(t *testing.T, f ruleset.Family, text string) string {
	t.Helper()
	rs, _, err := ipt.Load("want", []byte(text), ipt.LoadOptions{Family: f})
	if err != nil {
		t.Fatal(err)
	}
	return testenv.StripComments(saveText(rs, false))
}

// writeFiles writes files (path under root: contents).
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRestoreKernel: restore loads both families from the configured files
// and they read back; a broken file loads the last good one instead and
// says so; with no last good one nothing is loaded. For each backend, in a
// throwaway namespace.
func TestRestoreKernel(t *testing.T) {
	testenv.RequireKernel(t)
	bin := buildRampart(t)
	for _, kind := range []string{"nft", "iptables"} {
		t.Run(kind, func(t *testing.T) {
			ns := testenv.NewNetns(t)
			root := t.TempDir()
			env := []string{"RAMPART_ROOT=" + root}
			readBack := func(f ruleset.Family) string {
				t.Helper()
				args := []string{"save", "--backend", kind, "--netns", ns.Name}
				if f == ruleset.IPv6 {
					args = append(args, "-6")
				}
				r := runBin(t, bin, nil, "", args...)
				if r.code != 0 {
					t.Fatalf("rampart %v: %+v", args, r)
				}
				if kind == "iptables" {
					// The system's own tools show the same.
					tool := "iptables-save"
					if f == ruleset.IPv6 {
						tool = "ip6tables-save"
					}
					if k := noCounters(ns.Run("", tool).Stdout); k != noCounters(r.stdout) {
						t.Errorf("%s:\n%s\nrampart save:\n%s", tool, k, r.stdout)
					}
				}
				return noCounters(r.stdout)
			}
			restore := func() result {
				return runBin(t, bin, env, "", "restore", "--backend", kind, "--netns", ns.Name)
			}

			// 1. Both families load and read back.
			writeFiles(t, root, map[string]string{"etc/iptables/rules.v4": restoreV4, "etc/iptables/rules.v6": restoreV6})
			r := restore()
			if r.code != 0 || !strings.Contains(r.stderr, "loaded IPv4 from "+filepath.Join(root, "etc/iptables/rules.v4")+" (4 rules), IPv6 from") {
				t.Fatalf("restore: %+v", r)
			}
			if g, w := readBack(ruleset.IPv4), normalized(t, ruleset.IPv4, restoreV4); g != w {
				t.Errorf("IPv4 after restore:\n%s\nwant\n%s", g, w)
			}
			if g, w := readBack(ruleset.IPv6), normalized(t, ruleset.IPv6, restoreV6); g != w {
				t.Errorf("IPv6 after restore:\n%s\nwant\n%s", g, w)
			}
			for _, f := range families {
				if _, err := os.Stat(filepath.Join(root, "var/lib/rampart", "last-good.rules."+map[ruleset.Family]string{ruleset.IPv4: "v4", ruleset.IPv6: "v6"}[f])); err != nil {
					t.Errorf("no last good %s file: %v", f, err)
				}
			}

			// 2. A command script loads too, and becomes the last good one.
			writeFiles(t, root, map[string]string{"etc/iptables/rules.v4": restoreV4Script})
			if r := restore(); r.code != 0 {
				t.Fatalf("restore of a script: %+v", r)
			}
			goodV4 := normalized(t, ruleset.IPv4, restoreV4Script)
			if g := readBack(ruleset.IPv4); g != goodV4 {
				t.Errorf("IPv4 after restoring the script:\n%s\nwant\n%s", g, goodV4)
			}

			// 3. A broken IPv4 file: the last good IPv4 ruleset (the
			// script's) is loaded with the new IPv6 file, and restore says
			// so and fails.
			writeFiles(t, root, map[string]string{"etc/iptables/rules.v4": restoreBroken, "etc/iptables/rules.v6": restoreV6b})
			r = restore()
			if r.code != 1 {
				t.Errorf("restore of a broken file: exit %d, want 1", r.code)
			}
			for _, s := range []string{
				filepath.Join(root, "etc/iptables/rules.v4") + ":3:",
				"does not load: loading the last good IPv4 ruleset (" + filepath.Join(root, "var/lib/rampart/last-good.rules.v4") + ") instead",
				"IPv4 from " + filepath.Join(root, "var/lib/rampart/last-good.rules.v4") + " (last good) (2 rules)",
			} {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("restore of a broken file: stderr lacks %q:\n%s", s, r.stderr)
				}
			}
			if g := readBack(ruleset.IPv4); g != goodV4 {
				t.Errorf("IPv4 after the broken file:\n%s\nwant the last good\n%s", g, goodV4)
			}
			if g, w := readBack(ruleset.IPv6), normalized(t, ruleset.IPv6, restoreV6b); g != w {
				t.Errorf("IPv6 after the broken IPv4 file:\n%s\nwant\n%s", g, w)
			}
			// The broken file did not become the last good one.
			lg, err := os.ReadFile(filepath.Join(root, "var/lib/rampart/last-good.rules.v4"))
			if err != nil || testenv.StripComments(string(lg)) != goodV4 {
				t.Errorf("last good IPv4 file after the broken one: %v\n%s", err, lg)
			}

			// 4. No last good ruleset and a broken file: nothing loaded.
			if err := os.RemoveAll(filepath.Join(root, "var/lib/rampart")); err != nil {
				t.Fatal(err)
			}
			writeFiles(t, root, map[string]string{"etc/iptables/rules.v6": restoreV6})
			r = restore()
			if r.code != 1 || !strings.Contains(r.stderr, "no last good IPv4 ruleset") || !strings.Contains(r.stderr, "nothing loaded: the firewall is left as it was") {
				t.Errorf("broken file without a last good one: %+v", r)
			}
			if g := readBack(ruleset.IPv4); g != goodV4 {
				t.Errorf("IPv4 changed though nothing should load:\n%s", g)
			}
			if g, w := readBack(ruleset.IPv6), normalized(t, ruleset.IPv6, restoreV6b); g != w {
				t.Errorf("IPv6 changed though nothing should load:\n%s\nwant\n%s", g, w)
			}
		})
	}
}

// TestRestoreConfigPlaces: the CentOS files win over Debian's, which win
// over rampart's own; a family without a file there is left alone.
func TestRestoreConfigPlaces(t *testing.T) {
	testenv.RequireKernel(t)
	bin := buildRampart(t)
	ns := testenv.NewNetns(t)
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"etc/sysconfig/iptables": restoreV4,
		"etc/iptables/rules.v4":  restoreBroken,
		"etc/iptables/rules.v6":  restoreBroken,
		"etc/rampart/rules.v6":   restoreBroken,
	})
	r := runBin(t, bin, []string{"RAMPART_ROOT=" + root}, "", "restore", "--backend", "nft", "--netns", ns.Name)
	if r.code != 0 || !strings.Contains(r.stderr, "loaded IPv4 from "+filepath.Join(root, "etc/sysconfig/iptables")+" (4 rules) with the nft backend") {
		t.Fatalf("restore: %+v", r)
	}
	if out := ns.Run("", "nft", "list", "tables").Stdout; out != "table ip rampart\n" {
		t.Errorf("nft list tables: %q (IPv6 has no file: nothing loaded)", out)
	}
}

// TestRestoreArgs covers the cases that need no kernel: bad arguments, and
// no rules file at all (nothing loaded, not an error).
func TestRestoreArgs(t *testing.T) {
	bin := buildRampart(t)
	env := []string{"RAMPART_ROOT=" + t.TempDir()}
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"restore", "--backend", "pf"}, 2, "rampart restore: unknown backend \"pf\" (want auto, nft, iptables)\n"},
		{[]string{"restore", "extra"}, 2, "rampart restore: unexpected argument \"extra\""},
		{[]string{"restore"}, 0, "rampart restore: no rules file (looked for "},
		{[]string{"reset", "--backend", "pf"}, 2, "rampart reset: unknown backend"},
		{[]string{"panic", "--backend=x"}, 2, "rampart panic: unknown backend \"x\""},
	} {
		r := runBin(t, bin, env, "", c.args...)
		if r.code != c.code || !strings.HasPrefix(r.stderr, c.stderr) {
			t.Errorf("rampart %v: exit %d, stderr %q; want exit %d, %q...", c.args, r.code, r.stderr, c.code, c.stderr)
		}
	}
}

// TestRestoreResetPanicBackends: reset and panic act on rampart's
// nftables tables too: panic --backend nft closes through rampart's table
// only, reset (auto) deletes it.
func TestRestoreResetPanicBackends(t *testing.T) {
	testenv.RequireKernel(t)
	bin := buildRampart(t)
	ns := testenv.NewNetns(t)
	if r := runBin(t, bin, nil, "", "panic", "--backend", "nft", "--netns", ns.Name); r.code != 0 {
		t.Fatalf("panic --backend nft: %+v", r)
	}
	for _, f := range []string{"", "-6"} {
		args := []string{"save", "--backend", "nft", "--netns", ns.Name}
		if f != "" {
			args = append(args, f)
		}
		if r := runBin(t, bin, nil, "", args...); testenv.StripComments(r.stdout) != panicText {
			t.Errorf("rampart %v after panic --backend nft:\n%s", args, r.stdout)
		}
	}
	if g := ns.Run("", "iptables-save").Stdout; g != "" {
		t.Errorf("panic --backend nft touched iptables:\n%s", g)
	}
	if r := runBin(t, bin, nil, "", "reset", "--netns", ns.Name); r.code != 0 || !strings.Contains(r.stderr, "rampart's nftables tables deleted") {
		t.Fatalf("reset: %+v", r)
	}
	if out := ns.Run("", "nft", "list", "tables").Stdout; strings.Contains(out, "rampart") {
		t.Errorf("rampart's tables left after reset:\n%s", out)
	}
}
