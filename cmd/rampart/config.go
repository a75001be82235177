package main

import (
	"os"
	"path/filepath"

	"github.com/rampartfw/rampart/ruleset"
)

// configRoot prefixes the system paths rampart reads and writes (rules
// files, /var/lib/rampart); tests point it at a temporary directory with
// RAMPART_ROOT.
func configRoot() string {
	if r := os.Getenv("RAMPART_ROOT"); r != "" {
		return r
	}
	return "/"
}

// sysPath is a system path under configRoot.
func sysPath(p string) string { return filepath.Join(configRoot(), p) }

// configDirs are the places of the configured rules files, in order of
// preference: CentOS/RHEL, Debian (iptables-persistent), rampart's own.
var configDirs = []struct{ v4, v6 string }{
	{"/etc/sysconfig/iptables", "/etc/sysconfig/ip6tables"},
	{"/etc/iptables/rules.v4", "/etc/iptables/rules.v6"},
	{"/etc/rampart/rules.v4", "/etc/rampart/rules.v6"},
}

// configuredFiles returns the configured rules file of each family: those
// of the first place where either exists ("" for a family whose file is
// absent there). With none present it returns rampart's own paths and
// found false.
func configuredFiles() (files map[ruleset.Family]string, found bool) {
	for _, d := range configDirs {
		files = map[ruleset.Family]string{}
		for fam, p := range map[ruleset.Family]string{ruleset.IPv4: d.v4, ruleset.IPv6: d.v6} {
			if _, err := os.Stat(sysPath(p)); err == nil {
				files[fam] = sysPath(p)
			}
		}
		if len(files) > 0 {
			return files, true
		}
	}
	last := configDirs[len(configDirs)-1]
	return map[ruleset.Family]string{ruleset.IPv4: sysPath(last.v4), ruleset.IPv6: sysPath(last.v6)}, false
}

// stateDir is where rampart keeps what it needs across runs (the last
// good rulesets, the pending rollback).
func stateDir() string { return sysPath("/var/lib/rampart") }
