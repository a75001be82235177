package xt_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rampartfw/rampart/conntrack"
	"github.com/rampartfw/rampart/engine"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// t0 falls on a jiffy boundary (HZ=250).
var ceT0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	ceFIN = 0x01
	ceSYN = 0x02
	ceRST = 0x04
	cePSH = 0x08
	ceACK = 0x10
)

// ceRule parses one iptables rule (the words after -A CHAIN).
func ceRule(tb testing.TB, f ruleset.Family, table, args string) *ruleset.Rule {
	tb.Helper()
	words := append([]string{"-t", table, "-A", "X"}, strings.Fields(args)...)
	cmd, err := iptext.ParseCommand(words, iptext.ParseOptions{Family: f})
	if err != nil {
		tb.Fatalf("%s: %v", args, err)
	}
	return cmd.Rule
}

// ceMatch parses a rule and returns its last extension match.
func ceMatch(tb testing.TB, f ruleset.Family, args string) pkt.Matcher {
	tb.Helper()
	r := ceRule(tb, f, "filter", args)
	if len(r.Matches) == 0 {
		tb.Fatalf("%s: no match", args)
	}
	m, ok := r.Matches[len(r.Matches)-1].(pkt.Matcher)
	if !ok {
		tb.Fatalf("%s: %T is not a pkt.Matcher", args, r.Matches[len(r.Matches)-1])
	}
	return m
}

// ceTarget parses a rule in table and returns its target.
func ceTarget(tb testing.TB, table, args string) pkt.Actor {
	tb.Helper()
	r := ceRule(tb, ruleset.IPv4, table, args)
	a, ok := r.Target.(pkt.Actor)
	if !ok {
		tb.Fatalf("%s: %T is not a pkt.Actor", args, r.Target)
	}
	return a
}

func cePacket(tb testing.TB, s pkt.Spec) *pkt.Packet {
	tb.Helper()
	p := &pkt.Packet{}
	if err := p.Decode(pkt.Build(s)); err != nil {
		tb.Fatal(err)
	}
	return p
}

// ceFlow drives TCP connections through a conntrack table, as the engine
// would: Track at PREROUTING, then Confirm.
type ceFlow struct {
	tb  testing.TB
	ct  *conntrack.Table
	now time.Time
}

// step tracks one packet and returns its context (as the rules see it,
// before confirmation); confirm decides whether the packet is accepted.
func (f *ceFlow) step(s pkt.Spec, at time.Duration, confirm bool) *pkt.Ctx {
	f.tb.Helper()
	p := cePacket(f.tb, s)
	now := ceT0.Add(at)
	r := f.ct.Track(p, now, ruleset.PreRouting)
	c := &pkt.Ctx{P: p, Now: now, Hook: ruleset.LocalIn, Conns: f.ct, Store: engine.NewStore()}
	r.Apply(c)
	if c.Conn != nil {
		// The entry as this packet saw it (later packets change it).
		snap := *c.Conn
		c.Conn = &snap
	}
	if confirm {
		f.ct.Confirm(&r, now)
	} else {
		f.ct.Discard(&r)
	}
	return c
}

func tcp(src, dst string, sp, dp uint16, flags uint8, seq, ack uint32) pkt.Spec {
	return pkt.Spec{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Proto: pkt.ProtoTCP,
		SrcPort: sp, DstPort: dp, TCPFlags: flags, Seq: seq, Ack: ack}
}

// ceConnCtxs returns the contexts of a TCP handshake 192.0.2.1:40000 ->
// 198.51.100.2:80: the SYN (NEW, unconfirmed), the SYN/ACK (reply), the
// ACK (ESTABLISHED, ASSURED) 1.5 s later.
func ceConnCtxs(t *testing.T) (syn, synack, ack *pkt.Ctx, ct *conntrack.Table) {
	f := &ceFlow{tb: t, ct: conntrack.New(0)}
	syn = f.step(tcp("192.0.2.1", "198.51.100.2", 40000, 80, ceSYN, 1000, 0), 0, true)
	synack = f.step(tcp("198.51.100.2", "192.0.2.1", 80, 40000, ceSYN|ceACK, 5000, 1001), 10*time.Millisecond, true)
	ack = f.step(tcp("192.0.2.1", "198.51.100.2", 40000, 80, ceACK, 1001, 5001), 1500*time.Millisecond, true)
	return syn, synack, ack, f.ct
}

func TestConntrackMatchEval(t *testing.T) {
	syn, synack, ack, _ := ceConnCtxs(t)
	untracked := &pkt.Ctx{P: syn.P, CTState: pkt.CTUntracked}
	invalid := &pkt.Ctx{P: syn.P, CTState: pkt.CTInvalid}
	// A DNATed connection: its reply tuple comes from 10.0.0.5:8080.
	ct := conntrack.New(0)
	p := cePacket(t, tcp("192.0.2.1", "198.51.100.2", 40001, 80, ceSYN, 1000, 0))
	r := ct.Track(p, ceT0, ruleset.PreRouting)
	ct.SetNAT(&r, conntrack.DNAT, netip.MustParseAddr("10.0.0.5"), 8080, 8080, ceT0)
	dnat := &pkt.Ctx{P: p, Now: ceT0}
	r.Apply(dnat)

	tests := []struct {
		args string
		c    *pkt.Ctx
		want bool
	}{
		{"-m conntrack --ctstate NEW", syn, true},
		{"-m conntrack --ctstate ESTABLISHED", syn, false},
		{"-m conntrack ! --ctstate NEW", syn, false},
		{"-m conntrack --ctstate ESTABLISHED", synack, true},
		{"-m conntrack --ctstate RELATED,ESTABLISHED", ack, true},
		{"-m conntrack --ctstate INVALID", invalid, true},
		{"-m conntrack --ctstate UNTRACKED", untracked, true},
		{"-m conntrack --ctstate INVALID", untracked, false},
		{"-m conntrack ! --ctstate INVALID", untracked, true},
		// No conntrack: only the state test can make the rule match.
		{"-m conntrack ! --ctproto udp", untracked, false},
		{"-m conntrack --ctstate UNTRACKED ! --ctproto udp", untracked, true},
		{"-m conntrack --ctstatus NONE", invalid, false},
		{"-m conntrack --ctstate DNAT", dnat, true},
		{"-m conntrack --ctstate SNAT", dnat, false},
		{"-m conntrack --ctstate NEW", dnat, true},
		{"-m conntrack --ctdir ORIGINAL", syn, true},
		{"-m conntrack --ctdir REPLY", syn, false},
		{"-m conntrack --ctdir REPLY", synack, true},
		{"-m conntrack --ctdir ORIGINAL", synack, false},
		{"-m conntrack --ctproto tcp", ack, true},
		{"-m conntrack --ctproto 17", ack, false},
		{"-m conntrack ! --ctproto udp", ack, true},
		// Addresses: the original tuple whatever the packet's direction.
		{"-m conntrack --ctorigsrc 192.0.2.1", synack, true},
		{"-m conntrack --ctorigsrc 192.0.2.0/24", ack, true},
		{"-m conntrack --ctorigsrc 192.0.2.128/25", ack, false},
		{"-m conntrack ! --ctorigsrc 192.0.2.128/25", ack, true},
		{"-m conntrack --ctorigdst 198.51.100.2", ack, true},
		{"-m conntrack --ctreplsrc 198.51.100.2", ack, true},
		{"-m conntrack --ctrepldst 192.0.2.1/32", ack, true},
		{"-m conntrack --ctrepldst 192.0.2.2", ack, false},
		{"-m conntrack ! --ctrepldst 192.0.2.2", ack, true},
		{"-m conntrack --ctreplsrc 198.51.100.3", ack, false},
		{"-m conntrack --ctorigdst 198.51.100.0/30", ack, true},
		{"-m conntrack --ctorigdst 198.51.100.3/255.255.255.252", ack, true},
		{"-m conntrack --ctorigdst 198.51.100.0/32", ack, false},
		{"-m conntrack --ctorigsrcport 40001", ack, false},
		{"-m conntrack --ctreplsrcport 81", ack, false},
		{"-m conntrack ! --ctrepldstport 40000", ack, false},
		{"-m conntrack --ctreplsrc 10.0.0.5", dnat, true},
		{"-m conntrack --ctorigdst 10.0.0.5", dnat, false},
		{"-m conntrack --ctorigsrc 0.0.0.0/0", ack, true},
		// Ports (revision 3 ranges).
		{"-m conntrack --ctorigdstport 80", ack, true},
		{"-m conntrack --ctorigdstport 81:90", ack, false},
		{"-m conntrack ! --ctorigdstport 81:90", ack, true},
		{"-m conntrack --ctorigsrcport 40000:", ack, true},
		{"-m conntrack --ctreplsrcport 80", synack, true},
		{"-m conntrack --ctrepldstport 39999", synack, false},
		{"-m conntrack --ctreplsrcport 8080", dnat, true},
		// Status: any of the bits.
		{"-m conntrack --ctstatus CONFIRMED", syn, false},
		{"-m conntrack --ctstatus SEEN_REPLY", synack, true},
		{"-m conntrack --ctstatus ASSURED", synack, false},
		{"-m conntrack --ctstatus ASSURED", ack, true},
		{"-m conntrack --ctstatus EXPECTED,ASSURED", ack, true},
		{"-m conntrack ! --ctstatus EXPECTED", ack, true},
		{"-m conntrack --ctstatus NONE", ack, false},
		{"-m conntrack ! --ctstatus NONE", ack, true},
		// Expiry in whole seconds: 0 while unconfirmed; SYN_RECV 60 s;
		// ESTABLISHED 5 days.
		{"-m conntrack --ctexpire 0", syn, true},
		{"-m conntrack --ctexpire 1:100", syn, false},
		{"-m conntrack --ctexpire 60", synack, true},
		{"-m conntrack --ctexpire 59", synack, false},
		{"-m conntrack --ctexpire 432000", ack, true},
		{"-m conntrack ! --ctexpire 0:431999", ack, true},
		// All conditions together.
		{"-m conntrack --ctstate ESTABLISHED --ctproto tcp --ctorigsrc 192.0.2.1 --ctorigdstport 80 --ctstatus ASSURED --ctdir ORIGINAL", ack, true},
		{"-m conntrack --ctstate ESTABLISHED --ctproto tcp --ctorigsrc 192.0.2.1 --ctorigdstport 80 --ctstatus ASSURED --ctdir REPLY", ack, false},
	}
	for _, tt := range tests {
		c := *tt.c
		if got := ceMatch(t, ruleset.IPv4, tt.args).Match(&c); got != tt.want {
			t.Errorf("%s (state %d dir %d): got %v, want %v", tt.args, c.CTState, c.CTDir, got, tt.want)
		}
		if c.Undecided != "" {
			t.Errorf("%s: undecided: %s", tt.args, c.Undecided)
		}
	}
}

func TestConntrackMatchEvalIPv6(t *testing.T) {
	f := &ceFlow{tb: t, ct: conntrack.New(0)}
	c := f.step(tcp("2001:db8:1::7", "2001:db8:2::1", 40000, 443, ceSYN, 1, 0), 0, true)
	tests := []struct {
		args string
		want bool
	}{
		{"-m conntrack --ctorigsrc 2001:db8:1::/48", true},
		{"-m conntrack --ctorigsrc 2001:db8:1::/64", true},
		{"-m conntrack --ctorigsrc 2001:db8:1::8/127", false},
		{"-m conntrack --ctorigsrc 2001:db8:1::6/127", true},
		{"-m conntrack --ctrepldst 2001:db8:1::7 --ctorigdstport 443", true},
	}
	for _, tt := range tests {
		if got := ceMatch(t, ruleset.IPv6, tt.args).Match(c); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.args, got, tt.want)
		}
	}
}

// TestConntrackExpireJiffies checks the seconds left as the kernel counts
// them: jiffies of the deadline minus jiffies of now, divided by HZ.
func TestConntrackExpireJiffies(t *testing.T) {
	m := ceMatch(t, ruleset.IPv4, "-m conntrack --ctexpire 29")
	tests := []struct {
		at, left time.Duration
		want     bool
	}{
		{0, 30 * time.Second, false},                                 // 7500 jiffies: 30 s
		{time.Millisecond, 30*time.Second - time.Millisecond, false}, // same jiffy: still 30 s
		{4 * time.Millisecond, 30*time.Second - 4*time.Millisecond, true},
		{3 * time.Millisecond, 30*time.Second - 2*time.Millisecond, false}, // deadline jiffy +1
	}
	for _, tt := range tests {
		c := &pkt.Ctx{CTState: pkt.CTEstablished, Now: ceT0.Add(tt.at), Conn: &pkt.Conn{Expires: tt.left, Status: 8}}
		if got := m.Match(c); got != tt.want {
			t.Errorf("at %v left %v: got %v, want %v", tt.at, tt.left, got, tt.want)
		}
	}
}

func TestMarkMatchEval(t *testing.T) {
	tests := []struct {
		args string
		mark uint32
		want bool
	}{
		{"-m mark --mark 1", 1, true},
		{"-m mark --mark 1", 3, false},
		{"-m mark --mark 1/1", 3, true},
		{"-m mark ! --mark 1/1", 3, false},
		{"-m mark ! --mark 1", 3, true},
		{"-m mark --mark 0x10/0xf0", 0x1f, true},
		{"-m mark --mark 0x10/0xf0", 0x2f, false},
		// A value with bits outside its mask never matches.
		{"-m mark --mark 5/1", 5, false},
		{"-m mark ! --mark 5/1", 5, true},
		{"-m mark --mark 0", 0, true},
	}
	for _, tt := range tests {
		c := &pkt.Ctx{Mark: tt.mark}
		if got := ceMatch(t, ruleset.IPv4, tt.args).Match(c); got != tt.want {
			t.Errorf("%s on mark %#x: got %v, want %v", tt.args, tt.mark, got, tt.want)
		}
	}
}

func TestConnmarkMatchEval(t *testing.T) {
	tests := []struct {
		args string
		conn *pkt.Conn
		want bool
	}{
		{"-m connmark --mark 7", &pkt.Conn{Mark: 7}, true},
		{"-m connmark --mark 7", &pkt.Conn{Mark: 6}, false},
		{"-m connmark --mark 2/2", &pkt.Conn{Mark: 6}, true},
		{"-m connmark ! --mark 2/2", &pkt.Conn{Mark: 6}, false},
		{"-m connmark ! --mark 1", &pkt.Conn{Mark: 6}, true},
		// Without conntrack it never matches, not even inverted.
		{"-m connmark --mark 0", nil, false},
		{"-m connmark ! --mark 1", nil, false},
	}
	for _, tt := range tests {
		c := &pkt.Ctx{Conn: tt.conn, Mark: 7}
		if got := ceMatch(t, ruleset.IPv4, tt.args).Match(c); got != tt.want {
			t.Errorf("%s on %+v: got %v, want %v", tt.args, tt.conn, got, tt.want)
		}
	}
}

func TestMarkTargetEval(t *testing.T) {
	tests := []struct {
		args     string
		mark     uint32
		wantMark uint32
	}{
		{"-j MARK --set-mark 5", 0xff00, 5},
		{"-j MARK --set-mark 0x5/0xf", 0xff03, 0xff05},
		{"-j MARK --set-xmark 0x5/0xf", 0xff03, 0xff05},
		{"-j MARK --set-xmark 0x10/0x0", 0x11, 0x01},
		{"-j MARK --and-mark 0xf0", 0xff, 0xf0},
		{"-j MARK --or-mark 0x100", 0xff, 0x1ff},
		{"-j MARK --xor-mark 0x3", 0x5, 0x6},
	}
	for _, tt := range tests {
		c := &pkt.Ctx{Mark: tt.mark}
		if v := ceTarget(t, "mangle", tt.args).Act(c); v != pkt.Continue || c.Mark != tt.wantMark {
			t.Errorf("%s on %#x: got %v %#x, want CONTINUE %#x", tt.args, tt.mark, v, c.Mark, tt.wantMark)
		}
	}
}

func TestConnmarkTargetEval(t *testing.T) {
	tests := []struct {
		args           string
		mark, ctmark   uint32
		wantM, wantCtM uint32
	}{
		{"-j CONNMARK --set-mark 5", 1, 0xff00, 1, 5},
		{"-j CONNMARK --set-mark 0x5/0xf", 1, 0xff03, 1, 0xff05},
		{"-j CONNMARK --and-mark 0xf0", 1, 0xff, 1, 0xf0},
		{"-j CONNMARK --or-mark 0x100", 1, 0xff, 1, 0x1ff},
		{"-j CONNMARK --xor-mark 0x3", 1, 0x5, 1, 0x6},
		{"-j CONNMARK --save-mark", 0x1234, 0xffff0000, 0x1234, 0x1234},
		{"-j CONNMARK --save-mark --mask 0xff", 0x1234, 0xffff0000, 0x1234, 0xffff0034},
		{"-j CONNMARK --save-mark --nfmask 0xff00 --ctmask 0xff", 0x1234, 0xffff0000, 0x1234, 0xffff1200},
		{"-j CONNMARK --restore-mark", 0x1234, 0xabcd, 0xabcd, 0xabcd},
		{"-j CONNMARK --restore-mark --mask 0xff", 0x1234, 0xabcd, 0x12cd, 0xabcd},
		// The kernel XORs the copied bits in: (0x1234 &^ 0xff) ^ 0xab00.
		{"-j CONNMARK --restore-mark --ctmask 0xff00 --nfmask 0xff", 0x1234, 0xabcd, 0xb900, 0xabcd},
		// Shifts: save and restore shift the copied bits ...
		{"-j CONNMARK --save-mark --nfmask 0xff --ctmask 0xff00 --left-shift-mark 8", 0x12, 0, 0x12, 0x1200},
		{"-j CONNMARK --restore-mark --ctmask 0xff00 --nfmask 0xff --right-shift-mark 8", 0, 0x3400, 0x34, 0x3400},
		// ... set mode shifts the whole new ctmark (the kernel's order).
		{"-j CONNMARK --set-xmark 0x1/0xf --left-shift-mark 4", 0, 0xf0f, 0, 0xf010},
	}
	for _, tt := range tests {
		conn := &pkt.Conn{Mark: tt.ctmark}
		c := &pkt.Ctx{Mark: tt.mark, Conn: conn}
		if v := ceTarget(t, "mangle", tt.args).Act(c); v != pkt.Continue || c.Mark != tt.wantM || conn.Mark != tt.wantCtM {
			t.Errorf("%s on %#x/%#x: got %v mark %#x ctmark %#x, want %#x %#x", tt.args, tt.mark, tt.ctmark, v, c.Mark, conn.Mark, tt.wantM, tt.wantCtM)
		}
	}
	// Without conntrack nothing changes.
	c := &pkt.Ctx{Mark: 3}
	if v := ceTarget(t, "mangle", "-j CONNMARK --restore-mark").Act(c); v != pkt.Continue || c.Mark != 3 {
		t.Errorf("restore without conntrack: %v %#x", v, c.Mark)
	}
}

func TestConnbytesMatchEval(t *testing.T) {
	conn := &pkt.Conn{Packets: [2]uint64{10, 5}, Bytes: [2]uint64{1000, 7000}}
	tests := []struct {
		args string
		conn *pkt.Conn
		want bool
	}{
		{"-m connbytes --connbytes 10 --connbytes-dir original --connbytes-mode packets", conn, true},
		{"-m connbytes --connbytes 11 --connbytes-dir original --connbytes-mode packets", conn, false},
		{"-m connbytes --connbytes 0:10 --connbytes-dir original --connbytes-mode packets", conn, true},
		{"-m connbytes --connbytes 0:9 --connbytes-dir original --connbytes-mode packets", conn, false},
		{"-m connbytes --connbytes 15:15 --connbytes-dir both --connbytes-mode packets", conn, true},
		{"-m connbytes --connbytes 5:5 --connbytes-dir reply --connbytes-mode packets", conn, true},
		{"-m connbytes --connbytes 7001 --connbytes-dir reply --connbytes-mode bytes", conn, false},
		{"-m connbytes --connbytes 8000:8000 --connbytes-dir both --connbytes-mode bytes", conn, true},
		// avgpkt: integer division.
		{"-m connbytes --connbytes 100:100 --connbytes-dir original --connbytes-mode avgpkt", conn, true},
		{"-m connbytes --connbytes 533:533 --connbytes-dir both --connbytes-mode avgpkt", conn, true},
		{"-m connbytes --connbytes 1400 --connbytes-dir reply --connbytes-mode avgpkt", conn, true},
		{"-m connbytes --connbytes 0:0 --connbytes-dir reply --connbytes-mode avgpkt", &pkt.Conn{}, true},
		// Inverted ranges match outside.
		{"-m connbytes ! --connbytes 10:20 --connbytes-dir original --connbytes-mode packets", conn, false},
		{"-m connbytes ! --connbytes 11:20 --connbytes-dir original --connbytes-mode packets", conn, true},
		{"-m connbytes ! --connbytes 5:9 --connbytes-dir original --connbytes-mode packets", conn, true},
		{"-m connbytes ! --connbytes 5 --connbytes-dir original --connbytes-mode packets", conn, false},
		{"-m connbytes ! --connbytes 11 --connbytes-dir original --connbytes-mode packets", conn, true},
		// No conntrack: no match.
		{"-m connbytes --connbytes 0 --connbytes-dir both --connbytes-mode packets", nil, false},
		{"-m connbytes ! --connbytes 1 --connbytes-dir both --connbytes-mode packets", nil, false},
	}
	for _, tt := range tests {
		c := &pkt.Ctx{Conn: tt.conn}
		if got := ceMatch(t, ruleset.IPv4, tt.args).Match(c); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.args, got, tt.want)
		}
	}
	// The counters conntrack keeps include the packet being matched.
	_, synack, ack, _ := ceConnCtxs(t)
	m := ceMatch(t, ruleset.IPv4, "-m connbytes --connbytes 3:3 --connbytes-dir both --connbytes-mode packets")
	if !m.Match(ack) || m.Match(synack) {
		t.Errorf("third packet of the handshake: counters %+v", ack.Conn.Packets)
	}
}

func TestHelperMatchEval(t *testing.T) {
	tests := []struct {
		args string
		conn *pkt.Conn
		want bool
		und  bool
	}{
		{"-m helper --helper ftp", nil, false, false},
		{"-m helper ! --helper ftp", nil, true, false},
		{"-m helper --helper ftp", &pkt.Conn{Status: 0xE}, false, false},
		{"-m helper ! --helper ftp", &pkt.Conn{Status: 0xE}, true, false},
		{"-m helper --helper ftp", &pkt.Conn{Status: 0x9}, false, true},
	}
	for _, tt := range tests {
		c := &pkt.Ctx{Conn: tt.conn}
		if got := ceMatch(t, ruleset.IPv4, tt.args).Match(c); got != tt.want || (c.Undecided != "") != tt.und {
			t.Errorf("%s on %+v: got %v (undecided %q), want %v", tt.args, tt.conn, got, c.Undecided, tt.want)
		}
	}
}

func TestCTTargetEval(t *testing.T) {
	tests := []struct {
		args    string
		c       pkt.Ctx
		notrack bool
		und     bool
	}{
		{"-j NOTRACK", pkt.Ctx{}, true, false},
		{"-j CT --notrack", pkt.Ctx{}, true, false},
		{"-j CT --notrack --zone 3", pkt.Ctx{}, true, false},
		{"-j CT --ctevents new,destroy", pkt.Ctx{}, false, false},
		{"-j CT --zone 0", pkt.Ctx{}, false, false},
		{"-p tcp -j CT --helper ftp", pkt.Ctx{}, false, true},
		{"-j CT --zone 7", pkt.Ctx{}, false, true},
		{"-j CT --zone-orig mark", pkt.Ctx{}, false, true},
		// A packet that already has conntrack (looped back) is left alone.
		{"-j NOTRACK", pkt.Ctx{CTState: pkt.CTEstablished, Conn: &pkt.Conn{}}, false, false},
		{"-j CT --zone 7", pkt.Ctx{CTState: pkt.CTNew, Conn: &pkt.Conn{}}, false, false},
		{"-j CT --zone 7", pkt.Ctx{NoTrack: true}, true, false},
	}
	for _, tt := range tests {
		c := tt.c
		v := ceTarget(t, "raw", tt.args).Act(&c)
		if v != pkt.Continue || c.NoTrack != tt.notrack || (c.Undecided != "") != tt.und {
			t.Errorf("%s: got %v notrack %v undecided %q, want notrack %v undecided %v", tt.args, v, c.NoTrack, c.Undecided, tt.notrack, tt.und)
		}
	}
}

// clConn is one client connection for the connlimit tests.
type clConn struct {
	cli  string
	port uint16
}

func (k clConn) syn() pkt.Spec {
	return tcp(k.cli, "198.51.100.2", k.port, 22, ceSYN, 1000, 0)
}
func (k clConn) synack() pkt.Spec {
	return tcp("198.51.100.2", k.cli, 22, k.port, ceSYN|ceACK, 5000, 1001)
}
func (k clConn) ack() pkt.Spec { return tcp(k.cli, "198.51.100.2", k.port, 22, ceACK, 1001, 5001) }
func (k clConn) rst() pkt.Spec { return tcp(k.cli, "198.51.100.2", k.port, 22, ceRST, 1001, 0) }

func TestConnlimitEval(t *testing.T) {
	type step struct {
		pkt     pkt.Spec
		at      time.Duration // since t0; jiffies are 4 ms
		confirm bool
		want    bool
		drop    bool // hotdrop
	}
	a1 := clConn{"192.0.2.1", 1001}
	a2 := clConn{"192.0.2.1", 1002}
	a3 := clConn{"192.0.2.1", 1003}
	b1 := clConn{"192.0.2.77", 2001}
	ms := time.Millisecond
	tests := []struct {
		name      string
		args      string
		untracked bool
		steps     []step
	}{
		{"above 2 per host", "-m connlimit --connlimit-above 2", false, []step{
			{a1.syn(), 0, true, false, false},       // 1
			{a2.syn(), 10 * ms, true, false, false}, // 2
			{b1.syn(), 20 * ms, true, false, false}, // 1 for its own key
			{a3.syn(), 30 * ms, true, true, false},  // 3 > 2
			{a1.ack(), 40 * ms, true, true, false},  // still 3: not counted twice
			{a2.syn(), 50 * ms, true, true, false},  // a retransmitted SYN: the same tuple
		}},
		{"upto 1 per /24", "-m connlimit --connlimit-upto 1 --connlimit-mask 24", false, []step{
			{a1.syn(), 0, true, true, false},
			{b1.syn(), 10 * ms, true, false, false}, // 2 in 192.0.2.0/24
		}},
		{"upto 1 per /25", "-m connlimit --connlimit-upto 1 --connlimit-mask 25", false, []step{
			{a1.syn(), 0, true, true, false},
			{clConn{"192.0.2.127", 1}.syn(), 10 * ms, true, false, false}, // 2 in 192.0.2.0/25
			{clConn{"192.0.2.128", 1}.syn(), 20 * ms, true, true, false},  // 1 in 192.0.2.128/25
		}},
		{"per destination", "-m connlimit --connlimit-above 1 --connlimit-daddr", false, []step{
			{a1.syn(), 0, true, false, false},
			{b1.syn(), 10 * ms, true, true, false},
		}},
		{"dropped SYN is forgotten", "-m connlimit --connlimit-above 1", false, []step{
			{a1.syn(), 0, false, false, false},      // counted, then dropped before confirmation
			{a2.syn(), 10 * ms, true, false, false}, // a1 is evicted: 1
		}},
		{"dropped SYN in the same jiffy", "-m connlimit --connlimit-above 1", false, []step{
			{a1.syn(), 0, false, false, false},
			{a2.syn(), 1 * ms, true, true, false}, // no clean-up within a jiffy: 2
		}},
		{"closed connections do not count", "-m connlimit --connlimit-above 1", false, []step{
			{a1.syn(), 0, true, false, false},
			{a1.synack(), 1 * ms, true, false, false},
			{a1.ack(), 2 * ms, true, false, false},
			{a1.rst(), 3 * ms, true, false, false}, // CLOSE; still listed
			{a2.syn(), 4 * ms, true, false, false}, // a1 dropped from the list: 1
		}},
		{"untracked packets count by their tuple", "-m connlimit --connlimit-above 0", true, []step{
			{a1.syn(), 0, false, true, false},
		}},
	}
	for _, tt := range tests {
		m := ceMatch(t, ruleset.IPv4, tt.args)
		ct := conntrack.New(0)
		store := engine.NewStore()
		for i, s := range tt.steps {
			p := cePacket(t, s.pkt)
			now := ceT0.Add(s.at)
			c := &pkt.Ctx{P: p, Now: now, Conns: ct, Store: store}
			var r conntrack.Result
			if tt.untracked {
				c.CTState = pkt.CTUntracked
			} else {
				r = ct.Track(p, now, ruleset.PreRouting)
				r.Apply(c)
			}
			if got := m.Match(c); got != s.want || c.DropNow != s.drop {
				t.Errorf("%s: step %d: got %v drop %v, want %v drop %v", tt.name, i, got, c.DropNow, s.want, s.drop)
			}
			if s.confirm {
				ct.Confirm(&r, now)
			} else {
				ct.Discard(&r)
			}
		}
	}
}

func TestConnlimitEvalIPv6(t *testing.T) {
	m := ceMatch(t, ruleset.IPv6, "-m connlimit --connlimit-above 1 --connlimit-mask 60")
	ct := conntrack.New(0)
	store := engine.NewStore()
	for i, s := range []struct {
		src  string
		want bool
	}{
		{"2001:db8:0:10::1", false},
		{"2001:db8:0:1f::2", true},  // same /60
		{"2001:db8:0:20::1", false}, // another /60
	} {
		p := cePacket(t, tcp(s.src, "2001:db8::80", 40000, 22, ceSYN, 1, 0))
		now := ceT0.Add(time.Duration(i) * 10 * time.Millisecond)
		r := ct.Track(p, now, ruleset.PreRouting)
		c := &pkt.Ctx{P: p, Now: now, Conns: ct, Store: store}
		r.Apply(c)
		if got := m.Match(c); got != s.want {
			t.Errorf("%s: got %v, want %v", s.src, got, s.want)
		}
		ct.Confirm(&r, now)
	}
}

func TestConnlimitUndecided(t *testing.T) {
	m := ceMatch(t, ruleset.IPv4, "-m connlimit --connlimit-above 1")
	c := &pkt.Ctx{P: cePacket(t, clConn{"192.0.2.1", 1}.syn()), Store: engine.NewStore()}
	if m.Match(c) || c.Undecided == "" {
		t.Errorf("without a conntrack table: undecided %q", c.Undecided)
	}
}

// TestConnlimitHotdrop replays through the engine what Linux 6.18 does
// (observed in a network namespace): a connlimit rule that sees only
// ESTABLISHED packets counts the first connection it meets; once that
// connection is in TIME_WAIT, the next packet of another confirmed
// connection from the same address empties the list, counts 0 and is
// dropped (hotdrop), and so are all later ones. The rule counters are those
// the kernel showed at each stage.
func TestConnlimitHotdrop(t *testing.T) {
	rules := `*filter
:INPUT ACCEPT [0:0]
-A INPUT -p tcp --dport 8080 -m conntrack --ctstate ESTABLISHED -m connlimit --connlimit-upto 100 -j ACCEPT
-A INPUT -p tcp --dport 8080
COMMIT
`
	rs, _, err := ipt.Load("t", []byte(rules), ipt.LoadOptions{Family: ruleset.IPv4})
	if err != nil {
		t.Fatal(err)
	}
	host := engine.NewHost()
	if err := host.AddIface("eth0=10.0.0.1/24"); err != nil {
		t.Fatal(err)
	}
	e := engine.New(rs, nil, host, engine.NewConntrack(0))
	const cli, srv = "10.0.0.2", "10.0.0.1"
	in := func(sp uint16, flags uint8, seq, ack uint32, data string) pkt.Spec {
		s := tcp(cli, srv, sp, 8080, flags, seq, ack)
		s.Payload = []byte(data)
		return s
	}
	out := func(dp uint16, flags uint8, seq, ack uint32) pkt.Spec {
		return tcp(srv, cli, 8080, dp, flags, seq, ack)
	}
	type step struct {
		s  pkt.Spec
		at time.Duration
	}
	ms := time.Millisecond
	open := func(port uint16, at time.Duration) []step {
		return []step{{in(port, ceSYN, 1000, 0, ""), at}, {out(port, ceSYN|ceACK, 5000, 1001), at}, {in(port, ceACK, 1001, 5001, ""), at}}
	}
	counters := func() [2]uint64 {
		r := rs.Table("filter").Chain("INPUT").Rules
		return [2]uint64{r[0].Counters.Packets, r[1].Counters.Packets}
	}
	run := func(stage string, steps []step, want [2]uint64) {
		t.Helper()
		for _, st := range steps {
			p := cePacket(t, st.s)
			res := e.Process(p, ceT0.Add(st.at), nil)
			if res.Verdict != pkt.Accept {
				t.Errorf("%s: packet %v:%d dropped: %s", stage, p.Src, p.SrcPort, res.Reason.Why)
			}
		}
		if got := counters(); got != want {
			t.Errorf("%s: counters %v, want %v", stage, got, want)
		}
	}
	run("A open", open(50001, 0), [2]uint64{1, 1})
	run("B open", open(50002, 20*ms), [2]uint64{2, 2})
	run("A data", []step{{in(50001, cePSH|ceACK, 1001, 5001, "x"), 40 * ms}, {out(50001, ceACK, 5001, 1002), 40 * ms}}, [2]uint64{3, 2})
	run("A close", []step{
		{in(50001, ceFIN|ceACK, 1002, 5001, ""), 60 * ms}, {out(50001, ceACK, 5001, 1003), 60 * ms},
		{out(50001, ceFIN|ceACK, 5001, 1003), 60 * ms}, {in(50001, ceACK, 1003, 5002, ""), 60 * ms},
	}, [2]uint64{5, 2})
	for i, at := range []time.Duration{100 * ms, 300 * ms} {
		res := e.Process(cePacket(t, in(50002, cePSH|ceACK, 1001, 5001, "y")), ceT0.Add(at), nil)
		if res.Verdict != pkt.Drop || res.Reason.Rule != 1 {
			t.Errorf("B data %d: %v by rule %d (%s), want a hotdrop by rule 1", i, res.Verdict, res.Reason.Rule, res.Reason.Why)
		}
	}
	if got := counters(); got != [2]uint64{5, 2} {
		t.Errorf("after B data: counters %v, want [5 2]", got)
	}
}

func BenchmarkConntrackEval(b *testing.B) {
	syn := &ceFlow{tb: b, ct: conntrack.New(0)}
	c := syn.step(tcp("192.0.2.1", "198.51.100.2", 40000, 80, ceSYN, 1000, 0), 0, true)
	ms := []pkt.Matcher{
		ceMatch(b, ruleset.IPv4, "-m conntrack --ctstate NEW,ESTABLISHED --ctorigsrc 192.0.2.0/24 --ctorigdstport 80 --ctexpire 0:100"),
		ceMatch(b, ruleset.IPv4, "-m connmark --mark 0"),
		ceMatch(b, ruleset.IPv4, "-m mark --mark 0"),
		ceMatch(b, ruleset.IPv4, "-m connbytes --connbytes 1 --connbytes-dir both --connbytes-mode avgpkt"),
		ceMatch(b, ruleset.IPv4, "-m helper --helper ftp"),
	}
	ts := []pkt.Actor{
		ceTarget(b, "mangle", "-j MARK --set-mark 1"),
		ceTarget(b, "mangle", "-j CONNMARK --save-mark"),
		ceTarget(b, "raw", "-j CT --ctevents new"),
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range ms {
			m.Match(c)
		}
		for _, a := range ts {
			a.Act(c)
		}
	}
}

// BenchmarkConnlimitEval measures connlimit on packets of confirmed
// connections (the list is cleaned once per jiffy).
func BenchmarkConnlimitEval(b *testing.B) {
	f := &ceFlow{tb: b, ct: conntrack.New(0)}
	m := ceMatch(b, ruleset.IPv4, "-m connlimit --connlimit-above 10 --connlimit-mask 24")
	store := engine.NewStore()
	var cs []*pkt.Ctx
	for i := range 8 {
		k := clConn{"192.0.2.1", uint16(3000 + i)}
		c := f.step(k.syn(), 0, true)
		c.Store = store
		m.Match(c)
		c = f.step(k.synack(), time.Millisecond, true)
		c.Store = store
		cs = append(cs, c)
	}
	b.Run("confirmed", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c := cs[i%len(cs)]
			c.Now = c.Now.Add(time.Millisecond)
			m.Match(c)
			i++
		}
	})
	// Untracked packets: the tuple comes from the headers and is looked up.
	for _, c := range cs {
		c.Conn, c.CTState = nil, pkt.CTUntracked
	}
	b.Run("untracked", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c := cs[i%len(cs)]
			c.Now = c.Now.Add(time.Millisecond)
			m.Match(c)
			i++
		}
	})
}
