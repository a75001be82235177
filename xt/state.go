package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Conntrack state bits, as the state and conntrack matches use them.
const (
	StateInvalid     uint8 = 1 << 0
	StateEstablished uint8 = 1 << 1
	StateRelated     uint8 = 1 << 2
	StateNew         uint8 = 1 << 3
	StateUntracked   uint8 = 1 << 4
)

var stateNames = []struct {
	name string
	bit  uint8
}{{"INVALID", StateInvalid}, {"NEW", StateNew}, {"RELATED", StateRelated}, {"ESTABLISHED", StateEstablished}, {"UNTRACKED", StateUntracked}}

// ParseStates parses a comma-separated list of conntrack states
// (case-insensitive) with the given error prefix.
func ParseStates(s string) (uint8, error) {
	var v uint8
	for _, part := range strings.Split(s, ",") {
		found := false
		for _, n := range stateNames {
			if strings.EqualFold(part, n.name) {
				v |= n.bit
				found = true
			}
		}
		if !found {
			return 0, Errorf("Bad state \"%s\"", part)
		}
	}
	return v, nil
}

// StatesString prints a state mask in iptables' order.
func StatesString(mask uint8) string {
	var parts []string
	for _, n := range stateNames {
		if mask&n.bit != 0 {
			parts = append(parts, n.name)
		}
	}
	return strings.Join(parts, ",")
}

// State is the state match (-m state --state LIST).
type State struct {
	Mask uint8
	Inv  bool
	set  bool
}

func init() {
	Register(&Def{Name: "state", New: func() Parser { return &State{} },
		Options: []Option{{Name: "state", Arg: ReqArg, Invert: true}}})
}

// Name implements ruleset.Extension.
func (m *State) Name() string { return "state" }

// Parse implements Parser.
func (m *State) Parse(_ *Context, _, arg string, inv bool) error {
	v, err := ParseStates(arg)
	if err != nil {
		return err
	}
	m.Mask, m.Inv, m.set = v, inv, true
	return nil
}

// Final implements Parser.
func (m *State) Final(*Context) (ruleset.Extension, error) {
	if !m.set {
		return nil, Errorf("state: option \"--state\" must be specified\n")
	}
	return m, nil
}

// Save implements ruleset.Extension.
func (m *State) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(Bang(m.Inv) + " --state " + StatesString(m.Mask))
}

// Print implements ruleset.Extension.
func (m *State) Print(b *strings.Builder, _ ruleset.Fmt) {
	if m.Inv {
		b.WriteString(" ! state " + StatesString(m.Mask))
		return
	}
	b.WriteString(" state " + StatesString(m.Mask))
}

// Match implements pkt.Matcher: the packet's conntrack state is in the set.
func (m *State) Match(c *pkt.Ctx) bool {
	return (m.Mask&c.CTState != 0) != m.Inv
}
