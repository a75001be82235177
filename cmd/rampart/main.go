// Command rampart is a host firewall built on netfilter: it reads, prints,
// and (in later versions) checks, simulates and applies iptables rulesets.
//
// Run as iptables, iptables-save, iptables-restore or the ip6tables names
// (a symlink or hard link to the binary), it behaves as those tools.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/ruleset"
	_ "github.com/rampartfw/rampart/xt"
)

func main() {
	os.Exit(run(filepath.Base(os.Args[0]), os.Args[1:]))
}

var stdio = ipt.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}

// multiCall maps the tool names rampart answers to.
func multiCall(name string, args []string) (int, bool) {
	switch name {
	case "iptables", "iptables-nft":
		return ipt.IptablesMain(ruleset.IPv4, args, stdio), true
	case "ip6tables", "ip6tables-nft":
		return ipt.IptablesMain(ruleset.IPv6, args, stdio), true
	case "iptables-save", "iptables-nft-save":
		return ipt.SaveMain(ruleset.IPv4, args, stdio), true
	case "ip6tables-save", "ip6tables-nft-save":
		return ipt.SaveMain(ruleset.IPv6, args, stdio), true
	case "iptables-restore", "iptables-nft-restore":
		return ipt.RestoreMain(ruleset.IPv4, args, stdio), true
	case "ip6tables-restore", "ip6tables-nft-restore":
		return ipt.RestoreMain(ruleset.IPv6, args, stdio), true
	}
	return 0, false
}

func run(name string, args []string) int {
	if code, ok := multiCall(name, args); ok {
		return code
	}
	if len(args) == 0 {
		usage()
		return 2
	}
	sub, rest := args[0], args[1:]
	if code, ok := multiCall(sub, rest); ok {
		return code
	}
	switch sub {
	case "save":
		return cmdSave(rest)
	case "simulate":
		return cmdSimulate(rest)
	case "reset":
		return cmdReset(rest)
	case "panic":
		return cmdPanic(rest)
	case "explain":
		return cmdExplain(rest)
	case "check":
		return cmdCheck(rest)
	case "version", "--version", "-V":
		fmt.Println("rampart (iptables v1.8.9 (nf_tables) compatible)")
		return 0
	case "help", "-h", "--help":
		usage()
		return 0
	}
	fmt.Fprintf(os.Stderr, "rampart: unknown command %q\n\n", sub)
	usage()
	return 2
}

func usage() {
	fmt.Fprint(os.Stderr, strings.TrimLeft(`
usage: rampart COMMAND [ARGS]

commands:
  check [--format text|json] [--fail-on error|warning|info] [[-4|-6] RULES...]
                               what the rules open to whom, and their bugs (shadowed or unused
                               rules, source-port holes, lock-out, ...); with no RULES the system's
                               rules files, else an embedded secure default
  save [-4|-6] [-c] FILE       print FILE (restore format or iptables command script)
                               exactly as iptables-save prints after loading it
  save [-4|-6] [-c] [--netns NAME] [--to FILE]
                               the ruleset loaded in the kernel; --to writes FILE
                               atomically, keeping the previous one as FILE.bak
  reset [--netns NAME]         reopen access: both families, every table: policies ACCEPT,
                               rules flushed, user chains and rampart's nftables tables deleted
  panic [--netns NAME]         drop everything but loopback (both families)
  simulate [-6] RULES --pcap IN [--iface NAME=ADDR/LEN,...]... [--route PREFIX=IFACE]...
           [--verdicts OUT.jsonl] [--log FILE]
                               run a capture through the rules; print iptables-save -c;
                               LOG lines (kernel format) go to FILE or stderr
  explain [-6] RULES PACKET | --pcap IN --index N
                               show every rule a packet visits and the verdict, e.g.
                               "tcp 203.0.113.9:40000 > 10.0.0.1:22 flags S in eth0 state NEW"
  iptables --state FILE ARGS   iptables 1.8.9 on a ruleset kept in FILE
  ip6tables --state FILE ARGS  the same for IPv6
  iptables-save --state FILE [-c] [-t TABLE]
  iptables-restore --state FILE [-c] [--noflush] [--test] [RULES] < RULES
  ip6tables-save, ip6tables-restore   the same for IPv6
  version                      print the version

Run under the name iptables, iptables-save, iptables-restore (or the ip6tables
names) the binary acts as that tool; the state file then comes from --state or
$RAMPART_STATE.
`, "\n"))
}

func cmdSave(args []string) int {
	fam := ruleset.IPv4
	counters := false
	var file, netns, to string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch a {
		case "--netns", "--to":
			if i+1 == len(args) {
				fmt.Fprintf(os.Stderr, "rampart save: %s needs a value\n", a)
				return 2
			}
			i++
			if a == "--netns" {
				netns = args[i]
			} else {
				to = args[i]
			}
		case "-4":
			fam = ruleset.IPv4
		case "-6":
			fam = ruleset.IPv6
		case "-c", "--counters":
			counters = true
		default:
			if strings.HasPrefix(a, "-") && a != "-" {
				fmt.Fprintf(os.Stderr, "rampart save: unknown option %q\n", a)
				return 2
			}
			if file != "" {
				fmt.Fprintln(os.Stderr, "rampart save: one rules file expected")
				return 2
			}
			file = a
		}
	}
	if file == "" {
		return saveKernel(fam, counters, netns, to)
	}
	if netns != "" || to != "" {
		fmt.Fprintln(os.Stderr, "rampart save: --netns and --to read the kernel: give no rules file")
		return 2
	}
	var data []byte
	var err error
	if file == "-" {
		data, err = readAll(os.Stdin)
		file = "<stdin>"
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "rampart save: %v\n", err)
		return 1
	}
	rs, diags, err := ipt.Load(file, data, ipt.LoadOptions{Family: fam, Counters: counters})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for _, d := range diags {
		fmt.Fprintln(os.Stderr, ipt.FormatDiag(d, " (line skipped, as the shell would)"))
	}
	fmt.Print(saveText(rs, counters))
	return 0
}
