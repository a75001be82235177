package xt

import "github.com/rampartfw/rampart/ruleset"

// The DNPT target (mangle PREROUTING and OUTPUT) rewrites the destination
// prefix: see NPT in SNPT.go.
func init() {
	Register(&Def{Name: "DNPT", Family: ruleset.IPv6, Target: true, New: func() Parser { return &NPT{DNPT: true} },
		Options: nptOptions()})
}
