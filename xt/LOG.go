package xt

import (
	"strconv"
	"strings"

	"github.com/rampartfw/rampart/ruleset"
)

// LOG flag bits (XT_LOG_*).
const (
	LogTCPSeq    uint8 = 0x01
	LogTCPOpt    uint8 = 0x02
	LogIPOpt     uint8 = 0x04
	LogUID       uint8 = 0x08
	LogMACDecode uint8 = 0x20
)

// logDefaultLevel is LOG_WARNING.
const logDefaultLevel = 4

// logPrefixMax is the longest prefix kept (xt_log_info.prefix is 30 bytes).
const logPrefixMax = 29

// Level names accepted by --log-level (libxtables' syslog table,
// case-sensitive).
var logLevelIn = map[string]uint8{
	"alert": 1, "crit": 2, "debug": 7, "emerg": 0, "error": 3,
	"info": 6, "notice": 5, "panic": 0, "warning": 4,
}

// Level names -L prints (the first of glibc's prioritynames per level).
var logLevelOut = [8]string{"emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"}

var logFlagOpts = []struct {
	opt  string
	bit  uint8
	name string
}{
	{"log-tcp-sequence", LogTCPSeq, "tcp-sequence"},
	{"log-tcp-options", LogTCPOpt, "tcp-options"},
	{"log-ip-options", LogIPOpt, "ip-options"},
	{"log-uid", LogUID, "uid"},
	{"log-macdecode", LogMACDecode, "macdecode"},
}

// Log is the LOG target: syslog level, prefix and what to log.
type Log struct {
	Level  uint8
	Flags  uint8
	Prefix string
}

func init() {
	opts := []Option{{Name: "log-level", Arg: ReqArg}, {Name: "log-prefix", Arg: ReqArg}}
	for _, f := range logFlagOpts {
		opts = append(opts, Option{Name: f.opt})
	}
	Register(&Def{Name: "LOG", Target: true, Options: opts,
		New: func() Parser { return &Log{Level: logDefaultLevel} }})
}

// Name implements ruleset.Extension.
func (t *Log) Name() string { return "LOG" }

// Parse implements Parser.
func (t *Log) Parse(_ *Context, opt, arg string, _ bool) error {
	switch opt {
	case "log-level":
		if v, rest, ok := tgStrtoul(arg); ok && rest == "" && v <= 7 {
			t.Level = uint8(v)
			return nil
		}
		l, ok := logLevelIn[arg]
		if !ok {
			return Errorf("log level \"%s\" unknown\n", arg)
		}
		t.Level = l
	case "log-prefix":
		if arg == "" {
			return Errorf("Argument must have a minimum length of 1 characters\n")
		}
		if strings.Contains(arg, "\n") {
			return Errorf("Newlines not allowed in --log-prefix")
		}
		if len(arg) > logPrefixMax {
			arg = arg[:logPrefixMax]
		}
		t.Prefix = arg
	default:
		for _, f := range logFlagOpts {
			if f.opt == opt {
				t.Flags |= f.bit
			}
		}
	}
	return nil
}

// Final implements Parser.
func (t *Log) Final(*Context) (ruleset.Extension, error) { return t, nil }

// Save implements ruleset.Extension.
func (t *Log) Save(b *strings.Builder, _ ruleset.Fmt) {
	if t.Prefix != "" {
		b.WriteString(" --log-prefix")
		tgSaveString(b, t.Prefix)
	}
	if t.Level != logDefaultLevel {
		b.WriteString(" --log-level " + strconv.Itoa(int(t.Level)))
	}
	for _, f := range logFlagOpts {
		if t.Flags&f.bit != 0 {
			b.WriteString(" --" + f.opt)
		}
	}
}

// Print implements ruleset.Extension.
func (t *Log) Print(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(" LOG")
	if f.Numeric {
		b.WriteString(" flags " + strconv.Itoa(int(t.Flags)) + " level " + strconv.Itoa(int(t.Level)))
	} else {
		if t.Level < 8 {
			b.WriteString(" level " + logLevelOut[t.Level])
		} else {
			b.WriteString(" UNKNOWN level " + strconv.Itoa(int(t.Level)))
		}
		for _, fl := range logFlagOpts {
			if t.Flags&fl.bit != 0 {
				b.WriteString(" " + fl.name)
			}
		}
	}
	if t.Prefix != "" {
		b.WriteString(" prefix \"" + t.Prefix + "\"")
	}
}
