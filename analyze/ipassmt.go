package analyze

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/rampartfw/rampart/ruleset"
)

// IPAssignment says which source addresses may arrive on which interface,
// in the format of fffuu's --ipassmt files (Diekmann et al., "Verified
// iptables firewall analysis", IFIP Networking 2016):
//
//	eth0 = [192.168.0.0/16, 10.0.0.1, 10.1.0.0-10.1.3.255]
//	eth1 = all_but_those_ips [192.168.0.0/16, 10.0.0.0/8]
//	lo   = [127.0.0.0/8]
//	ppp+ = [0.0.0.0-255.255.255.255]
//
// Items are CIDRs, ranges (first-last) or single addresses, IPv4 or IPv6
// (one family per file); whitespace and newlines are free, "#" starts a
// comment (an extension). A name ending in "+" is a wildcard for every
// interface with that prefix; "+" alone names every interface.
//
// The service matrix reads it as spoofing protection (the assumption under
// which fffuu rewrites -i into source ranges): a packet arriving on an
// interface has a source address in that interface's ranges. An interface
// takes the most specific entry naming it (its own name, else the longest
// wildcard); an interface no entry names may carry any source, so
// "+ = []" declares that no other interface exists.
type IPAssignment struct {
	// File is where the assignment came from (for messages).
	File string
	// Family is the family of the addresses, 0 when no entry has one.
	Family ruleset.Family
	// Entries in file order.
	Entries []IPAssmtEntry
}

// IPAssmtEntry is one line of an assignment.
type IPAssmtEntry struct {
	// Iface is the interface name, or a wildcard ending in "+".
	Iface string
	// Negated is set for "all_but_those_ips": the interface carries every
	// address but the listed ones.
	Negated bool
	// Items are the listed addresses as written (normalized: a CIDR's
	// host bits cleared).
	Items []string
	// Line is the line of the interface name.
	Line int
	set  ivs // the listed addresses
}

// DefaultIPAssignment is what fffuu assumes without an --ipassmt file:
// only lo is known, carrying the loopback addresses.
func DefaultIPAssignment(fam ruleset.Family) *IPAssignment {
	p := netip.MustParsePrefix("127.0.0.0/8")
	if fam == ruleset.IPv6 {
		p = netip.MustParsePrefix("::1/128")
	}
	return &IPAssignment{File: "(default)", Family: fam, Entries: []IPAssmtEntry{
		{Iface: "lo", Items: []string{p.String()}, Line: 0, set: prefixIvs(p)},
	}}
}

// String writes the entry as the file does.
func (e *IPAssmtEntry) String() string {
	s := e.Iface + " = "
	if e.Negated {
		s += "all_but_those_ips "
	}
	return s + "[" + strings.Join(e.Items, ", ") + "]"
}

// allowed returns the entry's addresses within full.
func (e *IPAssmtEntry) allowed(full ivs) ivs {
	if e.Negated {
		return full.sub(e.set)
	}
	return full.inter(e.set)
}

// lookup returns the entry that governs the interfaces an alphabet symbol
// stands for, or nil when they may carry any source.
func (a *IPAssignment) lookup(s ifaceSym) *IPAssmtEntry {
	var best *IPAssmtEntry
	wild := func(name string) {
		for i := range a.Entries {
			e := &a.Entries[i]
			if !strings.HasSuffix(e.Iface, "+") {
				continue
			}
			p := e.Iface[:len(e.Iface)-1]
			if strings.HasPrefix(name, p) && (best == nil || len(p) > len(best.Iface)-1) {
				best = e
			}
		}
	}
	switch s.kind {
	case ifExact:
		for i := range a.Entries {
			if a.Entries[i].Iface == s.name {
				return &a.Entries[i]
			}
		}
		wild(s.name)
	case ifWild:
		wild(s.name)
	case ifOther:
		// only "+" names an interface no other pattern names
		for i := range a.Entries {
			if a.Entries[i].Iface == "+" {
				return &a.Entries[i]
			}
		}
	}
	return best
}

// ipassmtLexer splits an assignment file into tokens with positions.
type ipassmtLexer struct {
	file      string
	src       string
	pos       int
	line, col int
}

type ipassmtTok struct {
	text      string
	line, col int
}

func (l *ipassmtLexer) next() (ipassmtTok, bool) {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '\n':
			l.pos++
			l.line++
			l.col = 1
		case c == ' ' || c == '\t' || c == '\r':
			l.pos++
			l.col++
		case c == '#':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		default:
			t := ipassmtTok{line: l.line, col: l.col}
			if strings.IndexByte("=[],", c) >= 0 {
				t.text = string(c)
				l.pos++
				l.col++
				return t, true
			}
			start := l.pos
			for l.pos < len(l.src) && strings.IndexByte(" \t\r\n#=[],", l.src[l.pos]) < 0 {
				l.pos++
			}
			l.col += l.pos - start
			t.text = l.src[start:l.pos]
			return t, true
		}
	}
	return ipassmtTok{line: l.line, col: l.col}, false
}

func (l *ipassmtLexer) errorf(t ipassmtTok, format string, args ...any) error {
	return fmt.Errorf("%s:%d:%d: %s", l.file, t.line, t.col, fmt.Sprintf(format, args...))
}

// ParseIPAssignment reads an --ipassmt file. Errors name file:line:col
// and the offending token.
func ParseIPAssignment(name string, data []byte) (*IPAssignment, error) {
	l := &ipassmtLexer{file: name, src: string(data), line: 1, col: 1}
	a := &IPAssignment{File: name}
	seen := map[string]int{}
	famOf := func(t ipassmtTok, addr netip.Addr) error {
		f := ruleset.IPv4
		if addr.Is6() {
			f = ruleset.IPv6
		}
		if a.Family == 0 {
			a.Family = f
		} else if a.Family != f {
			return l.errorf(t, "%s: the file mixes IPv4 and IPv6 addresses", t.text)
		}
		return nil
	}
	for {
		t, ok := l.next()
		if !ok {
			break
		}
		if !validIfaceName(t.text) {
			return nil, l.errorf(t, "%q: interface name expected", t.text)
		}
		if prev, dup := seen[t.text]; dup {
			return nil, l.errorf(t, "%s: interface assigned twice (first on line %d)", t.text, prev)
		}
		seen[t.text] = t.line
		e := IPAssmtEntry{Iface: t.text, Line: t.line}
		eq, ok := l.next()
		if !ok || eq.text != "=" {
			return nil, l.errorf(eq, "%q: \"=\" expected after %s", eq.text, e.Iface)
		}
		open, ok := l.next()
		if ok && open.text == "all_but_those_ips" {
			e.Negated = true
			open, ok = l.next()
		}
		if !ok || open.text != "[" {
			return nil, l.errorf(open, "%q: \"[\" expected", open.text)
		}
		for first := true; ; first = false {
			it, ok := l.next()
			if !ok {
				return nil, l.errorf(it, "end of file: \"]\" expected")
			}
			if it.text == "]" && first {
				break
			}
			if it.text == "," || it.text == "]" || it.text == "[" || it.text == "=" {
				return nil, l.errorf(it, "%q: address expected", it.text)
			}
			lo, hi, norm, err := parseAssmtItem(it.text)
			if err != nil {
				return nil, l.errorf(it, "%s: %v", it.text, err)
			}
			if err := famOf(it, lo); err != nil {
				return nil, err
			}
			e.Items = append(e.Items, norm)
			e.set = e.set.union(ivs{{addrVal(lo), addrVal(hi)}})
			sep, ok := l.next()
			if !ok {
				return nil, l.errorf(sep, "end of file: \"]\" expected")
			}
			if sep.text == "]" {
				break
			}
			if sep.text != "," {
				return nil, l.errorf(sep, "%q: \",\" or \"]\" expected", sep.text)
			}
		}
		a.Entries = append(a.Entries, e)
	}
	return a, nil
}

// validIfaceName accepts what iptables accepts for -i: 1 to 15 bytes, no
// whitespace or quotes; "+" only at the end.
func validIfaceName(s string) bool {
	if s == "" || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"'/=[],#", c) >= 0 || (c == '+' && i != len(s)-1) {
			return false
		}
	}
	return s != "all_but_those_ips"
}

// parseAssmtItem reads a CIDR, a first-last range or one address.
func parseAssmtItem(s string) (lo, hi netip.Addr, norm string, err error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return lo, hi, "", fmt.Errorf("bad CIDR")
		}
		p = p.Masked()
		r := prefixIvs(p)[0]
		fam := 4
		if p.Addr().Is6() {
			fam = 6
		}
		return p.Addr(), valAddr(r.hi, fam), p.String(), nil
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		a, err1 := netip.ParseAddr(s[:i])
		b, err2 := netip.ParseAddr(s[i+1:])
		if err1 != nil || err2 != nil || a.Zone() != "" || b.Zone() != "" {
			return lo, hi, "", fmt.Errorf("bad address range")
		}
		if a.Is4() != b.Is4() {
			return lo, hi, "", fmt.Errorf("range mixes IPv4 and IPv6")
		}
		if b.Less(a) {
			return lo, hi, "", fmt.Errorf("range ends before it starts")
		}
		return a, b, a.String() + "-" + b.String(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return lo, hi, "", fmt.Errorf("bad address")
	}
	return a, a, a.String(), nil
}
