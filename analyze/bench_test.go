package analyze

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/ruleset"
)

// benchCheck runs CheckFile on text b.N times and reports the largest set
// (in boxes) the symbolic walk held and the rule count.
func benchCheck(b *testing.B, text string) {
	b.Helper()
	rs, _, err := ipt.Load("bench.rules", []byte(text), ipt.LoadOptions{Family: ruleset.IPv4})
	if err != nil {
		b.Fatal(err)
	}
	nr := 0
	for _, c := range rs.Table("filter").Chains {
		nr += len(c.Rules)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res := Analyze(rs, Options{File: "bench.rules"})
	runtime.GC()
	runtime.ReadMemStats(&after)
	retained := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	runtime.KeepAlive(res)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := CheckFile("bench.rules", []byte(text)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(nr), "rules")
	b.ReportMetric(float64(res.an.peak), "peak-boxes")
	b.ReportMetric(float64(res.an.walks), "chain-walks")
	// the memory the analysis holds (its sets per rule and region), as
	// opposed to B/op, everything allocated on the way
	b.ReportMetric(float64(retained), "retained-B")
}

// BenchmarkCheck5000 checks the generated enterprise ruleset of 5,000 rules
// over 90 user chains (the analyzer's performance target: under 1 s).
func BenchmarkCheck5000(b *testing.B) {
	benchCheck(b, genLargeRuleset(5000, 90, 1))
}

// BenchmarkCheckSize checks generated rulesets of 1k to 10k rules (90 user
// chains): time and B/op should grow about linearly with the rule count.
func BenchmarkCheckSize(b *testing.B) {
	for _, n := range []int{1000, 2000, 5000, 10000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			benchCheck(b, genLargeRuleset(n, 90, 1))
		})
	}
}

// BenchmarkCheckClassBench checks ClassBench filter sets turned into one
// INPUT chain (a flat chain of overlapping 5-tuple rules, the worst case
// for the union-of-boxes sets; the walk's size bounds make it
// approximate). fw1_10k, left out, takes about 30 s and 12 GB of
// allocations: its wildcard rules cut every box the walk carries.
func BenchmarkCheckClassBench(b *testing.B) {
	for _, name := range []string{"acl1_1k", "fw1_1k", "ipc1_1k", "acl1_10k"} {
		b.Run(name, func(b *testing.B) {
			benchCheck(b, classBenchRuleset(b, name, 0))
		})
	}
}
