package ipt

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
)

// IO is where a front end reads and writes.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Now gives the time printed in iptables-save's comment lines.
	Now func() time.Time
	// Kernel, when set, opens the store the front ends act on when no
	// state file is given (--state, $RAMPART_STATE): the kernel through a
	// backend. Nil: they ask for a state file.
	Kernel func(f ruleset.Family) (Store, error)
}

// Store holds the rulesets a front end reads and changes: a state file
// (*State) or the kernel (IO.Kernel).
type Store interface {
	// Ruleset returns the ruleset of family f as the store holds it; the
	// caller may change it and hand it to Commit.
	Ruleset(f ruleset.Family) (*ruleset.Ruleset, error)
	// Commit makes rs the ruleset of family f. cmd is the iptables command
	// that produced rs from Ruleset's, nil for a restore.
	Commit(f ruleset.Family, rs *ruleset.Ruleset, cmd *iptext.Command) error
	// Close releases the store (its lock).
	Close()
}

// FastStore is a Store that may apply a single-rule command without
// reading the whole ruleset (the kernel through the nft backend: one rule
// changed in one transaction). Fast reports whether it did; when it did
// not (a command it does not take, or any error) the kernel is unchanged
// and the front end goes the usual way, Ruleset, Exec and Commit, which
// also gives iptables' exact messages.
type FastStore interface {
	Store
	Fast(f ruleset.Family, cmd *iptext.Command) bool
}

// openStore opens the state file at statePath, else the kernel store of
// stdio; a nil Store (and no error) means neither is given.
func openStore(statePath string, f ruleset.Family, stdio IO) (Store, error) {
	if statePath != "" {
		st, err := OpenState(statePath)
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	if stdio.Kernel != nil {
		return stdio.Kernel(f)
	}
	return nil, nil
}

// takeState removes a leading "--state FILE" / "--state=FILE" from args
// and returns the file, falling back to $RAMPART_STATE. Only the first
// argument is looked at: later ones belong to iptables (-m state --state).
func takeState(args []string) (string, []string) {
	state := os.Getenv("RAMPART_STATE")
	switch {
	case len(args) >= 2 && args[0] == "--state":
		return args[1], args[2:]
	case len(args) >= 1 && strings.HasPrefix(args[0], "--state="):
		return args[0][len("--state="):], args[1:]
	}
	return state, args
}

// FormatError renders an error as the iptables tool named prog prints it.
func FormatError(prog string, err error) (string, int) {
	e, ok := err.(*iptext.Error)
	if !ok {
		return fmt.Sprintf("%s v1.8.9 (nf_tables): %s\n", prog, err), 1
	}
	try := fmt.Sprintf("Try `%s -h' or '%s --help' for more information.\n", prog, prog)
	switch e.Style {
	case iptext.StylePlain:
		return fmt.Sprintf("%s: %s\n", strings.TrimSuffix(prog, "-restore"), e.Msg), e.Exit
	case iptext.StyleBanner:
		return fmt.Sprintf("%s %s: %s\n", prog, iptext.Version, e.Msg), e.Exit
	case iptext.StyleBare:
		return e.Msg + "\n" + try, e.Exit
	}
	return fmt.Sprintf("%s %s: %s\n", prog, iptext.Version, e.Msg) + try, e.Exit
}

func noState(prog string, stdio IO) int {
	fmt.Fprintf(stdio.Stderr, "%s: no state file: pass --state FILE or set RAMPART_STATE\n", prog)
	return 2
}

// IptablesMain is iptables/ip6tables acting on a state file.
func IptablesMain(f ruleset.Family, args []string, stdio IO) int {
	prog := f.Tool()
	statePath, args := takeState(args)
	cmd, err := iptext.ParseCommand(args, iptext.ParseOptions{Family: f})
	if err != nil {
		if e, ok := err.(*iptext.Error); ok {
			for _, w := range e.Warnings {
				fmt.Fprintln(stdio.Stderr, w)
			}
		}
		msg, code := FormatError(prog, err)
		fmt.Fprint(stdio.Stderr, msg)
		return code
	}
	for _, w := range cmd.Warnings {
		fmt.Fprintln(stdio.Stderr, w)
	}
	if cmd.Op&iptext.OpVersion != 0 {
		fmt.Fprintf(stdio.Stdout, "%s %s\n", prog, iptext.Version)
		return 0
	}
	if cmd.Op&iptext.OpHelp != 0 {
		fmt.Fprint(stdio.Stdout, helpText(prog))
		return 0
	}
	st, err := openStore(statePath, f, stdio)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "%s: %v\n", prog, err)
		return 4
	}
	if st == nil {
		return noState(prog, stdio)
	}
	defer st.Close()
	if fs, ok := st.(FastStore); ok && fs.Fast(f, cmd) {
		return 0
	}
	rs, err := st.Ruleset(f)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "%s: %v\n", prog, err)
		return 4
	}
	work := rs.Clone()
	var out strings.Builder
	if err := Exec(work, cmd, &out); err != nil {
		fmt.Fprint(stdio.Stdout, out.String())
		msg, code := FormatError(prog, err)
		fmt.Fprint(stdio.Stderr, msg)
		return code
	}
	fmt.Fprint(stdio.Stdout, out.String())
	if cmd.Op&(iptext.OpList|iptext.OpListRules|iptext.OpCheck) != 0 && cmd.Op&iptext.OpZero == 0 {
		return 0
	}
	if err := st.Commit(f, work, cmd); err != nil {
		fmt.Fprintf(stdio.Stderr, "%s: %v\n", prog, err)
		return 4
	}
	return 0
}

// SaveMain is iptables-save/ip6tables-save on a state file.
func SaveMain(f ruleset.Family, args []string, stdio IO) int {
	prog := f.Tool() + "-save"
	statePath, args := takeState(args)
	o := iptext.SaveOptions{Time: time.Now()}
	if stdio.Now != nil {
		o.Time = stdio.Now()
	}
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-c" || a == "--counters":
			o.Counters = true
		case a == "-t" || a == "--table":
			if i+1 >= len(args) {
				fmt.Fprintf(stdio.Stderr, "%s: option requires an argument -- 't'\n", prog)
				return 1
			}
			o.Table = args[i+1]
			i++
		case strings.HasPrefix(a, "--table="):
			o.Table = a[len("--table="):]
		case a == "-M" || a == "--modprobe" || a == "-f" || a == "--file":
			i++
		case a == "-V" || a == "--version":
			fmt.Fprintf(stdio.Stdout, "%s %s\n", prog, iptext.Version)
			return 0
		default:
			fmt.Fprintf(stdio.Stderr, "Unknown arguments found on commandline\n")
			return 1
		}
	}
	if o.Table != "" {
		if _, ok := ruleset.LookupTable(o.Table); !ok {
			fmt.Fprintf(stdio.Stderr, "%s %s: table '%s' does not exist\n", prog, iptext.Version, o.Table)
			return 1
		}
	}
	st, err := openStore(statePath, f, stdio)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "%s: %v\n", prog, err)
		return 1
	}
	if st == nil {
		return noState(prog, stdio)
	}
	defer st.Close()
	rs, err := st.Ruleset(f)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "%s: %v\n", prog, err)
		return 1
	}
	if o.Table != "" && rs.Table(o.Table) == nil {
		// iptables-nft-save -t TABLE prints a table that does not exist
		// with its built-in chains (policy ACCEPT, no counters).
		rs = rs.Clone()
		rs.EnsureTable(o.Table)
	}
	fmt.Fprint(stdio.Stdout, iptext.Save(rs, o))
	return 0
}

// RestoreMain is iptables-restore/ip6tables-restore on a state file. The
// whole input is one transaction: on any error nothing changes.
func RestoreMain(f ruleset.Family, args []string, stdio IO) int {
	prog := f.Tool() + "-restore"
	statePath, args := takeState(args)
	var counters, noflush, test bool
	var file string
	var only string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-c" || a == "--counters":
			counters = true
		case a == "-n" || a == "--noflush":
			noflush = true
		case a == "-t" || a == "--test":
			test = true
		case a == "-v" || a == "--verbose" || a == "-w" || a == "--wait":
		case a == "-W" || a == "--wait-interval" || a == "-M" || a == "--modprobe":
			i++
		case a == "-T" || a == "--table":
			if i+1 < len(args) {
				only = args[i+1]
				i++
			}
		case a == "-V" || a == "--version":
			fmt.Fprintf(stdio.Stdout, "%s %s\n", prog, iptext.Version)
			return 0
		case !strings.HasPrefix(a, "-") && file == "":
			file = a
		default:
			fmt.Fprintf(stdio.Stderr, "Unknown arguments found on commandline\n")
			return 1
		}
	}
	in := stdio.Stdin
	name := "<stdin>"
	if file != "" {
		fh, err := os.Open(file)
		if err != nil {
			fmt.Fprintf(stdio.Stderr, "%s: Can't open %s: %v\n", prog, file, err)
			return 1
		}
		defer fh.Close()
		in, name = fh, file
	}
	stmts, err := iptext.ReadRestore(in, iptext.RestoreOptions{Family: f, File: name, Counters: counters})
	if err == nil && !counters {
		clearPolicyCounters(stmts)
	}
	if err == nil && only != "" {
		var keep []iptext.Stmt
		for _, s := range stmts {
			if s.Table == only {
				keep = append(keep, s)
			}
		}
		stmts = keep
	}
	if err != nil {
		return restoreErr(prog, err, stdio)
	}
	st, err := openStore(statePath, f, stdio)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "%s: %v\n", prog, err)
		return 1
	}
	if st == nil && !test {
		return noState(prog, stdio)
	}
	rs := ruleset.New(f)
	if st != nil {
		defer st.Close()
		if rs, err = st.Ruleset(f); err != nil {
			fmt.Fprintf(stdio.Stderr, "%s: %v\n", prog, err)
			return 1
		}
	}
	if err := ApplyRestore(rs, stmts, RestoreOptions{NoFlush: noflush}); err != nil {
		return restoreErr(prog, err, stdio)
	}
	if test || st == nil {
		return 0
	}
	if err := st.Commit(f, rs, nil); err != nil {
		fmt.Fprintf(stdio.Stderr, "%s: %v\n", prog, err)
		return 1
	}
	return 0
}

func restoreErr(prog string, err error, stdio IO) int {
	e, ok := err.(*iptext.Error)
	if !ok {
		fmt.Fprintf(stdio.Stderr, "%s: %v\n", prog, err)
		return 1
	}
	switch e.Style {
	case iptext.StylePlain:
		msg := strings.TrimSuffix(e.Msg, " Run `dmesg' for more information.")
		if msg == "" {
			fmt.Fprintf(stdio.Stderr, "%s: line %d failed\n", prog, e.Line)
		} else {
			fmt.Fprintf(stdio.Stderr, "%s: line %d failed: %s\n", prog, e.Line, msg)
		}
		return 1
	case iptext.StyleTool:
		fmt.Fprintf(stdio.Stderr, "%s: %s\n", prog, e.Msg)
		return 1
	}
	fmt.Fprintf(stdio.Stderr, "%s %s: %s\n", prog, iptext.Version, e.Msg)
	if e.Line > 0 {
		fmt.Fprintf(stdio.Stderr, "Error occurred at line: %d\n", e.Line)
	}
	fmt.Fprintf(stdio.Stderr, "Try `%s -h' or '%s --help' for more information.\n", prog, prog)
	if e.Exit == 0 {
		return 1
	}
	return e.Exit
}

func helpText(prog string) string {
	return fmt.Sprintf(`%s %s

Usage: %s -[ACD] chain rule-specification [options]
       %s -I chain [rulenum] rule-specification [options]
       %s -R chain rulenum rule-specification [options]
       %s -D chain rulenum [options]
       %s -[LS] [chain [rulenum]] [options]
       %s -[FZ] [chain] [options]
       %s -[NX] chain
       %s -E old-chain-name new-chain-name
       %s -P chain target [options]
       %s -h (print this help information)

rampart: this %s acts on the state file given by --state FILE or $RAMPART_STATE,
else on the kernel.
`, prog, iptext.Version, prog, prog, prog, prog, prog, prog, prog, prog, prog, prog, prog)
}
