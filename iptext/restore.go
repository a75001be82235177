package iptext

import (
	"bufio"
	"io"
	"strconv"
	"strings"

	"github.com/rampartfw/rampart/ruleset"
)

// StmtKind is the kind of a restore-file statement.
type StmtKind uint8

// Restore statement kinds.
const (
	StmtTable  StmtKind = iota // *table
	StmtChain                  // :CHAIN POLICY [p:b]
	StmtCmd                    // a command line (-A, -N, -X, ...)
	StmtCommit                 // COMMIT
)

// Stmt is one meaningful line of a restore file.
type Stmt struct {
	Kind     StmtKind
	Line     int
	Table    string
	Chain    string
	Policy   string // "-" for user chains
	Counters ruleset.Counters
	Cmd      *Command
}

// RestoreOptions control how a restore file is read.
type RestoreOptions struct {
	Family   ruleset.Family
	File     string // for error positions
	Counters bool   // -c: keep "[p:b]" rule counters
}

// Token is one argument of a line with its byte offset (0-based).
type Token struct {
	Text string
	Off  int
}

// SplitRestoreLine splits a restore-file line into arguments the way
// iptables-restore does: spaces and tabs separate, double quotes group,
// and inside quotes a backslash escapes the next character.
func SplitRestoreLine(line string) ([]Token, error) {
	var out []Token
	var cur strings.Builder
	start := -1
	inQuote, escaped := false, false
	push := func() {
		out = append(out, Token{cur.String(), start})
		cur.Reset()
		start = -1
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		if inQuote {
			switch {
			case escaped:
				cur.WriteByte(c)
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inQuote = false
				push()
			default:
				cur.WriteByte(c)
			}
			continue
		}
		switch c {
		case '"':
			if start < 0 {
				start = i
			}
			inQuote = true
		case ' ', '\t', '\n', '\r':
			if cur.Len() > 0 {
				push()
			}
		default:
			if start < 0 {
				start = i
			}
			cur.WriteByte(c)
		}
	}
	if inQuote {
		return out, &Error{Msg: "unterminated quote", Col: len(line) + 1, Exit: ExitParameter}
	}
	if cur.Len() > 0 {
		push()
	}
	return out, nil
}

// ReadRestore reads an iptables-restore file into statements. Every
// command line is parsed (so errors carry file:line:col) but nothing is
// applied.
func ReadRestore(r io.Reader, o RestoreOptions) ([]Stmt, error) {
	if o.Family == 0 {
		o.Family = ruleset.IPv4
	}
	var out []Stmt
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	lineNo := 0
	table := ""
	tool := o.Family.Tool() + "-restore"
	fail := func(col int, tok, format string, a ...any) error {
		e := perr(-1, format, a...)
		e.File, e.Line, e.Col, e.Token = o.File, lineNo, col, tok
		return e
	}
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		switch {
		case line[0] == '*' && table == "":
			name := firstField(line[1:])
			if name == "" {
				return nil, fail(1, line, "%s: line %d table name invalid", tool, lineNo)
			}
			if _, ok := ruleset.LookupTable(name); !ok {
				e := fail(2, name, "%s: line %d table name '%s' invalid", tool, lineNo, name)
				e.(*Error).Hint = "the tables are filter, nat, mangle, raw and security"
				return nil, e
			}
			table = name
			out = append(out, Stmt{Kind: StmtTable, Line: lineNo, Table: name})
		case strings.TrimRight(line, "\r") == "COMMIT" && table != "":
			out = append(out, Stmt{Kind: StmtCommit, Line: lineNo, Table: table})
			table = ""
		case line[0] == ':' && table != "":
			st, err := readChainLine(line, lineNo, table, o)
			if err != nil {
				return nil, err
			}
			out = append(out, st)
		case table != "":
			st, err := readCmdLine(line, lineNo, table, o)
			if err != nil {
				return nil, err
			}
			if st != nil {
				out = append(out, *st)
			}
		default:
			if strings.TrimSpace(line) == "" {
				continue
			}
			tok := firstField(line)
			e := fail(1, tok, "")
			e.(*Error).Style, e.(*Error).Exit = StylePlain, ExitOther
			if tok == "COMMIT" {
				e.(*Error).Hint = "COMMIT outside a table: is a *table line missing?"
			} else if strings.HasPrefix(tok, "-") {
				e.(*Error).Hint = "rules must be inside a table block: add a *filter line before them"
			} else if strings.HasPrefix(tok, "*") {
				e.(*Error).Hint = "a table starts before the previous one ended: add COMMIT"
			}
			return nil, e
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{Msg: err.Error(), File: o.File, Line: lineNo, Exit: ExitOther}
	}
	if table != "" {
		e := &Error{Msg: "COMMIT expected at line " + itoa(lineNo+1), File: o.File, Line: lineNo + 1, Col: 1, Exit: ExitOther, Style: StyleTool,
			Hint: "every *table block ends with a COMMIT line"}
		return nil, e
	}
	return out, nil
}

func firstField(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func itoa(n int) string { return strconv.Itoa(n) }

func readChainLine(line string, lineNo int, table string, o RestoreOptions) (Stmt, error) {
	fields := strings.Fields(line[1:])
	st := Stmt{Kind: StmtChain, Line: lineNo, Table: table}
	mk := func(col int, tok, format string, a ...any) error {
		e := perr(-1, format, a...)
		e.File, e.Line, e.Col, e.Token = o.File, lineNo, col, tok
		return e
	}
	if len(fields) == 0 {
		return st, mk(1, line, "%s-restore: line %d chain name invalid", o.Family.Tool(), lineNo)
	}
	st.Chain = fields[0]
	if len(st.Chain) >= 29 {
		return st, mk(2, st.Chain, "Invalid chain name `%s' (%d chars max)", st.Chain, 28)
	}
	if len(fields) < 2 {
		return st, mk(len(line)+1, "", "%s-restore: line %d policy invalid", o.Family.Tool(), lineNo)
	}
	st.Policy = fields[1]
	ti, _ := ruleset.LookupTable(table)
	col := strings.Index(line, st.Policy) + 1
	if ti.IsBuiltin(st.Chain) {
		if st.Policy != "ACCEPT" && st.Policy != "DROP" && st.Policy != "-" {
			e := mk(col, st.Policy, "Bad policy name.")
			e.(*Error).Style, e.(*Error).Exit = StylePlain, ExitOther
			e.(*Error).Hint = "a built-in chain's policy is ACCEPT or DROP"
			return st, e
		}
		if st.Policy != "-" && o.Counters {
			if len(fields) < 3 {
				return st, mk(len(line)+1, "", "invalid policy counters for chain '%s'", st.Chain)
			}
			c, ok := parseBracketCounters(fields[2])
			if !ok {
				return st, mk(strings.Index(line, fields[2])+1, fields[2], "invalid policy counters for chain '%s'", st.Chain)
			}
			st.Counters = c
		}
	} else {
		if err := checkChainName(-1, st.Chain); err != nil {
			e := err.(*Error)
			e.File, e.Line, e.Col, e.Token = o.File, lineNo, 2, st.Chain
			return st, e
		}
	}
	return st, nil
}

func parseBracketCounters(s string) (ruleset.Counters, bool) {
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return ruleset.Counters{}, false
	}
	p, b, ok := strings.Cut(s[1:len(s)-1], ":")
	if !ok {
		return ruleset.Counters{}, false
	}
	pv, ok1 := parseCounter(p)
	bv, ok2 := parseCounter(b)
	return ruleset.Counters{Packets: pv, Bytes: bv}, ok1 && ok2
}

func readCmdLine(line string, lineNo int, table string, o RestoreOptions) (*Stmt, error) {
	rest := line
	off := 0
	var ctr *ruleset.Counters
	if line[0] == '[' {
		end := strings.IndexByte(line, ']')
		if end < 0 {
			return nil, &Error{Msg: "Bad line " + itoa(lineNo) + ": need ]", File: o.File, Line: lineNo, Col: 1, Exit: ExitParameter}
		}
		c, ok := parseBracketCounters(line[:end+1])
		if !ok {
			return nil, &Error{Msg: "Bad line " + itoa(lineNo) + ": need :", File: o.File, Line: lineNo, Col: 1, Exit: ExitParameter, Token: line[:end+1]}
		}
		if o.Counters {
			ctr = &c
		}
		rest = line[end+1:]
		off = end + 1
	}
	toks, err := SplitRestoreLine(rest)
	if err != nil {
		e := err.(*Error)
		e.File, e.Line, e.Col = o.File, lineNo, e.Col+off
		return nil, e
	}
	args := make([]string, len(toks))
	for i, t := range toks {
		args[i] = t.Text
		if strings.HasPrefix(t.Text, "-") && !strings.HasPrefix(t.Text, "--") && strings.ContainsRune(t.Text, 't') ||
			len(t.Text) >= 3 && strings.HasPrefix(t.Text, "--t") && strings.HasPrefix("--table", t.Text) {
			return nil, &Error{Msg: "The -t option cannot be used in " + o.Family.Tool() + "-restore.\n",
				File: o.File, Line: lineNo, Col: t.Off + off + 1, Token: t.Text, Exit: ExitParameter,
				Hint: "the table is given by the *table line"}
		}
	}
	cmd, err := ParseCommand(args, ParseOptions{Family: o.Family, Restore: true, Table: table, Pos: ruleset.Pos{File: o.File, Line: lineNo}})
	if err != nil {
		e, ok := err.(*Error)
		if !ok {
			return nil, err
		}
		e.File, e.Line = o.File, lineNo
		e.Col = 1 + off
		if e.Arg >= 0 && e.Arg < len(toks) {
			e.Col = toks[e.Arg].Off + off + 1
			if e.Token == "" {
				e.Token = toks[e.Arg].Text
			}
		}
		return nil, e
	}
	if cmd.Skip {
		return nil, nil
	}
	if ctr != nil {
		cmd.Counters = ctr
		if cmd.Rule != nil {
			cmd.Rule.Counters = *ctr
		}
	}
	return &Stmt{Kind: StmtCmd, Line: lineNo, Table: table, Cmd: cmd}, nil
}
