package xt

import (
	"strconv"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// nflogPrefixMax is the longest prefix kept (NF_LOG_PREFIXLEN - 1: the
// nf_tables log expression carries the prefix, not xt_nflog_info).
const nflogPrefixMax = 127

// Nflog is the NFLOG target. iptables-nft turns it into an nf_tables log
// expression: --nflog-range is dropped, and a zero group or threshold is
// not shown.
type Nflog struct {
	Group     uint16
	Prefix    string
	Size      uint32
	HasSize   bool // --nflog-size given (a size of 0 is shown)
	Threshold uint16

	seen map[string]bool
	line string // the c.Log line, built on first use
}

var nflogOpts = []string{"nflog-group", "nflog-prefix", "nflog-range", "nflog-size", "nflog-threshold"}

func init() {
	var opts []Option
	for _, n := range nflogOpts {
		opts = append(opts, Option{Name: n, Arg: ReqArg})
	}
	Register(&Def{Name: "NFLOG", Target: true, Options: opts,
		New: func() Parser { return &Nflog{seen: map[string]bool{}} }})
}

// Name implements ruleset.Extension.
func (t *Nflog) Name() string { return "NFLOG" }

// Parse implements Parser.
func (t *Nflog) Parse(_ *Context, opt, arg string, _ bool) error {
	t.seen[opt] = true
	switch opt {
	case "nflog-group":
		v, err := tgUint("NFLOG", opt, arg, 0, 0xFFFF)
		if err != nil {
			return err
		}
		t.Group = uint16(v)
	case "nflog-prefix":
		if arg == "" {
			return Errorf("Argument must have a minimum length of 1 characters\n")
		}
		if strings.Contains(arg, "\n") {
			return Errorf("Newlines not allowed in --log-prefix")
		}
		if len(arg) > nflogPrefixMax {
			arg = arg[:nflogPrefixMax]
		}
		t.Prefix = arg
	case "nflog-range":
		// Accepted and dropped, as iptables-nft does.
		if _, err := tgUint("NFLOG", opt, arg, 0, 0xFFFFFFFF); err != nil {
			return err
		}
	case "nflog-size":
		v, err := tgUint("NFLOG", opt, arg, 0, 0xFFFFFFFF)
		if err != nil {
			return err
		}
		t.Size, t.HasSize = uint32(v), true
	case "nflog-threshold":
		v, err := tgUint("NFLOG", opt, arg, 0, 0xFFFF)
		if err != nil {
			return err
		}
		t.Threshold = uint16(v)
	}
	return nil
}

// Final implements Parser.
func (t *Nflog) Final(*Context) (ruleset.Extension, error) {
	err := tgExcl("NFLOG", nflogOpts, t.seen, map[string][]string{
		"nflog-range": {"nflog-size"}, "nflog-size": {"nflog-range"}})
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Nflog) write(b *strings.Builder, pfx string) {
	if t.Prefix != "" {
		b.WriteString(" " + pfx + "nflog-prefix")
		tgSaveString(b, t.Prefix)
	}
	if t.Group != 0 {
		b.WriteString(" " + pfx + "nflog-group " + strconv.Itoa(int(t.Group)))
	}
	if t.HasSize {
		b.WriteString(" " + pfx + "nflog-size " + strconv.FormatUint(uint64(t.Size), 10))
	}
	if t.Threshold != 0 {
		b.WriteString(" " + pfx + "nflog-threshold " + strconv.Itoa(int(t.Threshold)))
	}
}

// Save implements ruleset.Extension.
func (t *Nflog) Save(b *strings.Builder, _ ruleset.Fmt) { t.write(b, "--") }

// Print implements ruleset.Extension.
func (t *Nflog) Print(b *strings.Builder, _ ruleset.Fmt) { t.write(b, "") }

// Act implements pkt.Actor as nf_tables' log expression with a group does
// (nft_log_eval, NF_LOG_TYPE_ULOG): the packet is handed to nfnetlink_log
// for group Group with the prefix (copied to any listener; none is
// assumed) and the rule goes on. c.Log gets one line,
// `NFLOG group=G prefix="P"` (the prefix part only when one is set).
func (t *Nflog) Act(c *pkt.Ctx) pkt.Verdict {
	if t.line == "" {
		t.line = "NFLOG group=" + strconv.Itoa(int(t.Group))
		if t.Prefix != "" {
			t.line += " prefix=" + strconv.Quote(t.Prefix)
		}
	}
	c.Log = append(c.Log, t.line)
	return pkt.Continue
}
