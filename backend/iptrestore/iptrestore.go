// Package iptrestore is the iptables-restore backend: it loads a ruleset
// with the system's iptables-restore / ip6tables-restore (legacy or nft,
// whichever the system has) and reads the kernel's ruleset back with
// iptables-save -c, optionally inside a named network namespace.
package iptrestore

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"

	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
)

// Backend runs the iptables tools, inside network namespace Netns (by its
// `ip netns` name) when it is not empty.
type Backend struct {
	Netns string
	// Prefix, when set, replaces "iptables" in the tool names (for example
	// "iptables-legacy" runs iptables-legacy-restore and -save).
	Prefix string
}

func (b Backend) tool(f ruleset.Family, suffix string) string {
	p := b.Prefix
	if p == "" {
		p = "iptables"
	}
	if f == ruleset.IPv6 {
		p = "ip6" + strings.TrimPrefix(p, "ip")
	}
	return p + suffix
}

func (b Backend) run(stdin []byte, name string, args ...string) ([]byte, error) {
	var cmd *exec.Cmd
	if b.Netns != "" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", b.Netns, name}, args...)...)
	} else {
		cmd = exec.Command(name, args...)
	}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		where := ""
		if b.Netns != "" {
			where = " (netns " + b.Netns + ")"
		}
		return out.Bytes(), fmt.Errorf("%s%s: %s", name, where, msg)
	}
	return out.Bytes(), nil
}

// ApplyText loads iptables-save text of family f with iptables-restore
// (ip6tables-restore for IPv6), with its counters. The tool replaces the
// tables the text names, as one transaction.
func (b Backend) ApplyText(f ruleset.Family, text string) error {
	_, err := b.run([]byte(text), b.tool(f, "-restore"), "--counters")
	return err
}

// Name is the backend's --backend name.
func (Backend) Name() string { return "iptables" }

// Apply loads rulesets (their tables, with counters) into the kernel, one
// iptables-restore transaction per family in the order given; the tables
// of that family that a ruleset lacks are deleted in the same transaction. When a later
// family fails, the earlier ones get their previous rulesets back.
func (b Backend) Apply(sets ...*ruleset.Ruleset) error {
	var done []ruleset.Family
	var before []string
	for _, rs := range sets {
		prev, err := b.SaveText(rs.Family)
		if err != nil {
			return err
		}
		text := iptext.Save(rs, iptext.SaveOptions{Counters: true})
		// iptables-restore replaces only the tables it is given: a table
		// loaded before that rs lacks gets an empty block, which
		// iptables-nft-restore turns into no table (legacy: an empty one).
		for _, line := range strings.Split(prev, "\n") {
			if name, ok := strings.CutPrefix(line, "*"); ok && rs.Table(name) == nil {
				text += "*" + name + "\nCOMMIT\n"
			}
		}
		if err := b.ApplyText(rs.Family, text); err != nil {
			for i := len(done) - 1; i >= 0; i-- {
				if rerr := b.ApplyText(done[i], before[i]); rerr != nil {
					return fmt.Errorf("%w; restoring the previous %s ruleset failed too: %v", err, done[i], rerr)
				}
			}
			return err
		}
		done, before = append(done, rs.Family), append(before, prev)
	}
	return nil
}

// SaveText returns the kernel's ruleset of family f as iptables-save -c
// prints it (with its comment lines).
func (b Backend) SaveText(f ruleset.Family) (string, error) {
	out, err := b.run(nil, b.tool(f, "-save"), "-c")
	return string(out), err
}

// Save reads the kernel's ruleset of family f back into the model, with
// counters.
func (b Backend) Save(f ruleset.Family) (*ruleset.Ruleset, error) {
	text, err := b.SaveText(f)
	if err != nil {
		return nil, err
	}
	rs, _, err := ipt.Load(b.tool(f, "-save"), []byte(text), ipt.LoadOptions{Family: f, Counters: true})
	if err != nil {
		return nil, fmt.Errorf("reading %s output: %w", b.tool(f, "-save"), err)
	}
	return rs, nil
}
