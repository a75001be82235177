package ipt

import (
	"strings"

	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
)

// RestoreOptions control how restore statements are applied.
type RestoreOptions struct {
	NoFlush bool // --noflush: keep what the tables hold
}

// ApplyRestore applies the statements of a restore file to rs as one
// transaction: on error rs is unchanged. Without NoFlush each *table block
// starts from an empty table, as iptables-nft-restore deletes and
// recreates it; a table that the block leaves empty does not exist.
func ApplyRestore(rs *ruleset.Ruleset, stmts []iptext.Stmt, o RestoreOptions) error {
	work := rs.Clone()
	var out strings.Builder
	var touched bool
	for _, st := range stmts {
		switch st.Kind {
		case iptext.StmtTable:
			if !o.NoFlush {
				work.DeleteTable(st.Table)
			}
			touched = false
		case iptext.StmtChain:
			t, _ := work.EnsureTable(st.Table)
			touched = true
			c := t.Chain(st.Chain)
			if c == nil {
				if err := t.NewChain(st.Chain); err != nil {
					return posErr(st, plain(1, "Chain already exists."))
				}
				c = t.Chain(st.Chain)
			} else if !c.Builtin() && o.NoFlush {
				c.Rules = nil
			}
			if c.Builtin() && st.Policy != "-" {
				c.Policy = ruleset.Verdict(st.Policy)
				c.Counters = st.Counters
			}
		case iptext.StmtCmd:
			touched = true
			if err := Exec(work, st.Cmd, &out); err != nil {
				if e, ok := err.(*iptext.Error); ok {
					return posErr(st, e)
				}
				return err
			}
		case iptext.StmtCommit:
			_ = touched
		}
	}
	*rs = *work
	return nil
}

func posErr(st iptext.Stmt, e *iptext.Error) *iptext.Error {
	if e.Line == 0 {
		e.Line = st.Line
		e.Col = 1
		if st.Cmd != nil && st.Cmd.Rule != nil {
			e.File = st.Cmd.Rule.Pos.File
		}
	}
	return e
}

// PolicyCounters clears policy counters, as a restore without -c does.
func clearPolicyCounters(stmts []iptext.Stmt) {
	for i := range stmts {
		stmts[i].Counters = ruleset.Counters{}
	}
}
