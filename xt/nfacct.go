package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Nfacct is the nfacct match: it updates the named extended accounting
// object and matches unless the object has a quota not yet reached.
type Nfacct struct {
	Object string
}

func init() {
	Register(&Def{Name: "nfacct", New: func() Parser { return &Nfacct{} },
		Options: []Option{{Name: "nfacct-name", Arg: ReqArg}}})
}

// Name implements ruleset.Extension.
func (m *Nfacct) Name() string { return "nfacct" }

// Parse implements Parser.
func (m *Nfacct) Parse(_ *Context, _, arg string, _ bool) error {
	if arg == "" {
		return Errorf("Argument must have a minimum length of 1 characters\n")
	}
	if strings.Contains(arg, "\n") {
		return Errorf("Newlines not allowed in --nfacct-name")
	}
	if len(arg) > 31 {
		arg = arg[:31] // strncpy into name[NFACCT_NAME_MAX]
	}
	m.Object = arg
	return nil
}

// Final implements Parser. The kernel's nfacct_mt_checkentry refuses a
// name that is not an existing accounting object (ENOENT); rampart
// manages no nfacct objects, so every rule is refused as on a host that
// has none.
func (m *Nfacct) Final(*Context) (ruleset.Extension, error) {
	if m.Object == "" {
		return nil, Errorf("nfacct: option \"--nfacct-name\" must be specified\n")
	}
	return nil, Kernel("No such file or directory")
}

// Save implements ruleset.Extension.
func (m *Nfacct) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" --nfacct-name")
	SaveString(b, m.Object)
}

// Print implements ruleset.Extension.
func (m *Nfacct) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" nfacct-name")
	SaveString(b, m.Object)
}

// Match implements pkt.Matcher: nfacct_mt matches unless the object's
// quota is not reached (nfnl_acct_overquota); the object's counters and
// quota are kernel state a capture lacks.
func (m *Nfacct) Match(c *pkt.Ctx) bool {
	return c.Undecide("nfacct: the accounting object is unknown")
}
