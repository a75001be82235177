package xt_test

import (
	"testing"
	"time"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// Which jiffy a packet falls in depends on where the machine's ticks are
// (xt.JiffyPhase): two packets 52.3 ms apart are 13 or 14 jiffies apart,
// and at 19/sec a packet earns its credit after 13.16 jiffies.
func TestHashlimitJiffyPhase(t *testing.T) {
	defer func(p time.Duration) { xt.JiffyPhase = p }(xt.JiffyPhase)
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	for _, tt := range []struct {
		phase time.Duration
		third bool
	}{
		{0, false},              // jiffies 0, 0, 13
		{ms(3.8), true},         // jiffies -1, -1, 13
		{ms(3.8) + 4e6*3, true}, // only the phase within a jiffy counts
	} {
		xt.JiffyPhase = tt.phase
		m := rlMatch(t, ruleset.IPv4, "-m hashlimit --hashlimit-upto 19/sec --hashlimit-burst 2 --hashlimit-mode dstip --hashlimit-name jp")
		rlRun(t, "phase "+tt.phase.String(), []pkt.Matcher{m}, []rlPkt{
			{at: ms(3.5), src: "192.0.2.1", want: true},
			{at: ms(3.5), src: "192.0.2.1", want: true},
			{at: ms(55.8), src: "192.0.2.1", want: tt.third},
		})
	}
}
