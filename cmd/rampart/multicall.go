package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/rampartfw/rampart/backend"
	"github.com/rampartfw/rampart/backend/iptrestore"
	"github.com/rampartfw/rampart/backend/nft"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
)

// The multi-call names (iptables, ip6tables, iptables-save,
// iptables-restore, ...) act on the kernel when no state file is given
// (neither --state FILE nor $RAMPART_STATE): they read the ruleset the
// backend holds, run the command on the model exactly as on a state file
// (same output, messages and exit statuses) and load the result through the
// backend when it changed. $RAMPART_BACKEND chooses the backend (nft,
// iptables, auto: see resolveBackend) and $RAMPART_NETNS the network
// namespace.

// kernelLockPath serializes rampart's read-change-load cycles on the
// kernel, as the xtables lock does for iptables.
func kernelLockPath() string { return sysPath("/run/rampart.lock") }

// openKernelStore is ipt.IO.Kernel for the multi-call names.
func openKernelStore(f ruleset.Family) (ipt.Store, error) {
	kind, netns := os.Getenv("RAMPART_BACKEND"), os.Getenv("RAMPART_NETNS")
	if err := checkBackendKind(kind); err != nil {
		return nil, fmt.Errorf("RAMPART_BACKEND: %w", err)
	}
	lockPath := kernelLockPath()
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		lock.Close()
		return nil, fmt.Errorf("locking %s: %w", lockPath, err)
	}
	b, err := resolveBackend(kind, netns)
	if err != nil {
		lock.Close()
		return nil, err
	}
	return &kernelStore{b: b, lock: lock, read: map[ruleset.Family]string{}}, nil
}

// kernelStore is an ipt.Store on the kernel, through a backend.
type kernelStore struct {
	b    backend.Backend
	lock *os.File
	read map[ruleset.Family]string // lossless iptables-save -c text of what Ruleset read
}

func losslessText(rs *ruleset.Ruleset) string {
	return iptext.Save(rs, iptext.SaveOptions{Counters: true, Lossless: true})
}

// Ruleset reads the backend's ruleset of family f.
func (k *kernelStore) Ruleset(f ruleset.Family) (*ruleset.Ruleset, error) {
	rs, err := k.b.Save(f)
	if err != nil {
		return nil, err
	}
	k.read[f] = losslessText(rs)
	return rs, nil
}

// Commit loads rs through the backend when it differs from what Ruleset
// read, replacing the family's ruleset (all its tables) in one transaction.
func (k *kernelStore) Commit(f ruleset.Family, rs *ruleset.Ruleset, cmd *iptext.Command) error {
	before, ok := k.read[f]
	if !ok {
		return fmt.Errorf("internal error: commit of %s without reading it first", f)
	}
	if losslessText(rs) == before {
		return nil
	}
	return k.b.Apply(rs)
}

// fastMatches are the matches the fast path takes: those without a hook
// restriction that iptables checks and nf_tables would not (owner, mac,
// physdev, addrtype --limit-iface-*, ...), so that a rule the fast path
// loads is one iptables would load.
var fastMatches = map[string]bool{
	"tcp": true, "udp": true, "icmp": true, "icmp6": true, "state": true, "conntrack": true,
	"multiport": true, "iprange": true, "comment": true, "limit": true, "mark": true,
	"connmark": true, "length": true, "ttl": true, "hl": true, "pkttype": true, "dscp": true, "tos": true,
}

// fastTargets are the targets the fast path takes (besides jumps and
// verdicts): REJECT and LOG, whose hook restrictions nf_tables checks as
// iptables does.
var fastTargets = map[string]bool{"REJECT": true, "LOG": true}

// Fast applies a single-rule -A, -I, -R or -D of the filter table through
// the nft backend's Change: one rule changed in one transaction, without
// reading the ruleset (a one-rule change in a 100,000-rule ruleset takes
// tens of milliseconds where reading it takes seconds). Anything else, and
// any failure, returns false with the kernel unchanged: the caller then
// runs the command on the model, which gives iptables' exact result.
func (k *kernelStore) Fast(f ruleset.Family, cmd *iptext.Command) bool {
	nb, ok := k.b.(nft.Backend)
	if !ok || cmd.Table != "filter" || cmd.Verbose > 0 || len(cmd.Warnings) > 0 {
		return false
	}
	var op nft.Op
	pos := cmd.RuleNum
	switch cmd.Op {
	case iptext.OpAppend:
		op = nft.OpAppend
	case iptext.OpInsert:
		op = nft.OpInsert
		if pos == 0 {
			pos = 1
		}
	case iptext.OpReplace:
		op = nft.OpReplace
	case iptext.OpDeleteNum:
		op = nft.OpDelete
	case iptext.OpDelete:
		op, pos = nft.OpDelete, 0
	default:
		return false
	}
	var r *ruleset.Rule
	if cmd.Op != iptext.OpDeleteNum {
		rules := cmd.Rules()
		if len(rules) != 1 {
			return false
		}
		r = rules[0]
		for _, m := range r.Matches {
			if !fastMatches[m.Name()] {
				return false
			}
		}
		switch t := r.Target.(type) {
		case nil, ruleset.Jump:
		case ruleset.Verdict:
			if t != ruleset.Accept && t != ruleset.Drop && t != ruleset.Return {
				return false
			}
		default:
			if !fastTargets[t.Name()] {
				return false
			}
		}
	}
	if !nb.Loaded(f) {
		return false
	}
	return nb.Change(f, cmd.Table, cmd.Chain, op, pos, r) == nil
}

// Close releases the lock.
func (k *kernelStore) Close() {
	if k.lock != nil {
		k.lock.Close()
		k.lock = nil
	}
}

// checkBackendKind reports whether kind is a --backend value ("" is auto).
func checkBackendKind(kind string) error {
	if kind == "" {
		return nil
	}
	for _, n := range backend.Names {
		if kind == n {
			return nil
		}
	}
	return fmt.Errorf("unknown backend %q (want %s)", kind, strings.Join(backend.Names, ", "))
}

// resolveBackend opens the backend that holds the loaded ruleset in network
// namespace netns. An explicit kind (nft, iptables) is taken as it is. For
// auto ("" too): rampart's nftables table when it exists in either family,
// else the system's iptables when its tools show a table, else what
// backend.Detect chooses (nft when the kernel answers nf_tables requests).
func resolveBackend(kind, netns string) (backend.Backend, error) {
	if err := checkBackendKind(kind); err != nil {
		return nil, err
	}
	if kind != "" && kind != "auto" {
		return backend.Open(kind, netns)
	}
	if nft.Available(netns) {
		nb := nft.Backend{Netns: netns}
		for _, f := range families {
			if nb.Loaded(f) {
				return nb, nil
			}
		}
	}
	if _, err := exec.LookPath("iptables-save"); err == nil {
		ib := iptrestore.Backend{Netns: netns}
		for _, f := range families {
			if text, err := ib.SaveText(f); err == nil && hasTable(text) {
				return ib, nil
			}
		}
	}
	return backend.Open("auto", netns)
}

// hasTable reports whether iptables-save output shows a table.
func hasTable(save string) bool {
	for _, l := range strings.Split(save, "\n") {
		if strings.HasPrefix(l, "*") {
			return true
		}
	}
	return false
}
