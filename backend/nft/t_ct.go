package nft

import (
	"fmt"

	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// The CT target with --notrack, and NOTRACK (the same target), as the
// notrack expression: xt_ct_target leaves a packet that already has
// conntrack (or a template) alone and otherwise marks it untracked;
// nft_notrack_eval does the same (a packet with an entry, a template or
// already untracked is left alone). With --notrack xt_CT ignores the other
// options. CT's helpers, zones, timeouts and event masks need conntrack
// templates or objects, and are refused.
func ctTarget(x *xlate, t ruleset.Target) ([]expr.Any, error) {
	c := t.(*xt.CTTarget)
	if c.Flags&xt.CTNoTrack == 0 {
		return nil, fmt.Errorf("target CT without --notrack not supported")
	}
	return []expr.Any{&expr.Notrack{}}, nil
}

func init() {
	registerTarget("CT", ctTarget)
	registerTarget("NOTRACK", ctTarget)
}
