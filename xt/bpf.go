package xt

import (
	"encoding/binary"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// BPFInsn is one classic BPF instruction (struct sock_filter).
type BPFInsn struct {
	Code   uint16
	Jt, Jf uint8
	K      uint32
}

// bpfMaxInsns is XT_BPF_MAX_NUM_INSTR.
const bpfMaxInsns = 64

// BPF is the bpf match (revision 1) with a --bytecode program: it matches
// when the classic BPF program, run on the packet from its IP header,
// returns non-zero.
type BPF struct {
	Prog []BPFInsn
	set  bool
}

func init() {
	Register(&Def{Name: "bpf", New: func() Parser { return &BPF{} },
		Options: []Option{{Name: "bytecode", Arg: ReqArg}, {Name: "object-pinned", Arg: ReqArg}}})
}

// Name implements ruleset.Extension.
func (m *BPF) Name() string { return "bpf" }

// scanUint is scanf's %u family: white space, an optional sign and decimal
// digits read as strtoul does (negation modulo 2^64, saturating), the result
// truncated to the conversion's width by the caller.
func scanUint(s string) (uint64, string, bool) {
	i := 0
	for i < len(s) && isSpaceC(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	j := i
	var v uint64
	over := false
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		d := uint64(s[j] - '0')
		if v > (^uint64(0)-d)/10 {
			over = true
		}
		v = v*10 + d
		j++
	}
	if j == i {
		return 0, s, false
	}
	if over {
		v = ^uint64(0)
	} else if neg {
		v = -v
	}
	return v, s[j:], true
}

// parseBPFString is libxt_bpf's bpf_parse_string.
func parseBPFString(arg string) ([]BPFInsn, error) {
	n, rest, ok := scanUint(arg)
	if !ok || rest == "" || rest[0] != ',' {
		return nil, Errorf("bpf: error parsing program length")
	}
	l := int(uint16(n))
	if l == 0 {
		return nil, Errorf("bpf: illegal zero length program")
	}
	if l > bpfMaxInsns {
		return nil, Errorf("bpf: number of instructions exceeds maximum")
	}
	prog := make([]BPFInsn, 0, l)
	tok := arg
	for {
		i := strings.IndexByte(tok, ',')
		if i < 0 || i+1 >= len(tok) {
			break
		}
		tok = tok[i+1:]
		if len(prog) >= l {
			return nil, Errorf("bpf: real program length exceeds the encoded length parameter")
		}
		var in BPFInsn
		s := tok
		var v [4]uint64
		for f := 0; f < 4; f++ {
			var ok bool
			if v[f], s, ok = scanUint(s); !ok {
				return nil, Errorf("bpf: error at instr %d", len(prog))
			}
		}
		in.Code, in.Jt, in.Jf, in.K = uint16(v[0]), uint8(v[1]), uint8(v[2]), uint32(v[3])
		prog = append(prog, in)
	}
	if len(prog) != l {
		return nil, Errorf("bpf: parsed program length is less than the encoded length parameter")
	}
	return prog, nil
}

// Parse implements Parser.
func (m *BPF) Parse(_ *Context, opt, arg string, _ bool) error {
	if opt == "object-pinned" {
		// No pinned BPF objects exist for rampart: bpf_obj_get fails.
		return Errorf("bpf: failed to get bpf object")
	}
	prog, err := parseBPFString(arg)
	if err != nil {
		return err
	}
	m.Prog, m.set = prog, true
	return nil
}

// Final implements Parser.
func (m *BPF) Final(*Context) (ruleset.Extension, error) {
	if !m.set {
		return nil, Errorf("bpf: one of --bytecode or --pinned is required")
	}
	if !bpfCheckClassic(m.Prog) {
		return nil, KernelInval()
	}
	return m, nil
}

func (m *BPF) code(b *strings.Builder) {
	for i, in := range m.Prog {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(Utoa(uint64(in.Code)) + " " + Utoa(uint64(in.Jt)) + " " + Utoa(uint64(in.Jf)) + " " + Utoa(uint64(in.K)))
	}
}

// Save implements ruleset.Extension.
func (m *BPF) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" --bytecode \"" + Utoa(uint64(len(m.Prog))) + ",")
	m.code(b)
	b.WriteByte('"')
}

// Print implements ruleset.Extension. bpf_print has no leading space and
// ends the program with a NUL byte (printf "%c" of '\0').
func (m *BPF) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString("match bpf ")
	m.code(b)
	b.WriteByte(0)
}

// Classic BPF opcode fields (linux/filter.h).
const (
	bpfLD, bpfLDX, bpfST, bpfSTX, bpfALU, bpfJMP, bpfRET, bpfMISC = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
	bpfW, bpfH, bpfB                                              = 0x00, 0x08, 0x10
	bpfIMM, bpfABS, bpfIND, bpfMEM, bpfLEN, bpfMSH                = 0x00, 0x20, 0x40, 0x60, 0x80, 0xa0
	bpfADD, bpfSUB, bpfMUL, bpfDIV, bpfOR, bpfAND, bpfLSH, bpfRSH = 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70
	bpfNEG, bpfMOD, bpfXOR                                        = 0x80, 0x90, 0xa0
	bpfJA, bpfJEQ, bpfJGT, bpfJGE, bpfJSET                        = 0x00, 0x10, 0x20, 0x30, 0x40
	bpfK, bpfX, bpfA                                              = 0x00, 0x08, 0x10
	bpfTAX, bpfTXA                                                = 0x00, 0x80
	bpfMemWords                                                   = 16
	skfADOff                                                      = -0x1000
	skfNetOff                                                     = -0x100000
	skfLLOff                                                      = -0x200000
)

// Ancillary data offsets (SKF_AD_*) from SKF_AD_OFF.
const (
	skfADProtocol = 0
	skfADPkttype  = 4
	skfADIfindex  = 8
	skfADMark     = 20
	skfADAluXorX  = 40
	skfADMax      = 64
)

// bpfAllowed is chk_code_allowed's table of classic opcodes.
func bpfAllowed(code uint16) bool {
	switch code {
	case bpfALU | bpfADD | bpfK, bpfALU | bpfADD | bpfX, bpfALU | bpfSUB | bpfK, bpfALU | bpfSUB | bpfX,
		bpfALU | bpfMUL | bpfK, bpfALU | bpfMUL | bpfX, bpfALU | bpfDIV | bpfK, bpfALU | bpfDIV | bpfX,
		bpfALU | bpfMOD | bpfK, bpfALU | bpfMOD | bpfX, bpfALU | bpfAND | bpfK, bpfALU | bpfAND | bpfX,
		bpfALU | bpfOR | bpfK, bpfALU | bpfOR | bpfX, bpfALU | bpfXOR | bpfK, bpfALU | bpfXOR | bpfX,
		bpfALU | bpfLSH | bpfK, bpfALU | bpfLSH | bpfX, bpfALU | bpfRSH | bpfK, bpfALU | bpfRSH | bpfX,
		bpfALU | bpfNEG,
		bpfLD | bpfW | bpfABS, bpfLD | bpfH | bpfABS, bpfLD | bpfB | bpfABS,
		bpfLD | bpfW | bpfLEN, bpfLD | bpfW | bpfIND, bpfLD | bpfH | bpfIND, bpfLD | bpfB | bpfIND,
		bpfLD | bpfIMM, bpfLD | bpfMEM,
		bpfLDX | bpfW | bpfLEN, bpfLDX | bpfB | bpfMSH, bpfLDX | bpfIMM, bpfLDX | bpfMEM,
		bpfST, bpfSTX, bpfMISC | bpfTAX, bpfMISC | bpfTXA,
		bpfRET | bpfK, bpfRET | bpfA,
		bpfJMP | bpfJA, bpfJMP | bpfJEQ | bpfK, bpfJMP | bpfJEQ | bpfX, bpfJMP | bpfJGE | bpfK,
		bpfJMP | bpfJGE | bpfX, bpfJMP | bpfJGT | bpfK, bpfJMP | bpfJGT | bpfX, bpfJMP | bpfJSET | bpfK,
		bpfJMP | bpfJSET | bpfX:
		return true
	}
	return false
}

// bpfAncKnown reports whether off (from SKF_AD_OFF) is an ancillary load
// bpf_anc_helper knows (SKF_AD_PROTOCOL .. SKF_AD_VLAN_TPID).
func bpfAncKnown(off uint32) bool { return off < skfADMax && off%4 == 0 }

// bpfCheckClassic is the kernel's bpf_check_classic plus
// check_load_and_stores, which bpf_prog_create runs on the program.
func bpfCheckClassic(p []BPFInsn) bool {
	flen := len(p)
	if flen == 0 || flen > 4096 {
		return false
	}
	for pc, in := range p {
		if !bpfAllowed(in.Code) {
			return false
		}
		switch in.Code {
		case bpfALU | bpfDIV | bpfK, bpfALU | bpfMOD | bpfK:
			if in.K == 0 {
				return false
			}
		case bpfALU | bpfLSH | bpfK, bpfALU | bpfRSH | bpfK:
			if in.K >= 32 {
				return false
			}
		case bpfLD | bpfMEM, bpfLDX | bpfMEM, bpfST, bpfSTX:
			if in.K >= bpfMemWords {
				return false
			}
		case bpfJMP | bpfJA:
			if uint64(in.K) >= uint64(flen-pc-1) {
				return false
			}
		case bpfJMP | bpfJEQ | bpfK, bpfJMP | bpfJEQ | bpfX, bpfJMP | bpfJGE | bpfK, bpfJMP | bpfJGE | bpfX,
			bpfJMP | bpfJGT | bpfK, bpfJMP | bpfJGT | bpfX, bpfJMP | bpfJSET | bpfK, bpfJMP | bpfJSET | bpfX:
			if pc+int(in.Jt)+1 >= flen || pc+int(in.Jf)+1 >= flen {
				return false
			}
		case bpfLD | bpfW | bpfABS, bpfLD | bpfH | bpfABS, bpfLD | bpfB | bpfABS:
			if in.K >= uint32(0xFFFFF000) && !bpfAncKnown(in.K-uint32(0xFFFFF000)) {
				return false
			}
		}
	}
	switch p[flen-1].Code {
	case bpfRET | bpfK, bpfRET | bpfA:
	default:
		return false
	}
	// check_load_and_stores: scratch memory is read only after a store
	// on every path.
	masks := make([]uint16, flen)
	for i := range masks {
		masks[i] = 0xFFFF
	}
	var valid uint16
	for pc, in := range p {
		valid &= masks[pc]
		switch in.Code {
		case bpfST, bpfSTX:
			valid |= 1 << in.K
		case bpfLD | bpfMEM, bpfLDX | bpfMEM:
			if valid&(1<<in.K) == 0 {
				return false
			}
		case bpfJMP | bpfJA:
			masks[pc+1+int(in.K)] &= valid
			valid = 0xFFFF
		case bpfJMP | bpfJEQ | bpfK, bpfJMP | bpfJEQ | bpfX, bpfJMP | bpfJGE | bpfK, bpfJMP | bpfJGE | bpfX,
			bpfJMP | bpfJGT | bpfK, bpfJMP | bpfJGT | bpfX, bpfJMP | bpfJSET | bpfK, bpfJMP | bpfJSET | bpfX:
			masks[pc+1+int(in.Jt)] &= valid
			masks[pc+1+int(in.Jf)] &= valid
			valid = 0xFFFF
		}
	}
	return true
}

// bpfLoad reads size bytes at offset k (an int, as the kernel's
// bpf_internal_load_pointer_neg_helper sees negative ones) of the packet:
// k >= 0 and SKF_NET_OFF offsets from the IP header, SKF_LL_OFF ones from
// the link-layer header (Ethernet, from c's MAC addresses). ok is false
// when the bytes are outside the packet: the program then returns 0.
// undec reports a link-layer load on a packet without one known.
func bpfLoad(c *pkt.Ctx, k int64, size int) (v uint32, ok, undec bool) {
	b := c.P.Raw
	switch {
	case k >= 0:
	case k >= skfNetOff:
		k -= skfNetOff
	case k >= skfLLOff:
		if !c.HasMAC {
			return 0, false, true
		}
		var eth [14]byte
		copy(eth[0:6], c.DstMAC[:])
		copy(eth[6:12], c.SrcMAC[:])
		et := uint16(0x0800)
		if c.P.Family == ruleset.IPv6 {
			et = 0x86DD
		}
		binary.BigEndian.PutUint16(eth[12:], et)
		k -= skfLLOff
		if k+int64(size) > 14 {
			// Reads past the Ethernet header continue into the packet.
			if k >= 14 {
				k -= 14
			} else {
				return 0, false, true
			}
		} else {
			b = eth[:]
		}
	default:
		return 0, false, false
	}
	if k+int64(size) > int64(len(b)) {
		return 0, false, false
	}
	switch size {
	case 4:
		return binary.BigEndian.Uint32(b[k:]), true, false
	case 2:
		return uint32(binary.BigEndian.Uint16(b[k:])), true, false
	}
	return uint32(b[k]), true, false
}

// Match implements pkt.Matcher: xt_bpf's bpf_mt runs the program on the
// skb, whose data starts at the IP header at the netfilter hooks, and
// matches on a non-zero return. Classic BPF semantics as the kernel's
// cBPF-to-eBPF conversion keeps them: A and X start at 0; an out-of-range
// load or a division/modulo by X == 0 returns 0; LEN is skb->len (the IP
// packet length). Ancillary loads: protocol (ETH_P_IP/ETH_P_IPV6 in
// network order) and mark are known; others need device state and leave
// the match undecided, as do link-layer loads without a MAC header.
// Shifts by X use the low five bits of X (x86).
func (m *BPF) Match(c *pkt.Ctx) bool {
	var a, x uint32
	var mem [bpfMemWords]uint32
	p := m.Prog
	for pc := 0; pc < len(p); pc++ {
		in := &p[pc]
		switch in.Code {
		case bpfRET | bpfK:
			return in.K != 0
		case bpfRET | bpfA:
			return a != 0
		case bpfLD | bpfW | bpfABS, bpfLD | bpfH | bpfABS, bpfLD | bpfB | bpfABS,
			bpfLD | bpfW | bpfIND, bpfLD | bpfH | bpfIND, bpfLD | bpfB | bpfIND:
			size := 4
			switch in.Code & 0x18 {
			case bpfH:
				size = 2
			case bpfB:
				size = 1
			}
			k := int64(int32(in.K))
			if in.Code&0xe0 == bpfIND {
				k = int64(int32(in.K + x))
			} else if in.K >= 0xFFFFF000 {
				switch in.K - 0xFFFFF000 {
				case skfADProtocol:
					a = 0x0800
					if c.P.Family == ruleset.IPv6 {
						a = 0x86DD
					}
				case skfADMark:
					a = c.Mark
				case skfADAluXorX:
					a ^= x
				default:
					return c.Undecide("bpf: the program loads ancillary data of the device")
				}
				continue
			}
			v, ok, undec := bpfLoad(c, k, size)
			if undec {
				return c.Undecide("bpf: the program reads the link-layer header")
			}
			if !ok {
				return false
			}
			a = v
		case bpfLD | bpfW | bpfLEN:
			a = uint32(len(c.P.Raw))
		case bpfLDX | bpfW | bpfLEN:
			x = uint32(len(c.P.Raw))
		case bpfLD | bpfIMM:
			a = in.K
		case bpfLDX | bpfIMM:
			x = in.K
		case bpfLD | bpfMEM:
			a = mem[in.K&15]
		case bpfLDX | bpfMEM:
			x = mem[in.K&15]
		case bpfLDX | bpfB | bpfMSH:
			v, ok, undec := bpfLoad(c, int64(int32(in.K)), 1)
			if undec {
				return c.Undecide("bpf: the program reads the link-layer header")
			}
			if !ok {
				return false
			}
			x = (v & 0xf) << 2
		case bpfST:
			mem[in.K&15] = a
		case bpfSTX:
			mem[in.K&15] = x
		case bpfMISC | bpfTAX:
			x = a
		case bpfMISC | bpfTXA:
			a = x
		case bpfALU | bpfNEG:
			a = -a
		case bpfJMP | bpfJA:
			pc += int(in.K)
		default:
			op := in.Code & 0xf0
			src := in.K
			if in.Code&bpfX != 0 {
				src = x
			}
			if in.Code&0x07 == bpfJMP {
				var t bool
				switch op {
				case bpfJEQ:
					t = a == src
				case bpfJGT:
					t = a > src
				case bpfJGE:
					t = a >= src
				case bpfJSET:
					t = a&src != 0
				}
				if t {
					pc += int(in.Jt)
				} else {
					pc += int(in.Jf)
				}
				continue
			}
			switch op {
			case bpfADD:
				a += src
			case bpfSUB:
				a -= src
			case bpfMUL:
				a *= src
			case bpfDIV:
				if src == 0 {
					return false
				}
				a /= src
			case bpfMOD:
				if src == 0 {
					return false
				}
				a %= src
			case bpfOR:
				a |= src
			case bpfAND:
				a &= src
			case bpfXOR:
				a ^= src
			case bpfLSH:
				a <<= src & 31
			case bpfRSH:
				a >>= src & 31
			}
		}
	}
	return false
}
