package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// TCPOptStrip is the TCPOPTSTRIP target (-t mangle, -p tcp): TCP options
// whose kind is in Strip are overwritten with NOPs.
type TCPOptStrip struct {
	Strip [4]uint64 // bit i: option kind i
}

var tcpOptNames = []struct {
	name string
	kind uint8
}{{"wscale", 3}, {"mss", 2}, {"sack-permitted", 4}, {"sack", 5}, {"timestamp", 8}, {"md5", 19}}

func init() {
	Register(&Def{Name: "TCPOPTSTRIP", Target: true, New: func() Parser { return &TCPOptStrip{} },
		Options: []Option{{Name: "strip-options", Arg: ReqArg}}})
}

// Name implements ruleset.Extension.
func (t *TCPOptStrip) Name() string { return "TCPOPTSTRIP" }

func (t *TCPOptStrip) has(k uint8) bool { return t.Strip[k>>6]&(1<<(k&63)) != 0 }

// Parse implements Parser.
func (t *TCPOptStrip) Parse(_ *Context, _, arg string, _ bool) error {
	for _, w := range strings.Split(arg, ",") {
		kind := -1
		for _, n := range tcpOptNames {
			if n.name == w {
				kind = int(n.kind)
			}
		}
		if kind < 0 {
			v, rest, ok := tgStrtoul(w)
			if !ok || rest != "" || v > 255 {
				return Errorf("Bad TCP option value \"%s\"", w)
			}
			kind = int(v)
		}
		if kind < 2 {
			return Errorf("Option value may not be 0 or 1")
		}
		k := uint8(kind)
		if t.has(k) {
			return Errorf("Option \"%s\" already specified", w)
		}
		t.Strip[k>>6] |= 1 << (k & 63)
	}
	return nil
}

// Final implements Parser: the kernel wants the mangle table and -p tcp.
func (t *TCPOptStrip) Final(ctx *Context) (ruleset.Extension, error) {
	if err := tgKernelPlace(ctx, "mangle"); err != nil {
		return nil, err
	}
	if ctx.Rule.Proto != pkt.ProtoTCP || ctx.Rule.Inv&ruleset.InvProto != 0 {
		return nil, KernelInval()
	}
	return t, nil
}

func (t *TCPOptStrip) list(b *strings.Builder, numeric bool) {
	sep := ""
	for i := 0; i < 256; i++ {
		if !t.has(uint8(i)) {
			continue
		}
		name := ""
		if !numeric {
			for _, n := range tcpOptNames {
				if int(n.kind) == i {
					name = n.name
				}
			}
		}
		if name == "" {
			name = Utoa(uint64(i))
		}
		b.WriteString(sep + name)
		sep = ","
	}
}

func (t *TCPOptStrip) empty() bool { return t.Strip == [4]uint64{} }

// Save implements ruleset.Extension.
func (t *TCPOptStrip) Save(b *strings.Builder, _ ruleset.Fmt) {
	if t.empty() {
		return
	}
	b.WriteString(" --strip-options ")
	t.list(b, true)
}

// Print implements ruleset.Extension.
func (t *TCPOptStrip) Print(b *strings.Builder, f ruleset.Fmt) {
	if t.empty() {
		return
	}
	b.WriteString(" TCPOPTSTRIP options ")
	t.list(b, f.Numeric)
}

// Act implements pkt.Actor as tcpoptstrip_mangle_packet: in a whole,
// first-fragment TCP header each option to strip becomes NOPs (kind 1)
// with the checksum updated; the rule goes on.
func (t *TCPOptStrip) Act(c *pkt.Ctx) pkt.Verdict {
	th := tcpHeader(c)
	if th == nil {
		return pkt.Continue
	}
	hl := int(th[12]>>4) * 4
	if hl < 20 || hl > len(th) {
		return pkt.Continue
	}
	for i := 20; i < hl; {
		k := th[i]
		ol := 1
		if k > 1 {
			if i+1 >= hl || th[i+1] < 2 {
				break
			}
			ol = int(th[i+1])
		}
		if t.has(k) && i+ol <= hl {
			for j := i; j < i+ol; j++ {
				// Update the checksum one 16-bit word at a time.
				w := j &^ 1
				old := uint16(th[w])<<8 | uint16(th[w+1])
				th[j] = 1
				csumReplace16(th, 16, old, uint16(th[w])<<8|uint16(th[w+1]))
			}
		}
		i += ol
	}
	return pkt.Continue
}
