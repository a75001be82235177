package xt

import "github.com/rampartfw/rampart/ruleset"

// notrackParser builds the NOTRACK target: iptables 1.8.9 sends it as the
// CT target (revision 2) with notrack and the alias flag, so it is saved as
// -j NOTRACK, listed with CT in the target column, and limited to the raw
// table like CT.
type notrackParser struct{}

func init() {
	Register(&Def{Name: "NOTRACK", Target: true, New: func() Parser { return notrackParser{} }})
}

// Parse implements Parser; NOTRACK has no options.
func (notrackParser) Parse(*Context, string, string, bool) error { return nil }

// Final implements Parser.
func (notrackParser) Final(ctx *Context) (ruleset.Extension, error) {
	t := &CTTarget{Flags: CTNoTrack, Alias: true}
	return t, t.kernelCheck(ctx)
}
