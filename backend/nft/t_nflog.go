package nft

import (
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// The NFLOG target as iptables-nft makes it: a log expression with a group
// (NF_LOG_TYPE_ULOG), the prefix when set, the snaplen for --nflog-size
// (NF_LOG_F_COPY_LEN) and the queue threshold when not zero; --nflog-range
// is dropped.
func init() {
	registerTarget("NFLOG", func(x *xlate, t ruleset.Target) ([]expr.Any, error) {
		n := t.(*xt.Nflog)
		e := &expr.Log{Key: 1 << unix.NFTA_LOG_GROUP, Group: n.Group}
		if n.Prefix != "" {
			e.Key |= 1 << unix.NFTA_LOG_PREFIX
			e.Data = []byte(n.Prefix)
		}
		if n.HasSize {
			e.Key |= 1 << unix.NFTA_LOG_SNAPLEN
			e.Snaplen = n.Size
		}
		if n.Threshold != 0 {
			e.Key |= 1 << unix.NFTA_LOG_QTHRESHOLD
			e.QThreshold = n.Threshold
		}
		return []expr.Any{e}, nil
	})
}
