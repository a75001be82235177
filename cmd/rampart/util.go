package main

import (
	"io"
	"strings"
	"time"

	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
)

func readAll(r io.Reader) ([]byte, error) { return io.ReadAll(r) }

func saveText(rs *ruleset.Ruleset, counters bool) string {
	return iptext.Save(rs, iptext.SaveOptions{Counters: counters, Time: time.Now()})
}

func iptextRuleSpec(b *strings.Builder, r *ruleset.Rule, f ruleset.Family) {
	iptext.RuleSpec(b, r, f, false)
}
