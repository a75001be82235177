package iptext

import (
	"fmt"
	"strings"

	"github.com/rampartfw/rampart/ruleset"
)

// ListOptions are the -L flags.
type ListOptions struct {
	Verbose     bool // -v
	Numeric     bool // -n
	Exact       bool // -x
	LineNumbers bool // --line-numbers
}

// List prints chains as iptables -L does: every chain of the table when
// chain is "", else that chain; with ruleNum > 0 only that rule's line.
func List(t *ruleset.Table, f ruleset.Family, chain string, ruleNum int, o ListOptions) (string, error) {
	var b strings.Builder
	chains := t.Ordered()
	if chain != "" {
		c := t.Chain(chain)
		if c == nil {
			return "", ruleset.ErrNoChain
		}
		chains = []*ruleset.Chain{c}
	}
	for i, c := range chains {
		if ruleNum > 0 {
			if ruleNum <= len(c.Rules) {
				listRule(&b, c.Rules[ruleNum-1], ruleNum, f, o)
			}
			continue
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		listHeader(&b, t, c, o)
		for n, r := range c.Rules {
			listRule(&b, r, n+1, f, o)
		}
	}
	return b.String(), nil
}

func listHeader(b *strings.Builder, t *ruleset.Table, c *ruleset.Chain, o ListOptions) {
	fmt.Fprintf(b, "Chain %s", c.Name)
	if c.Builtin() {
		fmt.Fprintf(b, " (policy %s", c.Policy)
		if o.Verbose {
			b.WriteByte(' ')
			printNum(b, c.Counters.Packets, o, true)
			b.WriteString("packets, ")
			printNum(b, c.Counters.Bytes, o, true)
			b.WriteString("bytes")
		}
		b.WriteString(")\n")
	} else {
		fmt.Fprintf(b, " (%d references)\n", t.References(c.Name))
	}
	if o.LineNumbers {
		fmt.Fprintf(b, "%-4s ", "num")
	}
	if o.Verbose {
		if o.Exact {
			fmt.Fprintf(b, "%8s %10s ", "pkts", "bytes")
		} else {
			fmt.Fprintf(b, "%5s %5s ", "pkts", "bytes")
		}
	}
	fmt.Fprintf(b, "%-9s ", "target")
	b.WriteString(" prot opt")
	if o.Verbose {
		fmt.Fprintf(b, " %-6s ", "in")
		fmt.Fprintf(b, "%-6s ", "out")
	}
	fmt.Fprintf(b, " %-19s ", "source")
	fmt.Fprintf(b, " %-19s ", "destination")
	b.WriteByte('\n')
}

// printNum is xtables_print_num.
func printNum(b *strings.Builder, n uint64, o ListOptions, notable bool) {
	if o.Exact {
		if notable {
			fmt.Fprintf(b, "%d ", n)
		} else {
			fmt.Fprintf(b, "%8d ", n)
		}
		return
	}
	w := func(format, notab string, v uint64) {
		if notable {
			fmt.Fprintf(b, notab, v)
		} else {
			fmt.Fprintf(b, format, v)
		}
	}
	if n <= 99999 {
		w("%5d ", "%d ", n)
		return
	}
	for _, unit := range []string{"K", "M", "G"} {
		n = (n + 500) / 1000
		if n <= 9999 {
			w("%4d"+unit+" ", "%d"+unit+" ", n)
			return
		}
	}
	n = (n + 500) / 1000
	w("%4dT ", "%dT ", n)
}

func listRule(b *strings.Builder, r *ruleset.Rule, num int, f ruleset.Family, o ListOptions) {
	if o.LineNumbers {
		fmt.Fprintf(b, "%-4d ", num)
	}
	if o.Verbose {
		printNum(b, r.Counters.Packets, o, false)
		printNum(b, r.Counters.Bytes, o, false)
	}
	tname := r.TargetName()
	if ln, ok := r.Target.(interface{ ListName() string }); ok {
		// An alias target (NOTRACK) lists under its real name (CT).
		tname = ln.ListName()
	}
	fmt.Fprintf(b, "%-9s ", tname)
	if r.Inv&ruleset.InvProto != 0 {
		b.WriteByte('!')
	} else {
		b.WriteByte(' ')
	}
	// iptables: printf("%-4s ", pname): long names still get their space.
	if o.Numeric {
		fmt.Fprintf(b, "%-4d ", r.Proto)
	} else if n := protoNameLookup(r.Proto); n != "" {
		fmt.Fprintf(b, "%-4s ", n)
	} else {
		fmt.Fprintf(b, "%-4d ", r.Proto)
	}
	// Fragment column.
	if r.Inv&ruleset.InvFrag != 0 {
		b.WriteByte('!')
	} else {
		b.WriteByte('-')
	}
	if r.Frag {
		b.WriteByte('f')
	} else {
		b.WriteByte('-')
	}
	b.WriteByte(' ')
	if o.Verbose {
		any := "any"
		if o.Numeric {
			any = "*"
		}
		in, out := r.InIface, r.OutIface
		if in == "" {
			in = any
		}
		if out == "" {
			out = any
		}
		if r.Inv&ruleset.InvIn != 0 {
			in = "!" + in
		}
		if r.Inv&ruleset.InvOut != 0 {
			out = "!" + out
		}
		fmt.Fprintf(b, " %-6s %-6s ", in, out)
	}
	listAddr(b, r.Src, r.Inv&ruleset.InvSrc != 0, f, o)
	listAddr(b, r.Dst, r.Inv&ruleset.InvDst != 0, f, o)
	if r.Goto {
		b.WriteString("[goto] ")
	}
	fm := ruleset.Fmt{Family: f, Numeric: o.Numeric, Proto: r.Proto}
	for _, m := range r.Matches {
		m.Print(b, fm)
	}
	if r.Target != nil {
		r.Target.Print(b, fm)
	}
	b.WriteByte('\n')
}

func listAddr(b *strings.Builder, am ruleset.AddrMask, inv bool, f ruleset.Family, o ListOptions) {
	if inv {
		b.WriteByte('!')
	} else {
		b.WriteByte(' ')
	}
	fmt.Fprintf(b, "%-19s ", AddrString(am, f, o.Numeric))
}

// AddrString formats an address/mask pair as the -L columns show it.
// Without -n, ip6tables prints "anywhere" for the address :: whatever
// the mask (::/64, ::/128); iptables looks at the mask.
func AddrString(am ruleset.AddrMask, f ruleset.Family, numeric bool) string {
	if am.IsAny() || !am.Addr.IsValid() || (!numeric && f == ruleset.IPv6 && am.Addr.IsUnspecified()) {
		if !numeric {
			return "anywhere"
		}
		if f == ruleset.IPv6 {
			return "::/0"
		}
		return "0.0.0.0/0"
	}
	name := am.Addr.String()
	if !numeric {
		if h := hostName(am.Addr); h != "" {
			name = h
		}
	}
	n := am.Bits()
	switch {
	case n == f.AddrBits():
		return name
	case n >= 0:
		return fmt.Sprintf("%s/%d", name, n)
	default:
		return name + "/" + am.Mask.String()
	}
}
