package xt

import (
	"strings"

	"github.com/rampartfw/rampart/ruleset"
)

// EUI64 is the IPv6 eui64 match: the source address's interface identifier
// is the EUI-64 of the sender's MAC address. It has no options.
type EUI64 struct{}

func init() {
	Register(&Def{Name: "eui64", Family: ruleset.IPv6, New: func() Parser { return &EUI64{} }})
}

// Name implements ruleset.Extension.
func (m *EUI64) Name() string { return "eui64" }

// Parse implements Parser.
func (m *EUI64) Parse(*Context, string, string, bool) error { return nil }

// Final implements Parser.
func (m *EUI64) Final(ctx *Context) (ruleset.Extension, error) {
	// xt_eui64: PREROUTING, INPUT and FORWARD only.
	if !xtHookAllowed(ctx, ruleset.PreRouting, ruleset.LocalIn, ruleset.Forward) {
		return nil, KernelInval()
	}
	return m, nil
}

// Save implements ruleset.Extension.
func (m *EUI64) Save(*strings.Builder, ruleset.Fmt) {}

// Print implements ruleset.Extension.
func (m *EUI64) Print(*strings.Builder, ruleset.Fmt) {}
