package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampartfw/rampart/internal/testenv"
)

// multiCallCmds is a command sequence run both by the real iptables tools
// (in a reference namespace) and by the multi-call names acting on the
// kernel: outputs, messages and exit statuses must be the same.
var multiCallCmds = []struct {
	stdin string
	argv  []string
}{
	{"", []string{"ip6tables-save", "-t", "raw"}},
	{"", []string{"iptables", "-F"}},
	{"", []string{"iptables-save"}},
	{"", []string{"iptables", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"}},
	{"", []string{"iptables", "-S"}},
	{"", []string{"iptables", "-N", "WEB"}},
	{"", []string{"iptables", "-A", "WEB", "-p", "tcp", "-m", "multiport", "--dports", "80,443", "-j", "ACCEPT"}},
	{"", []string{"iptables", "-I", "INPUT", "1", "-i", "eth0", "-j", "WEB"}},
	{"", []string{"iptables", "-N", "WEB"}},
	{"", []string{"iptables", "-X", "WEB"}},
	{"", []string{"iptables", "-D", "INPUT", "-p", "udp", "-j", "DROP"}},
	{"", []string{"iptables", "-C", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"}},
	{"", []string{"iptables", "-C", "INPUT", "-p", "tcp", "--dport", "23", "-j", "ACCEPT"}},
	{"", []string{"iptables", "-A", "INPUT", "--dport", "22"}},
	{"", []string{"iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "lo", "-j", "MASQUERADE"}},
	{"", []string{"iptables", "-P", "FORWARD", "DROP"}},
	{"", []string{"iptables", "-L", "-n"}},
	{"", []string{"iptables", "-Z"}},
	{"", []string{"iptables", "-L", "-v", "-n", "-x"}},
	{"", []string{"iptables", "-S", "INPUT", "2"}},
	{"", []string{"iptables", "-R", "INPUT", "2", "-p", "tcp", "--dport", "2222", "-j", "ACCEPT"}},
	{"", []string{"iptables", "-F", "WEB"}},
	{"", []string{"iptables", "-S"}},
	{"", []string{"iptables-save", "-t", "nat"}},
	{"", []string{"ip6tables", "-A", "INPUT", "-s", "2001:db8::/32", "-j", "DROP"}},
	{"", []string{"ip6tables", "-S"}},
	{"*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n", []string{"ip6tables-restore", "--noflush"}},
	{"*filter\n-A INPUT -j NOSUCHCHAIN -m comment --comment x\n", []string{"iptables-restore"}},
	{"*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -i lo -j RETURN\nCOMMIT\n*nat\nCOMMIT\n", []string{"iptables-restore", "--noflush"}},
	{"*nat\nCOMMIT\n", []string{"iptables-restore"}},
	{"", []string{"iptables-save"}},
	{"", []string{"ip6tables-save"}},
	{"", []string{"ip6tables", "-F"}},
	{"", []string{"ip6tables-save"}},
}

// TestMultiCallKernel runs multiCallCmds through `rampart NAME ...` on the
// kernel (RAMPART_NETNS, RAMPART_BACKEND) for each backend and compares
// every output, message and exit status with the real tools'.
func TestMultiCallKernel(t *testing.T) {
	testenv.RequireKernel(t)
	bin := buildRampart(t)
	ref := testenv.NewNetns(t)
	var want []testenv.Result
	for _, c := range multiCallCmds {
		want = append(want, ref.Run(c.stdin, c.argv[0], c.argv[1:]...))
	}
	for _, kind := range []string{"nft", "iptables"} {
		t.Run(kind, func(t *testing.T) {
			ns := testenv.NewNetns(t)
			env := []string{"RAMPART_NETNS=" + ns.Name, "RAMPART_BACKEND=" + kind, "RAMPART_ROOT=" + t.TempDir(), "RAMPART_STATE="}
			for i, c := range multiCallCmds {
				r := runBin(t, bin, env, c.stdin, c.argv...)
				w := want[i]
				if testenv.StripComments(r.stdout) != testenv.StripComments(w.Stdout) || r.stderr != w.Stderr || r.code != w.Code {
					t.Errorf("rampart %s (stdin %q):\n--- rampart (exit %d)\n%s%s--- %s (exit %d)\n%s%s",
						strings.Join(c.argv, " "), c.stdin, r.code, r.stdout, r.stderr, c.argv[0], w.Code, w.Stdout, w.Stderr)
				}
			}
			switch kind {
			case "iptables":
				// The system's tools see the same rules.
				for _, tool := range []string{"iptables-save", "ip6tables-save"} {
					g, w := testenv.StripComments(ns.Run("", tool).Stdout), testenv.StripComments(ref.Run("", tool).Stdout)
					if noCounters(g) != noCounters(w) {
						t.Errorf("%s in the namespace:\n%s\nwant\n%s", tool, g, w)
					}
				}
			case "nft":
				// The rules are in rampart's table, not in iptables'.
				out := ns.Run("", "nft", "list", "tables").Stdout
				if out != "table ip rampart\ntable ip6 rampart\n" {
					t.Errorf("nft list tables:\n%s", out)
				}
			}
		})
	}
}

// TestMultiCallKernelAcceptance is the example: a rule added with
// `rampart iptables` shows in `rampart iptables -S` and `rampart
// iptables-save`, and with the iptables backend in the real `iptables -S`.
func TestMultiCallKernelAcceptance(t *testing.T) {
	testenv.RequireKernel(t)
	bin := buildRampart(t)
	const rule = "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
	for _, kind := range []string{"nft", "iptables", "auto"} {
		t.Run(kind, func(t *testing.T) {
			ns := testenv.NewNetns(t)
			env := []string{"RAMPART_NETNS=" + ns.Name, "RAMPART_BACKEND=" + kind, "RAMPART_ROOT=" + t.TempDir(), "RAMPART_STATE="}
			if r := runBin(t, bin, env, "", "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"); r.code != 0 {
				t.Fatalf("rampart iptables -A: %+v", r)
			}
			want := "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n" + rule
			if r := runBin(t, bin, env, "", "iptables", "-S"); r.stdout != want || r.code != 0 {
				t.Errorf("rampart iptables -S: %+v, want\n%s", r, want)
			}
			if r := runBin(t, bin, env, "", "iptables-save"); !strings.Contains(r.stdout, "\n"+rule) || r.code != 0 {
				t.Errorf("rampart iptables-save: %+v", r)
			}
			sys := ns.Run("", "iptables", "-S")
			tables := ns.Run("", "nft", "list", "tables").Stdout
			switch kind {
			case "iptables":
				if sys.Stdout != want {
					t.Errorf("iptables -S in the namespace:\n%s\nwant\n%s", sys.Stdout, want)
				}
			default: // auto chooses nft on this kernel
				if strings.Contains(sys.Stdout, "--dport 22") || tables != "table ip rampart\n" {
					t.Errorf("the rule should be in rampart's table only:\niptables -S:\n%s\nnft list tables:\n%s", sys.Stdout, tables)
				}
			}
			// rampart save (auto) reads whichever backend holds the rules.
			if r := runBin(t, bin, nil, "", "save", "--netns", ns.Name); !strings.Contains(r.stdout, "\n"+rule) || r.code != 0 {
				t.Errorf("rampart save --netns: %+v", r)
			}
		})
	}
}

// TestMultiCallNoKernelBadBackend: an unknown RAMPART_BACKEND is refused
// before anything is read.
func TestMultiCallBadBackend(t *testing.T) {
	bin := buildRampart(t)
	env := []string{"RAMPART_BACKEND=pf", "RAMPART_ROOT=" + t.TempDir(), "RAMPART_STATE="}
	r := runBin(t, bin, env, "", "iptables", "-S")
	if r.code != 4 || r.stderr != "iptables: RAMPART_BACKEND: unknown backend \"pf\" (want auto, nft, iptables)\n" {
		t.Errorf("%+v", r)
	}
	r = runBin(t, bin, env, "", "iptables-save")
	if r.code != 1 || !strings.Contains(r.stderr, "unknown backend") {
		t.Errorf("iptables-save: %+v", r)
	}
	// A state file still wins over the kernel.
	state := filepath.Join(t.TempDir(), "state")
	if r := runBin(t, bin, env, "", "iptables", "--state", state, "-A", "INPUT", "-j", "DROP"); r.code != 0 {
		t.Errorf("--state: %+v", r)
	}
	if _, err := os.Stat(state); err != nil {
		t.Error(err)
	}
}

// TestSaveKernelBackends: rampart save (no rules file) reads rampart's
// nftables table when it exists, else the system's iptables, and
// --backend picks one.
func TestSaveKernelBackends(t *testing.T) {
	testenv.RequireKernel(t)
	bin := buildRampart(t)
	ns := testenv.NewNetns(t)
	if r := ns.Run("", "iptables", "-A", "INPUT", "-s", "192.0.2.1", "-j", "DROP"); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	sysRule := "-A INPUT -s 192.0.2.1/32 -j DROP\n"
	if r := runBin(t, bin, nil, "", "save", "--netns", ns.Name); !strings.Contains(r.stdout, sysRule) {
		t.Errorf("save without rampart's table: %+v", r)
	}
	env := []string{"RAMPART_NETNS=" + ns.Name, "RAMPART_BACKEND=nft", "RAMPART_ROOT=" + t.TempDir(), "RAMPART_STATE="}
	if r := runBin(t, bin, env, "", "iptables", "-A", "INPUT", "-s", "198.51.100.1", "-j", "DROP"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	nftRule := "-A INPUT -s 198.51.100.1/32 -j DROP\n"
	for _, c := range []struct {
		args      []string
		has, hasn string
	}{
		{[]string{"save", "--netns", ns.Name}, nftRule, sysRule},
		{[]string{"save", "--backend", "nft", "--netns", ns.Name}, nftRule, sysRule},
		{[]string{"save", "--backend", "iptables", "--netns", ns.Name}, sysRule, nftRule},
	} {
		r := runBin(t, bin, nil, "", c.args...)
		if r.code != 0 || !strings.Contains(r.stdout, c.has) || strings.Contains(r.stdout, c.hasn) {
			t.Errorf("rampart %v: %+v", c.args, r)
		}
	}
	if r := runBin(t, bin, nil, "", "save", "--backend", "pf"); r.code != 2 {
		t.Errorf("save --backend pf: %+v", r)
	}
}
