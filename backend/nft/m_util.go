package nft

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// Helpers shared by the extension match translators (m_*.go).

// The 32-bit registers (NFT_REG32_00 ...): a concatenation of keys puts
// each field in its own 4-byte register, one after the other.
const reg32 = 8

// setIDs gives every set the translators create a batch-wide unique
// NFTA_SET_ID: the rules of the same batch refer to an anonymous set by it
// (its name is only a template the kernel fills in). Starting high keeps
// clear of google/nftables' own counter for sets added without an ID.
var setIDs atomic.Uint32

func init() { setIDs.Store(0x52000000) }

func nextSetID() uint32 { return setIDs.Add(1) }

// addAnonSet adds a constant anonymous set with its elements and returns
// the lookup of register sreg in it.
func (x *xlate) addAnonSet(s *nftables.Set, elems []nftables.SetElement, sreg uint32, inv bool) *expr.Lookup {
	s.ID = nextSetID()
	s.Name = "__set%d"
	s.Anonymous, s.Constant = true, true
	x.AddSet(s, elems)
	return &expr.Lookup{SourceRegister: sreg, SetName: s.Name, SetID: s.ID, Invert: inv}
}

// findSet returns the named set the plan already holds, or nil.
func (x *xlate) findSet(name string) *nftables.Set {
	for _, ps := range x.plan.sets {
		if ps.set.Name == name {
			return ps.set
		}
	}
	return nil
}

// maxSetName is the longest set name the kernel takes
// (NFT_SET_MAXNAMELEN less the NUL).
const maxSetName = 255

// namedSetName is the nftables name of a set of extension ext named name
// by the rule ("hashlimit/NAME", "recent/NAME").
func namedSetName(ext, name string) (string, error) {
	s := ext + "/" + name
	if len(s) > maxSetName {
		return "", fmt.Errorf("%s name %q too long for an nftables set name (%d bytes, at most %d)", ext, name, len(s), maxSetName)
	}
	return s, nil
}

func le32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// rangeExprs compares register reg (n bytes, big-endian) with lo..hi, or
// its complement when inv: a single value is a cmp, a range a range
// expression.
func rangeExprs(lo, hi []byte, inv bool) []expr.Any {
	if string(lo) == string(hi) {
		return []expr.Any{cmp(inv, lo)}
	}
	op := expr.CmpOpEq
	if inv {
		op = expr.CmpOpNeq
	}
	return []expr.Any{&expr.Range{Op: op, Register: reg, FromData: lo, ToData: hi}}
}

// never is an expression list that never lets a packet through: a
// constant compared with another.
func never() []expr.Any {
	return []expr.Any{&expr.Immediate{Register: reg, Data: []byte{0, 0, 0, 0}}, cmp(true, []byte{0, 0, 0, 0})}
}

// circular16 matches a 16-bit big-endian field already in reg against the
// circular interval a..b (b < a: it wraps past 65535), inverted when inv.
func circular16(a, b uint16, inv bool) []expr.Any {
	if a <= b {
		return rangeExprs(be16(a), be16(b), inv)
	}
	if a == b+1 { // every value
		if inv {
			return never()
		}
		return nil
	}
	// Wrapped: the value is in it unless it is in b+1..a-1.
	return rangeExprs(be16(b+1), be16(a-1), !inv)
}
