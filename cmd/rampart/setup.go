package main

import (
	"fmt"
	"os"

	"github.com/rampartfw/rampart/engine"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/ruleset"
)

// loadRules loads a rules file of one family, printing the lines a script
// skipped; ok is false (and the error printed) when the file is refused.
func loadRules(path string, fam ruleset.Family) (*ruleset.Ruleset, bool) {
	rs, diags, err := ipt.LoadFile(path, ipt.LoadOptions{Family: fam})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return nil, false
	}
	for _, d := range diags {
		fmt.Fprintln(os.Stderr, ipt.FormatDiag(d, " (line skipped, as the shell would)"))
	}
	return rs, true
}

// buildHost is the host model of --iface NAME=ADDR/LEN,... and --route
// PREFIX=IFACE options; ok is false (and the error printed, prefixed by
// cmd) when one is malformed.
func buildHost(cmd string, ifaces, routes []string) (*engine.Host, bool) {
	host := engine.NewHost()
	for _, s := range ifaces {
		if err := host.AddIface(s); err != nil {
			fmt.Fprintf(os.Stderr, "rampart %s: %v\n", cmd, err)
			return nil, false
		}
	}
	for _, s := range routes {
		if err := host.AddRoute(s); err != nil {
			fmt.Fprintf(os.Stderr, "rampart %s: %v\n", cmd, err)
			return nil, false
		}
	}
	return host, true
}

// newEngine puts a ruleset of either family on a host.
func newEngine(rs *ruleset.Ruleset, host *engine.Host, tracker engine.Tracker) *engine.Engine {
	if rs.Family == ruleset.IPv6 {
		return engine.New(nil, rs, host, tracker)
	}
	return engine.New(rs, nil, host, tracker)
}
