package xt

import (
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// HMARK flag bits: which fields are set (libxt_HMARK's option ids).
const (
	hmSrc uint16 = 1 << iota
	hmDst
	hmSPI
	hmSPIMask
	hmSport
	hmDport
	hmSportMask
	hmDportMask
	hmProtoMask
	hmRnd
	hmMod
	hmOffset
	hmCT
)

// HMark is the HMARK target: nfmark = hash(masked tuple) % Mod + Offset.
type HMark struct {
	Flags                uint16 // hm* bits
	SrcPlen, DstPlen     uint32 // prefix lengths as given (capped at print)
	SportMask, DportMask uint16
	SportSet, DportSet   uint16
	SPIMask, SPISet      uint32
	ProtoMask            uint16
	Rnd, Mod, Offset     uint32
	fam                  ruleset.Family
}

var hmarkOpts = []string{"hmark-tuple", "hmark-src-prefix", "hmark-dst-prefix", "hmark-sport-mask",
	"hmark-dport-mask", "hmark-spi-mask", "hmark-sport", "hmark-dport", "hmark-spi", "hmark-proto-mask",
	"hmark-rnd", "hmark-mod", "hmark-offset"}

// hmarkOptFlag is the flag each option (but --hmark-tuple) sets.
var hmarkOptFlag = map[string]uint16{"hmark-src-prefix": hmSrc, "hmark-dst-prefix": hmDst,
	"hmark-sport-mask": hmSportMask, "hmark-dport-mask": hmDportMask, "hmark-spi-mask": hmSPIMask,
	"hmark-sport": hmSport, "hmark-dport": hmDport, "hmark-spi": hmSPI, "hmark-proto-mask": hmProtoMask,
	"hmark-rnd": hmRnd, "hmark-mod": hmMod, "hmark-offset": hmOffset}

type hmarkParser struct {
	HMark
	xflags uint16 // what x6 counts as given (the tuple adds its fields)
	tuple  bool
}

func init() {
	var opts []Option
	for _, n := range hmarkOpts {
		opts = append(opts, Option{Name: n, Arg: ReqArg, Invert: true, Multi: true})
	}
	Register(&Def{Name: "HMARK", Target: true, Legacy: true, Options: opts,
		New: func() Parser { return &hmarkParser{} }})
}

// Name implements ruleset.Extension.
func (t *HMark) Name() string { return "HMARK" }

// hmarkTuple is one --hmark-tuple word, matched as a prefix (strncasecmp).
var hmarkTuple = []struct {
	name string
	flag uint16
}{{"ct", hmCT}, {"src", hmSrc}, {"dst", hmDst}, {"sport", hmSportMask}, {"dport", hmDportMask},
	{"proto", hmProtoMask}, {"spi", hmSPIMask}}

func (t *hmarkParser) tupleWord(w string) bool {
	for _, e := range hmarkTuple {
		if len(w) <= len(e.name) && strings.EqualFold(w, e.name[:len(w)]) {
			switch e.flag {
			case hmSrc:
				t.SrcPlen = 128
			case hmDst:
				t.DstPlen = 128
			case hmSportMask:
				t.SportMask = 0xFFFF
			case hmDportMask:
				t.DportMask = 0xFFFF
			case hmProtoMask:
				t.ProtoMask = 0xFFFF
			case hmSPIMask:
				t.SPIMask = 0xFFFFFFFF
			}
			t.Flags |= e.flag
			t.xflags |= e.flag
			return true
		}
	}
	return false
}

// Parse implements Parser.
func (t *hmarkParser) Parse(_ *Context, opt, arg string, inv bool) error {
	bit := hmarkOptFlag[opt]
	if opt == "hmark-tuple" {
		if t.tuple {
			return Errorf("HMARK: option \"--%s\" can only be used once.\n", opt)
		}
	} else if t.xflags&bit != 0 {
		return Errorf("HMARK: option \"--%s\" can only be used once.\n", opt)
	}
	if inv {
		return Errorf("HMARK: option \"--%s\" cannot be inverted.\n", opt)
	}
	switch opt {
	case "hmark-tuple":
		t.tuple = true
		a := arg
		for {
			i := strings.IndexByte(a, ',')
			if i < 0 {
				break
			}
			if i == 0 || !t.tupleWord(a[:i]) {
				return Errorf("Bad type \"%s\"", a)
			}
			a = a[i+1:]
		}
		if a == "" {
			return Errorf("\"--hmark-tuple\" requires a list of types with no spaces, e.g. src,dst,sport,dport,proto")
		}
		if !t.tupleWord(a) {
			return Errorf("Bad type \"%s\"", a)
		}
		return nil
	case "hmark-src-prefix", "hmark-dst-prefix":
		v, err := tgUint("HMARK", opt, arg, 0, 0xFFFFFFFF)
		if err != nil {
			return err
		}
		if opt == "hmark-src-prefix" {
			t.SrcPlen = uint32(v)
		} else {
			t.DstPlen = uint32(v)
		}
	case "hmark-sport-mask", "hmark-dport-mask", "hmark-sport", "hmark-dport", "hmark-proto-mask":
		v, err := tgUint("HMARK", opt, arg, 0, 0xFFFF)
		if err != nil {
			return err
		}
		u := uint16(v)
		switch opt {
		case "hmark-sport-mask":
			t.SportMask = u
		case "hmark-dport-mask":
			t.DportMask = u
		case "hmark-sport":
			t.SportSet = u
		case "hmark-dport":
			t.DportSet = u
		default:
			t.ProtoMask = u
		}
	default:
		min := uint64(0)
		if opt == "hmark-mod" {
			min = 1
		}
		v, err := tgUint("HMARK", opt, arg, min, 0xFFFFFFFF)
		if err != nil {
			return err
		}
		u := uint32(v)
		switch opt {
		case "hmark-spi-mask":
			t.SPIMask = u
		case "hmark-spi":
			t.SPISet = u
		case "hmark-rnd":
			t.Rnd = u
		case "hmark-mod":
			t.Mod = u
		case "hmark-offset":
			t.Offset = u
		}
	}
	t.Flags |= bit
	t.xflags |= bit
	return nil
}

const hmarkPktMask = hmSrc | hmDst | hmSPIMask | hmSportMask | hmDportMask | hmProtoMask | hmSport | hmDport | hmSPI

// Final implements Parser (HMARK_check, then the kernel's hmark_tg_check).
func (t *hmarkParser) Final(ctx *Context) (ruleset.Extension, error) {
	x := t.xflags
	switch {
	case x&hmMod == 0:
		return nil, Errorf("--hmark-mod is mandatory")
	case x&hmRnd == 0:
		return nil, Errorf("--hmark-rnd is mandatory")
	case x&hmSPIMask != 0 && x&(hmSportMask|hmDportMask) != 0:
		return nil, Errorf("you cannot use --hmark-spi-mask and --hmark-?port-mask,at the same time")
	case x&(hmarkPktMask|hmCT) == 0:
		return nil, Errorf("you have to specify --hmark-tuple at least")
	}
	if t.Flags&hmSPI != 0 && t.Flags&(hmSport|hmDport) != 0 {
		return nil, KernelInval()
	}
	h := t.HMark
	h.fam = ctx.Family
	return &h, nil
}

func (t *HMark) plen(v uint32) uint32 {
	max := uint32(32)
	if t.fam == ruleset.IPv6 {
		max = 128
	}
	if v > max {
		return max
	}
	return v
}

// Save implements ruleset.Extension.
func (t *HMark) Save(b *strings.Builder, _ ruleset.Fmt) {
	if t.Flags&hmSrc != 0 {
		b.WriteString(" --hmark-src-prefix " + Utoa(uint64(t.plen(t.SrcPlen))))
	}
	if t.Flags&hmDst != 0 {
		b.WriteString(" --hmark-dst-prefix " + Utoa(uint64(t.plen(t.DstPlen))))
	}
	t.write(b, " --hmark-", false)
	if t.Flags&hmMod != 0 {
		b.WriteString(" --hmark-mod " + Utoa(uint64(t.Mod)))
	}
	if t.Flags&hmOffset != 0 {
		b.WriteString(" --hmark-offset " + Utoa(uint64(t.Offset)))
	}
	if t.Flags&hmCT != 0 {
		b.WriteString(" --hmark-tuple ct")
	}
}

// write prints the masks and sets; -L (list) uses minimal hex widths.
func (t *HMark) write(b *strings.Builder, pfx string, list bool) {
	w := func(n int) int {
		if list {
			return 0
		}
		return n
	}
	if t.Flags&hmSportMask != 0 {
		b.WriteString(pfx + "sport-mask " + mtHex(uint64(t.SportMask), w(4)))
	}
	if t.Flags&hmDportMask != 0 {
		b.WriteString(pfx + "dport-mask " + mtHex(uint64(t.DportMask), w(4)))
	}
	if t.Flags&hmSPIMask != 0 {
		b.WriteString(pfx + "spi-mask " + mtHex(uint64(t.SPIMask), w(8)))
	}
	if t.Flags&hmSport != 0 {
		b.WriteString(pfx + "sport " + mtHex(uint64(t.SportSet), w(4)))
	}
	if t.Flags&hmDport != 0 {
		b.WriteString(pfx + "dport " + mtHex(uint64(t.DportSet), w(4)))
	}
	if t.Flags&hmSPI != 0 {
		b.WriteString(pfx + "spi " + mtHex(uint64(t.SPISet), w(8)))
	}
	if t.Flags&hmProtoMask != 0 {
		b.WriteString(pfx + "proto-mask " + mtHex(uint64(t.ProtoMask), w(2)))
	}
	if t.Flags&hmRnd != 0 {
		b.WriteString(pfx + "rnd " + mtHex(uint64(t.Rnd), w(8)))
	}
}

// Print implements ruleset.Extension.
func (t *HMark) Print(b *strings.Builder, _ ruleset.Fmt) {
	var s strings.Builder
	s.WriteString(" HMARK ")
	if t.Flags&hmMod != 0 {
		s.WriteString("mod " + Utoa(uint64(t.Mod)) + " ")
	}
	if t.Flags&hmOffset != 0 {
		s.WriteString("+ " + Hex(uint64(t.Offset)) + " ")
	}
	if t.Flags&hmCT != 0 {
		s.WriteString("ct, ")
	}
	pl := func(name string, v uint32) {
		v = t.plen(v)
		txt := Utoa(uint64(v))
		if t.fam == ruleset.IPv6 && v == 128 {
			txt = "" // xtables_ip6mask_to_numeric gives "" for /128
		}
		s.WriteString(name + " " + txt + " ")
	}
	if t.Flags&hmSrc != 0 {
		pl("src-prefix", t.SrcPlen)
	}
	if t.Flags&hmDst != 0 {
		pl("dst-prefix", t.DstPlen)
	}
	var m strings.Builder
	t.write(&m, " ", true)
	if m.Len() > 0 {
		s.WriteString(m.String()[1:] + " ")
	}
	b.WriteString(s.String())
}

// Act implements pkt.Actor. The mark is xt_HMARK's jhash of the masked
// tuple; that hash is not reproduced here, so the packet's mark (and all
// that depends on it) is left undecided; the rule goes on.
func (t *HMark) Act(c *pkt.Ctx) pkt.Verdict {
	c.Undecide("HMARK: hash mark not modelled")
	return pkt.Continue
}
