package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampartfw/rampart/internal/testenv"
)

// shippedUnit is dist/rampart.service.
func shippedUnit(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "dist", "rampart.service"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestInstallShippedUnit: the shipped unit is what install writes for
// /usr/local/sbin/rampart, and it runs restore before the network.
func TestInstallShippedUnit(t *testing.T) {
	shipped := shippedUnit(t)
	if g := unitText("/usr/local/sbin/rampart", ""); g != shipped {
		t.Errorf("unitText differs from dist/rampart.service:\n%s\nwant\n%s", g, shipped)
	}
	for _, line := range []string{
		"DefaultDependencies=no", "Wants=network-pre.target", "Before=network-pre.target", "Type=oneshot",
		"RemainAfterExit=yes", "ExecStart=/usr/local/sbin/rampart restore", "ExecReload=/usr/local/sbin/rampart restore",
		"WantedBy=sysinit.target",
	} {
		found := false
		for _, l := range strings.Split(shipped, "\n") {
			found = found || l == line || strings.HasPrefix(l, line+" ")
		}
		if !found {
			t.Errorf("dist/rampart.service lacks %q", line)
		}
	}
	if strings.Contains(shipped, "ExecStop=") {
		t.Error("dist/rampart.service stops by flushing: it must leave the rules loaded")
	}
}

func TestInstallUnitArg(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/usr/local/sbin/rampart", "/usr/local/sbin/rampart"},
		{"/opt/my tools/rampart", `"/opt/my tools/rampart"`},
		{"/opt/100%/rampart", "/opt/100%%/rampart"},
		{"/opt/$HOME/rampart", "/opt/$$HOME/rampart"},
		{`/opt/a"b\c/rampart`, `"/opt/a\"b\\c/rampart"`},
	} {
		if g := unitArg(c.in); g != c.want {
			t.Errorf("unitArg(%q) = %q, want %q", c.in, g, c.want)
		}
	}
}

// verifyUnit runs systemd-analyze verify (with root as the file-system
// root when not empty) and fails on any complaint.
func verifyUnit(t *testing.T, root, unit string) {
	t.Helper()
	args := []string{"verify", "--man=no"}
	if root != "" {
		args = append(args, "--root="+root)
	}
	out, err := exec.Command("systemd-analyze", append(args, unit)...).CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("systemd-analyze %s: %v\n%s", strings.Join(append(args, unit), " "), err, out)
	}
}

// TestInstallVerify: install --prefix writes the shipped unit with this
// binary's path, and systemd-analyze verify accepts both.
func TestInstallVerify(t *testing.T) {
	bin := buildRampart(t)
	prefix := t.TempDir()
	r := runBin(t, bin, nil, "", "install", "--prefix", prefix)
	if r.code != 0 || !strings.Contains(r.stderr, "not enabled (--prefix)") {
		t.Fatalf("install --prefix: %+v", r)
	}
	path := filepath.Join(prefix, "etc", "systemd", "system", "rampart.service")
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.EvalSymlinks(bin)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.ReplaceAll(shippedUnit(t), "/usr/local/sbin/rampart", abs)
	if string(got) != want {
		t.Errorf("installed unit:\n%s\nwant\n%s", got, want)
	}
	// --backend goes on the command line; --no-enable says nothing more.
	r = runBin(t, bin, nil, "", "install", "--prefix", prefix, "--backend", "iptables", "--no-enable")
	if r.code != 0 || strings.Contains(r.stderr, "enable") {
		t.Fatalf("install --backend iptables --no-enable: %+v", r)
	}
	withBackend, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(withBackend), "\nExecStart="+abs+" restore --backend iptables\nExecReload="+abs+" restore --backend iptables\n") {
		t.Errorf("install --backend iptables:\n%s", withBackend)
	}
	for _, args := range [][]string{{"install", "--backend", "pf"}, {"install", "--prefix"}, {"install", "extra"}} {
		if r := runBin(t, bin, nil, "", args...); r.code != 2 {
			t.Errorf("rampart %v: exit %d, want 2 (%s)", args, r.code, r.stderr)
		}
	}

	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		testenv.Missing(t, "systemd-analyze not found (apt-get install systemd)")
	}
	verifyUnit(t, "", path)
	// The shipped unit, in a root where /usr/local/sbin/rampart exists.
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"etc/systemd/system/rampart.service": shippedUnit(t)})
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "usr/local/sbin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/local/sbin/rampart"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	verifyUnit(t, root, "/etc/systemd/system/rampart.service")
	// verify does fail on a broken unit (the check above can fail).
	writeFiles(t, root, map[string]string{"etc/systemd/system/rampart.service": strings.Replace(shippedUnit(t), "Type=oneshot", "Type=oneshoot", 1)})
	out, _ := exec.Command("systemd-analyze", "verify", "--man=no", "--root="+root, "/etc/systemd/system/rampart.service").CombinedOutput()
	if !strings.Contains(string(out), "oneshoot") {
		t.Errorf("systemd-analyze verify accepts a broken unit silently: %s", out)
	}
}
