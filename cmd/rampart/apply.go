package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampartfw/rampart/backend"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/ruleset"
)

// defaultConfirm is the confirmation window of an apply run over SSH
// (SSH_CONNECTION set) when --confirm is not given: long enough to open a
// second session and type `rampart confirm`, short enough to get back in
// soon after a lock-out.
const defaultConfirm = 30 * time.Second

// staleAfter is how long after its deadline a pending rollback counts as
// abandoned (its process would have run it by then).
const staleAfter = time.Minute

// applyArgs are the parsed arguments of rampart apply.
type applyArgs struct {
	files      map[ruleset.Family]string
	backend    string
	netns      string
	confirm    time.Duration
	confirmSet bool
	force      bool
}

// parseConfirm reads a --confirm value: a Go duration ("30s", "2m"), a
// number of seconds, or 0 / "off" for no confirmation.
func parseConfirm(s string) (time.Duration, error) {
	if s == "off" || s == "no" {
		return 0, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad --confirm duration %q (want e.g. 30s, 2m, or 0 for none)", s)
	}
	return d, nil
}

func parseApplyArgs(args []string) (applyArgs, error) {
	a := applyArgs{files: map[ruleset.Family]string{}, backend: "auto"}
	fam := ruleset.IPv4
	for i := 0; i < len(args); i++ {
		arg := args[i]
		name, _, _ := strings.Cut(arg, "=")
		switch name {
		case "--backend", "--confirm", "--netns":
			val, ok := optValue(args, &i)
			if !ok {
				return a, fmt.Errorf("%s needs a value", name)
			}
			switch name {
			case "--backend":
				a.backend = val
			case "--netns":
				a.netns = val
			case "--confirm":
				d, err := parseConfirm(val)
				if err != nil {
					return a, err
				}
				a.confirm, a.confirmSet = d, true
			}
			continue
		}
		switch arg {
		case "-4":
			fam = ruleset.IPv4
		case "-6":
			fam = ruleset.IPv6
		case "--force", "-f":
			a.force = true
		default:
			if strings.HasPrefix(arg, "-") && arg != "-" {
				return a, fmt.Errorf("unknown option %q", arg)
			}
			if a.files[fam] != "" {
				return a, fmt.Errorf("two %s rules files (%s, %s): give one per family (-4 FILE -6 FILE)", fam, a.files[fam], arg)
			}
			a.files[fam] = arg
		}
	}
	return a, nil
}

const applyUsage = "usage: rampart apply [-4|-6] [RULES] [-6 RULES6] [--backend nft|iptables|auto] [--confirm DURATION] [--force] [--netns NAME]"

// cmdApply validates rules files, shows what changes against the loaded
// ruleset, checks that the SSH connection it runs over survives, and loads
// them atomically through a backend, with an automatic rollback unless
// confirmed in time.
func cmdApply(args []string) int {
	for _, arg := range args {
		if arg == "-h" || arg == "--help" {
			fmt.Println(applyUsage)
			return 0
		}
	}
	a, err := parseApplyArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rampart apply: %v\n%s\n", err, applyUsage)
		return 2
	}
	if len(a.files) == 0 {
		files, found := configuredFiles()
		if !found {
			fmt.Fprintf(os.Stderr, "rampart apply: no rules file given and none configured (%s, %s, ...)\n%s\n",
				configDirs[0].v4, configDirs[1].v4, applyUsage)
			return 2
		}
		for f, p := range files {
			if p != "" {
				a.files[f] = p
			}
		}
	}
	// Validate everything before touching anything.
	sets := map[ruleset.Family]*ruleset.Ruleset{}
	for _, fam := range families {
		path := a.files[fam]
		if path == "" {
			continue
		}
		rs, diags, err := ipt.LoadFile(path, ipt.LoadOptions{Family: fam})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		for _, d := range diags {
			fmt.Fprintln(os.Stderr, ipt.FormatDiag(d, " (line skipped, as the shell would)"))
			guardSkipped[fam] = append(guardSkipped[fam], fmt.Sprintf("%s:%d", d.Err.File, d.Err.Line))
		}
		sets[fam] = rs
		guardFiles[fam] = path
	}
	if !validBackendName(a.backend) {
		fmt.Fprintf(os.Stderr, "rampart apply: unknown backend %q (want nft, iptables or auto)\n", a.backend)
		return 2
	}
	b, err := backend.Open(a.backend, a.netns)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rampart apply: %v\n", err)
		return 1
	}
	confirm := a.confirm
	if !a.confirmSet && os.Getenv("SSH_CONNECTION") != "" {
		confirm = defaultConfirm
	}

	lock, err := lockState()
	if err != nil {
		fmt.Fprintf(os.Stderr, "rampart apply: %v\n", err)
		return 1
	}
	defer lock.Close()

	loaded := map[ruleset.Family]*ruleset.Ruleset{}
	unknown := map[ruleset.Family]bool{}
	for fam := range sets {
		cur, err := b.Save(fam)
		if err != nil {
			if !a.force {
				fmt.Fprintf(os.Stderr, "rampart apply: reading the loaded %s ruleset: %v\n(--force applies without comparing)\n", fam, err)
				return 1
			}
			fmt.Fprintf(os.Stderr, "rampart apply: warning (--force): reading the loaded %s ruleset: %v\n", fam, err)
			unknown[fam] = true
			continue
		}
		loaded[fam] = cur
	}
	// What will be in force: the iptables backend replaces only the tables
	// the file names; nft replaces rampart's whole table of the family.
	effective := map[ruleset.Family]*ruleset.Ruleset{}
	for fam, rs := range sets {
		effective[fam] = rs
		if b.Name() == "iptables" {
			effective[fam] = mergeKept(rs, loaded[fam])
		}
	}

	changed := false
	for _, fam := range families {
		if sets[fam] == nil {
			continue
		}
		fmt.Printf("%s (%s):", fam, a.files[fam])
		if unknown[fam] {
			fmt.Println(" the loaded ruleset could not be read: not compared")
			changed = true
			continue
		}
		lines, summary := diffRulesets(loaded[fam], effective[fam])
		if len(lines) == 0 {
			fmt.Println(" no changes")
			continue
		}
		changed = true
		fmt.Printf(" %s\n", summary)
		for _, l := range lines {
			fmt.Println("  " + l)
		}
	}
	if !checkLockout(effective, a.netns, a.force) {
		return 1
	}
	pending, err := readPending(a.netns)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rampart apply: %v\n", err)
		return 1
	}
	if pending != nil && time.Since(pending.Deadline) > staleAfter {
		// Its rollback process is gone (a reboot, a kill): the rules it
		// would restore are no longer the ones to come back to.
		fmt.Fprintf(os.Stderr, "rampart apply: discarding a rollback that was due at %s and never ran\n", pending.Deadline.Local().Format(time.DateTime))
		os.Remove(pendingPath(a.netns))
		pending = nil
	}
	if !changed {
		if pending != nil {
			fmt.Fprintf(os.Stderr, "rampart apply: a rollback is pending (at %s): `rampart confirm%s` keeps the rules\n",
				pending.Deadline.Local().Format(time.TimeOnly), netnsFlag(a.netns))
		}
		return 0
	}
	if pending != nil && pending.Backend != b.Name() {
		fmt.Fprintf(os.Stderr, "rampart apply: a rollback with backend %s is pending: confirm it (`rampart confirm%s`) or let it run before applying with backend %s\n",
			pending.Backend, netnsFlag(a.netns), b.Name())
		return 1
	}

	var order []*ruleset.Ruleset
	for _, fam := range families {
		if sets[fam] != nil {
			order = append(order, sets[fam])
		}
	}
	// With a confirmation window the previous rulesets are saved and the
	// detached rollback process started before anything changes, so that
	// a kill at any moment after this leaves the rollback in place.
	var rec *pendingRecord
	if confirm > 0 || pending != nil {
		rec = pending
		if rec == nil {
			rec = &pendingRecord{Backend: b.Name(), Netns: a.netns, Previous: map[string]string{}}
		}
		for fam := range sets {
			if _, ok := rec.Previous[fam.String()]; ok {
				continue // keep the last confirmed ruleset
			}
			text, err := b.SaveText(fam)
			if err == nil {
				_, _, err = ipt.Load("previous", []byte(text), ipt.LoadOptions{Family: fam, Counters: true})
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "rampart apply: saving the loaded %s ruleset for the rollback: %v\n", fam, err)
				return 1
			}
			rec.Previous[fam.String()] = text
		}
		if confirm > 0 {
			rec.ID = newPendingID()
			rec.Deadline = time.Now().Add(confirm)
			if err := writePending(rec); err != nil {
				fmt.Fprintf(os.Stderr, "rampart apply: %v\n", err)
				return 1
			}
			pid, how, err := spawnRollback(rec)
			if err != nil {
				removePending(rec.Netns, rec.ID)
				fmt.Fprintf(os.Stderr, "rampart apply: starting the rollback process: %v; nothing was changed\n", err)
				return 1
			}
			rec.PID = pid
			writePending(rec)
			if pid != 0 {
				how = fmt.Sprintf("process %d, %s", pid, how)
			}
			fmt.Fprintf(os.Stderr, "rollback (%s) restores the previous rules unless confirmed\n", how)
		} else if err := writePending(rec); err != nil {
			fmt.Fprintf(os.Stderr, "rampart apply: %v\n", err)
			return 1
		}
	}

	if err := b.Apply(order...); err != nil {
		fmt.Fprintf(os.Stderr, "rampart apply: %v\nnothing was changed\n", err)
		if pending == nil && rec != nil {
			removePending(rec.Netns, rec.ID)
		}
		return 1
	}
	n := 0
	for _, rs := range order {
		n += countRules(rs)
	}
	where := ""
	if a.netns != "" {
		where = " in netns " + a.netns
	}
	fmt.Fprintf(os.Stderr, "applied %d rule(s) with backend %s%s\n", n, b.Name(), where)
	if rec == nil {
		return 0
	}
	if confirm > 0 {
		// The window starts now that the rules are in force.
		rec.Deadline = time.Now().Add(confirm)
		if err := writePending(rec); err != nil {
			fmt.Fprintf(os.Stderr, "rampart apply: %v\n", err)
		}
	}
	lock.Close()
	if confirm > 0 && isTerminal(os.Stdin) {
		return promptConfirm(rec, confirm)
	}
	fmt.Fprintf(os.Stderr, "not confirmed yet: run `rampart confirm%s` before %s (%s), or the previous rules come back\n",
		netnsFlag(a.netns), rec.Deadline.Local().Format(time.TimeOnly), time.Until(rec.Deadline).Round(time.Second))
	return 0
}

func validBackendName(s string) bool {
	for _, n := range backend.Names {
		if s == n || s == "" {
			return true
		}
	}
	return false
}

func netnsFlag(netns string) string {
	if netns == "" {
		return ""
	}
	return " --netns " + netns
}

func countRules(rs *ruleset.Ruleset) int {
	n := 0
	for _, t := range rs.Tables() {
		for _, c := range t.Chains {
			n += len(c.Rules)
		}
	}
	return n
}

// mergeKept is the ruleset in force after the iptables backend loads rs:
// the tables rs names, and the loaded tables it does not name.
func mergeKept(rs, loaded *ruleset.Ruleset) *ruleset.Ruleset {
	out := rs.Clone()
	if loaded == nil {
		return out
	}
	for _, t := range loaded.Tables() {
		if rs.Table(t.Name) != nil {
			continue
		}
		nt, err := out.EnsureTable(t.Name)
		if err != nil {
			continue
		}
		lt := loaded.Clone().Table(t.Name)
		*nt = *lt
	}
	return out
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// promptConfirm asks on the terminal whether to keep the new rules: "yes"
// within the window keeps them, anything else (or nothing) brings the
// previous rules back at once.
func promptConfirm(rec *pendingRecord, window time.Duration) int {
	fmt.Fprintf(os.Stderr, "Keep the new rules? Type yes within %s (anything else, or nothing, restores the previous rules): ", window)
	answer := make(chan string, 1)
	go func() {
		var buf [256]byte
		n, _ := os.Stdin.Read(buf[:])
		answer <- strings.TrimSpace(string(buf[:n]))
	}()
	timer := time.NewTimer(time.Until(rec.Deadline))
	defer timer.Stop()
	var got string
	select {
	case got = <-answer:
	case <-timer.C:
		fmt.Fprintln(os.Stderr)
	}
	if strings.EqualFold(got, "yes") {
		return confirmPending(rec.Netns, rec.ID)
	}
	fmt.Fprintln(os.Stderr, "not confirmed: restoring the previous rules")
	if err := rollbackPending(rec.Netns, rec.ID); err != nil {
		fmt.Fprintf(os.Stderr, "rampart apply: %v\n", err)
		return 1
	}
	return 1
}

// lockState takes the lock that serialises applies, confirmations and
// rollbacks (an flock on stateDir()/apply.lock, released when the process
// ends, however it ends). It waits, saying so, while another holds it.
func lockState() (*os.File, error) {
	dir := stateDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "apply.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		fmt.Fprintf(os.Stderr, "waiting for another rampart apply, confirm or rollback (%s)\n", path)
		for {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
			if err != syscall.EINTR {
				break
			}
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
	}
	return f, nil
}

// maxDiffLines bounds the diff apply prints per family.
const maxDiffLines = 40

// diffRulesets lists what changes from old (the loaded ruleset, may be
// nil) to new, table by table and chain by chain: chains added or removed,
// policies changed, rules added (+) and removed (-). Counters are ignored.
// The lines are cut after maxDiffLines; summary counts everything.
func diffRulesets(old, new *ruleset.Ruleset) (lines []string, summary string) {
	if old == nil {
		old = ruleset.New(new.Family)
	}
	var all []string
	added, removed, other := 0, 0, 0
	for _, ti := range ruleset.TableOrder {
		ot, nt := old.Table(ti.Name), new.Table(ti.Name)
		if ot == nil && nt == nil {
			continue
		}
		var tl []string
		switch {
		case nt == nil:
			tl = append(tl, fmt.Sprintf("- table %s (%d rules)", ti.Name, tableRules(ot)))
			removed += tableRules(ot)
			other++
		default:
			if ot == nil {
				ot = &ruleset.Table{Name: ti.Name}
				tl = append(tl, "+ table "+ti.Name)
				other++
			}
			for _, name := range chainNames(ot, nt) {
				oc, nc := ot.Chain(name), nt.Chain(name)
				switch {
				case oc == nil:
					tl = append(tl, "+ "+chainDecl(nc))
					other++
				case nc == nil:
					tl = append(tl, "- "+chainDecl(oc))
					other++
				case oc.Policy != nc.Policy:
					tl = append(tl, "- "+chainDecl(oc), "+ "+chainDecl(nc))
					other++
				}
				var ol, nl []string
				if oc != nil {
					ol = chainLines(oc, old.Family)
				}
				if nc != nil {
					nl = chainLines(nc, new.Family)
				}
				for _, d := range diffLines(ol, nl) {
					tl = append(tl, d)
					if d[0] == '+' {
						added++
					} else if d[0] == '-' {
						removed++
					} else {
						other++
					}
				}
			}
		}
		if len(tl) > 0 {
			all = append(all, "*"+ti.Name)
			all = append(all, tl...)
		}
	}
	if added+removed+other == 0 {
		return nil, "no changes"
	}
	summary = fmt.Sprintf("%d rule(s) added, %d removed", added, removed)
	if other > 0 {
		summary += fmt.Sprintf(", %d table/chain/policy change(s)", other)
	}
	if len(all) > maxDiffLines {
		more := len(all) - maxDiffLines
		all = append(all[:maxDiffLines:maxDiffLines], fmt.Sprintf("... and %d more line(s)", more))
	}
	return all, summary
}

func tableRules(t *ruleset.Table) int {
	n := 0
	for _, c := range t.Chains {
		n += len(c.Rules)
	}
	return n
}

// chainNames lists the chains of both tables: the new table's order, then
// the chains only the old one has.
func chainNames(ot, nt *ruleset.Table) []string {
	var names []string
	seen := map[string]bool{}
	for _, t := range []*ruleset.Table{nt, ot} {
		for _, c := range t.Ordered() {
			if !seen[c.Name] {
				seen[c.Name] = true
				names = append(names, c.Name)
			}
		}
	}
	return names
}

func chainDecl(c *ruleset.Chain) string {
	if c.Builtin() {
		return fmt.Sprintf("-P %s %s", c.Name, c.Policy)
	}
	return "-N " + c.Name
}

func chainLines(c *ruleset.Chain, fam ruleset.Family) []string {
	out := make([]string, len(c.Rules))
	for i, r := range c.Rules {
		out[i] = ruleLine(c.Name, r, fam)
	}
	return out
}

// diffLines is a line diff of two rule lists ("- " removed, "+ " added, in
// order). Common leading and trailing rules are skipped; a middle part of
// moderate size gets a longest-common-subsequence diff, a large one (tens
// of thousands of rules) a multiset difference, with a note when the rules
// both keep are reordered.
func diffLines(a, b []string) []string {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	a, b = a[p:len(a)-s], b[p:len(b)-s]
	var out []string
	if len(a)*len(b) <= 4_000_000 {
		// lcs[i][j] is the LCS length of a[i:] and b[j:].
		w := len(b) + 1
		lcs := make([]int32, (len(a)+1)*w)
		for i := len(a) - 1; i >= 0; i-- {
			for j := len(b) - 1; j >= 0; j-- {
				if a[i] == b[j] {
					lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
				} else {
					lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(a) || j < len(b) {
			switch {
			case i < len(a) && j < len(b) && a[i] == b[j]:
				i, j = i+1, j+1
			case i < len(a) && (j == len(b) || lcs[(i+1)*w+j] >= lcs[i*w+j+1]):
				out = append(out, "- "+a[i])
				i++
			default:
				out = append(out, "+ "+b[j])
				j++
			}
		}
		return out
	}
	count := map[string]int{}
	for _, l := range b {
		count[l]++
	}
	var keptA []string
	for _, l := range a {
		if count[l] > 0 {
			count[l]--
			keptA = append(keptA, l)
		} else {
			out = append(out, "- "+l)
		}
	}
	count = map[string]int{}
	for _, l := range a {
		count[l]++
	}
	var keptB []string
	for _, l := range b {
		if count[l] > 0 {
			count[l]--
			keptB = append(keptB, l)
		} else {
			out = append(out, "+ "+l)
		}
	}
	if strings.Join(keptA, "\n") != strings.Join(keptB, "\n") {
		out = append(out, fmt.Sprintf("~ %d kept rule(s) change order", len(keptA)))
	}
	return out
}

// sortedFamilies lists the families of m in order.
func sortedFamilies(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
