package ipt

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
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
	path := filepath.Join(testenv.Shared(tb), "benchmarks", "classbench", "acl1_10k")
	benchOnce.Do(func() { benchData, benchErr = buildBenchRestore(path, benchRuleCount) })
	if benchErr != nil {
		tb.Fatal(benchErr)
	}
	return benchData
}

// cbFilter is one ClassBench filter.
type cbFilter struct {
	src, dst               netip.Prefix
	spLo, spHi, dpLo, dpHi int
	proto                  int // -1: any
}

func readClassBench(path string) ([]cbFilter, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []cbFilter
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		fields := strings.Split(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "@"), "\t")
		if len(fields) < 5 {
			continue
		}
		var c cbFilter
		var err error
		if c.src, err = netip.ParsePrefix(strings.TrimSpace(fields[0])); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		if c.dst, err = netip.ParsePrefix(strings.TrimSpace(fields[1])); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		if _, err := fmt.Sscanf(fields[2], "%d : %d", &c.spLo, &c.spHi); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		if _, err := fmt.Sscanf(fields[3], "%d : %d", &c.dpLo, &c.dpHi); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		pv, pm, _ := strings.Cut(strings.TrimSpace(fields[4]), "/")
		p, err1 := strconv.ParseUint(strings.TrimPrefix(pv, "0x"), 16, 8)
		m, err2 := strconv.ParseUint(strings.TrimPrefix(pm, "0x"), 16, 8)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s:%d: bad protocol %q", path, n, fields[4])
		}
		c.proto = -1
		if m != 0 {
			c.proto = int(p)
		}
		out = append(out, c)
	}
	return out, sc.Err()
}

func buildBenchRestore(path string, count int) ([]byte, error) {
	filters, err := readClassBench(path)
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
		src := c.src
		if copyNo > 0 && src.Bits() >= 8 {
			a := src.Addr().As4()
			a[0] ^= byte(copyNo)
			src = netip.PrefixFrom(netip.AddrFrom4(a), src.Bits())
		}
		b.WriteString("-A INPUT")
		writePrefix(&b, "-s", src.Masked())
		writePrefix(&b, "-d", c.dst.Masked())
		switch c.proto {
		case -1:
		case 6, 17:
			name := map[int]string{6: "tcp", 17: "udp"}[c.proto]
			fmt.Fprintf(&b, " -p %s -m %s", name, name)
			writePorts(&b, "--sport", c.spLo, c.spHi)
			writePorts(&b, "--dport", c.dpLo, c.dpHi)
		case 1:
			b.WriteString(" -p icmp")
		default:
			fmt.Fprintf(&b, " -p %d", c.proto)
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
