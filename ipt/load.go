package ipt

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
)

// Format is the format of a rules file.
type Format uint8

// Rules file formats.
const (
	FormatRestore Format = iota // iptables-save / iptables-restore text
	FormatScript                // a shell script of iptables/ip6tables commands
)

// DetectFormat guesses the format of a rules file from its first
// meaningful line: a command script starts with a command name.
func DetectFormat(data []byte) Format {
	for _, line := range strings.Split(string(data), "\n") {
		s := strings.TrimSpace(line)
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		w := strings.Fields(s)[0]
		if w == "sudo" || w == "set" {
			return FormatScript
		}
		if i := strings.LastIndexByte(w, '/'); i >= 0 {
			w = w[i+1:]
		}
		if strings.HasPrefix(w, "iptables") || strings.HasPrefix(w, "ip6tables") {
			return FormatScript
		}
		return FormatRestore
	}
	return FormatRestore
}

// Diagnostic is a problem found in one line of a rules file that did not
// stop the load (a failing line of a command script is skipped, as the
// shell would).
type Diagnostic struct {
	Err *iptext.Error
}

// LoadOptions control Load.
type LoadOptions struct {
	Family   ruleset.Family
	Counters bool // keep counters from the file ("[p:b]", policy counters)
}

// Load reads a rules file (restore format or command script) into a new
// ruleset of the requested family. For a restore file any error is
// returned and nothing is loaded; for a script, failing lines are
// reported as diagnostics and skipped.
func Load(name string, data []byte, o LoadOptions) (*ruleset.Ruleset, []Diagnostic, error) {
	if o.Family == 0 {
		o.Family = ruleset.IPv4
	}
	rs := ruleset.New(o.Family)
	if DetectFormat(data) == FormatScript {
		diags, err := RunScript(rs, name, data)
		return rs, diags, err
	}
	stmts, err := iptext.ReadRestore(bytes.NewReader(data), iptext.RestoreOptions{Family: o.Family, File: name, Counters: o.Counters})
	if err != nil {
		return nil, nil, err
	}
	if !o.Counters {
		clearPolicyCounters(stmts)
	}
	if err := ApplyRestore(rs, stmts, RestoreOptions{}); err != nil {
		if e, ok := err.(*iptext.Error); ok && e.File == "" {
			e.File = name
		}
		return nil, nil, err
	}
	return rs, nil, nil
}

// LoadFile is Load on a file's contents.
func LoadFile(path string, o LoadOptions) (*ruleset.Ruleset, []Diagnostic, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return Load(path, data, o)
}

// FormatDiag formats a diagnostic as file:line:col: message, with note
// appended to the message line and the hint on the next line.
func FormatDiag(d Diagnostic, note string) string {
	e := d.Err
	s := fmt.Sprintf("%s:%d:%d: %s%s", e.File, e.Line, e.Col, strings.TrimSpace(e.Msg), note)
	if e.Hint != "" {
		s += "\n\thint: " + e.Hint
	}
	return s
}
