package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rampartfw/rampart/backend"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
)

// famName is a family as messages name it.
func famName(f ruleset.Family) string {
	if f == ruleset.IPv6 {
		return "IPv6"
	}
	return "IPv4"
}

// lastGoodPath is where restore keeps the last ruleset of family f that
// loaded: iptables-save text (rampart's lossless form), written atomically.
func lastGoodPath(f ruleset.Family) string {
	ext := "v4"
	if f == ruleset.IPv6 {
		ext = "v6"
	}
	return filepath.Join(stateDir(), "last-good.rules."+ext)
}

// restorePick is the ruleset restore loads for one family and where it
// comes from.
type restorePick struct {
	fam      ruleset.Family
	file     string           // the configured file
	rs       *ruleset.Ruleset // what is loaded
	lastGood bool             // rs is the last good ruleset, the file is broken
}

// loadLastGood reads the last good ruleset of family f; ok is false (and
// why printed) when there is none or it cannot be read.
func loadLastGood(f ruleset.Family) (*ruleset.Ruleset, bool) {
	p := lastGoodPath(f)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "rampart restore: no last good %s ruleset (%s)\n", famName(f), p)
		return nil, false
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "rampart restore: reading the last good %s ruleset: %v\n", famName(f), err)
		return nil, false
	}
	rs, _, err := ipt.Load(p, data, ipt.LoadOptions{Family: f})
	if err != nil {
		fmt.Fprintf(os.Stderr, "rampart restore: the last good %s ruleset is damaged: %v\n", famName(f), err)
		return nil, false
	}
	return rs, true
}

// saveLastGood keeps rs as the last good ruleset of its family.
func saveLastGood(rs *ruleset.Ruleset, from string) error {
	if err := os.MkdirAll(stateDir(), 0o700); err != nil {
		return err
	}
	text := fmt.Sprintf("# rampart: last good %s ruleset, loaded from %s on %s\n", famName(rs.Family), from, time.Now().UTC().Format(time.RFC3339)) +
		iptext.Save(rs, iptext.SaveOptions{Lossless: true})
	return ipt.WriteFileAtomic(lastGoodPath(rs.Family), []byte(text), 0o600)
}

// ruleCount is the number of rules in rs.
func ruleCount(rs *ruleset.Ruleset) int {
	n := 0
	for _, t := range rs.Tables() {
		for _, c := range t.Ordered() {
			n += len(c.Rules)
		}
	}
	return n
}

// cmdRestore loads the configured rules files (configuredFiles) into the
// kernel at boot: both families in one backend Apply. A file that does not
// load is replaced by the last good ruleset of its family (exit 1, and
// said on stderr); with no last good ruleset for a broken file nothing at
// all is loaded (exit 1), so that the host is neither opened nor closed
// further. Each file that loads becomes its family's last good ruleset.
func cmdRestore(args []string) int {
	kind, netns, ok := parseKernelArgs("restore", args)
	if !ok {
		return 2
	}
	files, found := configuredFiles()
	if !found {
		var looked []string
		for _, d := range configDirs {
			looked = append(looked, sysPath(d.v4), sysPath(d.v6))
		}
		fmt.Fprintf(os.Stderr, "rampart restore: no rules file (looked for %s): nothing loaded\n", strings.Join(looked, ", "))
		return 0
	}
	var picks []restorePick
	broken, missing := false, false
	for _, fam := range families {
		file := files[fam]
		if file == "" {
			continue
		}
		p := restorePick{fam: fam, file: file}
		rs, diags, err := ipt.LoadFile(file, ipt.LoadOptions{Family: fam})
		for _, d := range diags {
			fmt.Fprintln(os.Stderr, ipt.FormatDiag(d, " (line skipped, as the shell would)"))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			broken = true
			if rs, ok = loadLastGood(fam); !ok {
				missing = true
				continue
			}
			p.lastGood = true
			fmt.Fprintf(os.Stderr, "rampart restore: %s does not load: loading the last good %s ruleset (%s) instead\n", file, famName(fam), lastGoodPath(fam))
		}
		p.rs = rs
		picks = append(picks, p)
	}
	if missing {
		fmt.Fprintln(os.Stderr, "rampart restore: nothing loaded: the firewall is left as it was")
		return 1
	}
	b, err := backend.Open(kind, netns)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rampart restore: %v\n", err)
		return 1
	}
	sets := make([]*ruleset.Ruleset, len(picks))
	for i, p := range picks {
		sets[i] = p.rs
	}
	if err := b.Apply(sets...); err != nil {
		fmt.Fprintf(os.Stderr, "rampart restore: %s backend: %v\n", b.Name(), err)
		return restoreFallback(b, picks)
	}
	for _, p := range picks {
		if p.lastGood {
			continue
		}
		if err := saveLastGood(p.rs, p.file); err != nil {
			fmt.Fprintf(os.Stderr, "rampart restore: keeping %s as the last good %s ruleset: %v\n", p.file, famName(p.fam), err)
			broken = true
		}
	}
	var what []string
	for _, p := range picks {
		from := p.file
		if p.lastGood {
			from = lastGoodPath(p.fam) + " (last good)"
		}
		n := ruleCount(p.rs)
		plural := "s"
		if n == 1 {
			plural = ""
		}
		what = append(what, fmt.Sprintf("%s from %s (%d rule%s)", famName(p.fam), from, n, plural))
	}
	fmt.Fprintf(os.Stderr, "rampart restore: loaded %s with the %s backend\n", strings.Join(what, ", "), b.Name())
	if broken {
		return 1
	}
	return 0
}

// restoreFallback loads the last good rulesets after the backend refused
// picks (nothing of which was loaded): every family picked must have one,
// else nothing is loaded. It returns restore's exit status: 1 either way.
func restoreFallback(b backend.Backend, picks []restorePick) int {
	var sets []*ruleset.Ruleset
	for _, p := range picks {
		if p.lastGood {
			// The last good ruleset itself was refused.
			fmt.Fprintln(os.Stderr, "rampart restore: nothing loaded: the firewall is left as it was")
			return 1
		}
		rs, ok := loadLastGood(p.fam)
		if !ok {
			fmt.Fprintln(os.Stderr, "rampart restore: nothing loaded: the firewall is left as it was")
			return 1
		}
		sets = append(sets, rs)
	}
	if err := b.Apply(sets...); err != nil {
		fmt.Fprintf(os.Stderr, "rampart restore: loading the last good rulesets: %s backend: %v\nrampart restore: nothing loaded: the firewall is left as it was\n", b.Name(), err)
		return 1
	}
	fmt.Fprintln(os.Stderr, "rampart restore: loaded the last good rulesets instead")
	return 1
}
