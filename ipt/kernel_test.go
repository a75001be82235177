package ipt

// The kernel differential suite: the real iptables 1.8.9 (nf_tables) in
// throwaway network namespaces is the oracle, rampart runs in-process on a
// state file, and every output is compared byte for byte. The tests need
// root and the tools; they skip without them, and fail under CI=true.
//
//	go test ./ipt -run Kernel -v
//	go test ./ipt -run 'KernelCommands/core.cmds' -v  # one commands file
//	RAMPART_CONFORMANCE=libxt_udp go test ./ipt -run KernelConformance -v
//	RAMPART_KERNEL_ALL=1 ...                          # report every difference
//	RAMPART_KERNEL_CMDS='/tmp/x/*.cmds' go test ./ipt -run KernelCommands

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rampartfw/rampart/internal/testenv"
	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
)

// TestKernelRoundTrip loads the seed rules file and every dump with the real
// iptables-restore and with rampart, and compares iptables-save and the
// listings of every table the file has, without and with counters (-c).
func TestKernelRoundTrip(t *testing.T) {
	testenv.RequireKernel(t)
	shared := testenv.Shared(t)
	dumps, err := filepath.Glob(filepath.Join(shared, "conformance", "iptables-1.8.9", "dumps", "*"))
	if err != nil || len(dumps) == 0 {
		t.Fatalf("no dumps in %s", shared)
	}
	sort.Strings(dumps)
	files := append([]string{filepath.Join(shared, "seeds", "centos7-web.rules")}, dumps...)
	var failed []string
	for _, path := range files {
		base := filepath.Base(path)
		fam := ruleset.IPv4
		if strings.Contains(base, "ip6tables") {
			fam = ruleset.IPv6
		}
		t.Run(base, func(t *testing.T) {
			for _, counters := range []bool{false, true} {
				name := "plain"
				if counters {
					name = "counters"
				}
				if !t.Run(name, func(t *testing.T) { roundTrip(t, path, fam, counters) }) {
					failed = append(failed, base+"/"+name)
				}
			}
		})
	}
	fmt.Printf("kernel-roundtrip: %d files, failing: %s\n", len(files), strings.Join(failed, " "))
}

// roundTrip is one file of TestKernelRoundTrip.
func roundTrip(t *testing.T, path string, fam ruleset.Family, counters bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	seen := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "*") {
			tb := strings.TrimSpace(l[1:])
			if !seen[tb] {
				seen[tb] = true
				tables = append(tables, tb)
			}
		}
	}
	tool := fam.Tool()
	restore := []string{tool + "-restore"}
	save := []string{tool + "-save"}
	if counters {
		restore = append(restore, "-c")
		save = append(save, "-c")
	}
	restore = append(restore, path)
	steps := []kstep{
		{argv: restore, label: strings.Join(restore[:len(restore)-1], " ")},
		{argv: save, label: strings.Join(save, " ") + " (state file)", strip: true},
	}
	steps = append(steps, listingSteps(tool, tables, 0)...)
	ns := testenv.NewNetns(t)
	res, real := runSteps(t, ns, steps)
	if len(res) > 0 && res[0].step.label == steps[0].label && strings.HasPrefix(res[0].diff, "exit status") {
		// The restores disagree on success: the later steps only repeat it.
		res = res[:1]
		t.Log("the restores disagree; later steps not compared")
	}

	// (a) ipt.Load + iptext.Save of the file itself.
	var ours string
	rs, _, err := Load(path, data, LoadOptions{Family: fam, Counters: counters})
	if err == nil {
		ours = iptext.Save(rs, iptext.SaveOptions{Counters: counters})
	}
	if d := diffResult(testenv.Result{Stdout: testenv.StripComments(real[1].Stdout)}, testenv.Result{Stdout: ours}); d != "" {
		if err != nil {
			d = fmt.Sprintf("ipt.Load: %v\n", err)
		}
		res = append([]kresult{{kstep{label: strings.Join(save, " ") + " vs ipt.Load+iptext.Save"}, d}}, res...)
	}
	if len(res) > 0 {
		t.Error(reportGroup(fmt.Sprintf("%s (%s): %d differences:", filepath.Base(path), strings.Join(restore[:len(restore)-1], " "), len(res)), res))
	}
}

// TestKernelSeedScript runs the seed command script line by line through
// the real iptables and rampart, comparing after each line.
func TestKernelSeedScript(t *testing.T) {
	testenv.RequireKernel(t)
	path := filepath.Join(testenv.Shared(t), "seeds", "centos6-vps.sh")
	lines := readCmdLines(t, path)
	n := runCmdLines(t, filepath.Base(path), lines, false)
	fmt.Printf("kernel-seed-script: %d commands, %d differences\n", len(lines), n)
}

// TestKernelCommands runs every testdata/commands/*.cmds file (fresh
// namespace and state each) and compares after every line the command's
// output and status, TOOL-save -c and all listings of the five tables.
// RAMPART_KERNEL_CMDS=GLOB runs other files instead.
func TestKernelCommands(t *testing.T) {
	testenv.RequireKernel(t)
	pattern := os.Getenv("RAMPART_KERNEL_CMDS") // another set of files
	if pattern == "" {
		pattern = filepath.Join(testenv.RepoRoot(t), "testdata", "commands", "*.cmds")
	}
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	var cmds, diffs atomic.Int64
	// Cleanups run after the parallel subtests.
	t.Cleanup(func() {
		fmt.Printf("kernel-commands: %d commands, %d differences\n", cmds.Load(), diffs.Load())
	})
	if len(files) == 0 {
		t.Log("no testdata/commands/*.cmds files")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			lines := readCmdLines(t, path)
			n := runCmdLines(t, filepath.Base(path), lines, true)
			cmds.Add(int64(len(lines)))
			diffs.Add(int64(n))
		})
	}
}

// kernelConformanceSkip lists .t files whose OK lines depend on kernel
// objects a test machine does not have, with the reason. Their parse and
// print conformance is still checked by TestConformance.
var kernelConformanceSkip = map[string]string{
	"libxt_ipvs.t":    "needs the ip_vs kernel module (the real tool refuses every rule without it)",
	"libxt_rateest.t": "needs rate estimators created by RATEEST rules in the kernel",
	"libxt_LED.t":     "needs the xt_LED kernel module (Debian's kernel here has none; the real tool refuses every rule)",
	"libxt_SECMARK.t": "needs SELinux security contexts (the real tool gets ENOENT without them)",
	"libxt_connlabel.t": "the real tool prints a warning per rule when /etc/xtables/connlabel.conf is absent; " +
		"rampart's printers do not emit listing warnings yet",
}

// TestKernelConformance adds every OK line of the .t files of the
// extensions rampart registers with the real tool and with rampart, and
// compares the add and the chain's listings; then flushes the chain.
func TestKernelConformance(t *testing.T) {
	testenv.RequireKernel(t)
	dir := filepath.Join(testenv.Shared(t), "conformance", "iptables-1.8.9", "extensions")
	files, err := filepath.Glob(filepath.Join(dir, "*.t"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .t files in %s", dir)
	}
	sort.Strings(files)
	only := os.Getenv("RAMPART_CONFORMANCE")
	var lines, cases, diffs atomic.Int64
	// Cleanups run after the parallel subtests.
	t.Cleanup(func() {
		t.Logf("%d rule adds (lines x chains)", cases.Load())
		fmt.Printf("kernel-conformance: %d lines, %d differences\n", lines.Load(), diffs.Load())
	})
	for _, path := range files {
		base := filepath.Base(path)
		name, fam, ok := extOfFile(base)
		if !ok || !covered(name, fam) || (only != "" && !strings.Contains(base, only)) {
			continue
		}
		if why, skip := kernelConformanceSkip[base]; skip {
			t.Logf("%s: not compared with the kernel: %s", base, why)
			continue
		}
		t.Run(base, func(t *testing.T) {
			t.Parallel()
			nl, nc, nd := kernelConformanceFile(t, path, fam)
			lines.Add(int64(nl))
			cases.Add(int64(nc))
			diffs.Add(int64(nd))
		})
	}
}

// kernelConformanceFile is one .t file of TestKernelConformance; it
// returns the OK lines, the cases (line x chain) and the differences.
func kernelConformanceFile(t *testing.T, path string, fam ruleset.Family) (int, int, int) {
	var okCases []tCase
	okLines := map[int]bool{}
	for _, c := range readT(t, path) {
		if want, ok := conformanceExceptions[c.file+"|"+c.rule]; ok {
			c.result = want
		}
		if c.result == "OK" {
			okCases = append(okCases, c)
			okLines[c.line] = true
		}
	}
	if len(okCases) == 0 {
		return 0, 0, 0
	}
	tool := fam.Tool()
	var steps []kstep
	for g, c := range okCases {
		tc := []string{tool, "-t", c.table}
		steps = append(steps, kstep{argv: append(append(tc[:3:3], "-A", c.chain), splitT(c.rule)...), label: "-A (stdout/stderr/rc)", group: g})
		for _, l := range [][]string{{"-S", c.chain}, {"-L", c.chain, "-n", "-v"}, {"-L", c.chain, "-v"}, {"-L", c.chain, "-n"}, {"-F", c.chain}} {
			steps = append(steps, kstep{argv: append(tc[:3:3], l...), label: strings.Join(l, " "), group: g})
		}
	}
	ns := testenv.NewNetns(t)
	res, _ := runSteps(t, ns, steps)
	reportDiffs(t, res, func(g int) string {
		c := okCases[g]
		return fmt.Sprintf("%s:%d: %s -t %s -A %s %s", c.file, c.line, tool, c.table, c.chain, c.rule)
	})
	return len(okLines), len(okCases), len(res)
}
