package difftest

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// natSeeds returns the NAT seeds: $DIFFTEST_NAT_SEED (comma-separated),
// $NAT_SEEDS (1..N), or the fixed set.
func natSeeds() []uint64 {
	if s := os.Getenv("DIFFTEST_NAT_SEED"); s != "" {
		var out []uint64
		for _, f := range strings.Split(s, ",") {
			n, _ := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
			out = append(out, n)
		}
		return out
	}
	n := 12
	if s := os.Getenv("NAT_SEEDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i + 1)
	}
	return out
}

// TestKernelDifferentialNAT runs random nat+filter rulesets and traffic
// through NAT (port forwards, source NAT, REDIRECT) through the kernel and
// rampart and compares every rule counter of both tables.
func TestKernelDifferentialNAT(t *testing.T) {
	tp := topo(t)
	var tl tally
	skipped := map[string]int{}
	for _, seed := range natSeeds() {
		rules := GenerateNATRules(seed)
		for k, n := range rules.Skipped {
			skipped[k] += n
		}
		c := Case{Name: fmt.Sprintf("nat seed %d", seed), Rules4: rules.V4, Rules6: rules.V6, Steps: GenerateNAT(seed, rules.Plan4, rules.Plan6)}
		tl.run(t, tp, c, fmt.Sprintf("difftest-nat-%d-", seed))
	}
	var ks []string
	for k := range skipped {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		t.Logf("candidate rules left out (rampart cannot evaluate %s): %d", k, skipped[k])
	}
	line := fmt.Sprintf("difftest-nat: %d cases, %d packets compared, %d mismatches", tl.cases, tl.packets, tl.mismatches)
	t.Logf("%s (%d cases with mismatches, %d reruns for timing-marginal decisions)", line, tl.failedCases, tl.reruns)
	fmt.Println(line)
}
