package iptext_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/rampartfw/rampart/iptext"
)

func TestSplitRestoreLine(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{`-A INPUT -j ACCEPT`, []string{"-A", "INPUT", "-j", "ACCEPT"}},
		{"-A  INPUT\t-j ACCEPT ", []string{"-A", "INPUT", "-j", "ACCEPT"}},
		{`-m comment --comment "a b"`, []string{"-m", "comment", "--comment", "a b"}},
		{`--log-prefix "x: "`, []string{"--log-prefix", "x: "}},
		{`--comment "say \"hi\" \\ ok"`, []string{"--comment", `say "hi" \ ok`}},
		{`--comment ""`, []string{"--comment", ""}},
		{`--comment a\b`, []string{"--comment", `a\b`}},
	}
	for _, tt := range tests {
		toks, err := iptext.SplitRestoreLine(tt.line)
		if err != nil {
			t.Errorf("%q: %v", tt.line, err)
			continue
		}
		var got []string
		for _, tok := range toks {
			got = append(got, tok.Text)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %q, want %q", tt.line, got, tt.want)
		}
	}
	if _, err := iptext.SplitRestoreLine(`--comment "open`); err == nil {
		t.Error("unterminated quote accepted")
	}
}

func TestReadRestoreErrors(t *testing.T) {
	tests := []struct {
		name, text string
		line, col  int
		msg        string
	}{
		{"unknown option", "*filter\n-A INPUT --dport 22 -j ACCEPT\nCOMMIT\n", 2, 10, `unknown option "--dport"`},
		{"bad prefix", "*filter\n-A INPUT -s 10.0.0.0/40 -j ACCEPT\nCOMMIT\n", 2, 13, "invalid mask `40' specified"},
		{"no commit", "*filter\n-A INPUT -j ACCEPT\n", 3, 1, "COMMIT expected at line 3"},
		{"bad table", "*filtre\nCOMMIT\n", 1, 2, "iptables-restore: line 1 table name 'filtre' invalid"},
		{"outside table", "-A INPUT -j ACCEPT\n", 1, 1, ""},
		{"-t in restore", "*filter\n-t nat -A INPUT -j ACCEPT\nCOMMIT\n", 2, 1, "The -t option cannot be used in iptables-restore."},
		{"bad policy", "*filter\n:INPUT REJECT [0:0]\nCOMMIT\n", 2, 8, "Bad policy name."},
		{"bad counters", "*filter\n:INPUT DROP [x]\nCOMMIT\n", 2, 13, "invalid policy counters for chain 'INPUT'"},
	}
	for _, tt := range tests {
		_, err := iptext.ReadRestore(strings.NewReader(tt.text), iptext.RestoreOptions{File: "f.rules", Counters: true})
		e, ok := err.(*iptext.Error)
		if !ok {
			t.Errorf("%s: got %v", tt.name, err)
			continue
		}
		if e.Line != tt.line || e.Col != tt.col || strings.TrimSpace(e.Msg) != tt.msg || e.File != "f.rules" {
			t.Errorf("%s: got %s:%d:%d %q, want line %d col %d %q", tt.name, e.File, e.Line, e.Col, e.Msg, tt.line, tt.col, tt.msg)
		}
	}
}

func TestReadRestoreCounters(t *testing.T) {
	text := "*filter\n:INPUT DROP [5:10]\n[3:4] -A INPUT -j ACCEPT\nCOMMIT\n"
	stmts, err := iptext.ReadRestore(strings.NewReader(text), iptext.RestoreOptions{Counters: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 4 || stmts[1].Counters.Packets != 5 || stmts[1].Counters.Bytes != 10 {
		t.Fatalf("chain statement %+v", stmts[1])
	}
	r := stmts[2].Cmd.Rule
	if r.Counters.Packets != 3 || r.Counters.Bytes != 4 || r.Pos.Line != 3 {
		t.Errorf("rule counters %+v pos %+v", r.Counters, r.Pos)
	}
}
