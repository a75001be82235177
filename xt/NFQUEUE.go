package xt

import (
	"strconv"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Nfqueue is the NFQUEUE target (revision 3): queue Num, or Total queues
// from Num (--queue-balance), with the bypass and cpu-fanout flags.
type Nfqueue struct {
	Num       uint16
	Total     uint16 // 1 for a single queue
	Bypass    bool
	CPUFanout bool

	seen map[string]bool
	// balance is --queue-balance as parsed (lo, hi).
	balance [2]uint64
}

var nfqueueOpts = []string{"queue-num", "queue-balance", "queue-bypass", "queue-cpu-fanout"}

func init() {
	Register(&Def{Name: "NFQUEUE", Target: true,
		Options: []Option{{Name: "queue-num", Arg: ReqArg}, {Name: "queue-balance", Arg: ReqArg},
			{Name: "queue-bypass"}, {Name: "queue-cpu-fanout"}},
		New: func() Parser { return &Nfqueue{Total: 1, seen: map[string]bool{}} }})
}

// Name implements ruleset.Extension.
func (t *Nfqueue) Name() string { return "NFQUEUE" }

// tgRange parses "A:B" as libxtables' XTTYPE_*RC types do (each part
// optional: A defaults to 0, B to max), with their messages. n is the
// number of parts given.
func tgRange(ext, opt, arg string, max uint64) (v [2]uint64, n int, err error) {
	s := arg
	for {
		if n == 2 {
			return v, n, Errorf("%s: Too many components for option \"--%s\" (max: 2)\n", ext, opt)
		}
		var val uint64
		rest := s
		if s == "" || s[0] == ':' {
			if n == 1 {
				val = max
			}
		} else {
			x, r, ok := tgStrtoul(s)
			if !ok || x > max {
				return v, n, Errorf("%s: bad value for option \"--%s\" near \"%s\", or out of range (0-%d).\n", ext, opt, s, max)
			}
			if r != "" && r[0] != ':' {
				return v, n, Errorf("%s: Argument to \"--%s\" has unexpected characters near \"%s\".\n", ext, opt, r)
			}
			val, rest = x, r
		}
		v[n] = val
		n++
		if rest == "" {
			return v, n, nil
		}
		s = rest[1:]
	}
}

// Parse implements Parser.
func (t *Nfqueue) Parse(_ *Context, opt, arg string, _ bool) error {
	t.seen[opt] = true
	switch opt {
	case "queue-num":
		v, err := tgUint("NFQUEUE", opt, arg, 0, 0xFFFF)
		if err != nil {
			return err
		}
		t.Num = uint16(v)
	case "queue-balance":
		v, n, err := tgRange("NFQUEUE", opt, arg, 0xFFFF)
		if err != nil {
			return err
		}
		if n != 2 {
			return Errorf("Bad range \"%s\"", arg)
		}
		if v[0] >= v[1] {
			return Errorf("%d should be less than %d", v[0], v[1])
		}
		t.balance = v
	case "queue-bypass":
		t.Bypass = true
	case "queue-cpu-fanout":
		t.CPUFanout = true
	}
	return nil
}

// Final implements Parser.
func (t *Nfqueue) Final(*Context) (ruleset.Extension, error) {
	if t.seen["queue-num"] && t.seen["queue-balance"] {
		return nil, Errorf("NFQUEUE: option \"--queue-num\" cannot be used together with \"--queue-balance\".\n")
	}
	if t.seen["queue-cpu-fanout"] && !t.seen["queue-balance"] {
		return nil, Errorf("NFQUEUE: option \"--queue-cpu-fanout\" also requires \"--queue-balance\".\n")
	}
	if t.seen["queue-balance"] {
		total := t.balance[1] - t.balance[0] + 1
		if total > 0xFFFF {
			// queues_total is 16 bits: 0:65535 wraps to 0.
			return nil, KernelInval()
		}
		t.Num, t.Total = uint16(t.balance[0]), uint16(total)
	}
	return t, nil
}

// Save implements ruleset.Extension.
func (t *Nfqueue) Save(b *strings.Builder, _ ruleset.Fmt) {
	if t.Total > 1 {
		b.WriteString(" --queue-balance " + strconv.Itoa(int(t.Num)) + ":" + strconv.Itoa(int(t.Num)+int(t.Total)-1))
	} else {
		b.WriteString(" --queue-num " + strconv.Itoa(int(t.Num)))
	}
	if t.Bypass {
		b.WriteString(" --queue-bypass")
	}
	if t.CPUFanout {
		b.WriteString(" --queue-cpu-fanout")
	}
}

// Print implements ruleset.Extension.
func (t *Nfqueue) Print(b *strings.Builder, _ ruleset.Fmt) {
	if t.Total > 1 {
		b.WriteString(" NFQUEUE balance " + strconv.Itoa(int(t.Num)) + ":" + strconv.Itoa(int(t.Num)+int(t.Total)-1))
	} else {
		b.WriteString(" NFQUEUE num " + strconv.Itoa(int(t.Num)))
	}
	if t.Bypass {
		b.WriteString(" bypass")
	}
	if t.CPUFanout {
		b.WriteString(" cpu-fanout")
	}
}

// Act implements pkt.Actor as xt_NFQUEUE's nfqueue_tg_v3 does: the
// verdict is NF_QUEUE to queue Num, or with --queue-balance one of Total
// queues from Num: with --queue-cpu-fanout Num + cpu % Total (the CPU from
// c.Facts), otherwise by nfqueue_hash, a jhash of the addresses with a
// random seed drawn when the rule is loaded (undecidable). c.QueueNum gets
// the queue, c.QueueBypass the --queue-bypass flag.
//
// Assumption: no program listens on the queue (a simulation has none).
// Then nf_queue fails with -ESRCH and the kernel drops the packet, unless
// the bypass flag is set: nf_hook_slow then goes on with the next hook
// entry as if the table had accepted. The engine resolves a Queue verdict
// with QueueBypass that way.
func (t *Nfqueue) Act(c *pkt.Ctx) pkt.Verdict {
	q := t.Num
	if t.Total > 1 {
		cpu, ok := uint32(0), false
		if t.CPUFanout && c.Facts != nil {
			cpu, ok = c.Facts.CPU()
		}
		switch {
		case ok:
			q = t.Num + uint16(cpu%uint32(t.Total))
		case t.CPUFanout:
			c.Undecide("NFQUEUE --queue-cpu-fanout: the CPU is unknown")
		default:
			c.Undecide("NFQUEUE --queue-balance: the kernel picks the queue by a randomly seeded hash")
		}
	}
	c.QueueNum = q
	c.QueueBypass = t.Bypass
	return pkt.Queue
}
