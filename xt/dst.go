package xt

import "github.com/rampartfw/rampart/ruleset"

// The dst match (-m dst --dst-len, --dst-opts) is the hbh match on the
// destination options header: see IP6Opts in hbh.go.
func init() {
	Register(&Def{Name: "dst", Family: ruleset.IPv6, New: func() Parser { return &IP6Opts{Dst: true} },
		Options: []Option{
			{Name: "dst-len", Arg: ReqArg, Invert: true},
			{Name: "dst-opts", Arg: ReqArg},
		}})
}
