package difftest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampartfw/rampart/internal/testenv"
)

// topo builds the three namespaces of the differential runs.
func topo(t *testing.T) *Topo {
	t.Helper()
	testenv.RequireKernel(t)
	if _, err := exec.LookPath("tcpdump"); err != nil {
		testenv.Missing(t, "the differential tests need tcpdump (apt-get install tcpdump)")
	}
	fw, peer, far := testenv.NewNetns(t), testenv.NewNetns(t), testenv.NewNetns(t)
	tp, err := Setup(fw.Name, peer.Name, far.Name)
	if err != nil {
		testenv.Missing(t, "setting up the namespaces: %v", err)
	}
	t.Cleanup(tp.Close)
	if out, err := tp.Exec("", "nft", "list", "table", "inet", "rampartcap"); err != nil || !strings.Contains(out, "log group") {
		testenv.Missing(t, "nftables log to NFLOG: %v", err)
	}
	// Let IPv6 finish its unsolicited multicast listener reports.
	time.Sleep(1500 * time.Millisecond)
	return tp
}

// seeds returns the seeds to run: $DIFFTEST_SEED (one), $SEEDS (1..N), or
// the fixed CI set.
func seeds() []uint64 {
	if s := os.Getenv("DIFFTEST_SEED"); s != "" {
		var out []uint64
		for _, f := range strings.Split(s, ",") {
			n, _ := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
			out = append(out, n)
		}
		return out
	}
	if s := os.Getenv("SEEDS"); s != "" {
		n, _ := strconv.Atoi(s)
		out := make([]uint64, n)
		for i := range out {
			out[i] = uint64(i + 1)
		}
		return out
	}
	out := make([]uint64, 30)
	for i := range out {
		out[i] = uint64(i + 1)
	}
	return out
}

type tally struct {
	cases, packets, mismatches, failedCases int
	reruns                                  int // reruns for timing-marginal decisions
	marginalCases, marginalPackets          int // in the runs counted
	keys                                    map[string]int
}

// maxReruns is how many more times a case whose mismatch may be a timing
// coin-flip (rampart made a timing-marginal rate decision) runs again.
const maxReruns = 2

// run runs a case on tp and, when it mismatches and rampart reported a
// timing-marginal rate decision (a limit token or a hashlimit/recent
// jiffy boundary within xt.MarginalWindow of a packet's time, which the
// capture's timestamp jitter can decide), reruns it up to maxReruns times
// in fresh namespaces: the same rules and packets with new timing. The
// case passes if any run matches exactly; a mismatch without a marginal
// decision fails at once. prefix names the case's temporary directories.
func (tl *tally) run(t *testing.T, tp *Topo, c Case, prefix string) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		dir, err := os.MkdirTemp("", prefix)
		if err != nil {
			t.Fatal(err)
		}
		o, err := tp.RunCase(c, dir)
		if attempt > 0 {
			tp.Close()
		}
		if err != nil {
			t.Errorf("%s: %v (files in %s)", c.Name, err, dir)
			return
		}
		if o.Dropped > 0 {
			t.Logf("%s: tcpdump dropped %d packets", c.Name, o.Dropped)
		}
		if o.KernelErrs != "" && attempt == 0 && !strings.HasPrefix(c.Name, "seed ") {
			t.Logf("%s: the kernel's iptables said:\n%s", c.Name, o.KernelErrs)
		}
		marg := o.Marginal()
		if len(o.Mismatches) == 0 || len(marg) == 0 || attempt == maxReruns {
			if attempt > 0 {
				t.Logf("%s: run %d of %d: %d mismatching lines", c.Name, attempt+1, maxReruns+1, len(o.Mismatches))
			}
			tl.add(t, o)
			return
		}
		tl.reruns++
		t.Logf("%s: rerun %d of %d in fresh namespaces: %d mismatching lines (%s) with %d timing-marginal rate decisions (packets %s); files of this run in %s",
			c.Name, attempt+1, maxReruns, len(o.Mismatches), mismatchKeys(o), len(marg), packetList(marg, 12), dir)
		tl.keep(o)
		tp = topo(t)
	}
}

// mismatchKeys names the mismatching lines of an outcome.
func mismatchKeys(o *Outcome) string {
	var ks []string
	for _, m := range o.Mismatches {
		ks = append(ks, fmt.Sprintf("%s %s", m.Family, m.Key))
	}
	return strings.Join(ks, ", ")
}

// keep writes an outcome's report and rampart's verdicts into its directory.
func (tl *tally) keep(o *Outcome) string {
	rep := o.Report(8)
	os.WriteFile(filepath.Join(o.Dir, "report.txt"), []byte(rep), 0o644)
	os.WriteFile(filepath.Join(o.Dir, "verdicts.txt"), []byte(o.Verdicts()), 0o644)
	os.WriteFile(filepath.Join(o.Dir, "kernel.save"), []byte(o.Kernel[4]+o.Kernel[6]), 0o644)
	os.WriteFile(filepath.Join(o.Dir, "rampart.save"), []byte(o.Rampart[4]+o.Rampart[6]), 0o644)
	return rep
}

func (tl *tally) add(t *testing.T, o *Outcome) {
	t.Helper()
	tl.cases++
	tl.packets += o.Stats.Packets
	tl.mismatches += len(o.Mismatches)
	if n := len(o.Marginal()); n > 0 {
		tl.marginalCases++
		tl.marginalPackets += n
	}
	keep := os.Getenv("DIFFTEST_KEEP") != ""
	if len(o.Mismatches) == 0 && !keep {
		os.RemoveAll(o.Dir)
		return
	}
	rep := tl.keep(o)
	if len(o.Mismatches) == 0 {
		t.Logf("%s: no mismatch; files kept in %s", o.Case, o.Dir)
		return
	}
	tl.failedCases++
	if len(rep) > 6000 {
		rep = rep[:6000] + "\n... (see report.txt)\n"
	}
	t.Errorf("%s", rep)
}

func (tl *tally) summary(t *testing.T) {
	line := fmt.Sprintf("difftest: %d cases, %d packets compared, %d mismatches, %d reruns for timing-marginal decisions", tl.cases, tl.packets, tl.mismatches, tl.reruns)
	t.Logf("%s (%d cases with mismatches; %d timing-marginal packets in %d cases)", line, tl.failedCases, tl.marginalPackets, tl.marginalCases)
	fmt.Println(line)
}

// TestKernelDifferential runs random rulesets and random packet sequences
// through the kernel and through rampart and compares every rule counter.
func TestKernelDifferential(t *testing.T) {
	tp := topo(t)
	var tl tally
	skipped := map[string]int{}
	for _, seed := range seeds() {
		rules := GenerateRules(seed)
		for k, n := range rules.Skipped {
			skipped[k] += n
		}
		c := Case{Name: fmt.Sprintf("seed %d", seed), Rules4: rules.V4, Rules6: rules.V6, Steps: Generate(seed)}
		tl.run(t, tp, c, fmt.Sprintf("difftest-%d-", seed))
	}
	var ks []string
	for k := range skipped {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		t.Logf("candidate rules left out (rampart cannot evaluate %s): %d", k, skipped[k])
	}
	tl.summary(t)
}

// TestSeeds runs the seed rulesets on the traffic of a small web server.
func TestSeeds(t *testing.T) {
	tp := topo(t)
	var tl tally
	for _, c := range seedCases(t, "") {
		tl.run(t, tp, c, "difftest-"+c.Name+"-")
	}
	tl.summary(t)
}

// seedCases are the seed rulesets (IPv4) with rules6 as the IPv6 rules, on
// the traffic of a small web server.
func seedCases(t *testing.T, rules6 string) []Case {
	shared := testenv.Shared(t)
	var cases []Case
	for _, name := range []string{"centos7-web.rules", "centos6-vps.sh"} {
		data, err := os.ReadFile(filepath.Join(shared, "seeds", name))
		if err != nil {
			t.Fatal(err)
		}
		rules := string(data)
		if strings.HasSuffix(name, ".sh") {
			rules = scriptCommands(rules)
		}
		cases = append(cases, Case{Name: name, Rules4: rules, Rules6: rules6, Steps: GenerateRealistic(7)})
	}
	return cases
}

// scriptCommands keeps the command lines of a seed script (its comments
// describe it); the lines run as they are, YOUR_IP_ADDRESS failing.
func scriptCommands(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}
