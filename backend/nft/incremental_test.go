package nft

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/rampartfw/rampart/internal/testenv"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
)

// TestFastExprs checks that the batch writer's own marshalling of the
// common expressions is byte for byte expr.Marshal's.
func TestFastExprs(t *testing.T) {
	for _, e := range []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{10, 0, 0, 1}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte("eth0\x00")},
		&expr.Cmp{Op: expr.CmpOpLte, Register: 1, Data: []byte{0, 22}},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{255, 255, 0, 0}, Xor: []byte{0, 0, 0, 0}},
		&expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: []byte{0, 1}, ToData: []byte{3, 255}},
		&expr.Range{Op: expr.CmpOpNeq, Register: 1, FromData: []byte{8, 0}, ToData: []byte{8, 3}},
		&expr.Counter{},
		&expr.Counter{Packets: 7, Bytes: 1 << 40},
		&expr.Verdict{Kind: expr.VerdictAccept},
		&expr.Verdict{Kind: expr.VerdictDrop},
		&expr.Verdict{Kind: expr.VerdictReturn},
		&expr.Verdict{Kind: expr.VerdictJump, Chain: "filter/PORTSCAN"},
		&expr.Verdict{Kind: expr.VerdictGoto, Chain: "filter/SVC1"},
		// Through expr.Marshal:
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 1, Len: 1},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	} {
		for _, fam := range []byte{unix.NFPROTO_IPV4, unix.NFPROTO_IPV6} {
			w := &batchBuf{}
			if err := w.expr(fam, e); err != nil {
				t.Fatalf("%#v: %v", e, err)
			}
			data, err := expr.Marshal(fam, e)
			if err != nil {
				t.Fatalf("%#v: %v", e, err)
			}
			want := binary.NativeEndian.AppendUint16(nil, uint16(4+len(data)))
			want = binary.NativeEndian.AppendUint16(want, unix.NFTA_LIST_ELEM|unix.NLA_F_NESTED)
			want = append(want, data...)
			for len(want)%4 != 0 {
				want = append(want, 0)
			}
			if !bytes.Equal(w.b, want) {
				t.Errorf("%#v:\n got %x\nwant %x", e, w.b, want)
			}
		}
	}
}

const incrBase = `*filter
:INPUT DROP [3:180]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:OLD - [0:0]
:SVC - [0:0]
[10:600] -A INPUT -i lo -j ACCEPT
[20:1200] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
[30:1800] -A INPUT -p tcp -m tcp --dport 80 -j SVC
[40:2400] -A INPUT -j OLD
[11:660] -A INPUT -j RETURN
[5:300] -A SVC -s 10.0.0.0/8 -j ACCEPT
[6:360] -A SVC -j RETURN
[7:420] -A OLD -j DROP
COMMIT
`

// The model's counters are 0 for the rules that stay: the kernel's are
// kept.
const incrNew = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:NEW - [0:0]
:SVC - [0:0]
-A INPUT -i lo -j ACCEPT
[9:99] -A INPUT -s 192.0.2.1/32 -j DROP
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 80 -j SVC
-A INPUT -j NEW
-A INPUT -j RETURN
-A NEW -j DROP
-A SVC -s 10.0.0.0/8 -j ACCEPT
-A SVC -j RETURN
COMMIT
`

const incrWant = `*filter
:INPUT ACCEPT [3:180]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:NEW - [0:0]
:SVC - [0:0]
[10:600] -A INPUT -i lo -j ACCEPT
[9:99] -A INPUT -s 192.0.2.1/32 -j DROP
[20:1200] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
[30:1800] -A INPUT -p tcp -m tcp --dport 80 -j SVC
[0:0] -A INPUT -j NEW
[11:660] -A INPUT -j RETURN
[0:0] -A NEW -j DROP
[5:300] -A SVC -s 10.0.0.0/8 -j ACCEPT
[6:360] -A SVC -j RETURN
COMMIT
`

// handles lists the handles of a chain of rampart's table, in order.
func handles(t *testing.T, ns *testenv.Netns, fam, chain string) []string {
	t.Helper()
	r := ns.Run("", "nft", "-a", "list", "chain", fam, TableName, chain)
	if r.Code != 0 {
		t.Fatalf("nft list chain %s: %s", chain, r.Stderr)
	}
	var out []string
	for _, line := range strings.Split(r.Stdout, "\n") {
		if i := strings.LastIndex(line, "# handle "); i >= 0 && !strings.Contains(line, "chain ") {
			out = append(out, line[i+len("# handle "):])
		}
	}
	return out
}

// checkCache checks that the cache describes the kernel's table exactly
// (the handles of a full load are predicted, not read).
func checkCache(t *testing.T, b Backend, ns *testenv.Netns) {
	t.Helper()
	s := b.loadCache(ruleset.IPv4)
	if s == nil || s.gen == 0 {
		t.Fatalf("no current cache after the load")
	}
	c, err := b.dialRaw()
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	k, err := c.readState(ruleset.IPv4)
	if err != nil {
		t.Fatal(err)
	}
	if k.gen != s.gen || len(k.chains) != len(s.chains) {
		t.Fatalf("cache: generation %d, %d chains; kernel: %d, %d", s.gen, len(s.chains), k.gen, len(k.chains))
	}
	for i, kc := range k.chains {
		sc := s.chains[i]
		if fmt.Sprint(*sc) != fmt.Sprint(*kc) {
			t.Errorf("cached chain %+v\n  kernel's %+v", *sc, *kc)
		}
	}
}

// TestIncrementalKeepsCounters re-applies a ruleset with a rule added in
// the middle, a rule and a user chain removed, a chain added and a policy
// changed: the rules that did not change keep their counters and handles.
func TestIncrementalKeepsCounters(t *testing.T) {
	for _, stateDir := range []string{"cache", "-"} {
		t.Run(stateDir, func(t *testing.T) {
			ns := testenv.NewNetns(t)
			dir := stateDir
			if dir == "cache" {
				dir = t.TempDir()
			}
			b := Backend{Netns: ns.Name, StateDir: dir}
			if err := b.Apply(loadRules(t, ruleset.IPv4, "base", incrBase)); err != nil {
				t.Fatal(err)
			}
			before := handles(t, ns, "ip", "filter/INPUT")
			if dir != "-" {
				checkCache(t, b, ns)
			}
			if err := b.Apply(loadRules(t, ruleset.IPv4, "new", incrNew)); err != nil {
				t.Fatal(err)
			}
			got, err := b.SaveText(ruleset.IPv4)
			if err != nil {
				t.Fatal(err)
			}
			if got != incrWant {
				t.Errorf("read back:\n%s\nwant:\n%s", got, incrWant)
			}
			after := handles(t, ns, "ip", "filter/INPUT")
			// Kept: lo (0), dport 22 (1), dport 80 (2), RETURN (4),
			// the policy rule (5).
			for _, p := range [][2]int{{0, 0}, {1, 2}, {2, 3}, {4, 5}, {5, 6}} {
				if len(before) != 6 || len(after) != 7 || before[p[0]] != after[p[1]] {
					t.Fatalf("handles before %v, after %v: rule %d not kept", before, after, p[0])
				}
			}
			// The same ruleset again changes nothing.
			gen := ns.Run("", "nft", "list", "ruleset").Stdout
			if err := b.Apply(loadRules(t, ruleset.IPv4, "new", incrNew)); err != nil {
				t.Fatal(err)
			}
			if again := ns.Run("", "nft", "list", "ruleset").Stdout; again != gen {
				t.Errorf("a re-apply of the same ruleset changed it:\n%s\nbefore:\n%s", again, gen)
			}
			// Replace resets every counter to the model's.
			if err := b.Replace(loadRules(t, ruleset.IPv4, "new", incrNew)); err != nil {
				t.Fatal(err)
			}
			got, err = b.SaveText(ruleset.IPv4)
			if err != nil {
				t.Fatal(err)
			}
			if want := save(loadRules(t, ruleset.IPv4, "new", incrNew)); got != want {
				t.Errorf("after Replace:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestStaleCache changes rampart's table behind the backend's back (the
// cache then disagrees with the kernel): the next load notices and its
// result is still exactly the ruleset.
func TestStaleCache(t *testing.T) {
	for _, c := range []struct {
		name  string
		shell string // run in the namespace after the first load
		uses  bool   // also detected by the chains' use counts alone
	}{
		{"nft add rule", "nft add rule ip rampart filter/INPUT counter accept", true},
		{"nft insert rule", "nft insert rule ip rampart filter/SVC ip saddr 1.2.3.4 drop", true},
		{"nft delete rule", "nft delete rule ip rampart filter/INPUT handle $(nft -a list chain ip rampart filter/INPUT | grep -m1 'dport 22' | sed 's/.*handle //')", true},
		// Same number of rules: only a read of the table sees it.
		{"nft flush and refill", "nft flush chain ip rampart filter/SVC; nft add rule ip rampart filter/SVC counter; nft add rule ip rampart filter/SVC counter", false},
		{"nft add chain", "nft add chain ip rampart filter/X", true},
		{"other table", "nft add table ip other; nft add chain ip other c; nft add rule ip other c counter", true},
		{"corrupt cache", "for f in \"$CACHE\"/*/ip.cache; do printf junk >$f; done", true},
		{"table deleted", "nft delete table ip rampart", true},
	} {
		for _, dump := range []int{dumpBelow, 0} {
			if dump == 0 && !c.uses {
				continue
			}
			name := c.name
			if dump == 0 {
				name += " (use counts)"
			}
			t.Run(name, func(t *testing.T) {
				defer func(v int) { dumpBelow = v }(dumpBelow)
				dumpBelow = dump
				testStaleCache(t, c.name, c.shell)
			})
		}
	}
}

func testStaleCache(t *testing.T, name, shell string) {
	c := struct{ name, shell string }{name, shell}
	{
		{
			ns := testenv.NewNetns(t)
			dir := t.TempDir()
			b := Backend{Netns: ns.Name, StateDir: dir}
			if err := b.Apply(loadRules(t, ruleset.IPv4, "base", incrBase)); err != nil {
				t.Fatal(err)
			}
			if r := ns.Run("", "sh", "-c", "CACHE="+testenv.ShellQuote(dir)+"; "+c.shell); r.Code != 0 {
				t.Fatalf("%s: %s", c.shell, r.Stderr)
			}
			newRules := loadRules(t, ruleset.IPv4, "new", incrNew)
			if err := b.Apply(newRules); err != nil {
				t.Fatal(err)
			}
			got, err := b.SaveText(ruleset.IPv4)
			if err != nil {
				t.Fatal(err)
			}
			want := incrWant
			switch c.name {
			case "nft delete rule":
				want = strings.Replace(want, "[20:1200] -A INPUT -p tcp -m tcp --dport 22", "[0:0] -A INPUT -p tcp -m tcp --dport 22", 1)
			case "nft flush and refill":
				want = strings.Replace(want, "[5:300] -A SVC", "[0:0] -A SVC", 1)
				want = strings.Replace(want, "[6:360] -A SVC", "[0:0] -A SVC", 1)
			case "table deleted":
				want = save(newRules)
			}
			if got != want {
				t.Errorf("read back:\n%s\nwant:\n%s", got, want)
			}
			// And a Change after it acts on the right rule.
			if err := b.Change(ruleset.IPv4, "filter", "INPUT", OpDelete, 2, nil); err != nil {
				t.Fatal(err)
			}
			got, _ = b.SaveText(ruleset.IPv4)
			if w := strings.Replace(want, "-A INPUT -s 192.0.2.1/32 -j DROP\n", "", 1); strings.Contains(got, "192.0.2.1") || !strings.HasSuffix(w, got[strings.Index(got, "-A SVC"):]) {
				t.Errorf("after deleting rule 2:\n%s", got)
			}
		}
	}
}

// TestChange runs iptables commands through Change and through ipt.Exec on
// the model: the kernel reads back as the model after each.
// With ChunkSize 2 the chains are in chunks (chunk.go) and the commands
// act at the chunks' boundaries.
func TestChange(t *testing.T) {
	for _, size := range []int{0, 2} {
		t.Run(fmt.Sprintf("chunk%d", size), func(t *testing.T) { testChange(t, size) })
	}
}

func testChange(t *testing.T, size int) {
	ns := testenv.NewNetns(t)
	b := Backend{Netns: ns.Name, StateDir: t.TempDir(), ChunkSize: size}
	model := loadRules(t, ruleset.IPv4, "base", incrBase)
	if err := b.Apply(model); err != nil {
		t.Fatal(err)
	}
	model = loadRules(t, ruleset.IPv4, "base", incrBase)
	for _, c := range []struct {
		cmd  string
		want error // a Change error (the model's command then fails too)
	}{
		{"-A INPUT -s 192.0.2.1/32 -j DROP", nil},
		{"-I INPUT -p udp -m udp --dport 53 -j ACCEPT", nil},
		{"-I INPUT 3 -s 198.51.100.0/24 -j SVC", nil},
		{"-I INPUT 9 -d 203.0.113.9/32 -j ACCEPT", nil}, // rule count + 1
		{"-I SVC 2 -s 10.1.0.0/16 -j DROP", nil},
		{"-A OLD -p tcp -j RETURN", nil},
		{"-R INPUT 2 -i eth0 -j ACCEPT", nil},
		{"-R SVC 1 -s 10.0.0.0/8 -j DROP", nil},
		{"-D INPUT 4", nil},
		{"-D INPUT -s 192.0.2.1/32 -j DROP", nil},
		{"-D SVC -j RETURN", nil},
		{"-A INPUT -j RETURN", nil},
		{"-A INPUT -p tcp -g SVC", nil},
		{"-I INPUT 1 -p tcp -g OLD", nil},
		{"-D INPUT 1", nil},
		{"-I INPUT 20 -j ACCEPT", ErrIndex},
		{"-D INPUT 20", ErrIndex},
		{"-R OLD 3 -j ACCEPT", ErrIndex},
		{"-D INPUT -s 192.0.2.99/32 -j DROP", ErrNoMatch},
		{"-A NOSUCH -j ACCEPT", ErrNoChain},
	} {
		args := strings.Fields(c.cmd)
		cmd, err := iptext.ParseCommand(args, iptext.ParseOptions{Family: ruleset.IPv4})
		if err != nil {
			t.Fatalf("%s: %v", c.cmd, err)
		}
		var r *ruleset.Rule
		if rules := cmd.Rules(); len(rules) == 1 {
			r = rules[0]
		}
		var op Op
		pos := cmd.RuleNum
		switch cmd.Op {
		case iptext.OpAppend:
			op = OpAppend
		case iptext.OpInsert:
			op = OpInsert
			if pos == 0 {
				pos = 1
			}
		case iptext.OpDelete:
			op, pos = OpDelete, 0
		case iptext.OpDeleteNum:
			op, r = OpDelete, nil
		case iptext.OpReplace:
			op = OpReplace
		default:
			t.Fatalf("%s: op %v", c.cmd, cmd.Op)
		}
		before, _ := b.SaveText(ruleset.IPv4)
		err = b.Change(ruleset.IPv4, "filter", cmd.Chain, op, pos, r)
		var out strings.Builder
		exErr := ipt.Exec(model, cmd, &out)
		if c.want != nil {
			if !errors.Is(err, c.want) {
				t.Errorf("%s: error %v, want %v", c.cmd, err, c.want)
			}
			if exErr == nil {
				t.Errorf("%s: ipt.Exec accepts it", c.cmd)
			}
			if after, _ := b.SaveText(ruleset.IPv4); after != before {
				t.Errorf("%s: a refused change changed the kernel:\n%s", c.cmd, after)
			}
			continue
		}
		if err != nil || exErr != nil {
			t.Fatalf("%s: Change: %v, ipt.Exec: %v", c.cmd, err, exErr)
		}
		got, err := b.SaveText(ruleset.IPv4)
		if err != nil {
			t.Fatal(err)
		}
		if want := save(model); got != want {
			t.Errorf("after %s:\n%s\nwant (ipt.Exec):\n%s", c.cmd, got, want)
		}
	}
	checkCache(t, b, ns)
	// A re-apply of the model after the changes keeps everything (it
	// only drops the hidden goto chain no rule uses any more).
	list, _ := b.SaveText(ruleset.IPv4)
	if err := b.Apply(model); err != nil {
		t.Fatal(err)
	}
	if again, _ := b.SaveText(ruleset.IPv4); again != list {
		t.Errorf("re-apply after Change changed the ruleset:\n%s\nbefore:\n%s", again, list)
	}
	if r := ns.Run("", "nft", "list", "ruleset").Stdout; strings.Contains(r, "-g filter/OLD") {
		t.Errorf("the unused hidden chain is left:\n%s", r)
	}
}

// TestIncrementalSets re-applies rulesets whose rules use anonymous sets
// (multiport: sent with the new rule that owns them) and named sets
// (hashlimit: shared, with state; the table is then replaced).
func TestIncrementalSets(t *testing.T) {
	const base = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
[1:10] -A INPUT -p tcp -m multiport --dports 22,80,443 -j ACCEPT
[2:20] -A INPUT -p udp -m multiport --dports 53,123 -j ACCEPT
COMMIT
`
	for _, c := range []struct {
		name, rules, want string
	}{
		{"anonymous", `-A INPUT -p tcp -m multiport --dports 22,80,443 -j ACCEPT
[3:30] -A INPUT -p tcp -m multiport --sports 1000:2000,3000 -j DROP
-A INPUT -p udp -m multiport --dports 53,123 -j ACCEPT
`, `[1:10] -A INPUT -p tcp -m multiport --dports 22,80,443 -j ACCEPT
[3:30] -A INPUT -p tcp -m multiport --sports 1000:2000,3000 -j DROP
[2:20] -A INPUT -p udp -m multiport --dports 53,123 -j ACCEPT
`},
		{"named", `-A INPUT -p tcp -m multiport --dports 22,80,443 -j ACCEPT
[3:30] -A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-mode srcip --hashlimit-name h1 -j ACCEPT
-A INPUT -p udp -m multiport --dports 53,123 -j ACCEPT
`, `[0:0] -A INPUT -p tcp -m multiport --dports 22,80,443 -j ACCEPT
[3:30] -A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name h1 -j ACCEPT
[0:0] -A INPUT -p udp -m multiport --dports 53,123 -j ACCEPT
`},
	} {
		t.Run(c.name, func(t *testing.T) {
			ns := testenv.NewNetns(t)
			b := Backend{Netns: ns.Name, StateDir: t.TempDir()}
			if err := b.Apply(loadRules(t, ruleset.IPv4, "base", base)); err != nil {
				t.Fatal(err)
			}
			checkCache(t, b, ns)
			head := "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
			if err := b.Apply(loadRules(t, ruleset.IPv4, "new", head+c.rules+"COMMIT\n")); err != nil {
				t.Fatal(err)
			}
			got, err := b.SaveText(ruleset.IPv4)
			if err != nil {
				t.Fatal(err)
			}
			if want := head + c.want + "COMMIT\n"; got != want {
				t.Errorf("read back:\n%s\nwant:\n%s", got, want)
			}
			// Deleting the rule in the middle leaves the others.
			if err := b.Change(ruleset.IPv4, "filter", "INPUT", OpDelete, 2, nil); err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitAfter(c.want, "\n")
			want := head + lines[0] + lines[2] + "COMMIT\n"
			if got, _ := b.SaveText(ruleset.IPv4); got != want {
				t.Errorf("after deleting rule 2:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestCacheOtherNamespace recreates the namespace under the same name and
// loads a different ruleset in it with as many commits: the generation
// ids are the same, the cache is not the new namespace's and is not used.
func TestCacheOtherNamespace(t *testing.T) {
	ns := testenv.NewNetns(t)
	dir := t.TempDir()
	b := Backend{Netns: ns.Name, StateDir: dir}
	if err := b.Apply(loadRules(t, ruleset.IPv4, "base", incrBase)); err != nil {
		t.Fatal(err)
	}
	old := b.loadCache(ruleset.IPv4)
	for _, args := range [][]string{{"netns", "del", ns.Name}, {"netns", "add", ns.Name}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	newRules := loadRules(t, ruleset.IPv4, "new", incrNew)
	if err := (Backend{Netns: ns.Name, StateDir: "-"}).Apply(newRules); err != nil {
		t.Fatal(err)
	}
	c, err := b.dialRaw()
	if err != nil {
		t.Fatal(err)
	}
	gen, err := c.getGen()
	c.close()
	if err != nil {
		t.Fatal(err)
	}
	if old == nil || old.gen != gen {
		t.Logf("generations differ (%v, %d): the test shows less", old != nil && old.gen != 0, gen)
	}
	if err := b.Apply(loadRules(t, ruleset.IPv4, "base", incrBase)); err != nil {
		t.Fatal(err)
	}
	got, err := b.SaveText(ruleset.IPv4)
	if err != nil {
		t.Fatal(err)
	}
	// The rules common to both rulesets keep the new namespace's counters
	// (0, or the new ruleset's), the others come from the base ruleset.
	want := save(loadRules(t, ruleset.IPv4, "base", incrBase))
	for _, common := range []string{"-A INPUT -i lo -j ACCEPT", "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT", "-A INPUT -p tcp -m tcp --dport 80 -j SVC", "-A INPUT -j RETURN", "-A SVC -s 10.0.0.0/8 -j ACCEPT", "-A SVC -j RETURN"} {
		i := strings.Index(want, "] "+common+"\n")
		j := strings.LastIndex(want[:i], "[")
		want = want[:j] + "[0:0" + want[i:]
	}
	want = strings.Replace(want, ":INPUT DROP [3:180]", ":INPUT DROP [0:0]", 1)
	if got != want {
		t.Errorf("read back:\n%s\nwant:\n%s", got, want)
	}
}
