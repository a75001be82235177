package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// IdleTimer is the IDLETIMER target (revision 1): a per-label timer,
// restarted by each packet, that notifies user space (sysfs) after
// Timeout seconds without packets.
type IdleTimer struct {
	Timeout uint32
	Label   string // at most 27 bytes, as the kernel's label[28]
	Alarm   bool
	seen    bool
	labeled bool
}

func init() {
	Register(&Def{Name: "IDLETIMER", Target: true, New: func() Parser { return &IdleTimer{} },
		Options: []Option{{Name: "timeout", Arg: ReqArg}, {Name: "label", Arg: ReqArg}, {Name: "alarm"}}})
}

// Name implements ruleset.Extension.
func (t *IdleTimer) Name() string { return "IDLETIMER" }

// Parse implements Parser.
func (t *IdleTimer) Parse(_ *Context, opt, arg string, _ bool) error {
	switch opt {
	case "timeout":
		v, err := tgUint("IDLETIMER", opt, arg, 0, 0xFFFFFFFF)
		if err != nil {
			return err
		}
		t.Timeout, t.seen = uint32(v), true
	case "label":
		if len(arg) > 27 {
			arg = arg[:27]
		}
		t.Label, t.labeled = arg, true
	case "alarm":
		t.Alarm = true
	}
	return nil
}

// Final implements Parser, with idletimer_tg_checkentry's checks: a
// timeout of 1 to INT_MAX/1000-1 seconds and a non-empty label that can
// name a sysfs file.
func (t *IdleTimer) Final(*Context) (ruleset.Extension, error) {
	if !t.seen {
		return nil, Errorf("IDLETIMER: option \"--timeout\" must be specified\n")
	}
	if !t.labeled {
		return nil, Errorf("IDLETIMER: option \"--label\" must be specified\n")
	}
	if t.Timeout == 0 || t.Timeout >= 2147483647/1000 || t.Label == "" || strings.ContainsRune(t.Label, '/') {
		return nil, KernelInval()
	}
	return t, nil
}

// Save implements ruleset.Extension.
func (t *IdleTimer) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" --timeout " + Utoa(uint64(t.Timeout)) + " --label " + t.Label)
	if t.Alarm {
		b.WriteString(" --alarm")
	}
}

// Print implements ruleset.Extension.
func (t *IdleTimer) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" timeout:" + Utoa(uint64(t.Timeout)) + " label:" + t.Label)
	if t.Alarm {
		b.WriteString(" alarm")
	}
}

// Act implements pkt.Actor: the kernel restarts the label's timer and
// goes on; the timer lives outside the rules (its expiry only notifies
// user space), so nothing here changes: pkt.Continue.
func (t *IdleTimer) Act(*pkt.Ctx) pkt.Verdict { return pkt.Continue }
