package xt

import (
	"encoding/binary"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// SPIRange is an inclusive range of IPsec SPIs (Lo may exceed Hi: iptables
// keeps such a range as given).
type SPIRange struct{ Lo, Hi uint32 }

// Full reports whether the range is 0:4294967295.
func (r SPIRange) Full() bool { return r.Lo == 0 && r.Hi == 0xFFFFFFFF }

// AnySPI is the range 0:4294967295.
var AnySPI = SPIRange{0, 0xFFFFFFFF}

// ParseUint32RC parses N, LO:HI, LO: or :HI as libxtables' XTTYPE_UINT32RC
// options do (an empty component defaults to 0 or 4294967295; a single N
// is N:N), with its messages.
func ParseUint32RC(ext, opt, s string) (SPIRange, error) {
	var vals []uint32
	arg := s
	for {
		if len(vals) == 2 {
			return SPIRange{}, Errorf("%s: Too many components for option \"--%s\" (max: 2)\n", ext, opt)
		}
		var v uint64
		end := arg
		if arg != "" && arg[0] != ':' {
			var ok bool
			v, end, ok = xtStrtoulMax(arg, 0xFFFFFFFF)
			if !ok {
				return SPIRange{}, Errorf("%s: bad value for option \"--%s\" near \"%s\", or out of range (0-4294967295).\n", ext, opt, arg)
			}
			if end != "" && end[0] != ':' {
				return SPIRange{}, Errorf("%s: Argument to \"--%s\" has unexpected characters near \"%s\".\n", ext, opt, end)
			}
		} else if len(vals) == 1 {
			v = 0xFFFFFFFF
		}
		vals = append(vals, uint32(v))
		if end == "" {
			break
		}
		arg = end[1:]
	}
	if len(vals) == 1 {
		return SPIRange{vals[0], vals[0]}, nil
	}
	return SPIRange{vals[0], vals[1]}, nil
}

// saveSPIs appends " [!] --NAME LO[:HI]" unless the range is the default
// (iptables-save drops an inverted default range too; lossless keeps it).
func saveSPIs(b *strings.Builder, name string, r SPIRange, inv, lossless bool) {
	if r.Full() && !(inv && lossless) {
		return
	}
	b.WriteString(Bang(inv) + " --" + name + " " + Utoa(uint64(r.Lo)))
	if r.Lo != r.Hi {
		b.WriteString(":" + Utoa(uint64(r.Hi)))
	}
}

// printSPIs appends "spi:[!]N" or "spis:[!]LO:HI" (no leading space)
// unless the range is the default and not inverted.
func printSPIs(b *strings.Builder, r SPIRange, inv bool) {
	if r.Full() && !inv {
		return
	}
	if r.Lo == r.Hi {
		b.WriteString("spi:" + BangL(inv) + Utoa(uint64(r.Lo)))
		return
	}
	b.WriteString("spis:" + BangL(inv) + Utoa(uint64(r.Lo)) + ":" + Utoa(uint64(r.Hi)))
}

// ESP is the esp match (-m esp --espspi).
type ESP struct {
	SPI SPIRange
	Inv bool
}

func init() {
	Register(&Def{Name: "esp", New: func() Parser { return &ESP{SPI: AnySPI} },
		Options: []Option{{Name: "espspi", Arg: ReqArg, Invert: true}}})
}

// Name implements ruleset.Extension.
func (m *ESP) Name() string { return "esp" }

// Parse implements Parser.
func (m *ESP) Parse(_ *Context, _, arg string, inv bool) error {
	r, err := ParseUint32RC("esp", "espspi", arg)
	if err != nil {
		return err
	}
	m.SPI, m.Inv = r, inv
	return nil
}

// Final implements Parser.
func (m *ESP) Final(ctx *Context) (ruleset.Extension, error) {
	// The kernel's esp match wants -p esp, not inverted.
	if ctx.Rule.Proto != 50 || ctx.Rule.Inv&ruleset.InvProto != 0 {
		return nil, KernelInval()
	}
	return m, nil
}

// Save implements ruleset.Extension.
func (m *ESP) Save(b *strings.Builder, f ruleset.Fmt) {
	saveSPIs(b, "espspi", m.SPI, m.Inv, f.Lossless)
}

// Print implements ruleset.Extension.
func (m *ESP) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" esp")
	if !m.SPI.Full() || m.Inv {
		b.WriteString(" ")
		printSPIs(b, m.SPI, m.Inv)
	}
}

// spiIn is the kernel's spi_match before inversion.
func spiIn(r SPIRange, spi uint32) bool { return spi >= r.Lo && spi <= r.Hi }

// Match implements pkt.Matcher as xt_esp's esp_mt (an xt match under
// iptables-nft): false on a non-first fragment, a drop when the 8-byte
// ESP header is not in the packet, else the SPI range test.
func (m *ESP) Match(c *pkt.Ctx) bool {
	p := c.P
	if p.FragOff != 0 {
		return false
	}
	h := xtHeader(p, 8)
	if h == nil {
		c.DropNow = true
		return false
	}
	return spiIn(m.SPI, binary.BigEndian.Uint32(h[0:])) != m.Inv
}
