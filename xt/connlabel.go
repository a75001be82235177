package xt

import (
	"bufio"
	"os"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// ConnlabelFile is libnetfilter_conntrack's label map ("BIT NAME" lines).
var ConnlabelFile = "/etc/xtables/connlabel.conf"

// Connlabel is the connlabel match: the connection has label Bit (or,
// with --set, gets it and matches).
type Connlabel struct {
	Bit    uint16
	Invert bool
	Set    bool
	hasLbl bool
}

func init() {
	Register(&Def{Name: "connlabel", New: func() Parser { return &Connlabel{} },
		Options: []Option{
			{Name: "label", Arg: ReqArg, Invert: true},
			{Name: "set"},
		}})
}

// Name implements ruleset.Extension.
func (m *Connlabel) Name() string { return "connlabel" }

// connlabelMap reads the label map; ok is false when the file cannot be
// opened (nfct_labelmap_new fails with errno set).
func connlabelMap() (names map[int]string, bits map[string]int, ok bool) {
	f, err := os.Open(ConnlabelFile)
	if err != nil {
		return nil, nil, false
	}
	defer f.Close()
	names, bits = map[int]string{}, map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), " \t")
		if line == "" || line[0] == '#' {
			continue
		}
		fs := strings.Fields(line)
		if len(fs) < 2 {
			continue
		}
		v, ok := ParseUint(fs[0], 0, 127)
		if !ok {
			continue
		}
		if _, dup := names[int(v)]; !dup {
			names[int(v)] = fs[1]
		}
		if _, dup := bits[fs[1]]; !dup {
			bits[fs[1]] = int(v)
		}
	}
	return names, bits, true
}

// connlabelValue is connlabel_value_parse: strtoul base 0 of the whole
// string, returned as a C int (so values of 2^31 and more are negative).
func connlabelValue(s string) int32 {
	i := 0
	for i < len(s) && isSpaceC(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	base := uint64(10)
	if i+2 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && isHex(s[i+2]) {
		base, i = 16, i+2
	} else if i < len(s) && s[i] == '0' {
		base = 8
	}
	j := i
	var v uint64
	over := false
	for j < len(s) && digitOK(s[j], int(base)) {
		d := uint64(markDigitVal(s[j]))
		if v > (^uint64(0)-d)/base {
			over = true
		}
		v = v*base + d
		j++
	}
	if s == "" || j == i || j != len(s) {
		return -1
	}
	if over {
		v = ^uint64(0)
	} else if neg {
		v = -v
	}
	return int32(uint32(v))
}

// Parse implements Parser.
func (m *Connlabel) Parse(ctx *Context, opt, arg string, inv bool) error {
	if opt == "set" {
		m.Set = true
		return nil
	}
	if arg == "" {
		return Errorf("Argument must have a minimum length of 1 characters\n")
	}
	tmp := int(connlabelValue(arg))
	if tmp < 0 {
		if _, bits, ok := connlabelMap(); ok {
			if b, found := bits[arg]; found {
				tmp = b
			}
		} else if ctx.Warn != nil {
			ctx.Warn("Warning: cannot open " + ConnlabelFile + ": No such file or directory")
		}
	}
	if tmp < 0 {
		return Errorf("label '%s' not found or invalid value", arg)
	}
	m.Bit, m.Invert, m.hasLbl = uint16(tmp), inv, true
	return nil
}

// Final implements Parser; the kernel's nf_connlabels_get refuses bits
// past the 128 a connection has.
func (m *Connlabel) Final(*Context) (ruleset.Extension, error) {
	if !m.hasLbl {
		return nil, Errorf("connlabel: option \"--label\" must be specified\n")
	}
	if m.Bit >= 128 {
		return nil, Kernel("Numerical result out of range")
	}
	return m, nil
}

func connlabelName(bit uint16) string {
	names, _, ok := connlabelMap()
	if !ok {
		return ""
	}
	return names[int(bit)]
}

// Save implements ruleset.Extension.
func (m *Connlabel) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(Bang(m.Invert) + " --label \"")
	if n := connlabelName(m.Bit); n != "" {
		b.WriteString(n)
	} else {
		b.WriteString(Utoa(uint64(m.Bit)))
	}
	b.WriteByte('"')
	if m.Set {
		b.WriteString(" --set")
	}
}

// Print implements ruleset.Extension.
func (m *Connlabel) Print(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(" connlabel")
	if m.Invert {
		b.WriteString(" !")
	}
	if n := connlabelName(m.Bit); n != "" && !f.Numeric {
		b.WriteString(" '" + n + "'")
	} else {
		b.WriteString(" " + Utoa(uint64(m.Bit)))
	}
	if m.Set {
		b.WriteString(" set")
	}
}

// Match implements pkt.Matcher as xt_connlabel's connlabel_mt does on
// c.Conn.Labels: no conntrack entry gives the inversion; a set bit
// matches; with --set a clear bit is set and matches. Approximation: the
// kernel gives entries created before any label user was loaded no label
// extension (they then always give the inversion); rampart treats every
// entry as having one.
func (m *Connlabel) Match(c *pkt.Ctx) bool {
	if c.Conn == nil {
		return m.Invert
	}
	w, bit := &c.Conn.Labels[m.Bit/64&1], uint64(1)<<(m.Bit%64)
	if *w&bit != 0 {
		return !m.Invert
	}
	if m.Set {
		*w |= bit
		return !m.Invert
	}
	return m.Invert
}
