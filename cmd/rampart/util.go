package main

import (
	"io"
	"time"

	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
)

func readAll(r io.Reader) ([]byte, error) { return io.ReadAll(r) }

func saveText(rs *ruleset.Ruleset, counters bool) string {
	return iptext.Save(rs, iptext.SaveOptions{Counters: counters, Time: time.Now()})
}
