package testenv

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// ClassBenchFilter is one filter of a ClassBench filter set: source and
// destination prefixes, port ranges and the protocol.
type ClassBenchFilter struct {
	Src, Dst         netip.Prefix
	SPortLo, SPortHi int
	DPortLo, DPortHi int
	Proto            int // -1: any protocol (mask 0)
}

// ClassBenchPath is the file of the ClassBench filter set name (acl1_10k,
// fw1_1k, ...) in the shared test data.
func ClassBenchPath(tb testing.TB, name string) string {
	tb.Helper()
	return filepath.Join(Shared(tb), "benchmarks", "classbench", name)
}

// ReadClassBench reads a ClassBench filter file (lines "@SRC\tDST\tLO :
// HI\tLO : HI\tPROTO/MASK\t..."; shorter lines are passed over). An error
// names the file and line.
func ReadClassBench(path string) ([]ClassBenchFilter, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []ClassBenchFilter
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Split(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "@"), "\t")
		if len(fields) < 5 {
			continue
		}
		var c ClassBenchFilter
		var err error
		if c.Src, err = netip.ParsePrefix(strings.TrimSpace(fields[0])); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		if c.Dst, err = netip.ParsePrefix(strings.TrimSpace(fields[1])); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		if _, err := fmt.Sscanf(fields[2], "%d : %d", &c.SPortLo, &c.SPortHi); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		if _, err := fmt.Sscanf(fields[3], "%d : %d", &c.DPortLo, &c.DPortHi); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		pv, pm, _ := strings.Cut(strings.TrimSpace(fields[4]), "/")
		p, err1 := strconv.ParseUint(strings.TrimPrefix(pv, "0x"), 16, 8)
		m, err2 := strconv.ParseUint(strings.TrimPrefix(pm, "0x"), 16, 8)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s:%d: bad protocol %q", path, n, fields[4])
		}
		c.Proto = -1
		if m != 0 {
			c.Proto = int(p)
		}
		out = append(out, c)
	}
	return out, sc.Err()
}

// CopySrc is the source prefix of the n-th copy of the filter, for sets
// repeated to a larger size: copy 0 is the filter's own; later copies XOR
// the first octet of an IPv4 source of /8 or longer with n.
func (f ClassBenchFilter) CopySrc(n int) netip.Prefix {
	if n == 0 || f.Src.Bits() < 8 {
		return f.Src
	}
	a := f.Src.Addr().As4()
	a[0] ^= byte(n)
	return netip.PrefixFrom(netip.AddrFrom4(a), f.Src.Bits())
}
