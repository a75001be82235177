package xt

import "github.com/rampartfw/rampart/ruleset"

// The HL target (IPv6) is TTLTarget with HL set: --hl-set, --hl-dec and
// --hl-inc, printed as "HL set to N" etc.
func init() {
	Register(&Def{Name: "HL", Family: ruleset.IPv6, Target: true,
		Options: []Option{{Name: "hl-set", Arg: ReqArg}, {Name: "hl-dec", Arg: ReqArg}, {Name: "hl-inc", Arg: ReqArg}},
		New:     func() Parser { return &TTLTarget{HL: true, seen: map[string]bool{}} }})
}

// Evaluation: TTLTarget.Act (TTL_target.go) does both, as xt_HL does; the
// IPv6 hop limit has no checksum to update.
