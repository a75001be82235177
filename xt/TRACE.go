package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Trace is the TRACE target. iptables-nft makes it "meta nftrace set 1",
// which every table and chain accepts.
type Trace struct{}

func init() {
	Register(&Def{Name: "TRACE", Target: true, New: func() Parser { return &Trace{} }})
}

// Name implements ruleset.Extension.
func (t *Trace) Name() string { return "TRACE" }

// Parse implements Parser; TRACE has no options.
func (t *Trace) Parse(*Context, string, string, bool) error { return nil }

// Final implements Parser.
func (t *Trace) Final(*Context) (ruleset.Extension, error) { return t, nil }

// Save implements ruleset.Extension.
func (t *Trace) Save(*strings.Builder, ruleset.Fmt) {}

// Print implements ruleset.Extension.
func (t *Trace) Print(*strings.Builder, ruleset.Fmt) {}

// Act implements pkt.Actor: "meta nftrace set 1" marks the packet for
// nf_tables tracing (events for `nft monitor trace`); the packet goes on.
func (t *Trace) Act(*pkt.Ctx) pkt.Verdict { return pkt.Continue }
