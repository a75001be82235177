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
	// Fast path (to come): a single-rule -A/-I/-D/-R (cmd) on the nft
	// backend can add, insert, delete or replace that one rule instead of
	// reloading the family's table; it goes here, falling back to the full
	// load below for everything else.
	_ = cmd
	return k.b.Apply(rs)
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
			if text, err := nb.SaveText(f); err == nil && strings.TrimSpace(text) != "" {
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
