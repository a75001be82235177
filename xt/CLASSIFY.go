package xt

import (
	"strconv"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Classify is the CLASSIFY target: set skb->priority to a tc class
// MAJOR:MINOR (FORWARD, OUTPUT and POSTROUTING).
type Classify struct {
	Priority uint32
	set      bool
}

func init() {
	Register(&Def{Name: "CLASSIFY", Target: true, Options: []Option{{Name: "set-class", Arg: ReqArg}},
		New: func() Parser { return &Classify{} }})
}

// Name implements ruleset.Extension.
func (t *Classify) Name() string { return "CLASSIFY" }

// classifyScanHex is sscanf's %x: white space, a sign, an optional 0x and
// hex digits (at least one); the value as strtoul gives it, cut to 32 bits.
func classifyScanHex(s string) (v uint32, rest string, ok bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] >= '\t' && s[i] <= '\r') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if i+2 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && isHex(s[i+2]) {
		i += 2
	}
	j := i
	var x uint64
	over := false
	for ; j < len(s) && isHex(s[j]); j++ {
		d, _ := strconv.ParseUint(s[j:j+1], 16, 8)
		if x > (^uint64(0)-d)/16 {
			over = true
		}
		x = x*16 + d
	}
	if j == i {
		return 0, s, false
	}
	if over {
		x = ^uint64(0)
	}
	if neg {
		x = -x
	}
	return uint32(x), s[j:], true
}

// Parse implements Parser: sscanf(arg, "%x:%x"), trailing text ignored.
func (t *Classify) Parse(_ *Context, _, arg string, _ bool) error {
	bad := Errorf("Bad class value \"%s\"", arg)
	maj, rest, ok := classifyScanHex(arg)
	if !ok || !strings.HasPrefix(rest, ":") {
		return bad
	}
	min, _, ok := classifyScanHex(rest[1:])
	if !ok {
		return bad
	}
	t.Priority = (maj<<16)&0xFFFF0000 | min&0xFFFF
	t.set = true
	return nil
}

// Final implements Parser.
func (t *Classify) Final(ctx *Context) (ruleset.Extension, error) {
	if !t.set {
		return nil, Errorf("CLASSIFY: option \"--set-class\" must be specified\n")
	}
	if err := tgKernelPlace(ctx, "", "FORWARD", "OUTPUT", "POSTROUTING"); err != nil {
		return nil, err
	}
	return t, nil
}

func classifyHex(v uint32, width int) string {
	s := strconv.FormatUint(uint64(v), 16)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

// Save implements ruleset.Extension.
func (t *Classify) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" --set-class " + classifyHex(t.Priority>>16, 4) + ":" + classifyHex(t.Priority&0xFFFF, 4))
}

// Print implements ruleset.Extension.
func (t *Classify) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" CLASSIFY set " + classifyHex(t.Priority>>16, 0) + ":" + classifyHex(t.Priority&0xFFFF, 0))
}

// Act implements pkt.Actor as xt_CLASSIFY's classify_tg does: it sets
// skb->priority to Priority and the packet goes on. Nothing in rampart's
// model reads the priority (it selects a tc class on the way out), so it
// is not kept.
func (t *Classify) Act(*pkt.Ctx) pkt.Verdict { return pkt.Continue }
