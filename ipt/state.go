package ipt

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
)

// A state file stands in for the kernel: it holds both families' rulesets
// as iptables-save -c text, each after a "# family ipv4|ipv6" line.

const stateHeader = "# rampart state: iptables-save -c text per family\n"

// State is an opened, locked state file.
type State struct {
	path string
	lock *os.File
	Sets map[ruleset.Family]*ruleset.Ruleset
}

// OpenState locks and reads the state file at path (absent: empty).
func OpenState(path string) (*State, error) {
	lf, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		lf.Close()
		return nil, err
	}
	st := &State{path: path, lock: lf, Sets: map[ruleset.Family]*ruleset.Ruleset{
		ruleset.IPv4: ruleset.New(ruleset.IPv4), ruleset.IPv6: ruleset.New(ruleset.IPv6)}}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return st, nil
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	parts := map[ruleset.Family]*bytes.Buffer{ruleset.IPv4: {}, ruleset.IPv6: {}}
	cur := ruleset.IPv4
	for _, line := range strings.SplitAfter(string(data), "\n") {
		switch strings.TrimSpace(line) {
		case "# family ipv4":
			cur = ruleset.IPv4
		case "# family ipv6":
			cur = ruleset.IPv6
		}
		parts[cur].WriteString(line)
	}
	for f, buf := range parts {
		rs, _, err := Load(path, buf.Bytes(), LoadOptions{Family: f, Counters: true})
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("state file %s is damaged: %w", path, err)
		}
		st.Sets[f] = rs
	}
	return st, nil
}

// Save writes the state atomically (temporary file, fsync, rename).
func (st *State) Save() error {
	var b strings.Builder
	b.WriteString(stateHeader)
	for _, f := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		fmt.Fprintf(&b, "# family %s\n", f)
		b.WriteString(iptext.Save(st.Sets[f], iptext.SaveOptions{Counters: true, Lossless: true}))
	}
	return WriteFileAtomic(st.path, []byte(b.String()), 0o600)
}

// Ruleset returns the state's ruleset of family f (Store).
func (st *State) Ruleset(f ruleset.Family) (*ruleset.Ruleset, error) { return st.Sets[f], nil }

// Commit makes rs the ruleset of family f and writes the state (Store).
func (st *State) Commit(f ruleset.Family, rs *ruleset.Ruleset, _ *iptext.Command) error {
	st.Sets[f] = rs
	if err := st.Save(); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	return nil
}

// Close releases the lock.
func (st *State) Close() {
	if st.lock != nil {
		st.lock.Close()
		st.lock = nil
	}
}

// WriteFileAtomic writes data to path through a temporary file in the same
// directory, fsyncs it and renames it into place, so that readers see the
// old or the new contents, never a mix.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name)
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
