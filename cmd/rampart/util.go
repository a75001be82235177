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

// optValue returns the value of the option args[*i], written either as
// --opt=VALUE (the text after the first '=') or as --opt VALUE, in which case
// it advances *i past VALUE. ok is false when a separate VALUE is missing.
func optValue(args []string, i *int) (value string, ok bool) {
	if _, v, found := strings.Cut(args[*i], "="); found {
		return v, true
	}
	if *i+1 < len(args) {
		*i++
		return args[*i], true
	}
	return "", false
}

// isOpt reports whether a is the option name, alone or as name=VALUE.
func isOpt(a, name string) bool {
	return a == name || strings.HasPrefix(a, name+"=")
}
