package nft

import (
	"bytes"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/rampartfw/rampart/internal/testenv"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/ruleset"
)

// benchRules returns an iptables-restore file of count rules in the filter
// table's INPUT chain made from the ClassBench set acl1_10k of the shared
// data: "-A INPUT [-s SRC] [-d DST] [-p P [-m P [--sport ..] [--dport ..]]]
// -j ACCEPT|DROP", the filters repeated with the first source octet varied
// per copy until the count is reached. It is in iptables-save's canonical
// form, so that every tool reads it back identically.
func benchRules(tb testing.TB, count int) []byte {
	tb.Helper()
	path := testenv.ClassBenchPath(tb, "acl1_10k")
	filters, err := testenv.ReadClassBench(path)
	if err != nil {
		tb.Fatal(err)
	}
	if len(filters) == 0 {
		tb.Fatalf("%s: no filters", path)
	}
	var b bytes.Buffer
	b.WriteString("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
	for i := 0; i < count; i++ {
		b.WriteString("-A INPUT")
		writeBenchRule(&b, filters, i)
	}
	b.WriteString("COMMIT\n")
	return b.Bytes()
}

// writeBenchRule writes the options of the i-th benchmark rule.
func writeBenchRule(b *bytes.Buffer, filters []testenv.ClassBenchFilter, i int) {
	c := filters[i%len(filters)]
	copyNo := i / len(filters)
	src := c.CopySrc(copyNo)
	prefix := func(opt string, p netip.Prefix) {
		if p.Bits() != 0 {
			fmt.Fprintf(b, " %s %s", opt, p.Masked())
		}
	}
	ports := func(opt string, lo, hi int) {
		switch {
		case lo == 0 && hi == 65535:
		case lo == hi:
			fmt.Fprintf(b, " %s %d", opt, lo)
		default:
			fmt.Fprintf(b, " %s %d:%d", opt, lo, hi)
		}
	}
	prefix("-s", src)
	prefix("-d", c.Dst)
	switch c.Proto {
	case -1:
	case 6, 17:
		name := map[int]string{6: "tcp", 17: "udp"}[c.Proto]
		fmt.Fprintf(b, " -p %s", name)
		if c.SPortLo != 0 || c.SPortHi != 65535 || c.DPortLo != 0 || c.DPortHi != 65535 {
			fmt.Fprintf(b, " -m %s", name)
		}
		ports("--sport", c.SPortLo, c.SPortHi)
		ports("--dport", c.DPortLo, c.DPortHi)
	case 1:
		b.WriteString(" -p icmp")
	default:
		fmt.Fprintf(b, " -p %d", c.Proto)
	}
	if (i+copyNo)%2 == 0 {
		b.WriteString(" -j ACCEPT\n")
	} else {
		b.WriteString(" -j DROP\n")
	}
}

// benchModel loads the benchmark ruleset of n rules into the model.
func benchModel(b *testing.B, n int) (*ruleset.Ruleset, []byte) {
	b.Helper()
	text := benchRules(b, n)
	rs, _, err := ipt.Load("bench", text, ipt.LoadOptions{Family: ruleset.IPv4})
	if err != nil {
		b.Fatal(err)
	}
	return rs, text
}

// benchLoad measures a full load of n rules into an empty namespace by
// the nft backend (translation, batch, kernel), from the model.
func benchLoad(b *testing.B, n int) {
	rs, _ := benchModel(b, n)
	ns := testenv.NewNetns(b)
	be := Backend{Netns: ns.Name, StateDir: b.TempDir()}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := be.Apply(rs); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := be.Delete(ruleset.IPv4); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n), "rules")
}

// benchRestore measures the system's tool (iptables-nft-restore or
// iptables-legacy-restore) loading the same rules as text into an empty
// namespace (a new one per run), including its process start.
func benchRestore(b *testing.B, tool string, n int) {
	testenv.RequireKernel(b)
	if _, err := exec.LookPath(tool); err != nil {
		testenv.Missing(b, "%s not found", tool)
	}
	_, text := benchModel(b, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ns := testenv.NewNetns(b)
		b.StartTimer()
		if r := ns.Run(string(text), tool); r.Code != 0 {
			b.Fatalf("%s: %s", tool, r.Stderr)
		}
		b.StopTimer()
		exec.Command("ip", "netns", "del", ns.Name).Run()
		b.StartTimer()
	}
	b.ReportMetric(float64(n), "rules")
}

// loaded returns a backend on a namespace holding the n-rule benchmark
// ruleset, and the model.
func loaded(b *testing.B, n int) (Backend, *ruleset.Ruleset) {
	rs, _ := benchModel(b, n)
	ns := testenv.NewNetns(b)
	be := Backend{Netns: ns.Name, StateDir: b.TempDir()}
	if err := be.Apply(rs); err != nil {
		b.Fatal(err)
	}
	return be, rs
}

// BenchmarkBackendChange100k replaces rule 50,000 of a loaded 100,000-rule
// chain with Change (two rules in turn, so that each run changes it).
func BenchmarkBackendChange100k(b *testing.B) {
	be, rs := loaded(b, 100000)
	rules := rs.Table("filter").Chain("INPUT").Rules
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := be.Change(ruleset.IPv4, "filter", "INPUT", OpReplace, 50000, rules[i%2]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBackendChangeAppend100k appends a rule to a loaded
// 100,000-rule chain and deletes it again (two Changes per run).
func BenchmarkBackendChangeAppend100k(b *testing.B) {
	be, rs := loaded(b, 100000)
	r := rs.Table("filter").Chain("INPUT").Rules[0]
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := be.Change(ruleset.IPv4, "filter", "INPUT", OpAppend, 0, r); err != nil {
			b.Fatal(err)
		}
		if err := be.Change(ruleset.IPv4, "filter", "INPUT", OpDelete, 100001, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// benchToolAppend measures the system's iptables (iptables-nft or
// iptables-legacy) appending one rule to the 100,000-rule chain it loaded
// (the chain grows by one rule per run), process start included: the
// reference for Change.
func benchToolAppend(b *testing.B, restore, tool string) {
	testenv.RequireKernel(b)
	if _, err := exec.LookPath(tool); err != nil {
		testenv.Missing(b, "%s not found", tool)
	}
	_, text := benchModel(b, 100000)
	ns := testenv.NewNetns(b)
	if r := ns.Run(string(text), restore); r.Code != 0 {
		b.Fatalf("%s: %s", restore, r.Stderr)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := ns.Run("", tool, "-A", "INPUT", "-s", "192.0.2.1", "-j", "ACCEPT"); r.Code != 0 {
			b.Fatalf("%s: %s", tool, r.Stderr)
		}
	}
}

func BenchmarkBackendIptablesNftAppend100k(b *testing.B) {
	benchToolAppend(b, "iptables-nft-restore", "iptables-nft")
}

func BenchmarkBackendIptablesLegacyAppend100k(b *testing.B) {
	benchToolAppend(b, "iptables-legacy-restore", "iptables-legacy")
}

// BenchmarkBackendReapplyOne100k re-applies the 100,000-rule ruleset with
// rule 50,000 changed (two models in turn): translation of the whole
// model, the difference, one replaced rule in the kernel.
func BenchmarkBackendReapplyOne100k(b *testing.B) {
	be, rs := loaded(b, 100000)
	rs2, _ := benchModel(b, 100000)
	c := rs2.Table("filter").Chain("INPUT")
	c.Rules[49999] = c.Rules[0]
	models := []*ruleset.Ruleset{rs2, rs}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := be.Apply(models[i%2]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBackendReplace100k replaces a loaded 100,000-rule table with
// the same rules (Replace: no difference, every counter reset).
func BenchmarkBackendReplace100k(b *testing.B) {
	be, rs := loaded(b, 100000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := be.Replace(rs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBackendTranslate100k is the user-space share of a load:
// translating the model into nftables expressions.
func BenchmarkBackendTranslate100k(b *testing.B) {
	rs, _ := benchModel(b, 100000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := translate(rs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBackendLoadNft10k(b *testing.B)  { benchLoad(b, 10000) }
func BenchmarkBackendLoadNft100k(b *testing.B) { benchLoad(b, 100000) }
func BenchmarkBackendIptablesNftRestore10k(b *testing.B) {
	benchRestore(b, "iptables-nft-restore", 10000)
}
func BenchmarkBackendIptablesNftRestore100k(b *testing.B) {
	benchRestore(b, "iptables-nft-restore", 100000)
}
func BenchmarkBackendIptablesLegacyRestore10k(b *testing.B) {
	benchRestore(b, "iptables-legacy-restore", 10000)
}
func BenchmarkBackendIptablesLegacyRestore100k(b *testing.B) {
	benchRestore(b, "iptables-legacy-restore", 100000)
}

// TestBenchRulesLoad checks the benchmark ruleset once: the nft backend
// loads it and reads it back as the model.
func TestBenchRulesLoad(t *testing.T) {
	text := benchRules(t, 3000)
	rs, _, err := ipt.Load("bench", text, ipt.LoadOptions{Family: ruleset.IPv4})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.ReplaceAll(string(text), "\n-A ", "\n[0:0] -A ")
	if got := save(rs); got != want {
		t.Fatalf("the benchmark file is not in save form")
	}
	ns := testenv.NewNetns(t)
	be := Backend{Netns: ns.Name, StateDir: t.TempDir()}
	if err := be.Apply(rs); err != nil {
		t.Fatal(err)
	}
	got, err := be.SaveText(ruleset.IPv4)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("read back differs from the benchmark file")
	}
}
