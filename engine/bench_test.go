package engine_test

import (
	"bufio"
	"fmt"
	"math/rand"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampartfw/rampart/engine"
	"github.com/rampartfw/rampart/internal/testenv"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

func seedEngine(b *testing.B) *engine.Engine {
	b.Helper()
	rs, _, err := ipt.LoadFile(filepath.Join(testenv.Shared(b), "seeds", "centos7-web.rules"), ipt.LoadOptions{Family: ruleset.IPv4})
	if err != nil {
		b.Fatal(err)
	}
	host := engine.NewHost()
	host.AddIface("eth0=10.0.0.1/24")
	host.AddRoute("0.0.0.0/0=eth0")
	return engine.New(rs, nil, host, engine.NewConntrack(0))
}

func decode(b *testing.B, s pkt.Spec) *pkt.Packet {
	var p pkt.Packet
	if err := p.Decode(pkt.Build(s)); err != nil {
		b.Fatal(err)
	}
	return &p
}

// BenchmarkSeedNewSYN is a SYN to port 80 through the seed ruleset's whole
// INPUT chain (and the PORTSCAN checks), a new connection each time.
func BenchmarkSeedNewSYN(b *testing.B) {
	e := seedEngine(b)
	a := netip.MustParseAddr
	pkts := make([]*pkt.Packet, 4096)
	for i := range pkts {
		pkts[i] = decode(b, pkt.Spec{Src: netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)}), Dst: a("10.0.0.1"),
			Proto: pkt.ProtoTCP, SrcPort: uint16(10000 + i), DstPort: 80, TCPFlags: 0x02, Seq: 1000})
	}
	now := time.Unix(1700000000, 0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// A different flow each time; a minute apart per round so that
		// entries of the previous round can expire (SYN_SENT: 120 s).
		if i%len(pkts) == 0 {
			now = now.Add(3 * time.Minute)
		}
		e.Process(pkts[i%len(pkts)], now, nil)
		i++
	}
}

// BenchmarkSeedEstablished is an established TCP flow (data one way, ACKs
// back) through the seed ruleset: conntrack lookup, window tracking and the
// RELATED,ESTABLISHED rule. Two packets per op.
func BenchmarkSeedEstablished(b *testing.B) {
	e := seedEngine(b)
	cli, srv := netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("10.0.0.1")
	now := time.Unix(1700000000, 0)
	send := func(s pkt.Spec) engine.Result { return e.Process(decode(b, s), now, nil) }
	cseq, sseq := uint32(1000), uint32(5000)
	send(pkt.Spec{Src: cli, Dst: srv, Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 443, TCPFlags: 0x02, Seq: cseq})
	send(pkt.Spec{Src: srv, Dst: cli, Proto: pkt.ProtoTCP, SrcPort: 443, DstPort: 40000, TCPFlags: 0x12, Seq: sseq, Ack: cseq + 1})
	cseq++
	sseq++
	send(pkt.Spec{Src: cli, Dst: srv, Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 443, TCPFlags: 0x10, Seq: cseq, Ack: sseq})
	// Reuse two packet buffers, patching sequence numbers in place.
	data := decode(b, pkt.Spec{Src: cli, Dst: srv, Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 443, TCPFlags: 0x18, Seq: cseq, Ack: sseq, Payload: make([]byte, 100)})
	ack := decode(b, pkt.Spec{Src: srv, Dst: cli, Proto: pkt.ProtoTCP, SrcPort: 443, DstPort: 40000, TCPFlags: 0x10, Seq: sseq, Ack: cseq + 100})
	put32 := func(buf []byte, off int, v uint32) {
		buf[off], buf[off+1], buf[off+2], buf[off+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	}
	b.ReportAllocs()
	for b.Loop() {
		put32(data.Raw, 24, cseq)
		data.Seq = cseq
		cseq += 100
		put32(ack.Raw, 28, cseq)
		ack.Ack = cseq
		if r := e.Process(data, now, nil); r.CTState != pkt.CTEstablished {
			b.Fatalf("data packet state %d, verdict %v", r.CTState, r.Verdict)
		}
		e.Process(ack, now, nil)
	}
}

// classbench reads a ClassBench filter set into an INPUT chain of ACCEPT
// rules (first filter first), with a DROP policy, and one packet that each
// filter matches.
func classbench(b *testing.B, name string) (*ruleset.Ruleset, []*pkt.Packet) {
	f, err := os.Open(filepath.Join(testenv.Shared(b), "benchmarks", "classbench", name))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var rules strings.Builder
	rules.WriteString("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n")
	var pkts []*pkt.Packet
	rnd := rand.New(rand.NewSource(1))
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Split(strings.TrimPrefix(sc.Text(), "@"), "\t")
		if len(fs) < 5 {
			continue
		}
		src, dst := netip.MustParsePrefix(fs[0]), netip.MustParsePrefix(fs[1])
		sp, dp := strings.Split(fs[2], " : "), strings.Split(fs[3], " : ")
		slo, _ := strconv.Atoi(sp[0])
		shi, _ := strconv.Atoi(sp[1])
		dlo, _ := strconv.Atoi(dp[0])
		dhi, _ := strconv.Atoi(dp[1])
		pm := strings.Split(fs[4], "/")
		proto, _ := strconv.ParseUint(strings.TrimPrefix(pm[0], "0x"), 16, 8)
		mask, _ := strconv.ParseUint(strings.TrimPrefix(pm[1], "0x"), 16, 8)
		fmt.Fprintf(&rules, "-A INPUT -s %s -d %s", src.Masked(), dst.Masked())
		p := uint8(pkt.ProtoTCP)
		if mask != 0 {
			p = uint8(proto)
			fmt.Fprintf(&rules, " -p %d", proto)
			if proto == 6 || proto == 17 {
				name := map[uint64]string{6: "tcp", 17: "udp"}[proto]
				fmt.Fprintf(&rules, " -m %s", name)
				if slo != 0 || shi != 65535 {
					fmt.Fprintf(&rules, " --sport %d:%d", slo, shi)
				}
				if dlo != 0 || dhi != 65535 {
					fmt.Fprintf(&rules, " --dport %d:%d", dlo, dhi)
				}
			}
		}
		rules.WriteString(" -j ACCEPT\n")
		pick := func(pf netip.Prefix) netip.Addr {
			a := pf.Masked().Addr().As4()
			host := rnd.Uint32() >> uint(pf.Bits())
			if pf.Bits() == 0 {
				host = rnd.Uint32()
			}
			v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
			return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		}
		var bp pkt.Packet
		if bp.Decode(pkt.Build(pkt.Spec{Src: pick(src), Dst: pick(dst), Proto: p,
			SrcPort: uint16(slo + rnd.Intn(shi-slo+1)), DstPort: uint16(dlo + rnd.Intn(dhi-dlo+1)), TCPFlags: 0x10})) == nil {
			pkts = append(pkts, &bp)
		}
	}
	rules.WriteString("COMMIT\n")
	rs, _, err := ipt.Load(name, []byte(rules.String()), ipt.LoadOptions{Family: ruleset.IPv4})
	if err != nil {
		b.Fatal(err)
	}
	return rs, pkts
}

// BenchmarkClassbench10k classifies packets against the 10,000 rules made
// from acl1_10k (linear walk, as the kernel's iptables-nft chains do),
// without connection tracking.
func BenchmarkClassbench10k(b *testing.B) {
	rs, pkts := classbench(b, "acl1_10k")
	t := rs.Table("filter")
	c := &pkt.Ctx{Hook: ruleset.LocalIn, In: "eth0", CTState: pkt.CTUntracked}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.P = pkts[i%len(pkts)]
		engine.Table(t, "INPUT", c, nil)
		i++
	}
}
