package xt

import (
	"encoding/binary"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// SCTP chunk match types (--chunk-types all|any|only).
const (
	SCTPChunkAny  uint8 = 1
	SCTPChunkAll  uint8 = 2
	SCTPChunkOnly uint8 = 3
)

// sctpChunkNames is iptables 1.8.9's chunk table, in its order: the index
// matters, iptables stores it (not the chunk type) with chunk flags.
var sctpChunkNames = []struct {
	name  string
	typ   uint8
	flags string // valid flag letters, bit 7 first
}{
	{"DATA", 0, "----IUBE"},
	{"INIT", 1, "--------"},
	{"INIT_ACK", 2, "--------"},
	{"SACK", 3, "--------"},
	{"HEARTBEAT", 4, "--------"},
	{"HEARTBEAT_ACK", 5, "--------"},
	{"ABORT", 6, "-------T"},
	{"SHUTDOWN", 7, "--------"},
	{"SHUTDOWN_ACK", 8, "--------"},
	{"ERROR", 9, "--------"},
	{"COOKIE_ECHO", 10, "--------"},
	{"COOKIE_ACK", 11, "--------"},
	{"ECN_ECNE", 12, "--------"},
	{"ECN_CWR", 13, "--------"},
	{"SHUTDOWN_COMPLETE", 14, "-------T"},
	{"I_DATA", 64, "----IUBE"},
	{"RE_CONFIG", 130, "--------"},
	{"PAD", 132, "--------"},
	{"ASCONF", 193, "--------"},
	{"ASCONF_ACK", 128, "--------"},
	{"FORWARD_TSN", 192, "--------"},
	{"I_FORWARD_TSN", 194, "--------"},
}

// SCTPFlagInfo is a chunk flag condition. Chunk is what iptables stores:
// the index of the chunk in its name table (so flags of chunks whose index
// differs from their type never match when printed, as in iptables).
type SCTPFlagInfo struct {
	Chunk    uint8
	Flags    uint8
	FlagMask uint8
}

// SCTP is the sctp match: ports and chunk types.
type SCTP struct {
	Src, Dst       PortRange
	HasSrc, HasDst bool
	InvSrc, InvDst bool
	HasChunks      bool
	InvChunks      bool
	MatchType      uint8
	Chunks         [8]uint32 // bitmap of chunk types
	FlagInfo       []SCTPFlagInfo
}

func init() {
	Register(&Def{Name: "sctp", Legacy: true, New: func() Parser { return &SCTP{Src: AnyPorts, Dst: AnyPorts} },
		Options: []Option{
			{Name: "source-port", Arg: ReqArg, Invert: true}, {Name: "sport", Arg: ReqArg, Invert: true},
			{Name: "destination-port", Arg: ReqArg, Invert: true}, {Name: "dport", Arg: ReqArg, Invert: true},
			{Name: "chunk-types", Arg: ReqArg, Invert: true},
		}})
}

// Name implements ruleset.Extension.
func (m *SCTP) Name() string { return "sctp" }

// Parse implements Parser.
func (m *SCTP) Parse(ctx *Context, opt, arg string, inv bool) error {
	var err error
	switch opt {
	case "source-port", "sport":
		if m.HasSrc {
			return Errorf("Only one `--source-port' allowed")
		}
		m.HasSrc = true
		m.Src, err = ParsePortRange(arg, "sctp")
		m.InvSrc = inv
	case "destination-port", "dport":
		if m.HasDst {
			return Errorf("Only one `--destination-port' allowed")
		}
		m.HasDst = true
		m.Dst, err = ParsePortRange(arg, "sctp")
		m.InvDst = inv
	case "chunk-types":
		if m.HasChunks {
			return Errorf("Only one `--chunk-types' allowed")
		}
		chunks, ok := ctx.Next()
		if !ok {
			return Errorf("--chunk-types requires two args")
		}
		m.HasChunks = true
		err = m.parseChunks(arg, chunks)
		m.InvChunks = inv
	}
	return err
}

func (m *SCTP) parseChunks(typ, chunks string) error {
	switch {
	case strings.EqualFold(typ, "ANY"):
		m.MatchType = SCTPChunkAny
	case strings.EqualFold(typ, "ALL"):
		m.MatchType = SCTPChunkAll
	case strings.EqualFold(typ, "ONLY"):
		m.MatchType = SCTPChunkOnly
	default:
		return Errorf("Match type has to be one of \"ALL\", \"ANY\" or \"ONLY\"")
	}
	m.Chunks = [8]uint32{}
	if strings.EqualFold(chunks, "ALL") {
		for i := range m.Chunks {
			m.Chunks[i] = 0xFFFFFFFF
		}
		return nil
	}
	if strings.EqualFold(chunks, "NONE") {
		return nil
	}
	// strtok: empty tokens are skipped.
	for _, tok := range strings.Split(chunks, ",") {
		if tok == "" {
			continue
		}
		name, flags, hasFlags := strings.Cut(tok, ":")
		idx := -1
		for i, c := range sctpChunkNames {
			if strings.EqualFold(c.name, name) {
				idx = i
				break
			}
		}
		if idx < 0 {
			return Errorf("Unknown sctp chunk `%s'", name)
		}
		t := sctpChunkNames[idx].typ
		m.Chunks[t/32] |= 1 << (t % 32)
		if !hasFlags {
			continue
		}
		for j := 0; j < len(flags); j++ {
			c := flags[j]
			up := c
			if c >= 'a' && c <= 'z' {
				up = c - 'a' + 'A'
			}
			p := strings.IndexByte(sctpChunkNames[idx].flags, up)
			if p < 0 {
				return Errorf("Invalid flags for chunk type %d", idx)
			}
			bit := uint8(1) << (7 - p)
			if err := m.addFlag(uint8(idx), bit, c >= 'A' && c <= 'Z'); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *SCTP) addFlag(chunk, bit uint8, set bool) error {
	for i := range m.FlagInfo {
		if m.FlagInfo[i].Chunk == chunk {
			m.FlagInfo[i].FlagMask |= bit
			if set {
				m.FlagInfo[i].Flags |= bit
			}
			return nil
		}
	}
	if len(m.FlagInfo) == 4 {
		return Errorf("Number of chunk types with flags exceeds currently allowed limit.Increasing this limit involves changing IPT_NUM_SCTP_FLAGS andrecompiling both the kernel space and user space modules\n")
	}
	fi := SCTPFlagInfo{Chunk: chunk, FlagMask: bit}
	if set {
		fi.Flags = bit
	}
	m.FlagInfo = append(m.FlagInfo, fi)
	return nil
}

// Final implements Parser.
func (m *SCTP) Final(ctx *Context) (ruleset.Extension, error) {
	// The kernel's sctp match wants -p sctp, not inverted.
	if ctx.Rule.Proto != 132 || ctx.Rule.Inv&ruleset.InvProto != 0 {
		return nil, KernelInval()
	}
	return m, nil
}

func sctpRange(b *strings.Builder, name string, r PortRange, inv bool) {
	b.WriteString(Bang(inv) + " --" + name + " " + Utoa(uint64(r.Lo)))
	if r.Lo != r.Hi {
		b.WriteString(":" + Utoa(uint64(r.Hi)))
	}
}

// Save implements ruleset.Extension.
func (m *SCTP) Save(b *strings.Builder, _ ruleset.Fmt) {
	if m.HasSrc {
		sctpRange(b, "sport", m.Src, m.InvSrc)
	}
	if m.HasDst {
		sctpRange(b, "dport", m.Dst, m.InvDst)
	}
	if m.HasChunks {
		b.WriteString(Bang(m.InvChunks) + " --chunk-types")
		m.printChunks(b, false)
	}
}

// Print implements ruleset.Extension.
func (m *SCTP) Print(b *strings.Builder, f ruleset.Fmt) {
	b.WriteString(" sctp")
	if m.HasSrc {
		PrintPorts(b, "spt", m.Src, m.InvSrc, "sctp", f.Numeric)
	}
	if m.HasDst {
		PrintPorts(b, "dpt", m.Dst, m.InvDst, "sctp", f.Numeric)
	}
	if m.HasChunks {
		if m.InvChunks {
			b.WriteString(" !")
		}
		m.printChunks(b, f.Numeric)
	}
}

func (m *SCTP) printChunks(b *strings.Builder, numeric bool) {
	switch m.MatchType {
	case SCTPChunkAny:
		b.WriteString(" any")
	case SCTPChunkAll:
		b.WriteString(" all")
	case SCTPChunkOnly:
		b.WriteString(" only")
	}
	clear, all := true, true
	for _, w := range m.Chunks {
		if w != 0 {
			clear = false
		}
		if w != 0xFFFFFFFF {
			all = false
		}
	}
	if clear {
		b.WriteString(" NONE")
		return
	}
	if all {
		b.WriteString(" ALL")
		return
	}
	first := true
	for i := 0; i < 256; i++ {
		if m.Chunks[i/32]&(1<<(i%32)) == 0 {
			continue
		}
		if first {
			b.WriteByte(' ')
			first = false
		} else {
			b.WriteByte(',')
		}
		if numeric {
			b.WriteString("0x" + hex04(uint16(i)))
		} else {
			for _, c := range sctpChunkNames {
				if int(c.typ) == i {
					b.WriteString(c.name)
				}
			}
		}
		for _, fi := range m.FlagInfo {
			if int(fi.Chunk) != i || fi.FlagMask == 0 {
				continue
			}
			b.WriteByte(':')
			for bit := 7; bit >= 0; bit-- {
				if fi.FlagMask&(1<<bit) == 0 {
					continue
				}
				c := sctpChunkNames[i].flags[7-bit]
				if fi.Flags&(1<<bit) == 0 && c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				b.WriteByte(c)
			}
		}
	}
}

func hex04(v uint16) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[v>>12&15], digits[v>>8&15], digits[v>>4&15], digits[v&15]})
}

// Match implements pkt.Matcher as xt_sctp's sctp_mt (an xt match under
// iptables-nft): false on a non-first fragment, a drop when the 12-byte
// common header is not in the packet; then, in order and only for the
// options given, the source port, the destination port and the chunk
// walk (sctpChunks).
func (m *SCTP) Match(c *pkt.Ctx) bool {
	p := c.P
	if p.FragOff != 0 {
		return false
	}
	h := xtHeader(p, 12)
	if h == nil {
		c.DropNow = true
		return false
	}
	if m.HasSrc && inRange(binary.BigEndian.Uint16(h[0:]), m.Src) == m.InvSrc {
		return false
	}
	if m.HasDst && inRange(binary.BigEndian.Uint16(h[2:]), m.Dst) == m.InvDst {
		return false
	}
	if m.HasChunks && m.sctpChunks(c, TransportOff(p)+12) == m.InvChunks {
		return false
	}
	return true
}

func sctpChunkSet(m *[8]uint32, t uint8) bool { return m[t/32]&(1<<(t%32)) != 0 }

// sctpFlags is match_flags: the first flag condition stored for this chunk
// type (iptables stores the chunk's index in its name table, compared
// here with the type as the kernel does) decides; none means true.
func (m *SCTP) sctpFlags(t, flags uint8) bool {
	for _, fi := range m.FlagInfo {
		if fi.Chunk == t {
			return flags&fi.FlagMask == fi.Flags
		}
	}
	return true
}

// sctpChunks is xt_sctp's match_packet: walk the chunks from off (each a
// 4-byte header whose length, rounded up to 4, leads to the next) while
// off is inside the packet; a chunk header past the end or a zero length
// drops the packet. any: some listed chunk passes its flags; only: every
// chunk is listed and passes its flags (decided at the first that is not);
// all: each listed type is seen with passing flags.
func (m *SCTP) sctpChunks(c *pkt.Ctx, off int) bool {
	raw := c.P.Raw
	var left [8]uint32
	if m.MatchType == SCTPChunkAll {
		left = m.Chunks
	}
	for {
		if off+4 > len(raw) || binary.BigEndian.Uint16(raw[off+2:]) == 0 {
			c.DropNow = true
			return false
		}
		t, fl := raw[off], raw[off+1]
		off += (int(binary.BigEndian.Uint16(raw[off+2:])) + 3) &^ 3
		if sctpChunkSet(&m.Chunks, t) {
			switch m.MatchType {
			case SCTPChunkAny:
				if m.sctpFlags(t, fl) {
					return true
				}
			case SCTPChunkAll:
				if m.sctpFlags(t, fl) {
					left[t/32] &^= 1 << (t % 32)
				}
			case SCTPChunkOnly:
				if !m.sctpFlags(t, fl) {
					return false
				}
			}
		} else if m.MatchType == SCTPChunkOnly {
			return false
		}
		if off >= len(raw) {
			break
		}
	}
	switch m.MatchType {
	case SCTPChunkAll:
		return left == [8]uint32{}
	case SCTPChunkOnly:
		return true
	}
	return false
}
