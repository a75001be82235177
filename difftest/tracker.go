package difftest

import (
	"os"

	"github.com/rampartfw/rampart/engine"
)

// NewTracker builds the connection tracker the differential runs use.
// DIFFTEST_NOCT=1 runs without connection tracking (every packet
// UNTRACKED), to tell tracker mismatches from the rest.
var NewTracker = func() engine.Tracker {
	if os.Getenv("DIFFTEST_NOCT") == "1" {
		return nil
	}
	return engine.NewConntrack(0)
}
