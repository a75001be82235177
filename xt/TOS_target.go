package xt

import (
	"encoding/binary"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// tosTgSymbols are the TOS names of --set-tos (mask 0x3f), in iptables' order.
var tosTgSymbols = []struct {
	name  string
	value uint8
}{
	{"Minimize-Cost", 0x02}, {"Maximize-Reliability", 0x04}, {"Maximize-Throughput", 0x08},
	{"Minimize-Delay", 0x10}, {"Normal-Service", 0x00},
}

var tosTgOpts = []string{"set-tos", "and-tos", "or-tos", "xor-tos"}

// TOSTarget is the TOS target (revision 1, -t mangle): new TOS =
// (old & ^Mask) ^ Value.
type TOSTarget struct {
	Value, Mask uint8
	seen        map[string]bool
}

func init() {
	var opts []Option
	for _, n := range tosTgOpts {
		opts = append(opts, Option{Name: n, Arg: ReqArg})
	}
	Register(&Def{Name: "TOS", Target: true, Options: opts,
		New: func() Parser { return &TOSTarget{seen: map[string]bool{}} }})
}

// Name implements ruleset.Extension.
func (t *TOSTarget) Name() string { return "TOS" }

// tosTgParseMask parses --set-tos VALUE[/MASK] or a symbolic name, as
// libxtables' XTTYPE_TOSMASK.
func tosTgParseMask(arg string) (v, m uint8, err error) {
	if x, rest, ok := tgStrtoul(arg); ok && x <= 0xFF {
		m = 0xFF
		switch {
		case rest == "":
		case rest[0] == '/':
			y, r2, ok := tgStrtoul(rest[1:])
			if !ok || r2 != "" || y > 0xFF {
				return 0, 0, Errorf("Illegal value: \"%s\"", arg)
			}
			m = uint8(y)
		default:
			return 0, 0, Errorf("Illegal value: \"%s\"", arg)
		}
		return uint8(x), m, nil
	}
	for _, s := range tosTgSymbols {
		if strings.EqualFold(s.name, arg) {
			return s.value, 0x3F, nil
		}
	}
	return 0, 0, Errorf("Symbolic name \"%s\" is unknown", arg)
}

// Parse implements Parser.
func (t *TOSTarget) Parse(_ *Context, opt, arg string, _ bool) error {
	t.seen[opt] = true
	if opt == "set-tos" {
		v, m, err := tosTgParseMask(arg)
		if err != nil {
			return err
		}
		t.Value, t.Mask = v, m
		return nil
	}
	x, err := tgUint("TOS", opt, arg, 0, 0xFF)
	if err != nil {
		return err
	}
	b := uint8(x)
	switch opt {
	case "and-tos":
		t.Value, t.Mask = 0, ^b
	case "or-tos":
		t.Value, t.Mask = b, b
	case "xor-tos":
		t.Value, t.Mask = b, 0
	}
	return nil
}

// Final implements Parser.
func (t *TOSTarget) Final(ctx *Context) (ruleset.Extension, error) {
	excl := map[string][]string{}
	for _, n := range tosTgOpts {
		for _, o := range tosTgOpts {
			if o != n {
				excl[n] = append(excl[n], o)
			}
		}
	}
	if err := tgExcl("TOS", tosTgOpts, t.seen, excl); err != nil {
		return nil, err
	}
	if len(t.seen) == 0 {
		return nil, Errorf("TOS: An action is required")
	}
	if err := tgKernelPlace(ctx, "mangle"); err != nil {
		return nil, err
	}
	return t, nil
}

// Save implements ruleset.Extension.
func (t *TOSTarget) Save(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" --set-tos " + tgHex02(t.Value) + "/" + tgHex02(t.Mask))
}

// tgHex02 is C's "0x%02x".
func tgHex02(v uint8) string {
	const digits = "0123456789abcdef"
	return "0x" + string([]byte{digits[v>>4], digits[v&15]})
}

// Print implements ruleset.Extension.
func (t *TOSTarget) Print(b *strings.Builder, f ruleset.Fmt) {
	if f.Numeric {
		b.WriteString(" TOS set " + tgHex02(t.Value) + "/" + tgHex02(t.Mask))
		return
	}
	if t.Mask == 0x3F {
		for _, s := range tosTgSymbols {
			if s.value == t.Value {
				b.WriteString("  TOS set" + s.name)
				return
			}
		}
	}
	switch {
	case t.Value == 0:
		b.WriteString(" TOS and " + tgHex02(^t.Mask))
	case t.Value == t.Mask:
		b.WriteString(" TOS or " + tgHex02(t.Value))
	case t.Mask == 0:
		b.WriteString(" TOS xor " + tgHex02(t.Value))
	default:
		b.WriteString(" TOS set " + tgHex02(t.Value) + "/" + tgHex02(t.Mask))
	}
}

// Act implements pkt.Actor as xt_DSCP's tos_tg / tos_tg6 do: the new TOS
// byte (IPv4) or traffic class (IPv6) is (old AND NOT Mask) XOR Value,
// written only when it differs, ECN bits included; IPv4 updates the header
// checksum as ipv4_change_dsfield does. The packet goes on.
func (t *TOSTarget) Act(c *pkt.Ctx) pkt.Verdict {
	p := c.P
	nv := (p.TOS &^ t.Mask) ^ t.Value
	if nv != p.TOS {
		tgSetDSField(p, 0, nv)
	}
	return pkt.Continue
}

// tgSetDSField is ipv4_change_dsfield / ipv6_change_dsfield: the DS field
// becomes (old AND mask) OR value, in Raw (with the kernel's incremental
// IPv4 checksum update) and in p.TOS.
func tgSetDSField(p *pkt.Packet, mask, value uint8) {
	ds := p.TOS&mask | value
	if p.Family == ruleset.IPv6 {
		if len(p.Raw) >= 2 {
			w := binary.BigEndian.Uint16(p.Raw[0:2])
			w = w&(uint16(mask)<<4|0xf00f) | uint16(value)<<4
			binary.BigEndian.PutUint16(p.Raw[0:2], w)
		}
		p.TOS = ds
		return
	}
	if len(p.Raw) >= 20 {
		check := uint32(binary.BigEndian.Uint16(p.Raw[10:12]))
		check += uint32(p.Raw[1])
		if (check+1)>>16 != 0 {
			check = (check + 1) & 0xffff
		}
		check -= uint32(ds)
		check += check >> 16
		binary.BigEndian.PutUint16(p.Raw[10:12], uint16(check))
		p.Raw[1] = ds
	}
	p.TOS = ds
}
