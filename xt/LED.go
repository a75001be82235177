package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// LED is the LED target: blink the LED trigger "netfilter-ID" per packet.
// This machine's kernel lacks xt_LED (iptables warns and the kernel
// refuses with ENOENT); rampart accepts the rule as a kernel with the
// module does.
type LED struct {
	ID          string
	Delay       uint32 // ms; 0xFFFFFFFF is "inf"
	AlwaysBlink bool
}

func init() {
	Register(&Def{Name: "LED", Target: true, New: func() Parser { return &LED{} },
		Options: []Option{{Name: "led-trigger-id", Arg: ReqArg}, {Name: "led-delay", Arg: ReqArg}, {Name: "led-always-blink"}}})
}

// Name implements ruleset.Extension.
func (t *LED) Name() string { return "LED" }

// Parse implements Parser.
func (t *LED) Parse(_ *Context, opt, arg string, _ bool) error {
	switch opt {
	case "led-trigger-id":
		if len(arg) > 16 {
			return Errorf("Argument must have a maximum length of 16 characters\n")
		}
		t.ID = arg
	case "led-delay":
		if arg == "inf" {
			t.Delay = 0xFFFFFFFF
			return nil
		}
		v, rest, ok := tgStrtoul(arg)
		if !ok || rest != "" || v > 0xFFFFFFFF {
			return Errorf("Delay value must be within range 0..4294967295")
		}
		t.Delay = uint32(v)
	case "led-always-blink":
		t.AlwaysBlink = true
	}
	return nil
}

// Final implements Parser.
func (t *LED) Final(*Context) (ruleset.Extension, error) {
	if t.ID == "" {
		return nil, Errorf("LED: option \"--led-trigger-id\" must be specified\n")
	}
	return t, nil
}

// Save implements ruleset.Extension.
func (t *LED) Save(b *strings.Builder, _ ruleset.Fmt) {
	// iptables prints the id in double quotes as is; quotes and
	// backslashes inside are escaped here so that the line reads back.
	b.WriteString(" --led-trigger-id \"")
	for i := 0; i < len(t.ID); i++ {
		if c := t.ID[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(t.ID[i])
	}
	b.WriteByte('"')
	if t.Delay == 0xFFFFFFFF {
		b.WriteString(" --led-delay inf")
	} else if t.Delay != 0 {
		b.WriteString(" --led-delay " + Utoa(uint64(t.Delay)))
	}
	if t.AlwaysBlink {
		b.WriteString(" --led-always-blink")
	}
}

// Print implements ruleset.Extension.
func (t *LED) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" led-trigger-id:\"" + t.ID + "\"")
	if t.Delay == 0xFFFFFFFF {
		b.WriteString(" led-delay:inf")
	} else if t.Delay != 0 {
		b.WriteString(" led-delay:" + Utoa(uint64(t.Delay)) + "ms")
	}
	if t.AlwaysBlink {
		b.WriteString(" led-always-blink")
	}
}

// Act implements pkt.Actor: a LED blinks; nothing the rules see changes.
func (t *LED) Act(*pkt.Ctx) pkt.Verdict { return pkt.Continue }
