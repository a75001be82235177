package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/rampartfw/rampart/ipt"
)

// unitName is the systemd unit rampart install writes.
const unitName = "rampart.service"

// unitTemplate is dist/rampart.service with @EXEC@ for the command line of
// ExecStart and ExecReload (a test keeps the two identical).
//
// Ordering and installation follow Debian's nftables.service (and its
// netfilter-persistent.service): no default dependencies, so the unit can
// run before sysinit.target is reached; after the local file systems and
// the kernel modules (as netfilter-persistent), before network-pre.target,
// which it pulls in, so that every network manager (systemd-networkd,
// NetworkManager, ifupdown's networking.service, all ordered after
// network-pre.target) waits for the firewall. WantedBy=sysinit.target as
// nftables.service, not multi-user.target as iptables.service and
// netfilter-persistent: sysinit.target is part of every boot target,
// rescue.target included (which does not pull in multi-user.target), so
// the firewall is loaded whatever the host boots into.
// There is no ExecStop: stopping (or restarting) the service leaves the
// rules loaded, as netfilter-persistent's default (FLUSH_ON_STOP=0);
// opening the host is `rampart reset`'s job, never a side effect.
const unitTemplate = `# rampart.service: load the configured firewall rules at boot, before the
# network comes up (rampart restore: /etc/sysconfig/iptables and ip6tables,
# else /etc/iptables/rules.v4 and rules.v6, else /etc/rampart/rules.v4 and
# rules.v6; a broken file loads the last good ruleset instead).
#
# Ordered as nftables.service: before network-pre.target, which it pulls in,
# and wanted by sysinit.target, so that every boot target, rescue included,
# has the firewall before any network is configured.
#
# No ExecStop on purpose: stopping the service does not flush the rules (a
# stopped firewall service must not open the host); run "rampart reset" to
# reopen access. "systemctl reload rampart" loads the files again.
[Unit]
Description=rampart firewall: load the configured rules
DefaultDependencies=no
Wants=network-pre.target systemd-modules-load.service local-fs.target
After=systemd-modules-load.service local-fs.target
Before=network-pre.target shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
StandardInput=null
ExecStart=@EXEC@
ExecReload=@EXEC@

[Install]
WantedBy=sysinit.target
`

// unitArg quotes one word of a unit's command line for systemd: double
// quotes when it holds white space or quotes, and the specifier and
// variable characters % and $ doubled.
func unitArg(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	s = strings.ReplaceAll(s, "$", "$$")
	if strings.ContainsAny(s, " \t\"'\\;") {
		s = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return s
}

// unitText is rampart.service running bin restore (with --backend kind
// unless kind is auto or "").
func unitText(bin, kind string) string {
	cmdline := unitArg(bin) + " restore"
	if kind != "" && kind != "auto" {
		cmdline += " --backend " + kind
	}
	return strings.ReplaceAll(unitTemplate, "@EXEC@", cmdline)
}

// systemdRunning reports whether systemd is PID 1.
func systemdRunning() bool {
	comm, err := os.ReadFile("/proc/1/comm")
	return err == nil && strings.TrimSpace(string(comm)) == "systemd"
}

// cmdInstall writes rampart.service under PREFIX/etc/systemd/system
// (PREFIX is / by default), running this binary (its absolute path) as
// `restore`, and enables it with systemctl when PREFIX is / and systemd is
// PID 1 (not with --no-enable).
func cmdInstall(args []string) int {
	var kind, prefix string
	noEnable := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case (a == "--backend" || a == "--prefix") && i+1 < len(args):
			i++
			if a == "--backend" {
				kind = args[i]
			} else {
				prefix = args[i]
			}
		case strings.HasPrefix(a, "--backend="):
			kind = strings.TrimPrefix(a, "--backend=")
		case strings.HasPrefix(a, "--prefix="):
			prefix = strings.TrimPrefix(a, "--prefix=")
		case a == "--no-enable":
			noEnable = true
		default:
			fmt.Fprintf(os.Stderr, "rampart install: unexpected argument %q (usage: rampart install [--backend nft|iptables|auto] [--prefix DIR] [--no-enable])\n", a)
			return 2
		}
	}
	if err := checkBackendKind(kind); err != nil {
		fmt.Fprintf(os.Stderr, "rampart install: %v\n", err)
		return 2
	}
	bin, err := os.Executable()
	if err == nil {
		bin, err = filepath.EvalSymlinks(bin)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "rampart install: the binary's path: %v\n", err)
		return 1
	}
	root := prefix
	if root == "" {
		root = "/"
	}
	dir := filepath.Join(root, "etc", "systemd", "system")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "rampart install: %v\n", err)
		return 1
	}
	path := filepath.Join(dir, unitName)
	if err := ipt.WriteFileAtomic(path, []byte(unitText(bin, kind)), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "rampart install: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "rampart install: wrote %s (ExecStart=%s restore)\n", path, bin)
	switch {
	case noEnable:
		return 0
	case prefix != "" && filepath.Clean(prefix) != "/":
		fmt.Fprintf(os.Stderr, "rampart install: not enabled (--prefix); on that system: systemctl enable %s\n", unitName)
		return 0
	case !systemdRunning():
		fmt.Fprintf(os.Stderr, "rampart install: systemd is not PID 1 here: not enabled; once it runs: systemctl enable %s\n", unitName)
		return 0
	}
	for _, c := range [][]string{{"daemon-reload"}, {"enable", unitName}} {
		out, err := exec.Command("systemctl", c...).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "rampart install: systemctl %s: %v\n%s", strings.Join(c, " "), err, out)
			return 1
		}
	}
	fmt.Fprintf(os.Stderr, "rampart install: enabled %s (runs at the next boot; `systemctl start %s` loads the rules now)\n", unitName, unitName)
	return 0
}
