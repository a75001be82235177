package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rampartfw/rampart/backend"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/ruleset"
)

// A pending rollback: rampart apply --confirm saves the rulesets in force
// before it (the last confirmed ones) under stateDir()/pending, one record
// per network namespace, and starts a detached process (rampart
// rollback-after) that restores them at the deadline unless the record is
// gone by then: `rampart confirm` deletes it. Applies, confirmations and
// rollbacks take the same lock, and the record's id tells a rollback
// process whether it is still the one in charge (a later apply with
// --confirm replaces the id and the deadline and keeps the saved rulesets).

// pendingRecord is the saved state of a pending rollback.
type pendingRecord struct {
	ID       string            `json:"id"`
	Backend  string            `json:"backend"`
	Netns    string            `json:"netns,omitempty"`
	Deadline time.Time         `json:"deadline"`
	PID      int               `json:"pid,omitempty"` // the rollback process
	Previous map[string]string `json:"previous"`      // "ipv4"/"ipv6" → iptables-save -c text
}

// pendingPath is the record's file for network namespace netns.
func pendingPath(netns string) string {
	key := "host"
	if netns != "" {
		key = "netns-" + strings.NewReplacer("/", "_", ".", "_").Replace(netns)
	}
	return filepath.Join(stateDir(), "pending", key+".json")
}

// readPending returns the pending rollback of netns, nil when there is
// none.
func readPending(netns string) (*pendingRecord, error) {
	data, err := os.ReadFile(pendingPath(netns))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec pendingRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("%s: %v", pendingPath(netns), err)
	}
	return &rec, nil
}

// writePending stores the record atomically.
func writePending(rec *pendingRecord) error {
	path := pendingPath(rec.Netns)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return ipt.WriteFileAtomic(path, data, 0o600)
}

// removePending deletes the record of netns when its id is id.
func removePending(netns, id string) (bool, error) {
	rec, err := readPending(netns)
	if err != nil || rec == nil || rec.ID != id {
		return false, err
	}
	return true, os.Remove(pendingPath(netns))
}

func newPendingID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// spawnRollback starts the process that restores rec's rulesets at its
// deadline. Under systemd it is a transient service (systemd-run), out of
// reach of the login session's cgroup; elsewhere a re-executed rampart in
// a session of its own (setsid: no controlling terminal, its own process
// group), stdio on /dev/null, so that neither a hang-up, nor a kill of the
// caller's process group, nor the caller's death stops it.
func spawnRollback(rec *pendingRecord) (pid int, how string, err error) {
	args := []string{"rollback-after", "--id", rec.ID}
	if rec.Netns != "" {
		args = append(args, "--netns", rec.Netns)
	}
	if useSystemd() {
		if exe, err := os.Executable(); err == nil {
			unit := "rampart-rollback-" + rec.ID
			sargs := []string{"--unit=" + unit, "--collect", "--quiet", "--service-type=exec"}
			for _, v := range []string{"RAMPART_ROOT", "PATH"} {
				if s := os.Getenv(v); s != "" {
					if v == "RAMPART_ROOT" {
						s, _ = filepath.Abs(s)
					}
					sargs = append(sargs, "--setenv="+v+"="+s)
				}
			}
			sargs = append(append(sargs, "--", exe), args...)
			if out, err := exec.Command("systemd-run", sargs...).CombinedOutput(); err == nil {
				return 0, "systemd unit " + unit, nil
			} else {
				fmt.Fprintf(os.Stderr, "rampart apply: systemd-run: %v: %s; starting a detached process instead\n", err, strings.TrimSpace(string(out)))
			}
		}
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, "", err
	}
	defer null.Close()
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.Dir = "/"
	if root := os.Getenv("RAMPART_ROOT"); root != "" {
		// The process runs in /: a relative state root must not move.
		if abs, err := filepath.Abs(root); err == nil {
			cmd.Env = append(os.Environ(), "RAMPART_ROOT="+abs)
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, "", err
	}
	pid = cmd.Process.Pid
	cmd.Process.Release()
	return pid, "detached", nil
}

// useSystemd reports whether the rollback process should be a systemd
// transient unit: systemd is the running init and systemd-run exists.
// RAMPART_ROLLBACK=detached forces the detached process.
func useSystemd() bool {
	if os.Getenv("RAMPART_ROLLBACK") == "detached" {
		return false
	}
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		return false
	}
	_, err := exec.LookPath("systemd-run")
	return err == nil
}

// rollbackLog appends a line to stateDir()/rollback.log (the rollback
// process has no terminal).
func rollbackLog(format string, args ...any) {
	f, err := os.OpenFile(filepath.Join(stateDir(), "rollback.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s %s\n", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

// cmdRollbackAfter is the detached rollback process: it waits for the
// deadline of the pending record with its id, and restores the saved
// rulesets unless the record was confirmed (deleted) or replaced first.
func cmdRollbackAfter(args []string) int {
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGPIPE)
	var id, netns string
	for i := 0; i+1 < len(args); i += 2 {
		switch args[i] {
		case "--id":
			id = args[i+1]
		case "--netns":
			netns = args[i+1]
		}
	}
	if id == "" {
		fmt.Fprintln(os.Stderr, "usage: rampart rollback-after --id ID [--netns NAME] (started by rampart apply --confirm)")
		return 2
	}
	for {
		rec, err := readPending(netns)
		if err != nil {
			rollbackLog("rollback %s: %v", id, err)
		}
		if err == nil && (rec == nil || rec.ID != id) {
			return 0 // confirmed, rolled back, or superseded
		}
		if rec != nil && !time.Now().Before(rec.Deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for attempt := 1; ; attempt++ {
		err := rollbackPending(netns, id)
		if err == nil {
			return 0
		}
		rollbackLog("rollback %s (netns %q), attempt %d: %v", id, netns, attempt, err)
		if attempt == 10 {
			return 1
		}
		time.Sleep(time.Second)
	}
}

// rollbackPending restores the saved rulesets of netns's pending record
// when its id is id (any id when id is ""), under the lock, and deletes
// the record.
func rollbackPending(netns, id string) error {
	lock, err := lockState()
	if err != nil {
		return err
	}
	defer lock.Close()
	rec, err := readPending(netns)
	if err != nil || rec == nil || id != "" && rec.ID != id {
		return err
	}
	b, err := backend.Open(rec.Backend, rec.Netns)
	if err != nil {
		return err
	}
	var sets []*ruleset.Ruleset
	for _, fam := range families {
		text, ok := rec.Previous[fam.String()]
		if !ok {
			continue
		}
		rs, _, err := ipt.Load("previous "+fam.String()+" ruleset", []byte(text), ipt.LoadOptions{Family: fam, Counters: true})
		if err != nil {
			return err
		}
		if b.Name() == "iptables" {
			// iptables-restore replaces only the tables it is given: a
			// table the new rules created comes back empty and open.
			cur, err := b.Save(fam)
			if err != nil {
				return err
			}
			for _, t := range cur.Tables() {
				if rs.Table(t.Name) == nil {
					rs.EnsureTable(t.Name)
				}
			}
		}
		sets = append(sets, rs)
	}
	if err := b.Apply(sets...); err != nil {
		return err
	}
	rollbackLog("rollback %s (backend %s, netns %q): previous rules restored (%s)", rec.ID, rec.Backend, rec.Netns, strings.Join(sortedFamilies(rec.Previous), ", "))
	return os.Remove(pendingPath(netns))
}

// confirmPending deletes the pending record of netns when its id is id
// (any id when ""), so that its rollback process does nothing.
func confirmPending(netns, id string) int {
	lock, err := lockState()
	if err != nil {
		fmt.Fprintf(os.Stderr, "rampart confirm: %v\n", err)
		return 1
	}
	defer lock.Close()
	rec, err := readPending(netns)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rampart confirm: %v\n", err)
		return 1
	}
	if rec == nil || id != "" && rec.ID != id {
		fmt.Fprintf(os.Stderr, "rampart confirm: no rollback is pending%s: nothing to confirm (if the deadline passed, the previous rules are back: see %s)\n",
			inNetns(netns), filepath.Join(stateDir(), "rollback.log"))
		return 1
	}
	if err := os.Remove(pendingPath(netns)); err != nil {
		fmt.Fprintf(os.Stderr, "rampart confirm: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "confirmed: the new rules stay%s (rollback %s cancelled)\n", inNetns(netns), rec.ID)
	return 0
}

func inNetns(netns string) string {
	if netns == "" {
		return ""
	}
	return " in netns " + netns
}

// cmdConfirm keeps the rules of the last rampart apply --confirm.
func cmdConfirm(args []string) int {
	netns, ok := parseNetnsOnly("confirm", args)
	if !ok {
		return 2
	}
	return confirmPending(netns, "")
}

// cmdRollback restores the previous rules of a pending rollback now.
func cmdRollback(args []string) int {
	netns, ok := parseNetnsOnly("rollback", args)
	if !ok {
		return 2
	}
	rec, err := readPending(netns)
	if err == nil && rec == nil {
		fmt.Fprintf(os.Stderr, "rampart rollback: no rollback is pending%s\n", inNetns(netns))
		return 1
	}
	if err == nil {
		err = rollbackPending(netns, "")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "rampart rollback: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "previous rules restored%s\n", inNetns(netns))
	return 0
}
