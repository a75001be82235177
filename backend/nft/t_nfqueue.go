package nft

import (
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// The NFQUEUE target as a queue expression: nft_queue_eval picks the queue
// as nfqueue_tg_v3 does (the number; with a balance of Total queues the
// CPU modulo Total with --queue-cpu-fanout, else nfqueue_hash with the
// same per-boot seed) and returns NF_QUEUE with the bypass flag.
func init() {
	registerTarget("NFQUEUE", func(x *xlate, t ruleset.Target) ([]expr.Any, error) {
		q := t.(*xt.Nfqueue)
		e := &expr.Queue{Num: q.Num, Total: max(q.Total, 1)}
		if q.Bypass {
			e.Flag |= expr.QueueFlagBypass
		}
		if q.CPUFanout {
			e.Flag |= expr.QueueFlagFanout
		}
		return []expr.Any{e}, nil
	})
}
