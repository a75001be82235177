// Package testenv owns what rampart's tests need from the machine: the
// shared test data beside the repository, root and the iptables tools, and
// throwaway network namespaces. Under CI=true a missing kernel feature or
// tool fails the test instead of skipping it.
package testenv

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CI reports whether the tests run in CI (CI=true), where nothing that the
// suite needs may be skipped.
func CI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test, or fails it under CI.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if CI() {
		t.Fatalf("CI=true and "+format, args...)
	}
	t.Skipf(format, args...)
}

// RepoRoot returns the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// Shared returns the path of ../shared beside the repository (or
// $RAMPART_SHARED), skipping or failing (CI) when it is absent.
func Shared(t testing.TB) string {
	t.Helper()
	p := os.Getenv("RAMPART_SHARED")
	if p == "" {
		p = filepath.Join(RepoRoot(t), "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(p, "README.md")); err != nil {
		Missing(t, "shared test data not found at %s", p)
	}
	return p
}

// RequireKernel checks for root, ip(8) and the iptables tools.
func RequireKernel(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "kernel tests need root")
	}
	for _, tool := range []string{"ip", "iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			Missing(t, "kernel tests need %s (apt-get install iptables nftables iproute2)", tool)
		}
	}
	out, err := exec.Command("iptables", "-V").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "v1.8.9 (nf_tables)") {
		Missing(t, "kernel tests compare with iptables v1.8.9 (nf_tables); found %q", strings.TrimSpace(string(out)))
	}
}

// Netns is a throwaway network namespace.
type Netns struct {
	Name string
}

// NewNetns creates a network namespace that is deleted when the test ends,
// named $RAMPART_NETNS_PREFIX (default "rampart-") and random hex digits.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	RequireKernel(t)
	var b [4]byte
	rand.Read(b[:])
	prefix := os.Getenv("RAMPART_NETNS_PREFIX") // lets concurrent suites tell their namespaces apart
	if prefix == "" {
		prefix = "rampart-"
	}
	name := prefix + hex.EncodeToString(b[:])
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		Missing(t, "ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	return &Netns{Name: name}
}

// Result is what a command printed and its exit status.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs a command inside the namespace with stdin.
func (n *Netns) Run(stdin string, name string, args ...string) Result {
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			code = -1
			e.WriteString(err.Error())
		}
	}
	return Result{o.String(), e.String(), code}
}

// RunBatch runs commands (each an argv, no shell) one after another in the
// namespace, from a single shell started once, each with empty stdin, and
// returns what each printed and its exit status. It is Run for many
// commands at a fraction of the cost.
func (n *Netns) RunBatch(t testing.TB, cmds [][]string) []Result {
	t.Helper()
	if len(cmds) == 0 {
		return nil
	}
	dir := t.TempDir()
	var sc strings.Builder
	for i, argv := range cmds {
		for j, a := range argv {
			if j > 0 {
				sc.WriteByte(' ')
			}
			sc.WriteString(ShellQuote(a))
		}
		fmt.Fprintf(&sc, " </dev/null >%s/%d.out 2>%s/%d.err; echo $? >%s/%d.rc\n", dir, i, dir, i, dir, i)
	}
	script := filepath.Join(dir, "batch.sh")
	if err := os.WriteFile(script, []byte(sc.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := n.Run("", "sh", script); r.Code != 0 {
		t.Fatalf("batch in netns %s: exit %d: %s", n.Name, r.Code, r.Stderr)
	}
	out := make([]Result, len(cmds))
	for i := range cmds {
		read := func(ext string) string {
			b, err := os.ReadFile(fmt.Sprintf("%s/%d.%s", dir, i, ext))
			if err != nil {
				t.Fatalf("batch in netns %s: %v", n.Name, err)
			}
			return string(b)
		}
		out[i].Stdout, out[i].Stderr = read("out"), read("err")
		fmt.Sscan(read("rc"), &out[i].Code)
	}
	return out
}

// ShellQuote quotes s for sh as one word.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// StripComments removes the "#" lines of iptables-save output.
func StripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}
