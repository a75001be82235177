package nft

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/internal/testenv"
	"github.com/rampartfw/rampart/ruleset"
)

// chunkLayout describes a chunked plan: per nft chain, its rule count and
// where its last rule goes ("name:rules>next").
func chunkLayout(p *tablePlan) string {
	n := map[string]int{}
	next := map[string]string{}
	for _, r := range p.rules {
		n[r.Chain.Name]++
		if isChunkRule(r.UserData) {
			next[r.Chain.Name] = r.Exprs[0].(*expr.Verdict).Chain
		}
	}
	var out []string
	for _, ch := range p.chains {
		s := fmt.Sprintf("%s:%d", ch.Name, n[ch.Name])
		if next[ch.Name] != "" {
			s += ">" + next[ch.Name]
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// chainOf builds a filter ruleset: INPUT with n rules (the last one a
// jump to chain A when deep > 0), A jumping to B and so on, deep user
// chains in all.
func chainOf(t *testing.T, n, deep int) *ruleset.Ruleset {
	var b strings.Builder
	b.WriteString("*filter\n:INPUT DROP [1:2]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
	for i := 0; i < deep; i++ {
		fmt.Fprintf(&b, ":U%d - [0:0]\n", i)
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "-A INPUT -s 10.0.%d.%d/32 -j ACCEPT\n", i/256, i%256)
	}
	for i := 0; i < deep; i++ {
		if i == 0 {
			b.WriteString("-A INPUT -j U0\n")
		} else {
			fmt.Fprintf(&b, "-A U%d -j U%d\n", i-1, i)
		}
	}
	b.WriteString("COMMIT\n")
	return loadRules(t, ruleset.IPv4, "chain", b.String())
}

// TestChunkPlan checks how chunkPlan splits a plan: chunks of the chunk
// size linked by gotos, the policy rule last in the last chunk, and larger
// chunks when the gotos would go deeper than the kernel's validation
// allows.
func TestChunkPlan(t *testing.T) {
	for _, c := range []struct {
		name       string
		n, deep    int
		size       int
		want       string
		wantChunks int // when want is empty: chunk chains of INPUT
	}{
		{name: "fits", n: 2, size: 3, want: "filter/INPUT:3 filter/FORWARD:1 filter/OUTPUT:1"},
		{name: "policy rule spills", n: 3, size: 3,
			want: "filter/INPUT:4>filter/INPUT #2 filter/FORWARD:1 filter/OUTPUT:1 filter/INPUT #2:1"},
		{name: "three chunks", n: 7, size: 3,
			want: "filter/INPUT:4>filter/INPUT #2 filter/FORWARD:1 filter/OUTPUT:1 filter/INPUT #2:4>filter/INPUT #3 filter/INPUT #3:2"},
		{name: "off", n: 7, size: 0, want: "filter/INPUT:8 filter/FORWARD:1 filter/OUTPUT:1"},
		// 40 chunks would put the last one 39 gotos deep: the chunks
		// grow until at most 15.
		{name: "depth", n: 39, size: 1, wantChunks: 16},
		// With 12 user chains below INPUT's jump to U0 only 3 gotos
		// may come before it (the policy rule may spill into a 5th
		// chunk).
		{name: "deep jumps", n: 39, deep: 12, size: 1, wantChunks: 5},
		{name: "too deep anyway", n: 39, deep: 16, size: 1, wantChunks: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := translate(chainOf(t, c.n, c.deep))
			if err != nil {
				t.Fatal(err)
			}
			q := chunkPlan(p, nil, c.size)
			got := chunkLayout(q)
			if c.want != "" && got != c.want {
				t.Errorf("layout\n got %s\nwant %s", got, c.want)
			}
			chunks := 0
			for _, ch := range q.chains {
				if b, ok := chunkBase(ch.Name); ch.Name == "filter/INPUT" || ok && b == "filter/INPUT" {
					chunks++
				}
			}
			if c.wantChunks > 0 && chunks > c.wantChunks {
				t.Errorf("%d chunks, want at most %d: %s", chunks, c.wantChunks, got)
			}
			if c.wantChunks > 1 && chunks < 2 {
				t.Errorf("not chunked: %s", got)
			}
			if c.deep < 16 && !depthOK(q) {
				t.Errorf("too deep: %s", got)
			}
			if len(q.rules) != len(p.rules)+chunks-1 {
				t.Errorf("%d rules in the chunked plan, %d in the plan and %d chunks", len(q.rules), len(p.rules), chunks)
			}
		})
	}
}

func TestChunkBase(t *testing.T) {
	for _, c := range []struct {
		name, base string
		ok         bool
	}{
		{"filter/INPUT #2", "filter/INPUT", true},
		{"filter/A #12", "filter/A", true},
		{"filter/A", "", false},
		{"filter/INPUT -g filter/X", "", false},
		{"filter/A #x", "", false},
	} {
		if b, ok := chunkBase(c.name); b != c.base || ok != c.ok {
			t.Errorf("chunkBase(%q) = %q, %v; want %q, %v", c.name, b, ok, c.base, c.ok)
		}
	}
}

// chunkRules3 exercises chunks of 3: RETURN, goto and jump in later
// chunks of a base chain and of a user chain, and policy counters.
const chunkRules3 = `*filter
:INPUT DROP [3:180]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [5:50]
:A - [0:0]
:B - [0:0]
[1:10] -A INPUT -i lo -j ACCEPT
[2:20] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 23 -j A
-A INPUT -p tcp -m tcp --dport 24 -g B
[4:40] -A INPUT -p udp -j RETURN
-A INPUT -s 10.0.0.1/32 -j DROP
-A INPUT -s 10.0.0.2/32 -j DROP
-A A -s 10.1.0.1/32 -j ACCEPT
-A A -s 10.1.0.2/32 -j ACCEPT
-A A -s 10.1.0.3/32 -j ACCEPT
-A A -j RETURN
-A A -g B
-A B -j DROP
-A OUTPUT -o lo -j ACCEPT
COMMIT
`

// TestChunkedApply loads, re-applies and changes a ruleset in chunks of 3
// rules: it reads back exactly, the cache describes the kernel, and
// the rules that stay keep their counters and handles.
func TestChunkedApply(t *testing.T) {
	ns := testenv.NewNetns(t)
	b := Backend{Netns: ns.Name, StateDir: t.TempDir(), ChunkSize: 3}
	rs := loadRules(t, ruleset.IPv4, "chunk", chunkRules3)
	if err := b.Apply(rs); err != nil {
		t.Fatal(err)
	}
	list := ns.Run("", "nft", "list", "ruleset").Stdout
	for _, want := range []string{"goto filter/INPUT #2", "goto filter/INPUT #3", "goto filter/A #2",
		"chain filter/INPUT #3 {", "goto filter/INPUT -g filter/B"} {
		if !strings.Contains(list, want) {
			t.Errorf("nft list ruleset lacks %q:\n%s", want, list)
		}
	}
	if got, want := mustSave(t, b), save(rs); got != want {
		t.Fatalf("read back:\n%s\nwant:\n%s", got, want)
	}
	checkCache(t, b, ns)
	first := handles(t, ns, "ip", "filter/INPUT")

	// A rule of the second chunk replaced by another and a rule added
	// at the end: the first chunk keeps its handles and the kept rules
	// their counters.
	edited := strings.Replace(chunkRules3, "-A INPUT -s 10.0.0.1/32 -j DROP\n", "[9:90] -A INPUT -p tcp -m tcp --dport 25 -j DROP\n", 1)
	edited = strings.Replace(edited, "-A B -j DROP\n", "-A B -j DROP\n-A INPUT -j RETURN\n", 1)
	edited = strings.NewReplacer("[1:10] ", "", "[2:20] ", "", "[4:40] ", "").Replace(edited)
	rs2 := loadRules(t, ruleset.IPv4, "edited", edited)
	if err := b.Apply(rs2); err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer("[0:0] -A INPUT -i lo", "[1:10] -A INPUT -i lo", "[0:0] -A INPUT -p tcp -m tcp --dport 22", "[2:20] -A INPUT -p tcp -m tcp --dport 22",
		"[0:0] -A INPUT -p udp -j RETURN", "[4:40] -A INPUT -p udp -j RETURN").Replace(save(rs2))
	if got := mustSave(t, b); got != want {
		t.Errorf("after the re-apply:\n%s\nwant:\n%s", got, want)
	}
	if again := handles(t, ns, "ip", "filter/INPUT"); strings.Join(again, " ") != strings.Join(first, " ") {
		t.Errorf("the first chunk changed: handles %v, before %v", again, first)
	}
	checkCache(t, b, ns)

	// Changes at the chunks' boundaries, as ipt.Exec makes them on the
	// model.
	model := loadRules(t, ruleset.IPv4, "edited", want)
	for _, c := range []struct {
		op    Op
		chain string
		pos   int
		rule  string
	}{
		{OpInsert, "INPUT", 4, "-s 192.0.2.4/32 -j ACCEPT"},
		{OpInsert, "INPUT", 7, "-s 192.0.2.7/32 -j RETURN"},
		{OpAppend, "INPUT", 0, "-s 192.0.2.8/32 -g A"},
		{OpReplace, "INPUT", 3, "-s 192.0.2.3/32 -j B"},
		{OpDelete, "INPUT", 4, ""},
		{OpDelete, "INPUT", 6, ""},
		{OpDelete, "A", 4, ""},
		{OpInsert, "A", 5, "-j DROP"},
		{OpReplace, "A", 4, "-j DROP"},
	} {
		var r *ruleset.Rule
		if c.rule != "" {
			r = parseRule(t, c.chain, c.rule)
		}
		if err := b.Change(ruleset.IPv4, "filter", c.chain, c.op, c.pos, r); err != nil {
			t.Fatalf("%v %s %d %s: %v", c.op, c.chain, c.pos, c.rule, err)
		}
		ch := model.Table("filter").Chain(c.chain)
		switch c.op {
		case OpAppend:
			ch.Rules = append(ch.Rules, r)
		case OpInsert:
			ch.Rules = append(ch.Rules[:c.pos-1], append([]*ruleset.Rule{r}, ch.Rules[c.pos-1:]...)...)
		case OpDelete:
			ch.Rules = append(ch.Rules[:c.pos-1], ch.Rules[c.pos:]...)
		case OpReplace:
			ch.Rules[c.pos-1] = r
		}
		if got, want := mustSave(t, b), save(model); got != want {
			t.Fatalf("after %v %s %d %s:\n%s\nwant:\n%s", c.op, c.chain, c.pos, c.rule, got, want)
		}
	}
	checkCache(t, b, ns)
	// A re-apply of the model changes nothing.
	before := ns.Run("", "nft", "-a", "list", "ruleset").Stdout
	if err := b.Apply(model); err != nil {
		t.Fatal(err)
	}
	if after := ns.Run("", "nft", "-a", "list", "ruleset").Stdout; after != before {
		t.Errorf("a re-apply of the same ruleset changed it:\n%s\nbefore:\n%s", after, before)
	}
}

func mustSave(t *testing.T, b Backend) string {
	t.Helper()
	s, err := b.SaveText(ruleset.IPv4)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// parseRule parses one rule of chain chain of the filter table.
func parseRule(t *testing.T, chain, spec string) *ruleset.Rule {
	t.Helper()
	rs := loadRules(t, ruleset.IPv4, "rule", "*filter\n:INPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A "+chain+" "+spec+"\nCOMMIT\n")
	return rs.Table("filter").Chain(chain).Rules[0]
}
