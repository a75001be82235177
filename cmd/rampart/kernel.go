package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"

	"github.com/rampartfw/rampart/backend/iptrestore"
	"github.com/rampartfw/rampart/backend/nft"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/ruleset"
)

var families = []ruleset.Family{ruleset.IPv4, ruleset.IPv6}

// saveKernel prints (or, with to, writes atomically, keeping the previous
// file as to.bak) the kernel's ruleset of family fam as the backend kind
// (resolveBackend: auto is rampart's nftables table when it exists, else
// the system's iptables) reads it back, inside netns when it is not empty.
func saveKernel(kind string, fam ruleset.Family, counters bool, netns, to string) int {
	b, err := resolveBackend(kind, netns)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rampart save: %v\n", err)
		return 1
	}
	rs, err := b.Save(fam)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rampart save: %v\n", err)
		return 1
	}
	text := saveText(rs, counters)
	if to == "" {
		fmt.Print(text)
		return 0
	}
	if err := writeWithBackup(to, []byte(text)); err != nil {
		fmt.Fprintf(os.Stderr, "rampart save: %v\n", err)
		return 1
	}
	return 0
}

// writeWithBackup replaces path atomically with data; an existing file is
// first kept as path.bak (itself written atomically) and its mode is kept.
func writeWithBackup(path string, data []byte) error {
	perm := os.FileMode(0o600)
	old, err := os.ReadFile(path)
	switch {
	case err == nil:
		if st, err := os.Stat(path); err == nil {
			perm = st.Mode().Perm()
		}
		if err := ipt.WriteFileAtomic(path+".bak", old, perm); err != nil {
			return fmt.Errorf("keeping %s.bak: %w", path, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	return ipt.WriteFileAtomic(path, data, perm)
}

// parseNetnsOnly reads the [--netns NAME] arguments of a command that takes
// no other.
func parseNetnsOnly(cmd string, args []string) (string, bool) {
	netns := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--netns" && i+1 < len(args):
			i++
			netns = args[i]
		case strings.HasPrefix(a, "--netns="):
			netns = strings.TrimPrefix(a, "--netns=")
		default:
			fmt.Fprintf(os.Stderr, "rampart %s: unexpected argument %q (usage: rampart %s [--netns NAME])\n", cmd, a, cmd)
			return "", false
		}
	}
	return netns, true
}

// parseKernelArgs reads the [--backend nft|iptables|auto] [--netns NAME]
// arguments of restore, reset and panic (kind "" is auto).
func parseKernelArgs(cmd string, args []string) (kind, netns string, ok bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case (a == "--netns" || a == "--backend") && i+1 < len(args):
			i++
			if a == "--netns" {
				netns = args[i]
			} else {
				kind = args[i]
			}
		case strings.HasPrefix(a, "--netns="):
			netns = strings.TrimPrefix(a, "--netns=")
		case strings.HasPrefix(a, "--backend="):
			kind = strings.TrimPrefix(a, "--backend=")
		default:
			fmt.Fprintf(os.Stderr, "rampart %s: unexpected argument %q (usage: rampart %s [--backend nft|iptables|auto] [--netns NAME])\n", cmd, a, cmd)
			return "", "", false
		}
	}
	if err := checkBackendKind(kind); err != nil {
		fmt.Fprintf(os.Stderr, "rampart %s: %v\n", cmd, err)
		return "", "", false
	}
	return kind, netns, true
}

// kernelBackends are the backends reset and panic act on: the one named by
// kind, or for auto every one the host has (rampart's nftables tables when
// the kernel answers nf_tables requests, the system's iptables when its
// tools are installed).
func kernelBackends(kind, netns string) (useNft, useIpt bool) {
	switch kind {
	case "nft":
		return true, false
	case "iptables":
		return false, true
	}
	_, err := exec.LookPath("iptables-restore")
	useIpt = err == nil
	useNft = nft.Available(netns) || !useIpt
	return useNft, useIpt
}

// acceptingText is iptables-restore text that, for every table present in
// save (iptables-save output), sets each built-in chain's policy to ACCEPT;
// restoring it (without --noflush) also flushes the rules and deletes the
// user chains of those tables.
func acceptingText(save string) string {
	var b strings.Builder
	for _, line := range strings.Split(save, "\n") {
		switch {
		case strings.HasPrefix(line, "*"):
			b.WriteString(line + "\n")
		case strings.HasPrefix(line, ":"):
			f := strings.Fields(line[1:])
			if len(f) >= 2 && f[1] != "-" {
				fmt.Fprintf(&b, ":%s ACCEPT [0:0]\n", f[0])
			}
		case line == "COMMIT":
			b.WriteString("COMMIT\n")
		}
	}
	return b.String()
}

// cmdReset reopens access: in both families every table iptables shows gets
// ACCEPT policies, no rules and no user chains, and rampart's own nftables
// tables are deleted (with --backend, only that backend's part).
func cmdReset(args []string) int {
	kind, netns, ok := parseKernelArgs("reset", args)
	if !ok {
		return 2
	}
	useNft, useIpt := kernelBackends(kind, netns)
	b := iptrestore.Backend{Netns: netns}
	code := 0
	for _, fam := range families {
		if !useIpt {
			break
		}
		save, err := b.SaveText(fam)
		if err != nil {
			fmt.Fprintf(os.Stderr, "rampart reset: %v\n", err)
			code = 1
			continue
		}
		text := acceptingText(save)
		if text == "" {
			continue
		}
		if err := b.ApplyText(fam, text); err != nil {
			fmt.Fprintf(os.Stderr, "rampart reset: %v\n", err)
			code = 1
		}
	}
	if useNft {
		if err := (nft.Backend{Netns: netns}).Delete(families...); err != nil {
			fmt.Fprintf(os.Stderr, "rampart reset: deleting rampart's nftables tables: %v\n", err)
			code = 1
		}
	}
	if code == 0 {
		var done []string
		if useIpt {
			done = append(done, "iptables: all policies ACCEPT, rules flushed, user chains deleted")
		}
		if useNft {
			done = append(done, "rampart's nftables tables deleted")
		}
		fmt.Fprintf(os.Stderr, "rampart reset: %s (IPv4 and IPv6)\n", strings.Join(done, "; "))
	}
	return code
}

// panicText is the filter table that drops everything but loopback.
const panicText = `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT DROP [0:0]
-A INPUT -i lo -j ACCEPT
-A OUTPUT -o lo -j ACCEPT
COMMIT
`

// cmdPanic replaces the filter table of both families with one that drops
// everything but loopback traffic: in the system's iptables and in
// rampart's nftables tables (whichever the host has; with --backend, that
// one). A drop in any nftables base chain drops the packet, so the panic
// holds whatever the other tables accept.
func cmdPanic(args []string) int {
	kind, netns, ok := parseKernelArgs("panic", args)
	if !ok {
		return 2
	}
	useNft, useIpt := kernelBackends(kind, netns)
	b := iptrestore.Backend{Netns: netns}
	code := 0
	for _, fam := range families {
		if !useIpt {
			break
		}
		if err := b.ApplyText(fam, panicText); err != nil {
			fmt.Fprintf(os.Stderr, "rampart panic: %v\n", err)
			code = 1
		}
	}
	if useNft {
		var sets []*ruleset.Ruleset
		for _, fam := range families {
			rs, _, err := ipt.Load("panic", []byte(panicText), ipt.LoadOptions{Family: fam})
			if err != nil {
				fmt.Fprintf(os.Stderr, "rampart panic: %v\n", err)
				return 1
			}
			sets = append(sets, rs)
		}
		if err := (nft.Backend{Netns: netns}).Apply(sets...); err != nil {
			fmt.Fprintf(os.Stderr, "rampart panic: rampart's nftables tables: %v\n", err)
			code = 1
		}
	}
	if code == 0 {
		fmt.Fprintln(os.Stderr, "rampart panic: everything but loopback is dropped (IPv4 and IPv6); `rampart reset` reopens")
	}
	return code
}
