package xt

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// LOG flag bits (XT_LOG_*).
const (
	LogTCPSeq    uint8 = 0x01
	LogTCPOpt    uint8 = 0x02
	LogIPOpt     uint8 = 0x04
	LogUID       uint8 = 0x08
	LogMACDecode uint8 = 0x20
)

// logDefaultLevel is LOG_WARNING.
const logDefaultLevel = 4

// logPrefixMax is the longest prefix kept (xt_log_info.prefix is 30 bytes).
const logPrefixMax = 29

// Level names accepted by --log-level (libxtables' syslog table,
// case-sensitive).
var logLevelIn = map[string]uint8{
	"alert": 1, "crit": 2, "debug": 7, "emerg": 0, "error": 3,
	"info": 6, "notice": 5, "panic": 0, "warning": 4,
}

// Level names -L prints (the first of glibc's prioritynames per level).
var logLevelOut = [8]string{"emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"}

var logFlagOpts = []struct {
	opt  string
	bit  uint8
	name string
}{
	{"log-tcp-sequence", LogTCPSeq, "tcp-sequence"},
	{"log-tcp-options", LogTCPOpt, "tcp-options"},
	{"log-ip-options", LogIPOpt, "ip-options"},
	{"log-uid", LogUID, "uid"},
	{"log-macdecode", LogMACDecode, "macdecode"},
}

// Log is the LOG target: syslog level, prefix and what to log.
type Log struct {
	Level  uint8
	Flags  uint8
	Prefix string

	buf []byte // scratch for Act's line
}

func init() {
	opts := []Option{{Name: "log-level", Arg: ReqArg}, {Name: "log-prefix", Arg: ReqArg}}
	for _, f := range logFlagOpts {
		opts = append(opts, Option{Name: f.opt})
	}
	Register(&Def{Name: "LOG", Target: true, Options: opts,
		New: func() Parser { return &Log{Level: logDefaultLevel} }})
}

// Name implements ruleset.Extension.
func (t *Log) Name() string { return "LOG" }

// Parse implements Parser.
func (t *Log) Parse(_ *Context, opt, arg string, _ bool) error {
	switch opt {
	case "log-level":
		if v, rest, ok := tgStrtoul(arg); ok && rest == "" && v <= 7 {
			t.Level = uint8(v)
			return nil
		}
		l, ok := logLevelIn[arg]
		if !ok {
			return Errorf("log level \"%s\" unknown\n", arg)
		}
		t.Level = l
	case "log-prefix":
		if arg == "" {
			return Errorf("Argument must have a minimum length of 1 characters\n")
		}
		if strings.Contains(arg, "\n") {
			return Errorf("Newlines not allowed in --log-prefix")
		}
		if len(arg) > logPrefixMax {
			arg = arg[:logPrefixMax]
		}
		t.Prefix = arg
	default:
		for _, f := range logFlagOpts {
			if f.opt == opt {
				t.Flags |= f.bit
			}
		}
	}
	return nil
}

// Final implements Parser.
func (t *Log) Final(*Context) (ruleset.Extension, error) { return t, nil }

// Save implements ruleset.Extension.
func (t *Log) Save(b *strings.Builder, _ ruleset.Fmt) {
	if t.Prefix != "" {
		b.WriteString(" --log-prefix")
		tgSaveString(b, t.Prefix)
	}
	if t.Level != logDefaultLevel {
		b.WriteString(" --log-level " + strconv.Itoa(int(t.Level)))
	}
	for _, f := range logFlagOpts {
		if t.Flags&f.bit != 0 {
			b.WriteString(" --" + f.opt)
		}
	}
}

// Print implements ruleset.Extension.
func (t *Log) Print(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(" LOG")
	if f.Numeric {
		b.WriteString(" flags " + strconv.Itoa(int(t.Flags)) + " level " + strconv.Itoa(int(t.Level)))
	} else {
		if t.Level < 8 {
			b.WriteString(" level " + logLevelOut[t.Level])
		} else {
			b.WriteString(" UNKNOWN level " + strconv.Itoa(int(t.Level)))
		}
		for _, fl := range logFlagOpts {
			if t.Flags&fl.bit != 0 {
				b.WriteString(" " + fl.name)
			}
		}
	}
	if t.Prefix != "" {
		b.WriteString(" prefix \"" + t.Prefix + "\"")
	}
}

// Act implements pkt.Actor as xt_LOG's log_tg does (iptables-nft keeps LOG
// as an xt target): nf_log_packet with the syslog logger of
// nf_log_syslog.c, then XT_CONTINUE. c.Log gets the line the kernel prints,
// as "<L>" (the syslog level printk takes from KERN_SOH) followed by the
// text dmesg shows, trailing space included:
//
//	<4>PREFIXIN=eth0 OUT= MAC=... SRC=... DST=... LEN=... TOS=0x00 ...
//
// Exact (nf_log_dump_packet_common, dump_mac_header, dump_ipv4_packet,
// dump_ipv6_packet and the TCP/UDP dumpers, field by field): PHYSIN/PHYSOUT
// (from c.Facts.Bridge), MAC= (destination, source and EtherType of a
// received Ethernet frame: c.DstMAC, c.SrcMAC, or all zeros on lo) or with
// --log-macdecode MACSRC/MACDST/MACPROTO, the IPv4 fields with CE/DF/MF,
// FRAG and --log-ip-options, the IPv6 fields with the extension header
// walk (FRAG, and with --log-ip-options OPT ( ... ), AH/ESP SPIs), TCP with
// --log-tcp-sequence and --log-tcp-options, the AE and RES bits and flags,
// UDP/UDP-Lite, ICMP and ICMPv6 with the quoted packet of errors in [ ],
// AH/ESP SPIs, INCOMPLETE/TRUNCATED for short headers, UID/GID with
// --log-uid (from c.Facts) and MARK.
//
// Approximations: the syslog logger prints only in the initial network
// namespace (or with net.netfilter.nf_log_all_netns=1): the simulated host
// is taken to be one where it prints. A packet received on an interface
// other than lo without a link-layer header in the capture (c.HasMAC
// false) is logged as from a device without one ("MAC= "); VLAN tags
// (VPROTO/VID, hardware-accelerated tags are not in the frame) are not
// shown. --log-uid with no answer from c.Facts logs no UID/GID. GSO
// packets (total length 0) are not modelled. Each call allocates the line
// (one string; the scratch buffer is the rule's).
func (t *Log) Act(c *pkt.Ctx) pkt.Verdict {
	if t.buf == nil {
		t.buf = make([]byte, 0, 1024)
	}
	b := t.buf[:0]
	b = append(b, '<', '0'+t.Level&7, '>')
	b = append(b, t.Prefix...)
	b = append(b, "IN="...)
	b = append(b, c.In...)
	b = append(b, " OUT="...)
	b = append(b, c.Out...)
	b = append(b, ' ')
	if c.Facts != nil {
		if bridged, physIn, physOut, ok := c.Facts.Bridge(); ok && bridged {
			if physIn != "" && physIn != c.In {
				b = append(b, "PHYSIN="...)
				b = append(b, physIn...)
				b = append(b, ' ')
			}
			if physOut != "" && physOut != c.Out {
				b = append(b, "PHYSOUT="...)
				b = append(b, physOut...)
				b = append(b, ' ')
			}
		}
	}
	if c.In != "" {
		b = t.dumpMAC(b, c)
	}
	if c.P.Family == ruleset.IPv6 {
		b = t.dump6(b, c, 0, true)
	} else {
		b = t.dump4(b, c, 0)
	}
	c.Log = append(c.Log, string(b))
	t.buf = b
	return pkt.Continue
}

// dumpMAC is dump_mac_header.
func (t *Log) dumpMAC(b []byte, c *pkt.Ctx) []byte {
	etype := uint16(0x0800)
	if c.P.Family == ruleset.IPv6 {
		etype = 0x86dd
	}
	lo := c.In == "lo"
	if t.Flags&LogMACDecode != 0 && c.HasMAC && !lo {
		// ARPHRD_ETHER.
		b = append(b, "MACSRC="...)
		b = logMAC(b, c.SrcMAC)
		b = append(b, " MACDST="...)
		b = logMAC(b, c.DstMAC)
		b = append(b, " MACPROTO="...)
		b = logHex(b, uint32(etype), 4, false)
		return append(b, ' ')
	}
	b = append(b, "MAC="...)
	if c.HasMAC || lo {
		var src, dst [6]byte
		if c.HasMAC {
			src, dst = c.SrcMAC, c.DstMAC
		}
		b = logMAC(b, dst)
		b = append(b, ':')
		b = logMAC(b, src)
		b = append(b, ':')
		b = logHex(b, uint32(etype>>8), 2, false)
		b = append(b, ':')
		b = logHex(b, uint32(etype&0xff), 2, false)
	}
	return append(b, ' ')
}

// logMAC is %pM.
func logMAC(b []byte, m [6]byte) []byte {
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = logHex(b, uint32(x), 2, false)
	}
	return b
}

// logHex is %0Nx / %0NX (width 0: %x).
func logHex(b []byte, v uint32, width int, upper bool) []byte {
	digits := "0123456789abcdef"
	if upper {
		digits = "0123456789ABCDEF"
	}
	var tmp [8]byte
	n := 0
	for v != 0 || n == 0 {
		tmp[n] = digits[v&15]
		v >>= 4
		n++
	}
	for i := n; i < width; i++ {
		b = append(b, '0')
	}
	for n > 0 {
		n--
		b = append(b, tmp[n])
	}
	return b
}

func logUint(b []byte, v uint64) []byte { return strconv.AppendUint(b, v, 10) }

// logKV appends "KEY=value ".
func logKV(b []byte, key string, v uint64) []byte {
	b = append(b, key...)
	b = logUint(b, v)
	return append(b, ' ')
}

// logIncomplete appends "INCOMPLETE [N bytes] ".
func logIncomplete(b []byte, n int) []byte {
	b = append(b, "INCOMPLETE ["...)
	b = logUint(b, uint64(uint32(n)))
	return append(b, " bytes] "...)
}

// logOpts appends "OPT (" + the bytes in %02X + ") ".
func logOpts(b []byte, opt []byte) []byte {
	b = append(b, "OPT ("...)
	for _, x := range opt {
		b = logHex(b, uint32(x), 2, true)
	}
	return append(b, ") "...)
}

// logIP6 is %pI6: eight groups of four hex digits, never shortened.
func logIP6(b []byte, a [16]byte) []byte {
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			b = append(b, ':')
		}
		b = logHex(b, uint32(a[i])<<8|uint32(a[i+1]), 4, false)
	}
	return b
}

// logIP4 is %pI4.
func logIP4(b []byte, a []byte) []byte {
	for i := 0; i < 4; i++ {
		if i > 0 {
			b = append(b, '.')
		}
		b = logUint(b, uint64(a[i]))
	}
	return b
}

// dumpOwner appends UID/GID (nf_log_dump_sk_uid_gid) with --log-uid, and
// MARK, for the outer packet.
func (t *Log) dumpOwner(b []byte, c *pkt.Ctx) []byte {
	if t.Flags&LogUID != 0 && c.Facts != nil {
		if sock, file, ok := c.Facts.Socket(); ok && sock && file {
			if uid, gid, ok := c.Facts.Owner(); ok {
				b = logKV(b, "UID=", uint64(uid))
				b = logKV(b, "GID=", uint64(gid))
			}
		}
	}
	if c.Mark != 0 {
		b = append(b, "MARK=0x"...)
		b = logHex(b, c.Mark, 0, false)
		b = append(b, ' ')
	}
	return b
}

// dumpTCP is nf_log_dump_tcp_header; done reports that the caller must
// stop (the kernel's return 1).
func (t *Log) dumpTCP(b []byte, raw []byte, fragment bool, off int) ([]byte, bool) {
	b = append(b, "PROTO=TCP "...)
	if fragment {
		return b, false
	}
	if off+20 > len(raw) {
		return logIncomplete(b, len(raw)-off), true
	}
	th := raw[off:]
	b = append(b, "SPT="...)
	b = logUint(b, uint64(binary.BigEndian.Uint16(th[0:2])))
	b = logKV(b, " DPT=", uint64(binary.BigEndian.Uint16(th[2:4])))
	if t.Flags&LogTCPSeq != 0 {
		b = logKV(b, "SEQ=", uint64(binary.BigEndian.Uint32(th[4:8])))
		b = logKV(b, "ACK=", uint64(binary.BigEndian.Uint32(th[8:12])))
	}
	b = logKV(b, "WINDOW=", uint64(binary.BigEndian.Uint16(th[14:16])))
	// TCP_RESERVED_BITS (0x0E000000 since the AE flag took bit 0 of the
	// reserved nibble), shifted right by 22.
	b = append(b, "RES=0x"...)
	b = logHex(b, uint32(th[12]&0x0e)<<2, 2, false)
	b = append(b, ' ')
	if th[12]&0x01 != 0 {
		b = append(b, "AE "...)
	}
	for i, name := range [...]string{"CWR ", "ECE ", "URG ", "ACK ", "PSH ", "RST ", "SYN ", "FIN "} {
		if th[13]&(0x80>>i) != 0 {
			b = append(b, name...)
		}
	}
	b = logKV(b, "URGP=", uint64(binary.BigEndian.Uint16(th[18:20])))
	if doff := int(th[12]>>4) * 4; t.Flags&LogTCPOpt != 0 && doff > 20 {
		if off+doff > len(raw) {
			return append(b, "OPT (TRUNCATED)"...), true
		}
		b = logOpts(b, raw[off+20:off+doff])
	}
	return b, false
}

// dumpUDP is nf_log_dump_udp_header.
func dumpUDP(b []byte, raw []byte, proto uint8, fragment bool, off int) ([]byte, bool) {
	if proto == pkt.ProtoUDP {
		b = append(b, "PROTO=UDP "...)
	} else {
		b = append(b, "PROTO=UDPLITE "...)
	}
	if fragment {
		return b, false
	}
	if off+8 > len(raw) {
		return logIncomplete(b, len(raw)-off), true
	}
	uh := raw[off:]
	b = append(b, "SPT="...)
	b = logUint(b, uint64(binary.BigEndian.Uint16(uh[0:2])))
	b = logKV(b, " DPT=", uint64(binary.BigEndian.Uint16(uh[2:4])))
	b = logKV(b, "LEN=", uint64(binary.BigEndian.Uint16(uh[4:6])))
	return b, false
}

// logICMPRequired is dump_ipv4_packet's required_len: the bytes an ICMP
// message of each type must have to be dumped.
var logICMPRequired = [19]uint8{0: 4, 3: 28, 4: 28, 5: 28, 8: 4, 11: 28, 12: 28, 13: 20, 14: 20, 17: 12, 18: 12}

// dump4 is dump_ipv4_packet for the IPv4 header at off in c.P.Raw (0: the
// packet; otherwise the packet quoted by an ICMP error).
func (t *Log) dump4(b []byte, c *pkt.Ctx, off int) []byte {
	raw := c.P.Raw
	if off+20 > len(raw) {
		return append(b, "TRUNCATED"...)
	}
	ih := raw[off:]
	b = append(b, "SRC="...)
	b = logIP4(b, ih[12:16])
	b = append(b, " DST="...)
	b = logIP4(b, ih[16:20])
	b = logKV(b, " LEN=", uint64(binary.BigEndian.Uint16(ih[2:4])))
	b = append(b, "TOS=0x"...)
	b = logHex(b, uint32(ih[1]&0x1e), 2, true)
	b = append(b, " PREC=0x"...)
	b = logHex(b, uint32(ih[1]&0xe0), 2, true)
	b = logKV(b, " TTL=", uint64(ih[8]))
	b = logKV(b, "ID=", uint64(binary.BigEndian.Uint16(ih[4:6])))
	ff := binary.BigEndian.Uint16(ih[6:8])
	if ff&0x8000 != 0 {
		b = append(b, "CE "...)
	}
	if ff&0x4000 != 0 {
		b = append(b, "DF "...)
	}
	if ff&0x2000 != 0 {
		b = append(b, "MF "...)
	}
	fragOff := ff & 0x1fff
	if fragOff != 0 {
		b = logKV(b, "FRAG:", uint64(fragOff))
	}
	ihl := int(ih[0]&0x0f) * 4
	if t.Flags&LogIPOpt != 0 && ihl > 20 {
		if off+ihl > len(raw) {
			return append(b, "TRUNCATED"...)
		}
		b = logOpts(b, ih[20:ihl])
	}
	l4 := off + ihl
	fragment := fragOff != 0
	var stop bool
	switch proto := ih[9]; proto {
	case pkt.ProtoTCP:
		if b, stop = t.dumpTCP(b, raw, fragment, l4); stop {
			return b
		}
	case pkt.ProtoUDP, pkt.ProtoUDPLite:
		if b, stop = dumpUDP(b, raw, proto, fragment, l4); stop {
			return b
		}
	case pkt.ProtoICMP:
		b = t.dumpICMP(b, c, off, l4, fragment)
	case pkt.ProtoAH:
		if fragment {
			break
		}
		b = append(b, "PROTO=AH "...)
		if l4+12 > len(raw) {
			b = logIncomplete(b, len(raw)-l4)
			break
		}
		b = append(b, "SPI=0x"...)
		b = logHex(b, binary.BigEndian.Uint32(raw[l4+4:l4+8]), 0, false)
		b = append(b, ' ')
	case pkt.ProtoESP:
		b = append(b, "PROTO=ESP "...)
		if fragment {
			break
		}
		if l4+8 > len(raw) {
			b = logIncomplete(b, len(raw)-l4)
			break
		}
		b = append(b, "SPI=0x"...)
		b = logHex(b, binary.BigEndian.Uint32(raw[l4:l4+4]), 0, false)
		b = append(b, ' ')
	default:
		b = logKV(b, "PROTO=", uint64(proto))
	}
	if off == 0 {
		b = t.dumpOwner(b, c)
	}
	return b
}

// dumpICMP is the IPPROTO_ICMP case of dump_ipv4_packet.
func (t *Log) dumpICMP(b []byte, c *pkt.Ctx, off, l4 int, fragment bool) []byte {
	raw := c.P.Raw
	b = append(b, "PROTO=ICMP "...)
	if fragment {
		return b
	}
	if l4+8 > len(raw) {
		return logIncomplete(b, len(raw)-l4)
	}
	ich := raw[l4:]
	typ, code := ich[0], ich[1]
	b = logKV(b, "TYPE=", uint64(typ))
	b = logKV(b, "CODE=", uint64(code))
	if int(typ) < len(logICMPRequired) && logICMPRequired[typ] != 0 && len(raw)-l4 < int(logICMPRequired[typ]) {
		return logIncomplete(b, len(raw)-l4)
	}
	switch typ {
	case 0, 8:
		b = logKV(b, "ID=", uint64(binary.BigEndian.Uint16(ich[4:6])))
		b = logKV(b, "SEQ=", uint64(binary.BigEndian.Uint16(ich[6:8])))
	case 12:
		b = logKV(b, "PARAMETER=", uint64(ich[4]))
	case 5, 3, 4, 11:
		if typ == 5 {
			b = append(b, "GATEWAY="...)
			b = logIP4(b, ich[4:8])
			b = append(b, ' ')
		}
		if off == 0 {
			b = append(b, '[')
			b = t.dump4(b, c, l4+8)
			b = append(b, "] "...)
		}
		if typ == 3 && code == 4 {
			b = logKV(b, "MTU=", uint64(binary.BigEndian.Uint16(ich[6:8])))
		}
	}
	return b
}

// dump6 is dump_ipv6_packet for the IPv6 header at off in c.P.Raw;
// recurse is false for the packet quoted by an ICMPv6 error.
func (t *Log) dump6(b []byte, c *pkt.Ctx, off int, recurse bool) []byte {
	raw := c.P.Raw
	if off+40 > len(raw) {
		return append(b, "TRUNCATED"...)
	}
	ih := raw[off:]
	b = append(b, "SRC="...)
	b = logIP6(b, [16]byte(ih[8:24]))
	b = append(b, " DST="...)
	b = logIP6(b, [16]byte(ih[24:40]))
	w := binary.BigEndian.Uint32(ih[0:4])
	b = logKV(b, " LEN=", uint64(binary.BigEndian.Uint16(ih[4:6]))+40)
	b = logKV(b, "TC=", uint64(w&0x0ff00000>>20))
	b = logKV(b, "HOPLIMIT=", uint64(ih[7]))
	b = logKV(b, "FLOWLBL=", uint64(w&0x000fffff))
	ipopt := t.Flags&LogIPOpt != 0
	fragment := false
	ptr := off + 40
	hdr := ih[6]
	for hdr != pkt.ProtoNone && logExtHdr(hdr) {
		if ptr+2 > len(raw) {
			return append(b, "TRUNCATED"...)
		}
		hp := raw[ptr:]
		if ipopt {
			b = append(b, "OPT ( "...)
		}
		var hdrlen int
		switch hdr {
		case pkt.ProtoFragment:
			b = append(b, "FRAG:"...)
			if ptr+8 > len(raw) {
				return append(b, "TRUNCATED "...)
			}
			fo := binary.BigEndian.Uint16(hp[2:4])
			b = logKV(b, "", uint64(fo&0xfff8))
			if fo&1 != 0 {
				b = append(b, "INCOMPLETE "...)
			}
			b = append(b, "ID:"...)
			b = logHex(b, binary.BigEndian.Uint32(hp[4:8]), 8, false)
			b = append(b, ' ')
			if fo&0xfff8 != 0 {
				fragment = true
			}
			hdrlen = 8
		case pkt.ProtoDstOpts, pkt.ProtoRouting, pkt.ProtoHopOpts:
			if fragment {
				if ipopt {
					b = append(b, ')')
				}
				return b
			}
			hdrlen = (int(hp[1]) + 1) << 3
		case pkt.ProtoAH:
			if ipopt {
				b = append(b, "AH "...)
				if fragment {
					return append(b, ')')
				}
				if ptr+12 > len(raw) {
					b = append(b, "INCOMPLETE ["...)
					b = logUint(b, uint64(len(raw)-ptr))
					return append(b, " bytes] )"...)
				}
				b = append(b, "SPI=0x"...)
				b = logHex(b, binary.BigEndian.Uint32(hp[4:8]), 0, false)
				b = append(b, ' ')
			}
			hdrlen = (int(hp[1]) + 2) << 2
		case pkt.ProtoESP:
			if ipopt {
				b = append(b, "ESP "...)
				if fragment {
					return append(b, ')')
				}
				if ptr+8 > len(raw) {
					b = append(b, "INCOMPLETE ["...)
					b = logUint(b, uint64(len(raw)-ptr))
					return append(b, " bytes] )"...)
				}
				b = append(b, "SPI=0x"...)
				b = logHex(b, binary.BigEndian.Uint32(hp[0:4]), 0, false)
				b = append(b, " )"...)
			}
			return b
		}
		if ipopt {
			b = append(b, ") "...)
		}
		hdr = hp[0]
		ptr += hdrlen
	}
	var stop bool
	switch hdr {
	case pkt.ProtoTCP:
		if b, stop = t.dumpTCP(b, raw, fragment, ptr); stop {
			return b
		}
	case pkt.ProtoUDP, pkt.ProtoUDPLite:
		if b, stop = dumpUDP(b, raw, hdr, fragment, ptr); stop {
			return b
		}
	case pkt.ProtoICMPv6:
		b = append(b, "PROTO=ICMPv6 "...)
		if fragment {
			break
		}
		if ptr+8 > len(raw) {
			return logIncomplete(b, len(raw)-ptr)
		}
		ic := raw[ptr:]
		b = logKV(b, "TYPE=", uint64(ic[0]))
		b = logKV(b, "CODE=", uint64(ic[1]))
		switch ic[0] {
		case 128, 129:
			b = logKV(b, "ID=", uint64(binary.BigEndian.Uint16(ic[4:6])))
			b = logKV(b, "SEQ=", uint64(binary.BigEndian.Uint16(ic[6:8])))
		case 4, 1, 2, 3:
			if ic[0] == 4 {
				b = append(b, "POINTER="...)
				b = logHex(b, binary.BigEndian.Uint32(ic[4:8]), 8, false)
				b = append(b, ' ')
			}
			if recurse {
				b = append(b, '[')
				b = t.dump6(b, c, ptr+8, false)
				b = append(b, "] "...)
			}
			if ic[0] == 2 {
				b = logKV(b, "MTU=", uint64(binary.BigEndian.Uint32(ic[4:8])))
			}
		}
	default:
		b = logKV(b, "PROTO=", uint64(hdr))
	}
	if recurse {
		b = t.dumpOwner(b, c)
	}
	return b
}

// logExtHdr is nf_ip6_ext_hdr.
func logExtHdr(h uint8) bool {
	switch h {
	case pkt.ProtoHopOpts, pkt.ProtoRouting, pkt.ProtoFragment, pkt.ProtoESP, pkt.ProtoAH, pkt.ProtoNone, pkt.ProtoDstOpts:
		return true
	}
	return false
}
