package ipt

import (
	"fmt"
	"strings"

	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
)

// Word is one shell word with its byte offset in the (joined) line.
type Word struct {
	Text string
	Off  int
}

// SplitShell splits a line into words as a POSIX shell does for simple
// commands: blanks separate, single quotes are literal, double quotes
// allow \" \\ \$ \` escapes, a backslash outside quotes escapes the next
// character, and "#" at the start of a word begins a comment. Expansions
// ($VAR, `cmd`, globs) are refused rather than guessed.
func SplitShell(line string) ([]Word, error) {
	var out []Word
	var cur strings.Builder
	start := -1
	inWord := false
	i := 0
	begin := func(at int) {
		if !inWord {
			inWord, start = true, at
		}
	}
	for i < len(line) {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			if inWord {
				out = append(out, Word{cur.String(), start})
				cur.Reset()
				inWord = false
			}
			i++
		case c == '#' && !inWord:
			return out, nil
		case c == '\'':
			begin(i)
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("%d: unterminated single quote", i+1)
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 2
		case c == '"':
			begin(i)
			i++
			closed := false
			for i < len(line) {
				d := line[i]
				if d == '\\' && i+1 < len(line) && strings.IndexByte("\"\\$`", line[i+1]) >= 0 {
					cur.WriteByte(line[i+1])
					i += 2
					continue
				}
				if d == '"' {
					closed = true
					i++
					break
				}
				if d == '$' || d == '`' {
					return nil, fmt.Errorf("%d: shell expansion (%c) is not supported", i+1, d)
				}
				cur.WriteByte(d)
				i++
			}
			if !closed {
				return nil, fmt.Errorf("%d: unterminated double quote", start+1)
			}
		case c == '\\':
			begin(i)
			if i+1 < len(line) {
				cur.WriteByte(line[i+1])
			}
			i += 2
		case c == '$' || c == '`':
			return nil, fmt.Errorf("%d: shell expansion (%c) is not supported", i+1, c)
		case c == ';' || c == '|' || c == '&' || c == '<' || c == '>':
			return nil, fmt.Errorf("%d: shell operator %q is not supported", i+1, c)
		default:
			begin(i)
			cur.WriteByte(c)
			i++
		}
	}
	if inWord {
		out = append(out, Word{cur.String(), start})
	}
	return out, nil
}

// RunScript runs a shell script of iptables/ip6tables commands against rs
// (only the commands of rs's family; the others are skipped). A failing
// command is reported as a diagnostic and the script goes on, as sh does
// without -e. Lines that are not iptables commands are errors.
func RunScript(rs *ruleset.Ruleset, name string, data []byte) ([]Diagnostic, error) {
	lines := strings.Split(string(data), "\n")
	var diags []Diagnostic
	for n := 0; n < len(lines); n++ {
		lineNo := n + 1
		line := lines[n]
		// Line continuations.
		for strings.HasSuffix(line, "\\") && n+1 < len(lines) {
			n++
			line = line[:len(line)-1] + " " + lines[n]
		}
		words, err := SplitShell(line)
		if err != nil {
			return diags, &iptext.Error{Msg: err.Error(), File: name, Line: lineNo, Col: 1, Exit: iptext.ExitParameter}
		}
		if len(words) == 0 {
			continue
		}
		w := 0
		if words[0].Text == "sudo" {
			w = 1
		}
		if w >= len(words) {
			continue
		}
		prog := words[w].Text
		if i := strings.LastIndexByte(prog, '/'); i >= 0 {
			prog = prog[i+1:]
		}
		var fam ruleset.Family
		switch prog {
		case "iptables", "iptables-nft", "iptables-legacy":
			fam = ruleset.IPv4
		case "ip6tables", "ip6tables-nft", "ip6tables-legacy":
			fam = ruleset.IPv6
		case "set":
			continue
		default:
			return diags, &iptext.Error{Msg: fmt.Sprintf("not an iptables command: %q", words[w].Text), File: name, Line: lineNo,
				Col: words[w].Off + 1, Token: words[w].Text, Exit: iptext.ExitParameter,
				Hint: "a command script holds one iptables or ip6tables command a line"}
		}
		if fam != rs.Family {
			continue
		}
		args := make([]string, 0, len(words)-w-1)
		for _, x := range words[w+1:] {
			args = append(args, x.Text)
		}
		var out strings.Builder
		cmd, err := iptext.ParseCommand(args, iptext.ParseOptions{Family: fam, Pos: ruleset.Pos{File: name, Line: lineNo}})
		if err == nil {
			err = Exec(rs, cmd, &out)
		}
		if err != nil {
			e, ok := err.(*iptext.Error)
			if !ok {
				return diags, err
			}
			e.File, e.Line, e.Col = name, lineNo, 1
			if e.Arg >= 0 && w+1+e.Arg < len(words) {
				e.Col = words[w+1+e.Arg].Off + 1
				if e.Token == "" {
					e.Token = words[w+1+e.Arg].Text
				}
			}
			diags = append(diags, Diagnostic{Err: e})
		}
	}
	return diags, nil
}
