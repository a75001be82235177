package ipt

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/rampartfw/rampart/internal/testenv"
	"github.com/rampartfw/rampart/iptext"
)

// benchRuleCount is the size of the benchmark ruleset.
const benchRuleCount = 100000

var (
	benchOnce sync.Once
	benchData []byte
	benchErr  error
)

// benchRestore returns a 100,000-rule restore file made from the ClassBench
// set acl1_10k (built once per process). Each filter becomes
// "-A INPUT -s SRC -d DST [-p P [-m P --sport LO:HI --dport LO:HI]] -j T";
// the 10k filters are repeated with the first source octet and the target
// varied per copy until the count is reached. The file is written in the
// canonical iptables-save form, so saving what it loads gives it back.
func benchRestore(tb testing.TB) []byte {
	tb.Helper()
	path := testenv.ClassBenchPath(tb, "acl1_10k")
	benchOnce.Do(func() { benchData, benchErr = buildBenchRestore(path, benchRuleCount) })
	if benchErr != nil {
		tb.Fatal(benchErr)
	}
	return benchData
}

func buildBenchRestore(path string, count int) ([]byte, error) {
	filters, err := testenv.ReadClassBench(path)
	if err != nil {
		return nil, err
	}
	if len(filters) == 0 {
		return nil, fmt.Errorf("%s: no filters", path)
	}
	var b bytes.Buffer
	b.WriteString("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
	for i := 0; i < count; i++ {
		c := filters[i%len(filters)]
		copyNo := i / len(filters)
		src := c.CopySrc(copyNo)
		b.WriteString("-A INPUT")
		writePrefix(&b, "-s", src.Masked())
		writePrefix(&b, "-d", c.Dst.Masked())
		switch c.Proto {
		case -1:
		case 6, 17:
			name := map[int]string{6: "tcp", 17: "udp"}[c.Proto]
			fmt.Fprintf(&b, " -p %s -m %s", name, name)
			writePorts(&b, "--sport", c.SPortLo, c.SPortHi)
			writePorts(&b, "--dport", c.DPortLo, c.DPortHi)
		case 1:
			b.WriteString(" -p icmp")
		default:
			fmt.Fprintf(&b, " -p %d", c.Proto)
		}
		if (i+copyNo)%2 == 0 {
			b.WriteString(" -j ACCEPT\n")
		} else {
			b.WriteString(" -j DROP\n")
		}
	}
	b.WriteString("COMMIT\n")
	return b.Bytes(), nil
}

func writePrefix(b *bytes.Buffer, opt string, p netip.Prefix) {
	if p.Bits() == 0 {
		return
	}
	fmt.Fprintf(b, " %s %s", opt, p)
}

func writePorts(b *bytes.Buffer, opt string, lo, hi int) {
	switch {
	case lo == 0 && hi == 65535:
	case lo == hi:
		fmt.Fprintf(b, " %s %d", opt, lo)
	default:
		fmt.Fprintf(b, " %s %d:%d", opt, lo, hi)
	}
}

// TestBenchRestoreRoundTrip checks the benchmark file once: it loads, and
// saving it gives the file back.
func TestBenchRestoreRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("100k rules")
	}
	data := benchRestore(t)
	rs, _, err := Load("bench", data, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := iptext.Save(rs, iptext.SaveOptions{}); got != string(data) {
		a, b := strings.Split(got, "\n"), strings.Split(string(data), "\n")
		for i := 0; i < len(a) && i < len(b); i++ {
			if a[i] != b[i] {
				t.Fatalf("line %d: saved %q, file has %q", i+1, a[i], b[i])
			}
		}
		t.Fatalf("saved %d lines, file has %d", len(a), len(b))
	}
}

// TestWriteBenchRestore writes the benchmark file to $RAMPART_BENCH_OUT
// (for scripts/bench-restore.sh); without it the test is skipped.
func TestWriteBenchRestore(t *testing.T) {
	out := os.Getenv("RAMPART_BENCH_OUT")
	if out == "" {
		t.Skip("RAMPART_BENCH_OUT not set")
	}
	if err := os.WriteFile(out, benchRestore(t), 0o644); err != nil {
		t.Fatal(err)
	}
}

func reportRules(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(benchRuleCount)*float64(b.N)/s, "rules/s")
	}
}

// BenchmarkRestore100k loads the 100k-rule file and prints it.
func BenchmarkRestore100k(b *testing.B) {
	data := benchRestore(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		rs, _, err := Load("bench", data, LoadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		_ = iptext.Save(rs, iptext.SaveOptions{})
	}
	reportRules(b)
}

// BenchmarkParse100k loads the 100k-rule file.
func BenchmarkParse100k(b *testing.B) {
	data := benchRestore(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := Load("bench", data, LoadOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	reportRules(b)
}

// BenchmarkSave100k prints the loaded 100k-rule ruleset.
func BenchmarkSave100k(b *testing.B) {
	data := benchRestore(b)
	rs, _, err := Load("bench", data, LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		_ = iptext.Save(rs, iptext.SaveOptions{})
	}
	reportRules(b)
}
