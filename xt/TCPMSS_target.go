package xt

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// TCPMSSClampPMTU is the MSS value meaning --clamp-mss-to-pmtu.
const TCPMSSClampPMTU = 0xFFFF

// TCPMSSTarget is the TCPMSS target: set the MSS of SYN packets to MSS, or to
// the path MTU minus headers (MSS == TCPMSSClampPMTU). Under nf_tables the
// kernel cannot see a tcp --syn match, so only -p tcp is required.
type TCPMSSTarget struct {
	MSS uint16
	set bool
}

func init() {
	for _, f := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		Register(&Def{Name: "TCPMSS", Family: f, Target: true,
			Options: []Option{{Name: "set-mss", Arg: ReqArg}, {Name: "clamp-mss-to-pmtu"}},
			New:     func() Parser { return &TCPMSSTarget{} }})
	}
}

// Name implements ruleset.Extension.
func (t *TCPMSSTarget) Name() string { return "TCPMSS" }

// Parse implements Parser. The later of --set-mss and --clamp-mss-to-pmtu
// wins, as in iptables.
func (t *TCPMSSTarget) Parse(ctx *Context, opt, arg string, _ bool) error {
	t.set = true
	if opt == "clamp-mss-to-pmtu" {
		t.MSS = TCPMSSClampPMTU
		return nil
	}
	max := uint64(65535 - 20)
	if ctx.Family == ruleset.IPv6 {
		max = 65535 - 40
	}
	v, err := tgUint("TCPMSS", opt, arg, 0, max)
	if err != nil {
		return err
	}
	t.MSS = uint16(v)
	return nil
}

// Final implements Parser.
func (t *TCPMSSTarget) Final(ctx *Context) (ruleset.Extension, error) {
	if !t.set {
		return nil, Errorf("TCPMSS target: At least one parameter is required")
	}
	if ctx.Rule.Proto != 6 || ctx.Rule.Inv&ruleset.InvProto != 0 {
		return nil, KernelInval()
	}
	if t.MSS == TCPMSSClampPMTU {
		if err := tgKernelPlace(ctx, "", "FORWARD", "OUTPUT", "POSTROUTING"); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Save implements ruleset.Extension.
func (t *TCPMSSTarget) Save(b *strings.Builder, _ ruleset.Fmt) {
	if t.MSS == TCPMSSClampPMTU {
		b.WriteString(" --clamp-mss-to-pmtu")
		return
	}
	b.WriteString(" --set-mss " + strconv.Itoa(int(t.MSS)))
}

// Print implements ruleset.Extension.
func (t *TCPMSSTarget) Print(b *strings.Builder, _ ruleset.Fmt) {
	if t.MSS == TCPMSSClampPMTU {
		b.WriteString(" TCPMSS clamp to PMTU")
		return
	}
	b.WriteString(" TCPMSS set " + strconv.Itoa(int(t.MSS)))
}

// Act implements pkt.Actor as xt_TCPMSS's tcpmss_tg4/tcpmss_tg6 do
// (tcpmss_mangle_packet), on c.P in place: a non-first fragment is left
// alone; a TCP header shorter than 20 bytes or than its data offset drops
// the packet (NF_DROP); an MSS option larger than the new MSS is lowered
// (never raised) with the TCP checksum updated incrementally; with no MSS
// option, a packet with no data after the header and room for one more
// option gets one (min(MSS, 536) for IPv4, min(MSS, 1220) for IPv6), with
// the data offset, IP total / payload length and checksums updated as the
// kernel does - this one case grows Raw and allocates. The packet goes on
// (XT_CONTINUE). --clamp-mss-to-pmtu needs the route MTUs, which the host
// model lacks: undecided, the packet unchanged.
func (t *TCPMSSTarget) Act(c *pkt.Ctx) pkt.Verdict {
	p := c.P
	if p.FragOff != 0 {
		return pkt.Continue
	}
	raw := p.Raw
	var tcphoff int
	if p.Family == ruleset.IPv6 {
		tcphoff = p.L4
		if tcphoff < 0 {
			// The TCP header is not all there (ipv6_skip_exthdr found the
			// header, the length check fails).
			return pkt.Drop
		}
	} else {
		tcphoff = int(raw[0]&0x0f) * 4
	}
	l := len(raw) - tcphoff
	if l < 20 {
		return pkt.Drop
	}
	tcph := raw[tcphoff:]
	hdrlen := int(tcph[12]>>4) * 4
	if l < hdrlen || hdrlen < 20 {
		return pkt.Drop
	}
	if t.MSS == TCPMSSClampPMTU {
		c.Undecide("TCPMSS --clamp-mss-to-pmtu: the route MTUs are unknown")
		return pkt.Continue
	}
	newmss := t.MSS
	for i := 20; i <= hdrlen-4; {
		if tcph[i] == 2 && tcph[i+1] == 4 {
			oldmss := binary.BigEndian.Uint16(tcph[i+2 : i+4])
			if oldmss <= newmss {
				return pkt.Continue
			}
			binary.BigEndian.PutUint16(tcph[i+2:i+4], newmss)
			tgCsumReplace2(tcph[16:18], oldmss, newmss)
			return pkt.Continue
		}
		// optlen: zero-length options make progress of one byte.
		if tcph[i] <= 1 || tcph[i+1] == 0 {
			i++
		} else {
			i += int(tcph[i+1])
		}
	}
	if l > hdrlen || hdrlen >= 60 {
		return pkt.Continue
	}
	if p.Family == ruleset.IPv6 {
		newmss = min(newmss, 1220)
	} else {
		newmss = min(newmss, 536)
	}
	grown := make([]byte, len(raw)+4)
	copy(grown, raw)
	tcph = grown[tcphoff:]
	// The options move back by four bytes; the MSS option goes first.
	copy(tcph[24:], tcph[20:l])
	tgCsumReplace2(tcph[16:18], uint16(l), uint16(l+4))
	tcph[20], tcph[21] = 2, 4
	binary.BigEndian.PutUint16(tcph[22:24], newmss)
	tgCsumUpdate(tcph[16:18], uint32(binary.BigEndian.Uint16(tcph[20:22]))+uint32(binary.BigEndian.Uint16(tcph[22:24])))
	old := binary.BigEndian.Uint16(tcph[12:14])
	tcph[12] += 4 << 2
	tgCsumReplace2(tcph[16:18], old, binary.BigEndian.Uint16(tcph[12:14]))
	if p.Family == ruleset.IPv6 {
		plen := binary.BigEndian.Uint16(grown[4:6])
		binary.BigEndian.PutUint16(grown[4:6], plen+4)
	} else {
		tot := binary.BigEndian.Uint16(grown[2:4])
		binary.BigEndian.PutUint16(grown[2:4], tot+4)
		tgCsumReplace2(grown[10:12], tot, tot+4)
	}
	p.Raw = grown
	p.Len += 4
	p.TCPHdrLen += 4
	return pkt.Continue
}
