package iptext

import "fmt"

// Exit statuses of the iptables tools.
const (
	ExitOther     = 1 // OTHER_PROBLEM
	ExitParameter = 2 // PARAMETER_PROBLEM
	ExitVersion   = 3 // VERSION_PROBLEM (unknown table)
	ExitResource  = 4 // RESOURCE_PROBLEM (kernel refused)
)

// Style is how the iptables tools print an error.
type Style uint8

// Error styles.
const (
	// StyleTry: "iptables v1.8.9 (nf_tables): MSG" and the "Try" line.
	StyleTry Style = iota
	// StylePlain: "iptables: MSG." (libiptc-style errors).
	StylePlain
	// StyleBanner: the banner line without the "Try" line.
	StyleBanner
	// StyleBare: "MSG" and the "Try" line, no banner.
	StyleBare
	// StyleTool: "iptables-restore: MSG", nothing else.
	StyleTool
)

// Error is a problem with an iptables command or restore file. Arg is the
// index of the offending argument (-1 when none); File, Line and Col are
// filled in by the restore reader.
type Error struct {
	Msg    string
	Hint   string
	Arg    int
	Token  string
	Exit   int
	Kernel bool // the kernel would refuse the rule (errno in Msg)
	Style  Style
	File   string
	Line   int
	Col    int
	// Warnings are what iptables printed on stderr before failing
	// (ParseCommand fills it in).
	Warnings []string
}

// Error formats the problem with its position and hint.
func (e *Error) Error() string {
	s := e.Msg
	if e.Line > 0 {
		s = fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	}
	if e.Token != "" && e.Line > 0 {
		s += fmt.Sprintf(" (at %q)", e.Token)
	}
	if e.Hint != "" {
		s += "\n\thint: " + e.Hint
	}
	return s
}

func perr(arg int, format string, a ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, a...), Arg: arg, Exit: ExitParameter}
}
