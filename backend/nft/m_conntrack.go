package nft

import (
	"fmt"

	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// Conntrack status bits (IPS_*) the NAT states stand for.
const (
	ipsSrcNAT = 1 << 4
	ipsDstNAT = 1 << 5
)

// conntrack (revision 3) as conntrack_mt evaluates it: --ctstate on the
// ct state (invalid and untracked included: that key never breaks), then,
// only for a packet with a conntrack entry, every other option on the
// entry. nft's ct keys other than state break without an entry, which is
// xt's "no match" there, so the translation is exact unless the state test
// can pass for a packet without an entry (INVALID or UNTRACKED among the
// states it accepts): conntrack_mt then matches whatever the other options
// say, and that combination is refused.
//
//	--ctproto        ct protocol (the original tuple's)
//	--ctstatus       ct status & bits != 0 (== 0 inverted)
//	--ctexpire A:B   ct expiration (ms) in A*1000 .. B*1000+999:
//	                 nf_ct_expires/HZ in A..B, whole seconds
//	--ctdir          ct direction
//	--ctstate SNAT/DNAT alone: ct status & IPS_SRC_NAT/IPS_DST_NAT
//
// Refused: SNAT/DNAT states mixed with others or inverted (an OR of ct
// state and ct status, or a match without an entry), and the tuple's
// addresses and ports (--ctorigsrc ... --ctrepldstport: see below; with a
// working library they are ct original/reply saddr/daddr, masked, and
// proto-src/proto-dst, the tuple's u.all as xt reads it).
func init() {
	registerMatch("conntrack", func(_ *xlate, m ruleset.Match) ([]expr.Any, error) {
		return conntrackExprs(m.(*xt.ConntrackMatch))
	})
}

func conntrackExprs(m *xt.ConntrackMatch) ([]expr.Any, error) {
	has := func(fl uint16) bool { return m.Flags&fl != 0 }
	inv := func(fl uint16) bool { return m.Inv&fl != 0 }
	others := m.Flags &^ xt.CtState
	var ex []expr.Any
	if has(xt.CtState) {
		nat := m.States & (xt.StateSNAT | xt.StateDNAT)
		base := m.States &^ nat
		noEntry := xt.StateInvalid | xt.StateUntracked
		switch {
		case nat != 0 && (base != 0 || inv(xt.CtState)):
			return nil, fmt.Errorf("extension \"-m conntrack\" --ctstate SNAT/DNAT with other states or inverted not supported (an OR of ct state and ct status)")
		case nat != 0:
			var bits uint32
			if nat&xt.StateSNAT != 0 {
				bits |= ipsSrcNAT
			}
			if nat&xt.StateDNAT != 0 {
				bits |= ipsDstNAT
			}
			ex = append(ex, &expr.Ct{Register: reg, Key: expr.CtKeySTATUS},
				&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 4, Mask: le32(bits), Xor: le32(0)},
				cmp(true, le32(0)))
		case others != 0 && (!inv(xt.CtState) && base&noEntry != 0 || inv(xt.CtState) && base&noEntry != noEntry):
			return nil, fmt.Errorf("extension \"-m conntrack\": a --ctstate that accepts INVALID or UNTRACKED with other conntrack options not supported (conntrack_mt ignores them without a conntrack entry)")
		default:
			ex = append(ex, ctStateExprs(base, inv(xt.CtState))...)
		}
	}
	if has(xt.CtDirection) {
		// Only in Flags does --ctdir count as given; in Inv it means REPLY.
		dir := byte(0)
		if inv(xt.CtDirection) {
			dir = 1
		}
		ex = append(ex, &expr.Ct{Register: reg, Key: expr.CtKeyDIRECTION}, cmp(false, []byte{dir}))
	}
	// The tuple's addresses and ports need the ct expression's direction
	// attribute, which google/nftables v0.3.0 sends as a u32 where the
	// kernel reads a u8 (so REPLY arrives as ORIGINAL) and cannot parse
	// back from the kernel's u8 (GetRules fails): refused until the
	// library is fixed.
	if tuple := m.Flags & (xt.CtOrigSrc | xt.CtOrigDst | xt.CtReplSrc | xt.CtReplDst |
		xt.CtOrigSrcPort | xt.CtOrigDstPort | xt.CtReplSrcPort | xt.CtReplDstPort); tuple != 0 {
		return nil, fmt.Errorf("extension \"-m conntrack\" options --ctorigsrc/--ctorigdst/--ctreplsrc/--ctrepldst and their ports not supported (google/nftables v0.3.0 mis-encodes the ct direction)")
	}
	if has(xt.CtProto) {
		ex = append(ex, &expr.Ct{Register: reg, Key: expr.CtKeyPROTOCOL}, cmp(inv(xt.CtProto), []byte{m.Proto}))
	}
	if has(xt.CtStatus) {
		ex = append(ex, &expr.Ct{Register: reg, Key: expr.CtKeySTATUS},
			&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 4, Mask: le32(uint32(m.Status)), Xor: le32(0)},
			cmp(!inv(xt.CtStatus), le32(0)))
	}
	if has(xt.CtExpires) {
		lo, hi := uint64(m.ExpiresMin)*1000, uint64(m.ExpiresMax)*1000+999
		ex = append(ex, &expr.Ct{Register: reg, Key: expr.CtKeyEXPIRATION})
		switch {
		case m.ExpiresMin > m.ExpiresMax || lo > 0xffffffff:
			// No remaining lifetime (in ms, a u32) is in the range.
			if inv(xt.CtExpires) {
				break
			}
			return append(ex, never()...), nil
		default:
			ex = append(ex, &expr.Byteorder{SourceRegister: reg, DestRegister: reg, Op: expr.ByteorderHton, Len: 4, Size: 4})
			ex = append(ex, rangeExprs(be32(uint32(lo)), be32(uint32(min(hi, 0xffffffff))), inv(xt.CtExpires))...)
		}
	}
	return ex, nil
}
