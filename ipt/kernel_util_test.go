package ipt

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampartfw/rampart/internal/testenv"
	"github.com/rampartfw/rampart/ruleset"
)

// The helpers of the kernel differential tests (kernel_test.go): a rampart
// "machine" on a state file that runs the same argv as the real tools, a
// step list run on both sides, and a small line diff for the messages.

// kernelTables are the tables every listing step covers.
var kernelTables = []string{"filter", "nat", "mangle", "raw", "security"}

// kernelListings are the listing flags compared after every command, as
// scripts/ipdiff.sh does (keep the two in step).
var kernelListings = [][]string{
	{"-S"},
	{"-v", "-S"},
	{"-L", "-n", "-v"},
	{"-L", "-v"},
	{"-L", "-n", "-v", "-x", "--line-numbers"},
	{"-L", "-n"},
}

// rampartBox runs iptables-like argv against a state file in-process.
type rampartBox struct {
	state string
}

func newRampartBox(t testing.TB) *rampartBox {
	return &rampartBox{state: filepath.Join(t.TempDir(), "rampart.state")}
}

// kernelNow is the time given to rampart's save (its "#" lines are
// stripped before comparing anyway).
func kernelNow() time.Time { return time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC) }

// toolFamily splits a tool name (iptables, ip6tables-save, ...) into
// family and suffix ("", "-save", "-restore").
func toolFamily(tool string) (ruleset.Family, string, bool) {
	switch {
	case strings.HasPrefix(tool, "ip6tables"):
		return ruleset.IPv6, tool[len("ip6tables"):], true
	case strings.HasPrefix(tool, "iptables"):
		return ruleset.IPv4, tool[len("iptables"):], true
	}
	return 0, "", false
}

// setState replaces the family's ruleset in the state file with the
// iptables-save -c text save.
func (r *rampartBox) setState(fam ruleset.Family, save string) error {
	rs, _, err := Load("kernel", []byte(save), LoadOptions{Family: fam, Counters: true})
	if err != nil {
		return err
	}
	st, err := OpenState(r.state)
	if err != nil {
		return err
	}
	defer st.Close()
	st.Sets[fam] = rs
	return st.Save()
}

// run runs argv (argv[0] is the tool) on the state file.
func (r *rampartBox) run(argv []string) testenv.Result {
	var o, e bytes.Buffer
	stdio := IO{Stdin: strings.NewReader(""), Stdout: &o, Stderr: &e, Now: kernelNow}
	args := append([]string{"--state", r.state}, argv[1:]...)
	fam, suffix, ok := toolFamily(argv[0])
	code := 127
	switch {
	case !ok:
		fmt.Fprintf(&e, "rampart test: unknown tool %q\n", argv[0])
	case suffix == "":
		code = IptablesMain(fam, args, stdio)
	case suffix == "-save":
		code = SaveMain(fam, args, stdio)
	case suffix == "-restore":
		code = RestoreMain(fam, args, stdio)
	default:
		fmt.Fprintf(&e, "rampart test: unknown tool %q\n", argv[0])
	}
	return testenv.Result{Stdout: o.String(), Stderr: e.String(), Code: code}
}

// kstep is one command run on both sides.
type kstep struct {
	argv  []string
	label string // what is compared, e.g. "stdout/stderr/rc", "-t nat -L -n"
	group int    // index of the source line (or case) the step belongs to
	strip bool   // remove "#" lines from stdout (save output)
}

// kresult is one differing step.
type kresult struct {
	step kstep
	diff string
}

// runSteps runs the steps in ns (one batch) and in a fresh rampart box and
// returns the differences and the kernel's results.
func runSteps(t testing.TB, ns *testenv.Netns, steps []kstep) ([]kresult, []testenv.Result) {
	t.Helper()
	start := time.Now()
	real := kernelRun(t, ns, steps)
	mid := time.Now()
	ours := rampartRun(t, steps)
	t.Logf("%d steps: kernel %v, rampart %v", len(steps), mid.Sub(start).Round(time.Millisecond), time.Since(mid).Round(time.Millisecond))
	return compareSteps(steps, real, ours, nil), real
}

// kernelRun runs the steps in ns as one batch.
func kernelRun(t testing.TB, ns *testenv.Netns, steps []kstep) []testenv.Result {
	t.Helper()
	argvs := make([][]string, len(steps))
	for i, s := range steps {
		argvs[i] = s.argv
	}
	return ns.RunBatch(t, argvs)
}

// rampartRun runs the steps in a fresh rampart box.
func rampartRun(t testing.TB, steps []kstep) []testenv.Result {
	box := newRampartBox(t)
	ours := make([]testenv.Result, len(steps))
	for i, s := range steps {
		ours[i] = box.run(s.argv)
	}
	return ours
}

// compareSteps compares the results of the steps (only those with
// done[i], when done is not nil).
func compareSteps(steps []kstep, real, ours []testenv.Result, done []bool) []kresult {
	var out []kresult
	for i, s := range steps {
		if done != nil && !done[i] {
			continue
		}
		k, o := real[i], ours[i]
		if s.strip {
			k.Stdout = testenv.StripComments(k.Stdout)
			o.Stdout = testenv.StripComments(o.Stdout)
		}
		if d := diffResult(k, o); d != "" {
			out = append(out, kresult{s, d})
		}
	}
	return out
}

// diffResult describes how two results differ, "" when they do not.
func diffResult(k, ours testenv.Result) string {
	var b strings.Builder
	if k.Code != ours.Code {
		fmt.Fprintf(&b, "exit status: kernel %d, rampart %d\n", k.Code, ours.Code)
	}
	if k.Stdout != ours.Stdout {
		b.WriteString("stdout:\n" + lineDiff(k.Stdout, ours.Stdout))
	}
	if k.Stderr != ours.Stderr {
		b.WriteString("stderr:\n" + lineDiff(k.Stderr, ours.Stderr))
	}
	return b.String()
}

// lineDiff is a small unified-like diff of two texts: "-" lines are the
// kernel's, "+" lines rampart's, two lines of context around changes.
func lineDiff(a, b string) string {
	x, y := splitLines(a), splitLines(b)
	n, m := len(x), len(y)
	// lcs[i][j]: length of the LCS of x[i:] and y[j:].
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		c    byte
		text string
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && x[i] == y[j]:
			ops = append(ops, op{' ', x[i]})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, op{'-', x[i]})
			i++
		default:
			ops = append(ops, op{'+', y[j]})
			j++
		}
	}
	const ctx = 2
	show := make([]bool, len(ops))
	for k, o := range ops {
		if o.c != ' ' {
			for d := max(0, k-ctx); d <= min(len(ops)-1, k+ctx); d++ {
				show[d] = true
			}
		}
	}
	var sb strings.Builder
	sb.WriteString("--- kernel\n+++ rampart\n")
	gap := false
	for k, o := range ops {
		if !show[k] {
			gap = true
			continue
		}
		if gap {
			sb.WriteString("  ...\n")
			gap = false
		}
		sb.WriteByte(o.c)
		sb.WriteString(o.text)
		sb.WriteByte('\n')
	}
	return sb.String()
}

// splitLines splits text into lines, marking a missing final newline.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	ls := strings.SplitAfter(s, "\n")
	if ls[len(ls)-1] == "" {
		ls = ls[:len(ls)-1]
	}
	for i, l := range ls {
		if strings.HasSuffix(l, "\n") {
			ls[i] = l[:len(l)-1]
		} else {
			ls[i] = l + "\\ (no newline at end)"
		}
	}
	return ls
}

// reportGroup formats the differences of one group (source line), showing
// each distinct diff once with the labels it occurred in.
func reportGroup(head string, rs []kresult) string {
	var b strings.Builder
	b.WriteString(head + "\n")
	var order []string
	labels := map[string][]string{}
	for _, r := range rs {
		if _, ok := labels[r.diff]; !ok {
			order = append(order, r.diff)
		}
		labels[r.diff] = append(labels[r.diff], r.step.label)
	}
	for _, d := range order {
		fmt.Fprintf(&b, "== differs in: %s\n%s", strings.Join(labels[d], ", "), d)
	}
	return b.String()
}

// maxReported caps the failing lines reported per file; all are counted.
// RAMPART_KERNEL_ALL=1 reports every one.
func maxReported() int {
	if os.Getenv("RAMPART_KERNEL_ALL") != "" {
		return 1 << 30
	}
	return 15
}

// listingSteps are the listing steps of one tool after a command.
func listingSteps(tool string, tables []string, group int) []kstep {
	var out []kstep
	for _, tb := range tables {
		for _, l := range kernelListings {
			argv := append([]string{tool, "-t", tb}, l...)
			out = append(out, kstep{argv: argv, label: "-t " + tb + " " + strings.Join(l, " "), group: group})
		}
	}
	return out
}

// cmdLine is one command line of a script or .cmds file.
type cmdLine struct {
	line int
	text string
	argv []string
}

// readCmdLines reads iptables/ip6tables command lines (shell quoting),
// skipping blank and "#" lines.
func readCmdLines(t testing.TB, path string) []cmdLine {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []cmdLine
	for i, l := range strings.Split(string(data), "\n") {
		s := strings.TrimSpace(l)
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		words, err := SplitShell(s)
		if err != nil {
			t.Errorf("%s:%d: %v", filepath.Base(path), i+1, err)
			continue
		}
		argv := make([]string, len(words))
		for k, w := range words {
			argv[k] = w.Text
		}
		if _, suffix, ok := toolFamily(argv[0]); !ok || suffix == "-restore" {
			t.Errorf("%s:%d: not an iptables/ip6tables/*-save command: %s", filepath.Base(path), i+1, s)
			continue
		}
		out = append(out, cmdLine{i + 1, s, argv})
	}
	return out
}

// runCmdLines runs the lines on both sides, comparing after each line the
// command's output and status, TOOL-save -c and, with listings, every
// listing of kernelListings for the five tables. It reports differences
// through t and returns their number.
//
// A table's listings are a function of its part of the TOOL-save -c text
// on both sides (rampart's state file is that text), so they are compared
// only after lines where that part changed on either side: the kernel runs
// the file twice, first the commands and saves, then the commands and the
// listings needed.
func runCmdLines(t *testing.T, name string, lines []cmdLine, listings bool) int {
	var steps []kstep
	type lineSteps struct{ cmd, save, list0, list1 int }
	idx := make([]lineSteps, len(lines))
	for g, l := range lines {
		fam, _, _ := toolFamily(l.argv[0])
		ls := lineSteps{cmd: len(steps), save: len(steps) + 1}
		steps = append(steps,
			kstep{argv: l.argv, label: "stdout/stderr/rc", group: g},
			kstep{argv: []string{fam.Tool() + "-save", "-c"}, label: fam.Tool() + "-save -c", group: g, strip: true})
		ls.list0 = len(steps)
		if listings {
			steps = append(steps, listingSteps(fam.Tool(), kernelTables, g)...)
		}
		ls.list1 = len(steps)
		idx[g] = ls
	}
	start := time.Now()
	var phase1 []kstep
	for _, ls := range idx {
		phase1 = append(phase1, steps[ls.cmd], steps[ls.save])
	}
	r1 := kernelRun(t, testenv.NewNetns(t), phase1)
	real := make([]testenv.Result, len(steps))
	done := make([]bool, len(steps))
	for g, ls := range idx {
		real[ls.cmd], real[ls.save] = r1[2*g], r1[2*g+1]
		done[ls.cmd], done[ls.save] = true, true
	}
	kernelTime := time.Since(start)

	// rampart, line by line; when its save differs from the kernel's, the
	// state is reset to the kernel's so that later lines are judged alone.
	// Listings run (on both sides) only where either side's save changed.
	start = time.Now()
	box := newRampartBox(t)
	ours := make([]testenv.Result, len(steps))
	point := make([]bool, len(lines))
	listed := make([]bool, len(steps))
	lastK, lastO := map[string]string{}, map[string]string{}
	points, resyncs, stuck := 0, 0, 0
	for g, ls := range idx {
		ours[ls.cmd] = box.run(steps[ls.cmd].argv)
		ours[ls.save] = box.run(steps[ls.save].argv)
		tool := steps[ls.save].argv[0]
		k, o := testenv.StripComments(real[ls.save].Stdout), testenv.StripComments(ours[ls.save].Stdout)
		for ti, tb := range kernelTables {
			if !listings {
				break
			}
			key := tool + " " + tb
			sk, so := tableSection(k, tb), tableSection(o, tb)
			if pk, ok := lastK[key]; ok && pk == sk && lastO[key] == so {
				continue
			}
			lastK[key], lastO[key] = sk, so
			point[g] = true
			points++
			for i := ls.list0 + ti*len(kernelListings); i < ls.list0+(ti+1)*len(kernelListings); i++ {
				ours[i] = box.run(steps[i].argv)
				listed[i] = true
			}
		}
		if o != k {
			fam, _, _ := toolFamily(tool)
			if err := box.setState(fam, k); err != nil {
				if stuck++; stuck == 1 {
					t.Logf("%s:%d: cannot take the kernel's state (later lines may repeat this line's differences): %v", name, lines[g].line, err)
				}
			} else {
				resyncs++
			}
		}
	}
	ourTime := time.Since(start)
	start = time.Now()
	if listings {
		var phase2 []kstep
		var where []int // index in steps of each phase2 step; -1-g: line g's command
		for g, ls := range idx {
			phase2 = append(phase2, steps[ls.cmd])
			where = append(where, -1-g)
			if !point[g] {
				continue
			}
			for i := ls.list0; i < ls.list1; i++ {
				if listed[i] {
					phase2 = append(phase2, steps[i])
					where = append(where, i)
				}
			}
		}
		r2 := kernelRun(t, testenv.NewNetns(t), phase2)
		for j, w := range where {
			if w >= 0 {
				real[w], done[w] = r2[j], true
			} else if g := -1 - w; r2[j] != real[idx[g].cmd] {
				t.Errorf("%s:%d: the kernel gave another result the second time: %+v, then %+v", name, lines[g].line, real[idx[g].cmd], r2[j])
			}
		}
	}
	t.Logf("%d lines (%d table listings, state reset to the kernel's %d times): kernel %v, rampart %v",
		len(lines), points, resyncs, (kernelTime + time.Since(start)).Round(time.Millisecond), ourTime.Round(time.Millisecond))
	res := compareSteps(steps, real, ours, done)
	// A listing difference that only repeats the one shown at the previous
	// listing point (the same rule still printed differently) is not new.
	var kept []kresult
	last := map[string]string{}
	carried := 0
	for _, r := range res {
		if r.step.label == "stdout/stderr/rc" {
			kept = append(kept, r)
			continue
		}
		key := changedLines(r.diff)
		if last[r.step.argv[0]+r.step.label] == key {
			carried++
			continue
		}
		last[r.step.argv[0]+r.step.label] = key
		kept = append(kept, r)
	}
	if carried > 0 {
		t.Logf("%s: %d listing differences that repeat an earlier one not counted", name, carried)
	}
	reportDiffs(t, kept, func(g int) string {
		return fmt.Sprintf("%s:%d: after `%s`:", name, lines[g].line, lines[g].text)
	})
	return len(kept)
}

// tableSection is the part of iptables-save text for one table.
func tableSection(save, table string) string {
	i := strings.Index(save, "*"+table+"\n")
	if i < 0 {
		return ""
	}
	j := strings.Index(save[i:], "\nCOMMIT\n")
	if j < 0 {
		return save[i:]
	}
	return save[i : i+j]
}

// changedLines keeps the lines of a diff that are not context.
func changedLines(diff string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(diff, "\n") {
		if strings.HasPrefix(l, " ") || strings.HasPrefix(l, "  ...") {
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}

// reportDiffs reports the differences through t, one error per group
// (source line or case) with head(group) as its first line, at most
// maxReported() groups.
func reportDiffs(t testing.TB, res []kresult, head func(group int) string) {
	t.Helper()
	byGroup := map[int][]kresult{}
	var groups []int
	for _, r := range res {
		if _, ok := byGroup[r.step.group]; !ok {
			groups = append(groups, r.step.group)
		}
		byGroup[r.step.group] = append(byGroup[r.step.group], r)
	}
	for n, g := range groups {
		if n == maxReported() {
			t.Errorf("%d more with differences (RAMPART_KERNEL_ALL=1 shows all)", len(groups)-n)
			break
		}
		t.Error(reportGroup(head(g), byGroup[g]))
	}
}
