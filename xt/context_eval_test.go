package xt_test

import (
	"bytes"
	"encoding/binary"
	"math/rand"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// cxMatch parses "-t TABLE -A X ARGS" for family f and returns the rule's
// last extension match.
func cxMatch(tb testing.TB, f ruleset.Family, table, args string) pkt.Matcher {
	tb.Helper()
	words := append([]string{"-t", table, "-A", "X"}, strings.Fields(args)...)
	cmd, err := iptext.ParseCommand(words, iptext.ParseOptions{Family: f})
	if err != nil {
		tb.Fatalf("%s: %v", args, err)
	}
	r := cmd.Rule
	if len(r.Matches) == 0 {
		tb.Fatalf("%s: no match", args)
	}
	m, ok := r.Matches[len(r.Matches)-1].(pkt.Matcher)
	if !ok {
		tb.Fatalf("%s: %T is not a pkt.Matcher", args, r.Matches[len(r.Matches)-1])
	}
	return m
}

func cxDecode(tb testing.TB, raw []byte) *pkt.Packet {
	tb.Helper()
	p := &pkt.Packet{}
	if err := p.Decode(raw); err != nil {
		tb.Fatal(err)
	}
	return p
}

func cxBuild(tb testing.TB, s pkt.Spec) *pkt.Packet {
	tb.Helper()
	return cxDecode(tb, pkt.Build(s))
}

var (
	cxSrc4 = netip.MustParseAddr("192.0.2.1")
	cxDst4 = netip.MustParseAddr("198.51.100.2")
	cxSrc6 = netip.MustParseAddr("2001:db8::1")
	cxDst6 = netip.MustParseAddr("2001:db8::2")
)

// cxHdr is one IPv6 extension header: its type and bytes (the first byte,
// the next header, is filled in by cxIPv6).
type cxHdr struct {
	typ uint8
	b   []byte
}

// cxIPv6 builds an IPv6 packet with the extension headers in order and then
// the upper-layer header proto with body.
func cxIPv6(src netip.Addr, hdrs []cxHdr, proto uint8, body []byte) []byte {
	var pl []byte
	for i, h := range hdrs {
		b := append([]byte(nil), h.b...)
		if i+1 < len(hdrs) {
			b[0] = hdrs[i+1].typ
		} else {
			b[0] = proto
		}
		pl = append(pl, b...)
	}
	pl = append(pl, body...)
	raw := make([]byte, 40, 40+len(pl))
	raw[0] = 0x60
	binary.BigEndian.PutUint16(raw[4:], uint16(len(pl)))
	raw[6] = proto
	if len(hdrs) > 0 {
		raw[6] = hdrs[0].typ
	}
	raw[7] = 64
	s, d := src.As16(), cxDst6.As16()
	copy(raw[8:], s[:])
	copy(raw[24:], d[:])
	return append(raw, pl...)
}

// cxFragHdr is a fragment header: offset in 8-byte units, reserved bits,
// more-fragments flag and id.
func cxFragHdr(off uint16, res2 uint16, reserved byte, more bool, id uint32) cxHdr {
	b := make([]byte, 8)
	b[1] = reserved
	fo := off<<3 | res2<<1
	if more {
		fo |= 1
	}
	binary.BigEndian.PutUint16(b[2:], fo)
	binary.BigEndian.PutUint32(b[4:], id)
	return cxHdr{pkt.ProtoFragment, b}
}

func cxOpts(typ uint8) cxHdr { return cxHdr{typ, make([]byte, 8)} }

func cxAH() cxHdr {
	b := make([]byte, 12)
	b[1] = 1 // (1+2)*4 bytes
	return cxHdr{pkt.ProtoAH, b}
}

// cxTCP is a TCP header with options (padded to 4 bytes) and flags.
func cxTCP(flags uint8, opts []byte) []byte {
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	h := make([]byte, 20, 20+len(opts))
	binary.BigEndian.PutUint16(h[0:], 1234)
	binary.BigEndian.PutUint16(h[2:], 80)
	h[12] = byte((20+len(opts))/4) << 4
	h[13] = flags
	return append(h, opts...)
}

// cxIPv4 builds an IPv4 packet around an L4 body.
func cxIPv4(proto uint8, tos uint8, fragOff uint16, body []byte) []byte {
	raw := make([]byte, 20, 20+len(body))
	raw[0] = 0x45
	raw[1] = tos
	binary.BigEndian.PutUint16(raw[2:], uint16(20+len(body)))
	binary.BigEndian.PutUint16(raw[6:], fragOff)
	raw[8] = 64
	raw[9] = proto
	s, d := cxSrc4.As4(), cxDst4.As4()
	copy(raw[12:], s[:])
	copy(raw[16:], d[:])
	return append(raw, body...)
}

// cxFacts answers the Facts questions from its fields; unknown makes every
// answer "unknown".
type cxFacts struct {
	unknown bool

	sock, file bool
	uid, gid   uint32
	groups     []uint32

	sets  map[string]bool
	query *pkt.SetQuery

	bridged         bool
	physIn, physOut string

	rpPass  bool
	rpFlags uint8

	cpu uint32

	xfrm    []pkt.XfrmState
	xfrmHas bool
	xfrmOut bool
}

func (f *cxFacts) Owner() (uint32, uint32, bool) { return f.uid, f.gid, !f.unknown }
func (f *cxFacts) InSet(string, netip.Addr) (bool, bool) {
	return false, false
}
func (f *cxFacts) Socket() (bool, bool, bool)    { return f.sock, f.file, !f.unknown }
func (f *cxFacts) SupplGroups() ([]uint32, bool) { return f.groups, !f.unknown }
func (f *cxFacts) SetTest(c *pkt.Ctx, q *pkt.SetQuery) (bool, bool) {
	f.query = q
	in, ok := f.sets[q.Name]
	return in, ok && !f.unknown
}
func (f *cxFacts) Bridge() (bool, string, string, bool) {
	return f.bridged, f.physIn, f.physOut, !f.unknown
}
func (f *cxFacts) RPFilter(c *pkt.Ctx, flags uint8) (bool, bool) {
	f.rpFlags = flags
	return f.rpPass, !f.unknown
}
func (f *cxFacts) CPU() (uint32, bool) { return f.cpu, !f.unknown }
func (f *cxFacts) Xfrm(out bool) ([]pkt.XfrmState, bool, bool) {
	f.xfrmOut = out
	return f.xfrm, f.xfrmHas, !f.unknown
}

// cxCase is one evaluation: a rule, a packet and context, and the result.
type cxCase struct {
	name    string
	fam     ruleset.Family
	table   string
	rule    string
	raw     []byte
	hook    ruleset.Hook
	in      string
	now     time.Time
	facts   *cxFacts
	noFacts bool
	mac     *[6]byte

	want      bool
	drop      bool
	undecided bool
}

func cxRun(t *testing.T, cases []cxCase) {
	t.Helper()
	for _, tc := range cases {
		fam := tc.fam
		if fam == 0 {
			fam = ruleset.IPv4
		}
		table := tc.table
		if table == "" {
			table = "filter"
		}
		m := cxMatch(t, fam, table, tc.rule)
		c := &pkt.Ctx{P: cxDecode(t, tc.raw), Hook: tc.hook, Table: table, In: tc.in, Now: tc.now}
		if tc.facts != nil {
			c.Facts = tc.facts
		}
		if tc.mac != nil {
			c.SrcMAC, c.HasMAC = *tc.mac, true
		}
		got := m.Match(c)
		if got != tc.want || c.DropNow != tc.drop || (c.Undecided != "") != tc.undecided {
			t.Errorf("%s: %s: got %v drop %v undecided %q, want %v drop %v undecided %v",
				tc.name, tc.rule, got, c.DropNow, c.Undecided, tc.want, tc.drop, tc.undecided)
		}
	}
}

var cxTCP4 = pkt.Build(pkt.Spec{Src: cxSrc4, Dst: cxDst4, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 2, TCPFlags: 2})

func TestContextEvalTime(t *testing.T) {
	day := func(y int, mo time.Month, d, h, mi int) time.Time {
		return time.Date(y, mo, d, h, mi, 0, 0, time.UTC)
	}
	// 2025-01-01 is a Wednesday.
	cases := []cxCase{
		{name: "in window", rule: "-m time --timestart 08:00 --timestop 17:00", now: day(2025, 1, 1, 12, 0), want: true},
		{name: "after window", rule: "-m time --timestart 08:00 --timestop 17:00", now: day(2025, 1, 1, 17, 1)},
		{name: "window end inclusive", rule: "-m time --timestart 08:00 --timestop 17:00", now: day(2025, 1, 1, 17, 0), want: true},
		{name: "window end to the second", rule: "-m time --timestart 08:00 --timestop 17:00", now: day(2025, 1, 1, 17, 0).Add(time.Second)},
		// The default end date is INT_MAX (libxt_time), and the kernel
		// compares with it: no match from 2038-01-19T03:14:08.
		{name: "y2038 last second", rule: "-m time --timestart 00:00", now: time.Unix(1<<31-1, 0), want: true},
		{name: "y2038", rule: "-m time --timestart 00:00", now: time.Unix(1<<31, 0)},
		{name: "zone of Now ignored", rule: "-m time --timestart 08:00 --timestop 17:00",
			now: day(2025, 1, 1, 12, 0).In(time.FixedZone("X", 10*3600)), want: true},
		{name: "wrap late", rule: "-m time --timestart 22:00 --timestop 02:00 --weekdays Wed", now: day(2025, 1, 1, 23, 0), want: true},
		{name: "wrap early next day", rule: "-m time --timestart 22:00 --timestop 02:00 --weekdays Wed", now: day(2025, 1, 2, 1, 0)},
		{name: "wrap early contiguous", rule: "-m time --timestart 22:00 --timestop 02:00 --weekdays Wed --contiguous", now: day(2025, 1, 2, 1, 0), want: true},
		{name: "wrap early same day contiguous", rule: "-m time --timestart 22:00 --timestop 02:00 --weekdays Wed --contiguous", now: day(2025, 1, 1, 1, 0)},
		{name: "wrap middle", rule: "-m time --timestart 22:00 --timestop 02:00", now: day(2025, 1, 1, 12, 0)},
		{name: "weekday", rule: "-m time --weekdays Sun", now: day(2025, 1, 5, 0, 0), want: true},
		{name: "not weekday", rule: "-m time ! --weekdays Sun", now: day(2025, 1, 5, 0, 0)},
		{name: "monthday", rule: "-m time --monthdays 1", now: day(2025, 1, 1, 5, 0), want: true},
		{name: "monthday other", rule: "-m time --monthdays 1", now: day(2025, 1, 2, 5, 0)},
		{name: "leap day", rule: "-m time --monthdays 29", now: day(2024, 2, 29, 5, 0), want: true},
		{name: "after leap day", rule: "-m time --monthdays 1", now: day(2024, 3, 1, 5, 0), want: true},
		{name: "datestart", rule: "-m time --datestart 2025-01-01T10:00:00", now: day(2025, 1, 1, 9, 59)},
		{name: "datestart reached", rule: "-m time --datestart 2025-01-01T10:00:00", now: day(2025, 1, 1, 10, 0), want: true},
		{name: "datestop passed", rule: "-m time --datestop 2025-01-01", now: day(2025, 1, 1, 0, 0).Add(time.Second)},
		{name: "datestop inclusive", rule: "-m time --datestop 2025-01-01", now: day(2025, 1, 1, 0, 0), want: true},
	}
	for i := range cases {
		cases[i].raw = cxTCP4
	}
	cxRun(t, cases)

	// --kerneltz applies the kernel's fixed offset (here UTC+1);
	// without it the rule stays in UTC.
	xt.TimeKernelMinutesWest = -60
	defer func() { xt.TimeKernelMinutesWest = 0 }()
	cxRun(t, []cxCase{
		{name: "kerneltz next day", rule: "-m time --monthdays 2 --kerneltz", raw: cxTCP4, now: day(2025, 1, 1, 23, 30), want: true},
		{name: "utc same day", rule: "-m time --monthdays 2", raw: cxTCP4, now: day(2025, 1, 1, 23, 30)},
		{name: "kerneltz daytime", rule: "-m time --timestart 00:00 --timestop 00:45 --kerneltz", raw: cxTCP4, now: day(2025, 1, 1, 23, 30), want: true},
	})
}

// Every day from 1970 to the default end date (2038-01-19) gets the month day the calendar gives it.
func TestContextEvalTimeMonthdays(t *testing.T) {
	m := cxMatch(t, ruleset.IPv4, "filter", "-m time --monthdays 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30")
	c := &pkt.Ctx{P: cxDecode(t, cxTCP4)}
	for d := time.Date(1970, 1, 1, 12, 0, 0, 0, time.UTC); d.Before(time.Date(2038, 1, 19, 0, 0, 0, 0, time.UTC)); d = d.AddDate(0, 0, 1) {
		c.Now = d
		if got, want := m.Match(c), d.Day() != 31; got != want {
			t.Fatalf("%s: got %v, want %v", d.Format("2006-01-02"), got, want)
		}
	}
}

func TestContextEvalString(t *testing.T) {
	payload := []byte("GET /index.html HTTP/1.1\r\nHost: Example.COM\r\n\r\n")
	raw := pkt.Build(pkt.Spec{Src: cxSrc4, Dst: cxDst4, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 80, Payload: payload})
	// The payload starts at 40 (20 IP + 20 TCP); "Host" at 40+26.
	host := 40 + bytes.Index(payload, []byte("Host"))
	var cases []cxCase
	for _, algo := range []string{"bm", "kmp"} {
		a := " --algo " + algo
		cases = append(cases,
			cxCase{name: algo + " found", rule: "-m string --string Host:" + a, want: true},
			cxCase{name: algo + " absent", rule: "-m string --string Cookie:" + a},
			cxCase{name: algo + " inverted", rule: "-m string ! --string Cookie:" + a, want: true},
			cxCase{name: algo + " case", rule: "-m string --string example.com" + a},
			cxCase{name: algo + " icase", rule: "-m string --string example.com --icase" + a, want: true},
			cxCase{name: algo + " hex", rule: "-m string --hex-string |0d0a0d0a|" + a, want: true},
			cxCase{name: algo + " from past it", rule: "-m string --string Host: --from " + itoa(host+1) + a},
			cxCase{name: algo + " from at it", rule: "-m string --string Host: --from " + itoa(host) + a, want: true},
			cxCase{name: algo + " to cuts it", rule: "-m string --string Host: --to " + itoa(host+4) + a},
			cxCase{name: algo + " to ends it", rule: "-m string --string Host: --to " + itoa(host+5) + a, want: true},
			cxCase{name: algo + " from == to", rule: "-m string --string Host: --from 66 --to 66" + a},
			cxCase{name: algo + " IP header", rule: "-m string --hex-string |c0000201| --to 20" + a, want: true},
			// The first occurrence decides: if it ends past --to, a
			// later one cannot end earlier.
			cxCase{name: algo + " past end", rule: "-m string --string 1.1 --from 200" + a},
		)
	}
	for i := range cases {
		cases[i].raw = raw
	}
	cxRun(t, cases)
}

func itoa(n int) string { return xt.Utoa(uint64(n)) }

// bm and kmp find the first occurrence on random texts over a small
// alphabet (which stresses bm's good-shift table), as a naive search does.
func TestContextEvalStringRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	alpha := []byte("abAB")
	gen := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = alpha[rng.Intn(len(alpha))]
		}
		return b
	}
	for iter := 0; iter < 3000; iter++ {
		pat := gen(1 + rng.Intn(8))
		text := gen(rng.Intn(200))
		raw := pkt.Build(pkt.Spec{Src: cxSrc4, Dst: cxDst4, Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 2, Payload: text})
		p := cxDecode(t, raw)
		for _, icase := range []bool{false, true} {
			want := bytes.Contains(raw, pat)
			if icase {
				want = bytes.Contains(bytes.ToUpper(raw), bytes.ToUpper(pat))
			}
			for _, algo := range []string{"bm", "kmp"} {
				rule := "-m string --hex-string |" + hexs(pat) + "| --algo " + algo
				if icase {
					rule += " --icase"
				}
				m := cxMatch(t, ruleset.IPv4, "filter", rule)
				if got := m.Match(&pkt.Ctx{P: p}); got != want {
					t.Fatalf("%s on %q: got %v, want %v", rule, text, got, want)
				}
			}
		}
	}
}

func hexs(b []byte) string {
	const d = "0123456789abcdef"
	var s []byte
	for _, c := range b {
		s = append(s, d[c>>4], d[c&15])
	}
	return string(s)
}

// The kernel's toupper folds Latin-1 letters too.
func TestContextEvalStringLatin1(t *testing.T) {
	raw := pkt.Build(pkt.Spec{Src: cxSrc4, Dst: cxDst4, Proto: pkt.ProtoUDP, Payload: []byte{'x', 0xe9, 'y'}})
	cxRun(t, []cxCase{
		{name: "latin1 icase", rule: "-m string --hex-string |c9| --algo kmp --icase", raw: raw, want: true},
		{name: "latin1 icase bm", rule: "-m string --hex-string |c9| --algo bm --icase", raw: raw, want: true},
		{name: "latin1 exact", rule: "-m string --hex-string |c9| --algo kmp", raw: raw},
	})
}

func TestContextEvalFrag(t *testing.T) {
	udp := make([]byte, 8)
	first := cxIPv6(cxSrc6, []cxHdr{cxFragHdr(0, 0, 0, true, 1000)}, pkt.ProtoUDP, udp)
	middle := cxIPv6(cxSrc6, []cxHdr{cxOpts(pkt.ProtoHopOpts), cxFragHdr(100, 0, 0, true, 1000)}, pkt.ProtoUDP, udp)
	last := cxIPv6(cxSrc6, []cxHdr{cxFragHdr(200, 0, 0, false, 1000)}, pkt.ProtoUDP, udp)
	res := cxIPv6(cxSrc6, []cxHdr{cxFragHdr(0, 1, 0, true, 7)}, pkt.ProtoUDP, udp)
	resByte := cxIPv6(cxSrc6, []cxHdr{cxFragHdr(0, 0, 9, true, 7)}, pkt.ProtoUDP, udp)
	plain := cxIPv6(cxSrc6, nil, pkt.ProtoUDP, udp)
	// A fragment header cut short: the walk finds it, reading it fails.
	cut := cxIPv6(cxSrc6, []cxHdr{{pkt.ProtoFragment, []byte{0, 0, 0, 0, 0, 0}}}, pkt.ProtoUDP, nil)
	cut = cut[:46]
	binary.BigEndian.PutUint16(cut[4:], 6)
	v6 := ruleset.IPv6
	cxRun(t, []cxCase{
		{name: "any", fam: v6, rule: "-m frag", raw: first, want: true},
		{name: "no header", fam: v6, rule: "-m frag", raw: plain},
		{name: "id", fam: v6, rule: "-m frag --fragid 1000", raw: middle, want: true},
		{name: "id range", fam: v6, rule: "-m frag --fragid 1:999", raw: middle},
		{name: "id inverted", fam: v6, rule: "-m frag ! --fragid 1:999", raw: middle, want: true},
		{name: "first", fam: v6, rule: "-m frag --fragfirst", raw: first, want: true},
		{name: "first no", fam: v6, rule: "-m frag --fragfirst", raw: middle},
		{name: "more", fam: v6, rule: "-m frag --fragmore", raw: middle, want: true},
		{name: "more no", fam: v6, rule: "-m frag --fragmore", raw: last},
		{name: "last", fam: v6, rule: "-m frag --fraglast", raw: last, want: true},
		{name: "last no", fam: v6, rule: "-m frag --fraglast", raw: first},
		{name: "res bits", fam: v6, rule: "-m frag --fragres", raw: res},
		{name: "res byte", fam: v6, rule: "-m frag --fragres", raw: resByte},
		{name: "res clear", fam: v6, rule: "-m frag --fragres", raw: first, want: true},
		{name: "len ignored", fam: v6, rule: "-m frag --fraglen 99", raw: first, want: true},
		{name: "truncated", fam: v6, rule: "-m frag", raw: cut, drop: true},
	})
}

func TestContextEvalIPv6Header(t *testing.T) {
	tcp := cxTCP(2, nil)
	plain := cxIPv6(cxSrc6, nil, pkt.ProtoTCP, tcp)
	hop := cxIPv6(cxSrc6, []cxHdr{cxOpts(pkt.ProtoHopOpts)}, pkt.ProtoTCP, tcp)
	hopFrag := cxIPv6(cxSrc6, []cxHdr{cxOpts(pkt.ProtoHopOpts), cxFragHdr(0, 0, 0, true, 1)}, pkt.ProtoTCP, tcp)
	// A non-first fragment: the walk goes on past it.
	fragDst := cxIPv6(cxSrc6, []cxHdr{cxFragHdr(10, 0, 0, true, 1), cxOpts(pkt.ProtoDstOpts)}, pkt.ProtoUDP, make([]byte, 8))
	ah := cxIPv6(cxSrc6, []cxHdr{cxAH()}, pkt.ProtoTCP, tcp)
	none := cxIPv6(cxSrc6, []cxHdr{cxOpts(pkt.ProtoRouting)}, pkt.ProtoNone, nil)
	esp := cxIPv6(cxSrc6, nil, pkt.ProtoESP, make([]byte, 16))
	v6 := ruleset.IPv6
	cxRun(t, []cxCase{
		{name: "proto only", fam: v6, rule: "-m ipv6header --header prot", raw: plain, want: true},
		{name: "hop exact needs proto", fam: v6, rule: "-m ipv6header --header hop", raw: hop},
		{name: "hop,proto exact", fam: v6, rule: "-m ipv6header --header hop,prot", raw: hop, want: true},
		{name: "hop soft", fam: v6, rule: "-m ipv6header --header hop --soft", raw: hopFrag, want: true},
		{name: "hop,frag exact", fam: v6, rule: "-m ipv6header --header hop,frag,prot", raw: hopFrag, want: true},
		{name: "inverted exact", fam: v6, rule: "-m ipv6header ! --header hop,prot", raw: hopFrag, want: true},
		{name: "inverted soft: none present", fam: v6, rule: "-m ipv6header ! --header frag,auth --soft", raw: hop, want: true},
		{name: "inverted soft: one present", fam: v6, rule: "-m ipv6header ! --header frag,auth --soft", raw: hopFrag},
		{name: "past non-first fragment", fam: v6, rule: "-m ipv6header --header frag,dst,prot", raw: fragDst, want: true},
		{name: "auth", fam: v6, rule: "-m ipv6header --header auth,prot", raw: ah, want: true},
		{name: "none", fam: v6, rule: "-m ipv6header --header route,none", raw: none, want: true},
		{name: "esp", fam: v6, rule: "-m ipv6header --header esp", raw: esp, want: true},
		{name: "esp not proto", fam: v6, rule: "-m ipv6header --header prot --soft", raw: esp},
	})
}

func TestContextEvalECN(t *testing.T) {
	ece := cxIPv4(pkt.ProtoTCP, 0x02, 0, cxTCP(0x40|2, nil))
	cwr := cxIPv4(pkt.ProtoTCP, 0x03, 0, cxTCP(0x80|0x10, nil))
	// A non-first fragment: the kernel reads its payload as TCP.
	frag := cxIPv4(pkt.ProtoTCP, 0, 100, cxTCP(0x40, nil))
	v6 := pkt.Build(pkt.Spec{Src: cxSrc6, Dst: cxDst6, Proto: pkt.ProtoTCP, TOS: 0x01, TCPFlags: 0x80})
	cxRun(t, []cxCase{
		{name: "ect", rule: "-m ecn --ecn-ip-ect 2", raw: ece, want: true},
		{name: "ect other", rule: "-m ecn --ecn-ip-ect 1", raw: ece},
		{name: "ect inverted", rule: "-m ecn ! --ecn-ip-ect 1", raw: ece, want: true},
		{name: "ece", rule: "-p tcp -m ecn --ecn-tcp-ece", raw: ece, want: true},
		{name: "ece absent", rule: "-p tcp -m ecn --ecn-tcp-ece", raw: cwr},
		{name: "ece inverted", rule: "-p tcp -m ecn ! --ecn-tcp-ece", raw: cwr, want: true},
		{name: "cwr and ect", rule: "-p tcp -m ecn --ecn-tcp-cwr --ecn-ip-ect 3", raw: cwr, want: true},
		{name: "cwr and wrong ect", rule: "-p tcp -m ecn --ecn-tcp-cwr --ecn-ip-ect 2", raw: cwr},
		{name: "fragment payload", rule: "-p tcp -m ecn --ecn-tcp-ece", raw: frag, want: true},
		{name: "ipv6 ect", fam: ruleset.IPv6, rule: "-m ecn --ecn-ip-ect 1", raw: v6, want: true},
		{name: "ipv6 cwr", fam: ruleset.IPv6, rule: "-p tcp -m ecn --ecn-tcp-cwr", raw: v6, want: true},
	})
}

func TestContextEvalIPComp(t *testing.T) {
	comp := func(cpi uint16, fragOff uint16) []byte {
		b := []byte{4, 0, byte(cpi >> 8), byte(cpi), 1, 2, 3, 4}
		return cxIPv4(108, 0, fragOff, b)
	}
	short := cxIPv4(108, 0, 0, []byte{4, 0})
	cxRun(t, []cxCase{
		{name: "cpi", rule: "-p 108 -m ipcomp --ipcompspi 300", raw: comp(300, 0), want: true},
		{name: "cpi other", rule: "-p 108 -m ipcomp --ipcompspi 300", raw: comp(301, 0)},
		{name: "cpi range", rule: "-p 108 -m ipcomp --ipcompspi 200:400", raw: comp(301, 0), want: true},
		{name: "cpi inverted", rule: "-p 108 -m ipcomp ! --ipcompspi 300", raw: comp(301, 0), want: true},
		{name: "fragment", rule: "-p 108 -m ipcomp ! --ipcompspi 300", raw: comp(301, 5)},
		{name: "truncated", rule: "-p 108 -m ipcomp --ipcompspi 300", raw: short, drop: true},
		{name: "compres ignored", rule: "-p 108 -m ipcomp --ipcompspi 300 --compres", raw: comp(300, 0), want: true},
	})
}

func TestContextEvalTCPMSS(t *testing.T) {
	mss := func(v uint16) []byte { return []byte{2, 4, byte(v >> 8), byte(v)} }
	syn := cxIPv4(pkt.ProtoTCP, 0, 0, cxTCP(2, append([]byte{1, 1}, mss(1460)...)))
	ack := cxIPv4(pkt.ProtoTCP, 0, 0, cxTCP(0x10, mss(536)))
	noOpt := cxIPv4(pkt.ProtoTCP, 0, 0, cxTCP(2, nil))
	sack := cxIPv4(pkt.ProtoTCP, 0, 0, cxTCP(2, []byte{4, 2, 3, 3, 0}))
	badMSS := cxIPv4(pkt.ProtoTCP, 0, 0, cxTCP(2, []byte{2, 3, 5, 0xb4}))
	zeroLen := cxIPv4(pkt.ProtoTCP, 0, 0, cxTCP(2, []byte{8, 0, 2, 4, 1, 0}))
	// Data offset 6 with only 20 bytes of header: options truncated.
	cut := cxIPv4(pkt.ProtoTCP, 0, 0, cxTCP(2, nil))
	cut[20+12] = 6 << 4
	low := cxIPv4(pkt.ProtoTCP, 0, 0, cxTCP(2, nil))
	low[20+12] = 4 << 4
	v6 := cxIPv6(cxSrc6, []cxHdr{cxOpts(pkt.ProtoHopOpts)}, pkt.ProtoTCP, cxTCP(2, mss(1220)))
	cxRun(t, []cxCase{
		{name: "mss", rule: "-p tcp -m tcpmss --mss 1460", raw: syn, want: true},
		{name: "mss range", rule: "-p tcp -m tcpmss --mss 1000:1500", raw: syn, want: true},
		{name: "mss out of range", rule: "-p tcp -m tcpmss --mss 1:1000", raw: syn},
		{name: "mss inverted", rule: "-p tcp -m tcpmss ! --mss 1:1000", raw: syn, want: true},
		{name: "not only syn", rule: "-p tcp -m tcpmss --mss 536", raw: ack, want: true},
		{name: "no options", rule: "-p tcp -m tcpmss --mss 536", raw: noOpt},
		{name: "no options inverted", rule: "-p tcp -m tcpmss ! --mss 536", raw: noOpt, want: true},
		{name: "other options", rule: "-p tcp -m tcpmss ! --mss 536", raw: sack, want: true},
		{name: "bad mss length", rule: "-p tcp -m tcpmss --mss 1460", raw: badMSS},
		{name: "zero length option", rule: "-p tcp -m tcpmss --mss 256", raw: zeroLen, want: true},
		{name: "truncated options", rule: "-p tcp -m tcpmss --mss 1460", raw: cut, drop: true},
		{name: "doff below 5", rule: "-p tcp -m tcpmss --mss 1460", raw: low, drop: true},
		{name: "ipv6", fam: ruleset.IPv6, rule: "-p tcp -m tcpmss --mss 1220", raw: v6, want: true},
	})
}

func TestContextEvalEUI64(t *testing.T) {
	mac := [6]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}
	src := netip.MustParseAddr("fe80::211:22ff:fe33:4455")
	raw := pkt.Build(pkt.Spec{Src: src, Dst: cxDst6, Proto: pkt.ProtoUDP})
	other := [6]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x56}
	frag := cxIPv6(src, []cxHdr{cxFragHdr(3, 0, 0, false, 1)}, pkt.ProtoUDP, make([]byte, 8))
	v6 := ruleset.IPv6
	cxRun(t, []cxCase{
		{name: "eui64", fam: v6, rule: "-m eui64", raw: raw, mac: &mac, want: true},
		{name: "other mac", fam: v6, rule: "-m eui64", raw: raw, mac: &other},
		{name: "no mac", fam: v6, rule: "-m eui64", raw: raw},
		{name: "no mac fragment", fam: v6, rule: "-m eui64", raw: frag, drop: true},
	})
}

func TestContextEvalCPURealm(t *testing.T) {
	cxRun(t, []cxCase{
		{name: "cpu", rule: "-m cpu --cpu 2", raw: cxTCP4, facts: &cxFacts{cpu: 2}, want: true},
		{name: "cpu other", rule: "-m cpu --cpu 2", raw: cxTCP4, facts: &cxFacts{cpu: 1}},
		{name: "cpu inverted", rule: "-m cpu ! --cpu 2", raw: cxTCP4, facts: &cxFacts{cpu: 1}, want: true},
		{name: "cpu no facts", rule: "-m cpu --cpu 2", raw: cxTCP4, undecided: true},
		{name: "cpu unknown", rule: "-m cpu ! --cpu 2", raw: cxTCP4, facts: &cxFacts{unknown: true}, undecided: true},
		{name: "realm", rule: "-m realm --realm 5", raw: cxTCP4, undecided: true},
		{name: "realm mask 0", rule: "-m realm --realm 0/0", raw: cxTCP4, want: true},
		{name: "realm mask 0 inverted", rule: "-m realm ! --realm 0/0", raw: cxTCP4},
		{name: "realm mask 0 id", rule: "-m realm --realm 1/0", raw: cxTCP4},
	})
}

func TestContextEvalOwner(t *testing.T) {
	out := ruleset.LocalOut
	cxRun(t, []cxCase{
		{name: "no facts", rule: "-m owner --uid-owner 1000", raw: cxTCP4, hook: out, undecided: true},
		{name: "unknown", rule: "-m owner --uid-owner 1000", raw: cxTCP4, hook: out, facts: &cxFacts{unknown: true}, undecided: true},
		{name: "uid", rule: "-m owner --uid-owner 1000", raw: cxTCP4, hook: out, facts: &cxFacts{sock: true, file: true, uid: 1000}, want: true},
		{name: "uid range", rule: "-m owner --uid-owner 1000-2000", raw: cxTCP4, hook: out, facts: &cxFacts{sock: true, file: true, uid: 2001}},
		{name: "uid inverted", rule: "-m owner ! --uid-owner 1000-2000", raw: cxTCP4, hook: out, facts: &cxFacts{sock: true, file: true, uid: 2001}, want: true},
		{name: "no socket", rule: "-m owner --uid-owner 1000", raw: cxTCP4, hook: out, facts: &cxFacts{}},
		{name: "no socket, all inverted", rule: "-m owner ! --uid-owner 1000 ! --socket-exists", raw: cxTCP4, hook: out, facts: &cxFacts{}, want: true},
		{name: "no socket, inverted uid only", rule: "-m owner ! --uid-owner 1000", raw: cxTCP4, hook: out, facts: &cxFacts{}, want: true},
		{name: "no socket, suppl", rule: "-m owner ! --gid-owner 5 --suppl-groups", raw: cxTCP4, hook: out, facts: &cxFacts{}},
		{name: "socket exists", rule: "-m owner --socket-exists", raw: cxTCP4, hook: out, facts: &cxFacts{sock: true}, want: true},
		{name: "socket exists inverted", rule: "-m owner ! --socket-exists", raw: cxTCP4, hook: out, facts: &cxFacts{sock: true, file: true}},
		{name: "no socket: ! socket-exists", rule: "-m owner ! --socket-exists", raw: cxTCP4, hook: out, facts: &cxFacts{}, want: true},
		{name: "no file", rule: "-m owner --uid-owner 0", raw: cxTCP4, hook: out, facts: &cxFacts{sock: true}},
		{name: "no file inverted", rule: "-m owner ! --uid-owner 0 --socket-exists", raw: cxTCP4, hook: out, facts: &cxFacts{sock: true}, want: true},
		{name: "gid", rule: "-m owner --gid-owner 100", raw: cxTCP4, hook: out, facts: &cxFacts{sock: true, file: true, gid: 100}, want: true},
		{name: "suppl not asked", rule: "-m owner --gid-owner 100", raw: cxTCP4, hook: out, facts: &cxFacts{sock: true, file: true, gid: 5, groups: []uint32{100}}},
		{name: "suppl", rule: "-m owner --gid-owner 100 --suppl-groups", raw: cxTCP4, hook: out, facts: &cxFacts{sock: true, file: true, gid: 5, groups: []uint32{7, 100}}, want: true},
		{name: "suppl inverted", rule: "-m owner ! --gid-owner 100 --suppl-groups", raw: cxTCP4, hook: out, facts: &cxFacts{sock: true, file: true, gid: 5, groups: []uint32{100}}},
		{name: "uid and gid", rule: "-m owner --uid-owner 1 --gid-owner 2", raw: cxTCP4, hook: out, facts: &cxFacts{sock: true, file: true, uid: 1, gid: 3}},
	})
}

func TestContextEvalSet(t *testing.T) {
	f := &cxFacts{sets: map[string]bool{"in": true, "out": false}}
	cxRun(t, []cxCase{
		{name: "in", rule: "-m set --match-set in src", raw: cxTCP4, facts: f, want: true},
		{name: "out", rule: "-m set --match-set out src,dst", raw: cxTCP4, facts: f},
		{name: "out inverted", rule: "-m set ! --match-set out src", raw: cxTCP4, facts: f, want: true},
		{name: "unknown set", rule: "-m set --match-set other src", raw: cxTCP4, facts: f, undecided: true},
		{name: "no facts", rule: "-m set --match-set in src", raw: cxTCP4, undecided: true},
	})
	m := cxMatch(t, ruleset.IPv4, "filter", "-m set --match-set in dst,src --return-nomatch ! --update-counters --packets-gt 5 ! --bytes-eq 9")
	m.Match(&pkt.Ctx{P: cxDecode(t, cxTCP4), Facts: f})
	q := f.query
	if q == nil || q.Name != "in" || len(q.Dirs) != 2 || q.Dirs[0] || !q.Dirs[1] || !q.ReturnNomatch || !q.SkipCounters ||
		q.SkipSubcounters || q.PacketsOp != 4 || q.Packets != 5 || q.BytesOp != 2 || q.Bytes != 9 {
		t.Errorf("set query: %+v", q)
	}
}

func TestContextEvalPhysdev(t *testing.T) {
	br := func(in, out string) *cxFacts { return &cxFacts{bridged: true, physIn: in, physOut: out} }
	fwd := ruleset.Forward
	cxRun(t, []cxCase{
		{name: "no facts", rule: "-m physdev --physdev-in eth0", raw: cxTCP4, hook: fwd, undecided: true},
		{name: "local out: not bridged", rule: "-m physdev ! --physdev-is-bridged", raw: cxTCP4, hook: ruleset.LocalOut, want: true},
		{name: "local out: is-in", rule: "-m physdev --physdev-is-in", raw: cxTCP4, hook: ruleset.LocalOut},
		{name: "not bridged", rule: "-m physdev --physdev-in eth0", raw: cxTCP4, hook: fwd, facts: &cxFacts{}},
		{name: "not bridged inverted", rule: "-m physdev ! --physdev-in eth0 ! --physdev-is-out", raw: cxTCP4, hook: fwd, facts: &cxFacts{}, want: true},
		{name: "in", rule: "-m physdev --physdev-in eth0", raw: cxTCP4, hook: fwd, facts: br("eth0", "eth1"), want: true},
		{name: "in wildcard", rule: "-m physdev --physdev-in eth+", raw: cxTCP4, hook: fwd, facts: br("eth7", "eth1"), want: true},
		{name: "in other", rule: "-m physdev --physdev-in eth0", raw: cxTCP4, hook: fwd, facts: br("eth00", "eth1")},
		{name: "in inverted", rule: "-m physdev ! --physdev-in eth0", raw: cxTCP4, hook: fwd, facts: br("eth0", "eth1")},
		{name: "in absent passes", rule: "-m physdev --physdev-in eth0", raw: cxTCP4, hook: fwd, facts: br("", "eth1"), want: true},
		{name: "out", rule: "-m physdev --physdev-out eth1", raw: cxTCP4, hook: fwd, facts: br("eth0", "eth1"), want: true},
		{name: "out absent fails inverted", rule: "-m physdev ! --physdev-out eth1", raw: cxTCP4, hook: fwd, facts: br("eth0", "")},
		{name: "is-bridged", rule: "-m physdev --physdev-is-bridged", raw: cxTCP4, hook: fwd, facts: br("eth0", "eth1"), want: true},
		{name: "is-bridged no out", rule: "-m physdev --physdev-is-bridged", raw: cxTCP4, hook: ruleset.PreRouting, facts: br("eth0", "")},
		{name: "is-in", rule: "-m physdev --physdev-is-in", raw: cxTCP4, hook: ruleset.PreRouting, facts: br("eth0", ""), want: true},
		{name: "is-out inverted", rule: "-m physdev ! --physdev-is-out", raw: cxTCP4, hook: ruleset.PreRouting, facts: br("eth0", ""), want: true},
	})
}

func TestContextEvalRpfilter(t *testing.T) {
	zero := pkt.Build(pkt.Spec{Src: netip.MustParseAddr("0.0.0.0"), Dst: netip.MustParseAddr("255.255.255.255"), Proto: pkt.ProtoUDP, SrcPort: 68, DstPort: 67})
	zeroUni := pkt.Build(pkt.Spec{Src: netip.MustParseAddr("0.0.0.0"), Dst: cxDst4, Proto: pkt.ProtoUDP})
	any6 := pkt.Build(pkt.Spec{Src: netip.MustParseAddr("::"), Dst: netip.MustParseAddr("ff02::1"), Proto: pkt.ProtoICMPv6, ICMPType: 135})
	pre := ruleset.PreRouting
	f := &cxFacts{rpPass: true}
	cxRun(t, []cxCase{
		{name: "loopback", table: "raw", rule: "-m rpfilter", raw: cxTCP4, hook: pre, in: "lo", want: true},
		{name: "loopback inverted", table: "raw", rule: "-m rpfilter --invert", raw: cxTCP4, hook: pre, in: "lo"},
		{name: "dhcp", table: "raw", rule: "-m rpfilter", raw: zero, hook: pre, in: "eth0", want: true},
		{name: "zeronet unicast", table: "raw", rule: "-m rpfilter", raw: zeroUni, hook: pre, in: "eth0", undecided: true},
		{name: "ipv6 any", fam: ruleset.IPv6, table: "raw", rule: "-m rpfilter", raw: any6, hook: pre, in: "eth0", want: true},
		{name: "no routes", table: "raw", rule: "-m rpfilter", raw: cxTCP4, hook: pre, in: "eth0", undecided: true},
		{name: "routes pass", table: "mangle", rule: "-m rpfilter --loose --accept-local", raw: cxTCP4, hook: pre, in: "eth0", facts: f, want: true},
		{name: "routes pass inverted", table: "raw", rule: "-m rpfilter --invert", raw: cxTCP4, hook: pre, in: "eth0", facts: &cxFacts{rpPass: true}},
		{name: "routes fail", table: "raw", rule: "-m rpfilter", raw: cxTCP4, hook: pre, in: "eth0", facts: &cxFacts{}},
	})
	if f.rpFlags != 1|4 {
		t.Errorf("rpfilter flags %d, want 5", f.rpFlags)
	}
}

func TestContextEvalPolicy(t *testing.T) {
	esp := func(spi uint32, mode uint8, src, dst string) pkt.XfrmState {
		return pkt.XfrmState{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Proto: 50, Mode: mode, SPI: spi, ReqID: 1}
	}
	tun := esp(0x100, 1, "10.0.0.1", "10.0.0.2")
	trans := esp(0x200, 0, "10.0.0.1", "10.0.0.2")
	in := ruleset.LocalIn
	out := ruleset.LocalOut
	cxRun(t, []cxCase{
		{name: "no facts", rule: "-m policy --dir in --pol ipsec", raw: cxTCP4, hook: in, undecided: true},
		{name: "none without sec_path", rule: "-m policy --dir in --pol none", raw: cxTCP4, hook: in, facts: &cxFacts{}, want: true},
		{name: "ipsec without sec_path", rule: "-m policy --dir in --pol ipsec", raw: cxTCP4, hook: in, facts: &cxFacts{}},
		{name: "ipsec with sec_path", rule: "-m policy --dir in --pol ipsec", raw: cxTCP4, hook: in, facts: &cxFacts{xfrmHas: true, xfrm: []pkt.XfrmState{tun}}, want: true},
		{name: "none with sec_path", rule: "-m policy --dir in --pol none", raw: cxTCP4, hook: in, facts: &cxFacts{xfrmHas: true, xfrm: []pkt.XfrmState{tun}}},
		{name: "spi", rule: "-m policy --dir in --pol ipsec --spi 0x100", raw: cxTCP4, hook: in, facts: &cxFacts{xfrmHas: true, xfrm: []pkt.XfrmState{tun}}, want: true},
		{name: "spi other", rule: "-m policy --dir in --pol ipsec --spi 0x101", raw: cxTCP4, hook: in, facts: &cxFacts{xfrmHas: true, xfrm: []pkt.XfrmState{tun}}},
		{name: "any state", rule: "-m policy --dir in --pol ipsec --mode transport", raw: cxTCP4, hook: in, facts: &cxFacts{xfrmHas: true, xfrm: []pkt.XfrmState{tun, trans}}, want: true},
		{name: "tunnel src", rule: "-m policy --dir in --pol ipsec --mode tunnel --tunnel-src 10.0.0.0/24", raw: cxTCP4, hook: in, facts: &cxFacts{xfrmHas: true, xfrm: []pkt.XfrmState{tun}}, want: true},
		{name: "tunnel src other", rule: "-m policy --dir in --pol ipsec --mode tunnel --tunnel-src 10.0.1.0/24", raw: cxTCP4, hook: in, facts: &cxFacts{xfrmHas: true, xfrm: []pkt.XfrmState{tun}}},
		{name: "strict count", rule: "-m policy --dir in --pol ipsec --strict --proto esp", raw: cxTCP4, hook: in, facts: &cxFacts{xfrmHas: true, xfrm: []pkt.XfrmState{tun, trans}}},
		{name: "strict one", rule: "-m policy --dir in --pol ipsec --strict --proto esp", raw: cxTCP4, hook: in, facts: &cxFacts{xfrmHas: true, xfrm: []pkt.XfrmState{tun}}, want: true},
		{name: "strict in, two states", rule: "-m policy --dir in --pol ipsec --strict --proto esp --next --proto esp", raw: cxTCP4, hook: in, facts: &cxFacts{xfrmHas: true, xfrm: []pkt.XfrmState{tun, trans}}, undecided: true},
		{name: "out none", rule: "-m policy --dir out --pol none", raw: cxTCP4, hook: out, facts: &cxFacts{}, want: true},
		{name: "out strict", rule: "-m policy --dir out --pol ipsec --strict --mode tunnel --next --mode transport", raw: cxTCP4, hook: out, facts: &cxFacts{xfrm: []pkt.XfrmState{tun, trans}}, want: true},
		{name: "out strict order", rule: "-m policy --dir out --pol ipsec --strict --mode transport --next --mode tunnel", raw: cxTCP4, hook: out, facts: &cxFacts{xfrm: []pkt.XfrmState{tun, trans}}},
		{name: "out strict short", rule: "-m policy --dir out --pol ipsec --strict --mode tunnel --next --mode transport", raw: cxTCP4, hook: out, facts: &cxFacts{xfrm: []pkt.XfrmState{tun}}},
		{name: "reqid inverted", rule: "-m policy --dir out --pol ipsec ! --reqid 1", raw: cxTCP4, hook: out, facts: &cxFacts{xfrm: []pkt.XfrmState{tun}}},
	})
}

// The evaluations allocate nothing.
func TestContextEvalAllocs(t *testing.T) {
	for _, b := range cxBenches(t) {
		if n := testing.AllocsPerRun(100, func() { b.m.Match(b.c) }); n != 0 {
			t.Errorf("%s: %v allocations per call", b.name, n)
		}
	}
}

type cxBench struct {
	name string
	m    pkt.Matcher
	c    *pkt.Ctx
}

func cxBenches(tb testing.TB) []cxBench {
	payload := bytes.Repeat([]byte("abcdefghij"), 100)
	http := pkt.Build(pkt.Spec{Src: cxSrc4, Dst: cxDst4, Proto: pkt.ProtoTCP, Payload: append(payload, "needle"...)})
	syn := cxIPv4(pkt.ProtoTCP, 0, 0, cxTCP(2, []byte{1, 1, 4, 2, 2, 4, 5, 0xb4}))
	frag := cxIPv6(cxSrc6, []cxHdr{cxOpts(pkt.ProtoHopOpts), cxFragHdr(0, 0, 0, true, 5)}, pkt.ProtoTCP, cxTCP(2, nil))
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	f := &cxFacts{sock: true, file: true, uid: 1000, gid: 5, groups: []uint32{1, 2, 100}, sets: map[string]bool{"s": true}}
	ctx := func(raw []byte) *pkt.Ctx {
		return &pkt.Ctx{P: cxDecode(tb, raw), Now: now, Facts: f, Hook: ruleset.LocalOut}
	}
	v4, v6 := ruleset.IPv4, ruleset.IPv6
	return []cxBench{
		{"string bm", cxMatch(tb, v4, "filter", "-m string --string needle --algo bm"), ctx(http)},
		{"string kmp icase", cxMatch(tb, v4, "filter", "-m string --string NEEDLE --algo kmp --icase"), ctx(http)},
		{"time", cxMatch(tb, v4, "filter", "-m time --timestart 08:00 --timestop 17:00 --weekdays Wed --monthdays 1"), ctx(syn)},
		{"tcpmss", cxMatch(tb, v4, "filter", "-p tcp -m tcpmss --mss 1460"), ctx(syn)},
		{"ecn", cxMatch(tb, v4, "filter", "-p tcp -m ecn --ecn-tcp-ece --ecn-ip-ect 0"), ctx(syn)},
		{"frag", cxMatch(tb, v6, "filter", "-m frag --fragid 5 --fragfirst"), ctx(frag)},
		{"ipv6header", cxMatch(tb, v6, "filter", "-m ipv6header --header hop,frag,prot"), ctx(frag)},
		{"owner", cxMatch(tb, v4, "filter", "-m owner --uid-owner 1000 --gid-owner 100 --suppl-groups"), ctx(syn)},
		{"set", cxMatch(tb, v4, "filter", "-m set --match-set s src,dst"), ctx(syn)},
		{"physdev", cxMatch(tb, v4, "filter", "-m physdev ! --physdev-is-bridged"), ctx(syn)},
		{"undecided", cxMatch(tb, v4, "filter", "-m realm --realm 3"), &pkt.Ctx{P: cxDecode(tb, syn)}},
	}
}

func BenchmarkContextEval(b *testing.B) {
	for _, bc := range cxBenches(b) {
		b.Run(strings.ReplaceAll(bc.name, " ", "_"), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				bc.m.Match(bc.c)
			}
		})
	}
}
