package xt_test

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampartfw/rampart/conntrack"
	"github.com/rampartfw/rampart/engine"
	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// tgTarget parses "-t TABLE -A CHAIN ARGS" for family f and returns the
// rule's target. Words have '_' turned into ' ' (log prefixes).
func tgTarget(tb testing.TB, f ruleset.Family, table, chain, args string) pkt.Actor {
	tb.Helper()
	words := []string{"-t", table, "-A", chain}
	for _, w := range strings.Fields(args) {
		words = append(words, strings.ReplaceAll(w, "_", " "))
	}
	cmd, err := iptext.ParseCommand(words, iptext.ParseOptions{Family: f})
	if err != nil {
		tb.Fatalf("%s: %v", args, err)
	}
	a, ok := cmd.Rule.Target.(pkt.Actor)
	if !ok {
		tb.Fatalf("%s: %T is not a pkt.Actor", args, cmd.Rule.Target)
	}
	return a
}

func tgPacket(tb testing.TB, raw []byte) *pkt.Packet {
	tb.Helper()
	p := &pkt.Packet{}
	if err := p.Decode(raw); err != nil {
		tb.Fatal(err)
	}
	return p
}

func tgAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// tgSum is the one's complement sum of b (16-bit big-endian words).
func tgSum(b []byte, s uint32) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return s
}

// tgFixIPv4 writes a correct IPv4 header checksum.
func tgFixIPv4(raw []byte) {
	ihl := int(raw[0]&15) * 4
	raw[10], raw[11] = 0, 0
	binary.BigEndian.PutUint16(raw[10:], ^uint16(tgSum(raw[:ihl], 0)))
}

func tgIPv4OK(raw []byte) bool { return tgSum(raw[:int(raw[0]&15)*4], 0) == 0xffff }

// tgTCPSum is the TCP checksum verification sum (0xffff when right).
func tgTCPSum(p *pkt.Packet) uint32 {
	var ph []byte
	seg := p.Raw[p.L4:]
	if p.Family == ruleset.IPv6 {
		ph = append(append(ph, p.Raw[8:40]...), 0, 0, byte(len(seg)>>8), byte(len(seg)), 0, 0, 0, 6)
	} else {
		ph = append(append(ph, p.Raw[12:20]...), 0, 6, byte(len(seg)>>8), byte(len(seg)))
	}
	return tgSum(seg, tgSum(ph, 0))
}

func tgFixTCP(p *pkt.Packet) {
	seg := p.Raw[p.L4:]
	seg[16], seg[17] = 0, 0
	binary.BigEndian.PutUint16(seg[16:], ^uint16(tgTCPSum(p)))
}

// TestLogKernelLines compares LOG lines with the kernel's (6.18, dmesg -r)
// for the same packets, received on lo from a frame with the given MACs:
// testdata/LOG_kernel.txt has "FAMILY MARK SRCMAC DSTMAC IPHEX |RULE<TAB>LINE".
func TestLogKernelLines(t *testing.T) {
	f, err := os.Open("testdata/LOG_kernel.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	n := 0
	for sc.Scan() {
		in, want, _ := strings.Cut(sc.Text(), "\t")
		left, args, _ := strings.Cut(in, "|")
		fs := strings.Fields(left)
		fam := ruleset.IPv4
		if fs[0] == "6" {
			fam = ruleset.IPv6
		}
		mark, _ := strconv.ParseUint(fs[1], 0, 32)
		smac, _ := hex.DecodeString(fs[2])
		dmac, _ := hex.DecodeString(fs[3])
		raw, _ := hex.DecodeString(fs[4])
		a := tgTarget(t, fam, "raw", "PREROUTING", args)
		c := &pkt.Ctx{P: tgPacket(t, raw), Hook: ruleset.PreRouting, In: "lo", HasMAC: true, Mark: uint32(mark)}
		copy(c.SrcMAC[:], smac)
		copy(c.DstMAC[:], dmac)
		if v := a.Act(c); v != pkt.Continue {
			t.Errorf("line %d: verdict %v", n+1, v)
		}
		if len(c.Log) != 1 || c.Log[0] != want {
			t.Errorf("line %d:\n got %q\nwant %q", n+1, c.Log, want)
		}
		n++
	}
	if n < 50 {
		t.Fatalf("only %d golden lines", n)
	}
}

func TestLogContext(t *testing.T) {
	syn := pkt.Build(pkt.Spec{Src: tgAddr("192.0.2.1"), Dst: tgAddr("198.51.100.2"), Proto: pkt.ProtoTCP,
		SrcPort: 1234, DstPort: 22, TCPFlags: 0x02, ID: 7})
	for _, tc := range []struct {
		name, args string
		ctx        pkt.Ctx
		facts      pkt.Facts
		want       string
	}{
		{"output, no MAC field", "-j LOG", pkt.Ctx{Out: "eth0"},
			nil, "<4>IN= OUT=eth0 SRC=192.0.2.1 DST=198.51.100.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=7 PROTO=TCP SPT=1234 DPT=22 WINDOW=65535 RES=0x00 SYN URGP=0 "},
		{"forward, macdecode", "-j LOG --log-macdecode --log-level 1 --log-prefix x:", pkt.Ctx{In: "eth1", Out: "eth0", HasMAC: true,
			SrcMAC: [6]byte{2, 0, 0, 0, 0, 1}, DstMAC: [6]byte{2, 0, 0, 0, 0, 2}},
			nil, "<1>x:IN=eth1 OUT=eth0 MACSRC=02:00:00:00:00:01 MACDST=02:00:00:00:00:02 MACPROTO=0800 SRC=192.0.2.1 DST=198.51.100.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=7 PROTO=TCP SPT=1234 DPT=22 WINDOW=65535 RES=0x00 SYN URGP=0 "},
		{"input without link header", "-j LOG", pkt.Ctx{In: "tun0"},
			nil, "<4>IN=tun0 OUT= MAC= SRC=192.0.2.1 DST=198.51.100.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=7 PROTO=TCP SPT=1234 DPT=22 WINDOW=65535 RES=0x00 SYN URGP=0 "},
		{"uid and physdev", "-j LOG --log-uid", pkt.Ctx{Out: "br0", Mark: 0xff},
			&tgFacts{uid: 1000, gid: 100, physOut: "veth1"},
			"<4>IN= OUT=br0 PHYSOUT=veth1 SRC=192.0.2.1 DST=198.51.100.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=7 PROTO=TCP SPT=1234 DPT=22 WINDOW=65535 RES=0x00 SYN URGP=0 UID=1000 GID=100 MARK=0xff "},
	} {
		c := tc.ctx
		c.P = tgPacket(t, syn)
		c.Facts = tc.facts
		tgTarget(t, ruleset.IPv4, "filter", "FORWARD", tc.args).Act(&c)
		if len(c.Log) != 1 || c.Log[0] != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, c.Log, tc.want)
		}
	}
}

// tgFacts answers the socket, bridge and CPU questions.
type tgFacts struct {
	pkt.Facts
	uid, gid uint32
	physOut  string
	cpu      uint32
}

func (f *tgFacts) Socket() (bool, bool, bool)           { return true, true, true }
func (f *tgFacts) Owner() (uint32, uint32, bool)        { return f.uid, f.gid, true }
func (f *tgFacts) Bridge() (bool, string, string, bool) { return true, "", f.physOut, true }
func (f *tgFacts) CPU() (uint32, bool)                  { return f.cpu, true }

func TestSimpleTargets(t *testing.T) {
	raw := pkt.Build(pkt.Spec{Src: tgAddr("192.0.2.1"), Dst: tgAddr("198.51.100.2"), Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 2})
	raw6 := pkt.Build(pkt.Spec{Src: tgAddr("2001:db8::1"), Dst: tgAddr("2001:db8::2"), Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 2})
	for _, tc := range []struct {
		f                  ruleset.Family
		table, chain, args string
		raw                []byte
		facts              pkt.Facts
		verdict            pkt.Verdict
		check              func(c *pkt.Ctx) string
	}{
		{ruleset.IPv4, "filter", "INPUT", "-j REJECT", raw, nil, pkt.Drop,
			func(c *pkt.Ctx) string { return c.Reject + "|icmp-port-unreachable" }},
		{ruleset.IPv4, "filter", "INPUT", "-p tcp -j REJECT --reject-with tcp-reset", raw, nil, pkt.Drop,
			func(c *pkt.Ctx) string { return c.Reject + "|tcp-reset" }},
		{ruleset.IPv6, "filter", "FORWARD", "-j REJECT --reject-with adm-prohibited", raw6, nil, pkt.Drop,
			func(c *pkt.Ctx) string { return c.Reject + "|icmp6-adm-prohibited" }},
		{ruleset.IPv4, "filter", "INPUT", "-j NFLOG --nflog-group 5 --nflog-prefix a_b", raw, nil, pkt.Continue,
			func(c *pkt.Ctx) string { return strings.Join(c.Log, ",") + `|NFLOG group=5 prefix="a b"` }},
		{ruleset.IPv4, "filter", "INPUT", "-j NFLOG", raw, nil, pkt.Continue,
			func(c *pkt.Ctx) string { return strings.Join(c.Log, ",") + `|NFLOG group=0` }},
		{ruleset.IPv4, "filter", "INPUT", "-j NFQUEUE --queue-num 7 --queue-bypass", raw, nil, pkt.Queue,
			func(c *pkt.Ctx) string {
				return strconv.Itoa(int(c.QueueNum)) + strconv.FormatBool(c.QueueBypass) + c.Undecided + "|7true"
			}},
		{ruleset.IPv4, "filter", "INPUT", "-j NFQUEUE", raw, nil, pkt.Queue,
			func(c *pkt.Ctx) string {
				return strconv.Itoa(int(c.QueueNum)) + strconv.FormatBool(c.QueueBypass) + "|0false"
			}},
		{ruleset.IPv4, "filter", "INPUT", "-j NFQUEUE --queue-balance 4:7", raw, nil, pkt.Queue,
			func(c *pkt.Ctx) string { return strconv.FormatBool(c.Undecided != "") + "|true" }},
		{ruleset.IPv4, "filter", "INPUT", "-j NFQUEUE --queue-balance 4:6 --queue-cpu-fanout", raw, &tgFacts{cpu: 5}, pkt.Queue,
			func(c *pkt.Ctx) string { return strconv.Itoa(int(c.QueueNum)) + c.Undecided + "|6" }},
		{ruleset.IPv4, "filter", "INPUT", "-j SET --add-set s src", raw, nil, pkt.Continue,
			func(c *pkt.Ctx) string { return strconv.FormatBool(c.Undecided != "") + "|true" }},
		{ruleset.IPv4, "filter", "INPUT", "-j AUDIT --type drop", raw, nil, pkt.Continue,
			func(c *pkt.Ctx) string { return c.Undecided + strings.Join(c.Log, "") + "|" }},
		{ruleset.IPv4, "raw", "PREROUTING", "-j TRACE", raw, nil, pkt.Continue,
			func(c *pkt.Ctx) string { return c.Undecided + "|" }},
		{ruleset.IPv4, "mangle", "POSTROUTING", "-j CLASSIFY --set-class 1:2", raw, nil, pkt.Continue,
			func(c *pkt.Ctx) string { return c.Undecided + "|" }},
		{ruleset.IPv4, "mangle", "POSTROUTING", "-j CHECKSUM --checksum-fill", raw, nil, pkt.Continue,
			func(c *pkt.Ctx) string { return c.Undecided + "|" }},
	} {
		c := &pkt.Ctx{P: tgPacket(t, append([]byte(nil), tc.raw...)), Facts: tc.facts}
		v := tgTarget(t, tc.f, tc.table, tc.chain, tc.args).Act(c)
		if v != tc.verdict {
			t.Errorf("%s: verdict %v, want %v", tc.args, v, tc.verdict)
		}
		if got, want, _ := strings.Cut(tc.check(c), "|"); got != want {
			t.Errorf("%s: got %q, want %q", tc.args, got, want)
		}
	}
}

func TestMangleTargets(t *testing.T) {
	v4 := func(tos, ttl uint8) []byte {
		raw := pkt.Build(pkt.Spec{Src: tgAddr("192.0.2.1"), Dst: tgAddr("198.51.100.2"), Proto: pkt.ProtoUDP, TOS: tos, TTL: ttl, ID: 99})
		tgFixIPv4(raw)
		return raw
	}
	v6 := func(tc, hl uint8) []byte {
		return pkt.Build(pkt.Spec{Src: tgAddr("2001:db8::1"), Dst: tgAddr("2001:db8::2"), Proto: pkt.ProtoUDP, TOS: tc, TTL: hl})
	}
	for _, tc := range []struct {
		f        ruleset.Family
		args     string
		raw      []byte
		tos, ttl uint8
	}{
		{ruleset.IPv4, "-j TTL --ttl-set 5", v4(0, 64), 0, 5},
		{ruleset.IPv4, "-j TTL --ttl-inc 10", v4(0, 250), 0, 255},
		{ruleset.IPv4, "-j TTL --ttl-dec 10", v4(0, 3), 0, 0},
		{ruleset.IPv4, "-j TTL --ttl-dec 1", v4(0, 64), 0, 63},
		{ruleset.IPv6, "-j HL --hl-dec 2", v6(0, 1), 0, 0},
		{ruleset.IPv6, "-j HL --hl-inc 2", v6(0, 1), 0, 3},
		{ruleset.IPv4, "-j TOS --set-tos 0x10", v4(0xe3, 64), 0x10, 64},
		{ruleset.IPv4, "-j TOS --set-tos 0x10/0x3f", v4(0xe3, 64), 0xd0, 64},
		{ruleset.IPv4, "-j TOS --or-tos 0x04", v4(0x21, 64), 0x25, 64},
		{ruleset.IPv4, "-j TOS --xor-tos 0xff", v4(0x0f, 64), 0xf0, 64},
		{ruleset.IPv6, "-j TOS --and-tos 0xf0", v6(0xab, 64), 0xa0, 64},
		{ruleset.IPv4, "-j DSCP --set-dscp 10", v4(0x03, 64), 0x2b, 64},
		{ruleset.IPv4, "-j DSCP --set-dscp-class EF", v4(0xb9, 64), 0xb9, 64},
		{ruleset.IPv6, "-j DSCP --set-dscp 0x3f", v6(0x02, 64), 0xfe, 64},
	} {
		c := &pkt.Ctx{P: tgPacket(t, tc.raw)}
		if v := tgTarget(t, tc.f, "mangle", "FORWARD", tc.args).Act(c); v != pkt.Continue {
			t.Errorf("%s: verdict %v", tc.args, v)
		}
		// What the packet now says, decoded afresh.
		p := tgPacket(t, c.P.Raw)
		if p.TOS != tc.tos || p.TTL != tc.ttl || c.P.TOS != tc.tos || c.P.TTL != tc.ttl {
			t.Errorf("%s: tos %#x ttl %d (ctx %#x %d), want %#x %d", tc.args, p.TOS, p.TTL, c.P.TOS, c.P.TTL, tc.tos, tc.ttl)
		}
		if tc.f == ruleset.IPv4 && !tgIPv4OK(c.P.Raw) {
			t.Errorf("%s: bad IPv4 header checksum", tc.args)
		}
	}
}

// tgSyn builds a SYN with the given TCP options (and payload) and correct
// checksums.
func tgSyn(tb testing.TB, src string, opts []byte, payload []byte) *pkt.Packet {
	raw := pkt.Build(pkt.Spec{Src: tgAddr(src), Dst: tgSynDst(src), Proto: pkt.ProtoTCP,
		SrcPort: 1000, DstPort: 80, TCPFlags: 0x02})
	p := tgPacket(tb, raw)
	l4 := p.L4
	tcp := append(append(append([]byte(nil), raw[l4:l4+20]...), opts...), payload...)
	tcp[12] = byte((20+len(opts))/4) << 4
	raw = append(raw[:l4:l4], tcp...)
	if raw[0]>>4 == 4 {
		binary.BigEndian.PutUint16(raw[2:], uint16(len(raw)))
		tgFixIPv4(raw)
	} else {
		binary.BigEndian.PutUint16(raw[4:], uint16(len(raw)-40))
	}
	p = tgPacket(tb, raw)
	tgFixTCP(p)
	return p
}

func tgSynDst(src string) netip.Addr {
	if strings.Contains(src, ":") {
		return tgAddr("2001:db8::99")
	}
	return tgAddr("198.51.100.99")
}

func TestTCPMSSTarget(t *testing.T) {
	mss := []byte{2, 4, 0x05, 0xb4, 1, 1, 4, 2}
	for _, tc := range []struct {
		f       ruleset.Family
		src     string
		args    string
		opts    []byte
		payload []byte
		verdict pkt.Verdict
		wantMSS int // -1: no MSS option
		grown   bool
	}{
		{ruleset.IPv4, "192.0.2.1", "--set-mss 1400", mss, nil, pkt.Continue, 1400, false},
		{ruleset.IPv4, "192.0.2.1", "--set-mss 1500", mss, nil, pkt.Continue, 1460, false},
		{ruleset.IPv6, "2001:db8::1", "--set-mss 1200", mss, nil, pkt.Continue, 1200, false},
		{ruleset.IPv4, "192.0.2.1", "--set-mss 1400", nil, nil, pkt.Continue, 536, true},
		{ruleset.IPv4, "192.0.2.1", "--set-mss 500", []byte{1, 1, 1, 0}, nil, pkt.Continue, 500, true},
		{ruleset.IPv6, "2001:db8::1", "--set-mss 1400", nil, nil, pkt.Continue, 1220, true},
		{ruleset.IPv4, "192.0.2.1", "--set-mss 1400", nil, []byte("data"), pkt.Continue, -1, false},
	} {
		p := tgSyn(t, tc.src, tc.opts, tc.payload)
		n := len(p.Raw)
		c := &pkt.Ctx{P: p}
		if v := tgTarget(t, tc.f, "mangle", "FORWARD", "-p tcp -j TCPMSS "+tc.args).Act(c); v != tc.verdict {
			t.Errorf("%s: verdict %v", tc.args, v)
		}
		q := tgPacket(t, c.P.Raw)
		if (len(q.Raw) == n+4) != tc.grown || int(q.Len) != len(q.Raw) || c.P.Len != q.Len || c.P.TCPHdrLen != q.TCPHdrLen {
			t.Errorf("%s %x: length %d -> %d (ctx len %d hdr %d)", tc.args, tc.opts, n, len(q.Raw), c.P.Len, c.P.TCPHdrLen)
		}
		got := -1
		o := q.Raw[q.L4+20 : q.L4+int(q.TCPHdrLen)]
		for i := 0; i+3 < len(o); i++ {
			if o[i] == 2 && o[i+1] == 4 {
				got = int(binary.BigEndian.Uint16(o[i+2:]))
				break
			}
		}
		if got != tc.wantMSS {
			t.Errorf("%s %x: MSS %d, want %d", tc.args, tc.opts, got, tc.wantMSS)
		}
		if s := tgTCPSum(q); s != 0xffff {
			t.Errorf("%s %x: bad TCP checksum (sum %#x)", tc.args, tc.opts, s)
		}
		if tc.f == ruleset.IPv4 && !tgIPv4OK(q.Raw) {
			t.Errorf("%s: bad IPv4 header checksum", tc.args)
		}
	}
	// A header whose data offset passes the end of the packet is dropped.
	p := tgSyn(t, "192.0.2.1", mss, nil)
	p.Raw[p.L4+12] = 0xf0
	if v := tgTarget(t, ruleset.IPv4, "mangle", "FORWARD", "-p tcp -j TCPMSS --set-mss 1000").Act(&pkt.Ctx{P: p}); v != pkt.Drop {
		t.Errorf("bad data offset: verdict %v", v)
	}
	c := &pkt.Ctx{P: tgSyn(t, "192.0.2.1", mss, nil)}
	tgTarget(t, ruleset.IPv4, "mangle", "FORWARD", "-p tcp -j TCPMSS --clamp-mss-to-pmtu").Act(c)
	if c.Undecided == "" {
		t.Error("--clamp-mss-to-pmtu decided without route MTUs")
	}
}

var tgT0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// tgNAT tracks a new packet as the engine does at hook and runs the target;
// it returns the context (with the entry) and the verdict.
func tgNAT(t *testing.T, ct *engine.Conntrack, host *engine.Host, hook ruleset.Hook, in, out string, s pkt.Spec, a pkt.Actor) (*pkt.Ctx, pkt.Verdict) {
	t.Helper()
	c := &pkt.Ctx{P: tgPacket(t, pkt.Build(s)), Hook: hook, In: in, Out: out, Now: tgT0, Host: host, Table: "nat"}
	ct.Track(c)
	if c.CTState != pkt.CTNew {
		t.Fatalf("state %d, want NEW", c.CTState)
	}
	return c, a.Act(c)
}

func TestNATTargets(t *testing.T) {
	host := engine.NewHost()
	for _, s := range []string{"eth0=198.51.100.1/24,198.51.100.9/24,203.0.113.1/24", "eth1=10.0.0.1/8", "eth2=2001:db8:1::1/64,2001:db8:2::1/64", "eth3="} {
		if strings.HasSuffix(s, "=") {
			host.Ifaces = append(host.Ifaces, engine.Iface{Name: strings.TrimSuffix(s, "=")})
			continue
		}
		if err := host.AddIface(s); err != nil {
			t.Fatal(err)
		}
	}
	udp := func(src, dst string, sp, dp uint16) pkt.Spec {
		return pkt.Spec{Src: tgAddr(src), Dst: tgAddr(dst), Proto: pkt.ProtoUDP, SrcPort: sp, DstPort: dp}
	}
	type want struct {
		verdict   pkt.Verdict
		replySrc  string // "" = unchanged
		replyDst  string
		sport     uint16 // reply source port (0: unchanged)
		dport     uint16 // reply destination port (0: unchanged)
		status    uint32
		undecided bool
	}
	for _, tc := range []struct {
		f       ruleset.Family
		chain   string
		args    string
		in, out string
		s       pkt.Spec
		w       want
	}{
		{ruleset.IPv4, "POSTROUTING", "-j SNAT --to-source 203.0.113.7", "", "eth0", udp("10.0.0.5", "198.51.100.20", 5000, 53),
			want{pkt.Accept, "", "203.0.113.7", 0, 0, conntrack.IPS_SRC_NAT, false}},
		{ruleset.IPv4, "POSTROUTING", "-p udp -j SNAT --to-source 203.0.113.7:7000", "", "eth0", udp("10.0.0.5", "198.51.100.20", 5000, 53),
			want{pkt.Accept, "", "203.0.113.7", 0, 7000, conntrack.IPS_SRC_NAT, false}},
		// Already in range: nothing changes, no IPS_SRC_NAT.
		{ruleset.IPv4, "POSTROUTING", "-j SNAT --to-source 10.0.0.1-10.0.0.9", "", "eth0", udp("10.0.0.5", "198.51.100.20", 5000, 53),
			want{pkt.Accept, "", "", 0, 0, 0, false}},
		// A port outside a port range: the kernel's choice is random.
		{ruleset.IPv4, "POSTROUTING", "-p udp -j SNAT --to-source 203.0.113.7:7000-7010", "", "eth0", udp("10.0.0.5", "198.51.100.20", 5000, 53),
			want{pkt.Accept, "", "203.0.113.7", 0, 7000, conntrack.IPS_SRC_NAT, true}},
		{ruleset.IPv4, "POSTROUTING", "-p udp -j SNAT --to-source 203.0.113.7:4000-6000 --random", "", "eth0", udp("10.0.0.5", "198.51.100.20", 5000, 53),
			want{pkt.Accept, "", "203.0.113.7", 0, 0, conntrack.IPS_SRC_NAT, true}},
		{ruleset.IPv4, "PREROUTING", "-p udp -j DNAT --to-destination 10.0.0.7:5353", "eth0", "", udp("198.51.100.20", "198.51.100.1", 4000, 53),
			want{pkt.Accept, "10.0.0.7", "", 5353, 0, conntrack.IPS_DST_NAT, false}},
		{ruleset.IPv6, "PREROUTING", "-j DNAT --to-destination 2001:db8::7", "eth2", "", udp("2001:db8:1::9", "2001:db8:1::1", 4000, 53),
			want{pkt.Accept, "2001:db8::7", "", 0, 0, conntrack.IPS_DST_NAT, false}},
		// DNAT with an offset: min + (port - base) % size.
		{ruleset.IPv4, "PREROUTING", "-p udp -j DNAT --to-destination 10.0.0.7:8000-8009/50", "eth0", "", udp("198.51.100.20", "198.51.100.1", 4000, 53),
			want{pkt.Accept, "10.0.0.7", "", 8003, 0, conntrack.IPS_DST_NAT, false}},
		{ruleset.IPv4, "POSTROUTING", "-j MASQUERADE", "", "eth0", udp("10.0.0.5", "203.0.113.50", 5000, 53),
			want{pkt.Accept, "", "203.0.113.1", 0, 0, conntrack.IPS_SRC_NAT, false}},
		{ruleset.IPv4, "POSTROUTING", "-j MASQUERADE", "", "eth0", udp("10.0.0.5", "192.0.2.50", 5000, 53),
			want{pkt.Accept, "", "198.51.100.1", 0, 0, conntrack.IPS_SRC_NAT, false}},
		// No address on eth3: the first universe address of any interface.
		{ruleset.IPv4, "POSTROUTING", "-j MASQUERADE", "", "eth3", udp("10.0.0.5", "192.0.2.50", 5000, 53),
			want{pkt.Accept, "", "198.51.100.1", 0, 0, conntrack.IPS_SRC_NAT, false}},
		{ruleset.IPv6, "POSTROUTING", "-j MASQUERADE", "", "eth2", udp("2001:db8:9::5", "2001:db8:2::77", 5000, 53),
			want{pkt.Accept, "", "2001:db8:2::1", 0, 0, conntrack.IPS_SRC_NAT, false}},
		{ruleset.IPv6, "POSTROUTING", "-j MASQUERADE", "", "eth3", udp("2001:db8:9::5", "fe80::1", 5000, 53),
			want{pkt.Drop, "", "", 0, 0, 0, false}},
		{ruleset.IPv4, "PREROUTING", "-p udp -j REDIRECT --to-ports 8053", "eth1", "", udp("10.0.0.5", "192.0.2.50", 5000, 53),
			want{pkt.Accept, "10.0.0.1", "", 8053, 0, conntrack.IPS_DST_NAT, false}},
		{ruleset.IPv4, "OUTPUT", "-j REDIRECT", "", "eth0", udp("198.51.100.1", "192.0.2.50", 5000, 53),
			want{pkt.Accept, "127.0.0.1", "", 0, 0, conntrack.IPS_DST_NAT, false}},
		{ruleset.IPv6, "PREROUTING", "-j REDIRECT", "eth2", "", udp("2001:db8:1::9", "2001:db8:5::1", 5000, 53),
			want{pkt.Accept, "2001:db8:2::1", "", 0, 0, conntrack.IPS_DST_NAT, false}},
		{ruleset.IPv4, "PREROUTING", "-j REDIRECT", "eth3", "", udp("10.0.0.5", "192.0.2.50", 5000, 53),
			want{pkt.Drop, "", "", 0, 0, 0, false}},
		{ruleset.IPv4, "PREROUTING", "-j NETMAP --to 192.168.0.0/16", "eth1", "", udp("10.0.0.5", "10.1.2.3", 5000, 53),
			want{pkt.Accept, "192.168.2.3", "", 0, 0, conntrack.IPS_DST_NAT, false}},
		{ruleset.IPv4, "POSTROUTING", "-j NETMAP --to 172.16.0.0/12", "", "eth0", udp("10.33.2.5", "192.0.2.50", 5000, 53),
			want{pkt.Accept, "", "172.17.2.5", 0, 0, conntrack.IPS_SRC_NAT, false}},
		{ruleset.IPv6, "PREROUTING", "-j NETMAP --to 2001:db8:ff::/48", "eth2", "", udp("2001:db8:1::9", "2001:db8:aa:bb::1", 5000, 53),
			want{pkt.Accept, "2001:db8:ff:bb::1", "", 0, 0, conntrack.IPS_DST_NAT, false}},
	} {
		ct := engine.NewConntrack(0)
		hook := map[string]ruleset.Hook{"PREROUTING": ruleset.PreRouting, "POSTROUTING": ruleset.PostRouting, "OUTPUT": ruleset.LocalOut}[tc.chain]
		a := tgTarget(t, tc.f, "nat", tc.chain, tc.args)
		c, v := tgNAT(t, ct, host, hook, tc.in, tc.out, tc.s, a)
		name := tc.args + " " + tc.s.Src.String()
		if v != tc.w.verdict {
			t.Errorf("%s: verdict %v, want %v", name, v, tc.w.verdict)
		}
		orig, rep := c.Conn.Orig, c.Conn.Reply
		wantSrc, wantDst := orig.Dst, orig.Src
		if tc.w.replySrc != "" {
			wantSrc = tgAddr(tc.w.replySrc)
		}
		if tc.w.replyDst != "" {
			wantDst = tgAddr(tc.w.replyDst)
		}
		sport, dport := orig.DstPort, orig.SrcPort
		if tc.w.sport != 0 {
			sport = tc.w.sport
		}
		if tc.w.dport != 0 {
			dport = tc.w.dport
		}
		if rep.Src != wantSrc || rep.Dst != wantDst || rep.SrcPort != sport || rep.DstPort != dport {
			t.Errorf("%s: reply %v:%d -> %v:%d, want %v:%d -> %v:%d", name, rep.Src, rep.SrcPort, rep.Dst, rep.DstPort, wantSrc, sport, wantDst, dport)
		}
		if got := c.Conn.Status & (conntrack.IPS_SRC_NAT | conntrack.IPS_DST_NAT); got != tc.w.status {
			t.Errorf("%s: NAT status %#x, want %#x", name, got, tc.w.status)
		}
		if (c.Undecided != "") != tc.w.undecided {
			t.Errorf("%s: undecided %q", name, c.Undecided)
		}
	}
}

// TestNATAddressRange checks find_best_ips_proto: the choice is inside the
// range, fixed for a source and destination, and with --persistent the
// same for every destination.
func TestNATAddressRange(t *testing.T) {
	host := engine.NewHost()
	pick := func(args, src, dst string) netip.Addr {
		ct := engine.NewConntrack(0)
		a := tgTarget(t, ruleset.IPv4, "nat", "POSTROUTING", args)
		c, _ := tgNAT(t, ct, host, ruleset.PostRouting, "", "eth0",
			pkt.Spec{Src: tgAddr(src), Dst: tgAddr(dst), Proto: pkt.ProtoUDP, SrcPort: 5000, DstPort: 53}, a)
		return c.Conn.Reply.Dst
	}
	lo, hi := tgAddr("203.0.113.10"), tgAddr("203.0.113.200")
	seen := map[netip.Addr]bool{}
	for i := 1; i < 40; i++ {
		src := "10.0.0." + strconv.Itoa(i)
		a := pick("-j SNAT --to-source 203.0.113.10-203.0.113.200", src, "192.0.2.1")
		if a.Compare(lo) < 0 || a.Compare(hi) > 0 {
			t.Fatalf("%s: %v outside the range", src, a)
		}
		if b := pick("-j SNAT --to-source 203.0.113.10-203.0.113.200", src, "192.0.2.1"); b != a {
			t.Fatalf("%s: %v then %v", src, a, b)
		}
		p1 := pick("-j SNAT --to-source 203.0.113.10-203.0.113.200 --persistent", src, "192.0.2.1")
		p2 := pick("-j SNAT --to-source 203.0.113.10-203.0.113.200 --persistent", src, "198.51.100.7")
		if p1 != p2 {
			t.Fatalf("%s --persistent: %v and %v", src, p1, p2)
		}
		seen[a] = true
	}
	if len(seen) < 10 {
		t.Fatalf("only %d distinct addresses for 39 sources", len(seen))
	}
}

// TestTargetAllocs checks that the targets that do not grow the packet or
// write a log line allocate nothing in steady state.
func TestTargetAllocs(t *testing.T) {
	raw := pkt.Build(pkt.Spec{Src: tgAddr("192.0.2.1"), Dst: tgAddr("198.51.100.2"), Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 2})
	for _, tc := range []struct{ table, chain, args string }{
		{"filter", "INPUT", "-j REJECT"},
		{"filter", "INPUT", "-j NFQUEUE --queue-num 3"},
		{"filter", "INPUT", "-j NFLOG --nflog-group 2"},
		{"mangle", "FORWARD", "-j TTL --ttl-dec 1"},
		{"mangle", "FORWARD", "-j TOS --set-tos 0x10"},
		{"mangle", "FORWARD", "-j DSCP --set-dscp 1"},
		{"mangle", "FORWARD", "-j CLASSIFY --set-class 1:1"},
		{"nat", "PREROUTING", "-j NETMAP --to 10.0.0.0/8"},
		{"nat", "PREROUTING", "-j DNAT --to-destination 10.0.0.1"},
	} {
		a := tgTarget(t, ruleset.IPv4, tc.table, tc.chain, tc.args)
		c := &pkt.Ctx{P: tgPacket(t, raw), Hook: ruleset.PreRouting, Log: make([]string, 0, 1)}
		if n := testing.AllocsPerRun(100, func() { c.Log = c.Log[:0]; a.Act(c) }); n != 0 {
			t.Errorf("%s: %v allocations per call", tc.args, n)
		}
	}
}

func BenchmarkTargets(b *testing.B) {
	raw := pkt.Build(pkt.Spec{Src: tgAddr("192.0.2.1"), Dst: tgAddr("198.51.100.2"), Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 2, TCPFlags: 2})
	for _, tc := range []struct{ name, table, chain, args string }{
		{"REJECT", "filter", "INPUT", "-j REJECT"},
		{"LOG", "filter", "INPUT", "-j LOG --log-tcp-options"},
		{"NFQUEUE", "filter", "INPUT", "-j NFQUEUE --queue-num 3"},
		{"TTL", "mangle", "FORWARD", "-j TTL --ttl-dec 1"},
		{"TOS", "mangle", "FORWARD", "-j TOS --set-tos 0x10"},
		{"TCPMSS", "mangle", "FORWARD", "-p tcp -j TCPMSS --set-mss 1400"},
		{"NETMAP", "nat", "PREROUTING", "-j NETMAP --to 10.0.0.0/8"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			a := tgTarget(b, ruleset.IPv4, tc.table, tc.chain, tc.args)
			buf := append([]byte(nil), raw...)
			p := tgPacket(b, buf)
			c := &pkt.Ctx{P: p, In: "eth0", Hook: ruleset.PreRouting, Log: make([]string, 0, 1)}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				c.Log = c.Log[:0]
				a.Act(c)
			}
		})
	}
	b.Run("SNAT-bind", func(b *testing.B) {
		a := tgTarget(b, ruleset.IPv4, "nat", "POSTROUTING", "-j SNAT --to-source 203.0.113.1-203.0.113.50")
		ct := engine.NewConntrack(0)
		b.ReportAllocs()
		var p pkt.Packet
		for i := 0; i < b.N; i++ {
			binary.BigEndian.PutUint16(raw[20:], uint16(i))
			p.Decode(raw)
			c := pkt.Ctx{P: &p, Hook: ruleset.PostRouting, Out: "eth0", Now: tgT0}
			ct.Track(&c)
			a.Act(&c)
			ct.Abort(&c)
		}
	})
}

var _ = xt.NATMapIPs
