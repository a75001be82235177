package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// StringMaxPattern is XT_STRING_MAX_PATTERN_SIZE.
const StringMaxPattern = 128

// String is the string match: a byte pattern searched in the packet
// between two offsets with a kernel textsearch algorithm.
type String struct {
	Pattern    []byte
	Algo       string
	From, To   uint16
	Inv, ICase bool

	hasString, hasHex, hasAlgo bool

	ts *stringSearch // the textsearch config, built by Final
}

func init() {
	Register(&Def{Name: "string", New: func() Parser { return &String{To: 0xFFFF} },
		Options: []Option{
			{Name: "from", Arg: ReqArg}, {Name: "to", Arg: ReqArg},
			{Name: "algo", Arg: ReqArg},
			{Name: "string", Arg: ReqArg, Invert: true},
			{Name: "hex-string", Arg: ReqArg, Invert: true},
			{Name: "icase"},
		}})
}

// Name implements ruleset.Extension.
func (m *String) Name() string { return "string" }

// parseHexString is parse_hex_string: text with |hex blocks| and \ escapes.
func parseHexString(s string) ([]byte, error) {
	if s == "" {
		return nil, Errorf("STRING must contain at least one char")
	}
	var out []byte
	hex, literal := false, false
	slen := len(s)
	at := func(i int) byte {
		if i < slen {
			return s[i]
		}
		return 0
	}
	for i := 0; i < slen; {
		if len(out) >= StringMaxPattern {
			return nil, Errorf("STRING too long \"%s\"", s)
		}
		if s[i] == '\\' && !hex {
			literal = true
		} else if s[i] == '\\' {
			return nil, Errorf("Cannot include literals in hex data")
		} else if s[i] == '|' {
			if hex {
				hex = false
			} else {
				hex = true
				for at(i+1) == ' ' {
					i++
				}
			}
			if i+1 >= slen {
				break
			}
			i++
		}
		switch {
		case literal:
			if i+1 >= slen {
				return nil, Errorf("Bad literal placement at end of string")
			}
			out = append(out, s[i+1])
			i += 2
			literal = false
		case hex:
			if i+1 >= slen {
				return nil, Errorf("Odd number of hex digits")
			}
			if i+2 >= slen {
				return nil, Errorf("Invalid hex block")
			}
			if !isHex(s[i]) {
				return nil, Errorf("Invalid hex char '%c'", s[i])
			}
			if !isHex(s[i+1]) {
				return nil, Errorf("Invalid hex char '%c'", s[i+1])
			}
			v, _ := ParseUintBase(s[i:i+2], 16, 0, 255)
			out = append(out, byte(v))
			if at(i+2) == ' ' {
				i += 3
			} else {
				i += 2
			}
		default:
			out = append(out, s[i])
			i++
		}
	}
	return out, nil
}

// Parse implements Parser.
func (m *String) Parse(_ *Context, opt, arg string, inv bool) error {
	switch opt {
	case "from", "to":
		v, ok := ParseUint(arg, 0, 0xFFFF)
		if !ok {
			return Errorf("string: bad value for option \"--%s\", or out of range (0-65535).\n", opt)
		}
		if opt == "from" {
			m.From = uint16(v)
		} else {
			m.To = uint16(v)
		}
	case "algo":
		if len(arg) > 15 {
			arg = arg[:15]
		}
		m.Algo, m.hasAlgo = arg, true
	case "string":
		if len(arg) > StringMaxPattern {
			return Errorf("STRING too long \"%s\"", arg)
		}
		m.Pattern, m.hasString, m.Inv = []byte(arg), true, inv
	case "hex-string":
		p, err := parseHexString(arg)
		if err != nil {
			return err
		}
		m.Pattern, m.hasHex, m.Inv = p, true, inv
	case "icase":
		m.ICase = true
	}
	return nil
}

// Final implements Parser.
func (m *String) Final(*Context) (ruleset.Extension, error) {
	if !m.hasString && !m.hasHex {
		return nil, Errorf("STRING match: You must specify `--string' or `--hex-string'")
	}
	if !m.hasAlgo {
		return nil, Errorf("string: option \"--algo\" must be specified\n")
	}
	if m.hasString && m.hasHex {
		return nil, Errorf("string: option \"--string\" cannot be used together with \"--hex-string\".\n")
	}
	// xt_string and textsearch_prepare: offsets in order, a non-empty
	// pattern, a known algorithm (fsm needs a token array, not text).
	if m.From > m.To || len(m.Pattern) == 0 {
		return nil, KernelInval()
	}
	switch m.Algo {
	case "bm", "kmp":
	case "fsm":
		return nil, KernelInval()
	default:
		return nil, Kernel("No such file or directory")
	}
	m.ts = new(stringSearch)
	m.ts.init(m.Pattern, m.Algo == "kmp", m.ICase)
	return m, nil
}

// stringIsHex is is_hex_string: non-printable bytes or a trailing backslash.
func stringIsHex(p []byte) bool {
	for _, c := range p {
		if c < 0x20 || c > 0x7e {
			return true
		}
	}
	return len(p) > 0 && p[len(p)-1] == '\\'
}

func (m *String) pattern() string {
	const digits = "0123456789abcdef"
	var b strings.Builder
	if stringIsHex(m.Pattern) {
		b.WriteString(" \"|")
		for _, c := range m.Pattern {
			b.WriteByte(digits[c>>4])
			b.WriteByte(digits[c&15])
		}
		b.WriteString("|\"")
		return b.String()
	}
	b.WriteString(" \"")
	for _, c := range m.Pattern {
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

// Save implements ruleset.Extension.
func (m *String) Save(b *strings.Builder, _ ruleset.Fmt) {
	if stringIsHex(m.Pattern) {
		b.WriteString(Bang(m.Inv) + " --hex-string")
	} else {
		b.WriteString(Bang(m.Inv) + " --string")
	}
	b.WriteString(m.pattern() + " --algo " + m.Algo)
	if m.From != 0 {
		b.WriteString(" --from " + Utoa(uint64(m.From)))
	}
	if m.To != 0xFFFF {
		b.WriteString(" --to " + Utoa(uint64(m.To)))
	}
	if m.ICase {
		b.WriteString(" --icase")
	}
}

// Print implements ruleset.Extension.
func (m *String) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" STRING match " + BangL(m.Inv) + m.pattern() + " ALGO name " + m.Algo)
	if m.From != 0 {
		b.WriteString(" FROM " + Utoa(uint64(m.From)))
	}
	if m.To != 0xFFFF {
		b.WriteString(" TO " + Utoa(uint64(m.To)))
	}
	if m.ICase {
		b.WriteString(" ICASE")
	}
}

// kToUpper and kToLower are the kernel's toupper/tolower (linux/ctype.h),
// which treat bytes 0xC0-0xFE as Latin-1 letters: 0xDF-0xF6 and 0xF8-0xFF
// are lower case (0xDF becomes 0xBF, 0xFF becomes 0xDF).
func kToUpper(c byte) byte {
	if c >= 'a' && c <= 'z' || c >= 0xDF && c != 0xF7 {
		return c - 32
	}
	return c
}

func kToLower(c byte) byte {
	if c >= 'A' && c <= 'Z' || c >= 0xC0 && c <= 0xDE && c != 0xD7 {
		return c + 32
	}
	return c
}

// stringSearch is a prepared textsearch config (ts_bm or ts_kmp).
type stringSearch struct {
	kmp, icase bool
	n          int
	pat        [StringMaxPattern]byte  // upper-cased with icase
	bad        [256]int32              // ts_bm bad_shift
	good       [StringMaxPattern]int32 // ts_bm good_shift
	prefix     [StringMaxPattern]int32 // ts_kmp prefix_tbl
}

func (t *stringSearch) init(pattern []byte, kmp, icase bool) {
	t.kmp, t.icase, t.n = kmp, icase, len(pattern)
	for i, b := range pattern {
		if icase {
			b = kToUpper(b)
		}
		t.pat[i] = b
	}
	n := t.n
	if kmp {
		// ts_kmp's compute_prefix_tbl (on the pattern as given, with
		// toupper in the comparisons).
		up := func(b byte) byte {
			if icase {
				return kToUpper(b)
			}
			return b
		}
		k := 0
		for q := 1; q < n; q++ {
			for k > 0 && up(pattern[k]) != up(pattern[q]) {
				k = int(t.prefix[k-1])
			}
			if up(pattern[k]) == up(pattern[q]) {
				k++
			}
			t.prefix[q] = int32(k)
		}
		return
	}
	// ts_bm's compute_prefix_tbl.
	for i := range t.bad {
		t.bad[i] = int32(n)
	}
	for i := 0; i < n-1; i++ {
		t.bad[t.pat[i]] = int32(n - 1 - i)
		if icase {
			t.bad[kToLower(t.pat[i])] = int32(n - 1 - i)
		}
	}
	t.good[0] = 1
	for i := 1; i < n; i++ {
		t.good[i] = int32(n)
	}
	for i, g := n-1, 1; i > 0; i, g = i-1, g+1 {
		for j := i - 1; j >= 1-g; j-- {
			if t.subpattern(i, j, g) {
				t.good[g] = int32(n - j - g)
				break
			}
		}
	}
}

// subpattern is ts_bm's subpattern.
func (t *stringSearch) subpattern(i, j, g int) bool {
	x, y := i+g-1, j+g-1
	for {
		eq := t.pat[x] == t.pat[y]
		x, y = x-1, y-1
		if !eq {
			return false
		}
		if y < 0 {
			return true
		}
		g--
		if g == 0 {
			return t.pat[i-1] != t.pat[j-1]
		}
	}
}

// find returns the offset of the first occurrence the algorithm finds in
// text (one block), or -1.
func (t *stringSearch) find(text []byte) int {
	n := t.n
	if t.kmp {
		q := 0
		for i, c := range text {
			if t.icase {
				c = kToUpper(c)
			}
			for q > 0 && t.pat[q] != c {
				q = int(t.prefix[q-1])
			}
			if t.pat[q] == c {
				q++
			}
			if q == n {
				return i + 1 - n
			}
		}
		return -1
	}
	for shift := n - 1; shift < len(text); {
		i := 0
		for ; i < n; i++ {
			c := text[shift-i]
			if t.icase {
				c = kToUpper(c)
			}
			if c != t.pat[n-1-i] {
				break
			}
		}
		if i == n {
			return shift + 1 - n
		}
		bs := int(t.bad[text[shift-i]])
		shift = max(shift-i+bs, shift+int(t.good[i]))
	}
	return -1
}

// Match implements pkt.Matcher as xt_string's string_mt does with
// skb_find_text: the search runs over the packet from the IP header on
// (skb->data at the hooks), starting at --from, and matches when the first
// occurrence the algorithm finds ends by --to. The packet is taken to be
// one linear block; in the kernel a non-linear skb is searched block by
// block, and bm then misses occurrences that straddle two blocks (kmp
// does not).
func (m *String) Match(c *pkt.Ctx) bool {
	ts := m.ts
	if ts == nil {
		var local stringSearch
		local.init(m.Pattern, m.Algo == "kmp", m.ICase)
		ts = &local
	}
	raw := c.P.Raw
	from, to := int(m.From), int(m.To)
	found := false
	if from < to && from < len(raw) && ts.n > 0 {
		if off := ts.find(raw[from:]); off >= 0 && off+ts.n <= to-from {
			found = true
		}
	}
	return found != m.Inv
}
