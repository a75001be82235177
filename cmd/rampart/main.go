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

// stdio is the front ends' I/O; without a state file they act on the
// kernel (multicall.go).
var stdio = ipt.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Kernel: openKernelStore}

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
	case "restore":
		return cmdRestore(rest)
	case "install":
		return cmdInstall(rest)
	case "reset":
		return cmdReset(rest)
	case "panic":
		return cmdPanic(rest)
	case "explain":
		return cmdExplain(rest)
	case "check":
		return cmdCheck(rest)
	case "apply":
		return cmdApply(rest)
	case "confirm":
		return cmdConfirm(rest)
	case "rollback":
		return cmdRollback(rest)
	case "rollback-after":
		return cmdRollbackAfter(rest)
	case "diff":
		return cmdDiff(rest)
	case "matrix":
		return cmdMatrix(rest)
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
  diff [-4|-6] A B [--chain INPUT|FORWARD|OUTPUT] [--format text|json]
                               the packets whose filter verdict differs between two rulesets,
                               as header-space regions with a witness packet each; exit 0 when
                               they are proven equivalent, 1 when they differ, 2 on bad input
  apply [-4|-6] [RULES] [-6 RULES6] [--backend B] [--confirm DURATION] [--force] [--netns NAME]
                               validate, show the diff against the loaded rules, refuse rules
                               that would cut the SSH connection (SSH_CONNECTION; --force),
                               load atomically; with --confirm (default 30s over SSH, 0: off)
                               the previous rules come back unless confirmed in time; with no
                               RULES the configured rules files of both families
  confirm [--netns NAME]       keep the rules of the last apply --confirm
  rollback [--netns NAME]      restore the rules before a pending apply --confirm now
  matrix [-4|-6] RULES [--service tcp/22]... [--chain INPUT|FORWARD] [--ipassmt FILE]
         [--sport PORT] [--format text|json|dot]
                               the service matrix (Diekmann et al., fffuu): the classes of
                               addresses the rules treat alike and which may connect to which
                               (default tcp/22 and tcp/80 through FORWARD)
  save [-4|-6] [-c] FILE       print FILE (restore format or iptables command script)
                               exactly as iptables-save prints after loading it
  save [-4|-6] [-c] [--backend B] [--netns NAME] [--to FILE]
                               the ruleset loaded in the kernel (rampart's nftables table
                               when it exists, else the system's iptables); --to writes
                               FILE atomically, keeping the previous one as FILE.bak
  restore [--backend B] [--netns NAME]
                               load the configured rules files (both families, one
                               transaction); a broken file: the last good one instead
  install [--backend B] [--prefix DIR] [--no-enable]
                               install (and enable) rampart.service, which runs restore
                               at boot before the network
  reset [--backend B] [--netns NAME]
                               reopen access: both families, every table: policies ACCEPT,
                               rules flushed, user chains and rampart's nftables tables deleted
  panic [--backend B] [--netns NAME]
                               drop everything but loopback (both families)
  simulate [-6] RULES --pcap IN [--iface NAME=ADDR/LEN,...]... [--route PREFIX=IFACE]...
           [--verdicts OUT.jsonl] [--log FILE]
                               run a capture through the rules; print iptables-save -c;
                               LOG lines (kernel format) go to FILE or stderr
  explain [-6] RULES PACKET | --pcap IN --index N
                               show every rule a packet visits and the verdict, e.g.
                               "tcp 203.0.113.9:40000 > 10.0.0.1:22 flags S in eth0 state NEW"
  iptables [--state FILE] ARGS iptables 1.8.9 on a ruleset kept in FILE, else the kernel's
  ip6tables [--state FILE] ARGS
                               the same for IPv6
  iptables-save [--state FILE] [-c] [-t TABLE]
  iptables-restore [--state FILE] [-c] [--noflush] [--test] [RULES] < RULES
  ip6tables-save, ip6tables-restore   the same for IPv6
  version                      print the version

B is nft, iptables or auto (the default). Run under the name iptables,
iptables-save, iptables-restore (or the ip6tables names, or the -nft ones) the
binary acts as that tool, on the state file from --state or $RAMPART_STATE, else
on the kernel: through $RAMPART_BACKEND (default auto: rampart's nftables table
when it exists, else the system's iptables when it holds a table, else nft) in
network namespace $RAMPART_NETNS (default the current one).
`, "\n"))
}

func cmdSave(args []string) int {
	fam := ruleset.IPv4
	counters := false
	var file, netns, to, kind string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch a {
		case "--netns", "--to", "--backend":
			if i+1 == len(args) {
				fmt.Fprintf(os.Stderr, "rampart save: %s needs a value\n", a)
				return 2
			}
			i++
			switch a {
			case "--netns":
				netns = args[i]
			case "--to":
				to = args[i]
			default:
				kind = args[i]
				if err := checkBackendKind(kind); err != nil {
					fmt.Fprintf(os.Stderr, "rampart save: %v\n", err)
					return 2
				}
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
		return saveKernel(kind, fam, counters, netns, to)
	}
	if netns != "" || to != "" || kind != "" {
		fmt.Fprintln(os.Stderr, "rampart save: --backend, --netns and --to read the kernel: give no rules file")
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
