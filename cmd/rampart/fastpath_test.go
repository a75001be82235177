package main

import (
	"strings"
	"testing"

	"github.com/rampartfw/rampart/backend/nft"
	"github.com/rampartfw/rampart/internal/testenv"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
)

// TestFastPath: the single-rule commands the kernel store takes without
// reading the ruleset (nft Change) leave the kernel exactly as ipt.Exec
// leaves the model; the others are declined with the kernel unchanged.
func TestFastPath(t *testing.T) {
	testenv.RequireKernel(t)
	ns := testenv.NewNetns(t)
	nb := nft.Backend{Netns: ns.Name, StateDir: t.TempDir(), ChunkSize: 2}
	start := "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:WEB - [0:0]\n" +
		"-A INPUT -i lo -j ACCEPT\n-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n" +
		"-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n-A INPUT -p tcp -j WEB\n-A WEB -p tcp -m tcp --dport 80 -j ACCEPT\nCOMMIT\n"
	model, _, err := ipt.Load("start.rules", []byte(start), ipt.LoadOptions{Family: ruleset.IPv4})
	if err != nil {
		t.Fatal(err)
	}
	if err := nb.Apply(model.Clone()); err != nil {
		t.Fatal(err)
	}
	k := &kernelStore{b: nb, read: map[ruleset.Family]string{}}
	for _, tc := range []struct {
		args []string
		fast bool
	}{
		{[]string{"-A", "INPUT", "-p", "tcp", "--dport", "443", "-j", "ACCEPT"}, true},
		{[]string{"-I", "INPUT", "-s", "10.0.0.0/8", "-j", "DROP"}, true},
		{[]string{"-I", "INPUT", "3", "-p", "udp", "--dport", "53", "-j", "ACCEPT"}, true},
		{[]string{"-R", "INPUT", "2", "-p", "icmp", "--icmp-type", "echo-request", "-j", "ACCEPT"}, true},
		{[]string{"-A", "WEB", "-p", "tcp", "-m", "multiport", "--dports", "8080,8443", "-j", "REJECT"}, true},
		{[]string{"-D", "INPUT", "-p", "udp", "--dport", "53", "-j", "ACCEPT"}, true},
		{[]string{"-D", "INPUT", "1"}, true},
		{[]string{"-A", "INPUT", "-j", "LOG", "--log-prefix", "in: "}, true},
		{[]string{"-A", "INPUT", "-j", "WEB"}, true},
		// declined: the model path gives iptables' result and messages
		{[]string{"-D", "INPUT", "99"}, false},
		{[]string{"-A", "NOPE", "-j", "ACCEPT"}, false},
		{[]string{"-A", "INPUT", "-j", "NOPE"}, false},
		{[]string{"-D", "INPUT", "-p", "udp", "--dport", "9", "-j", "DROP"}, false},
		{[]string{"-A", "INPUT", "-s", "10.0.0.1,10.0.0.2", "-j", "DROP"}, false},
		{[]string{"-A", "OUTPUT", "-m", "owner", "--uid-owner", "0", "-j", "ACCEPT"}, false},
		{[]string{"-t", "nat", "-A", "POSTROUTING", "-j", "MASQUERADE"}, false},
		{[]string{"-v", "-A", "INPUT", "-j", "DROP"}, false},
		{[]string{"-N", "NEW"}, false},
	} {
		cmd, err := iptext.ParseCommand(tc.args, iptext.ParseOptions{Family: ruleset.IPv4})
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		before, err := nb.SaveText(ruleset.IPv4)
		if err != nil {
			t.Fatal(err)
		}
		got := k.Fast(ruleset.IPv4, cmd)
		after, err := nb.SaveText(ruleset.IPv4)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.fast {
			t.Fatalf("%v: Fast = %v, want %v", tc.args, got, tc.fast)
		}
		if !got {
			if after != before {
				t.Fatalf("%v: declined but the kernel changed:\n%s\n---\n%s", tc.args, before, after)
			}
			continue
		}
		var out strings.Builder
		if err := ipt.Exec(model, cmd, &out); err != nil {
			t.Fatalf("%v: the model refuses what the fast path loaded: %v", tc.args, err)
		}
		want := iptext.Save(model, iptext.SaveOptions{Counters: true})
		if after != want {
			t.Fatalf("%v: kernel after the fast path:\n%s\nmodel after ipt.Exec:\n%s", tc.args, after, want)
		}
	}
}
