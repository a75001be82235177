package nft

import (
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// The LOG target as a log expression of type NF_LOG_TYPE_LOG: xt_LOG's
// log_tg and nft_log_eval both call nf_log_packet with the family's syslog
// logger, the level, the flags and the prefix, so the line is the same.
// The XT_LOG_* flag bits are the NF_LOG_* bits nft_log takes. The level
// is always sent (nft_log's default, without one, is LOG_WARNING too), the
// prefix only when set (the kernel logs an empty one otherwise).
func init() {
	registerTarget("LOG", func(x *xlate, t ruleset.Target) ([]expr.Any, error) {
		l := t.(*xt.Log)
		e := &expr.Log{
			Key:   1<<unix.NFTA_LOG_LEVEL | 1<<unix.NFTA_LOG_FLAGS,
			Level: expr.LogLevel(l.Level),
			Flags: expr.LogFlags(l.Flags),
		}
		if l.Flags == 0 {
			e.Key &^= 1 << unix.NFTA_LOG_FLAGS
		}
		if l.Prefix != "" {
			e.Key |= 1 << unix.NFTA_LOG_PREFIX
			e.Data = []byte(l.Prefix)
		}
		return []expr.Any{e}, nil
	})
}
