package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// CPU is the cpu match: the CPU handling the packet.
type CPU struct {
	CPU uint32
	Inv bool
	set bool
}

func init() {
	Register(&Def{Name: "cpu", New: func() Parser { return &CPU{} },
		Options: []Option{{Name: "cpu", Arg: ReqArg, Invert: true}}})
}

// Name implements ruleset.Extension.
func (m *CPU) Name() string { return "cpu" }

// Parse implements Parser.
func (m *CPU) Parse(_ *Context, _, arg string, inv bool) error {
	v, ok := ParseUint(arg, 0, 1<<32-1)
	if !ok {
		return Errorf("cpu: bad value for option \"--cpu\", or out of range (0-4294967295).\n")
	}
	m.CPU, m.Inv, m.set = uint32(v), inv, true
	return nil
}

// Final implements Parser.
func (m *CPU) Final(*Context) (ruleset.Extension, error) {
	if !m.set {
		return nil, Errorf("cpu: option \"--cpu\" must be specified\n")
	}
	return m, nil
}

// Save implements ruleset.Extension.
func (m *CPU) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(Bang(m.Inv) + " --cpu " + Utoa(uint64(m.CPU)))
}

// Print implements ruleset.Extension.
func (m *CPU) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" cpu" + Bang(m.Inv) + " " + Utoa(uint64(m.CPU)))
}

// Match implements pkt.Matcher as xt_cpu's cpu_mt does: the CPU processing
// the packet (smp_processor_id), which only c.Facts can say.
func (m *CPU) Match(c *pkt.Ctx) bool {
	if c.Facts == nil {
		return c.Undecide("cpu: the processing CPU is unknown")
	}
	cpu, ok := c.Facts.CPU()
	if !ok {
		return c.Undecide("cpu: the processing CPU is unknown")
	}
	return (cpu == m.CPU) != m.Inv
}
