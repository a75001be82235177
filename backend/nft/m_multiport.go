package nft

import (
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// portIval is a closed interval of ports.
type portIval struct{ lo, hi uint16 }

// multiportIvals returns the match's ports and ranges as sorted disjoint
// intervals (overlapping or adjacent ones merged).
func multiportIvals(m *xt.Multiport) []portIval {
	var iv []portIval
	for i := 0; i < len(m.Ports); i++ {
		s, e := m.Ports[i], m.Ports[i]
		if i < len(m.Range) && m.Range[i] && i+1 < len(m.Ports) {
			i++
			e = m.Ports[i]
		}
		if s > e {
			continue // xt_multiport's s <= p <= e holds for no port
		}
		iv = append(iv, portIval{s, e})
	}
	slices.SortFunc(iv, func(a, b portIval) int { return int(a.lo) - int(b.lo) })
	var out []portIval
	for _, v := range iv {
		if n := len(out); n > 0 && uint32(v.lo) <= uint32(out[n-1].hi)+1 {
			out[n-1].hi = max(out[n-1].hi, v.hi)
			continue
		}
		out = append(out, v)
	}
	return out
}

// complementIvals is the complement of sorted disjoint intervals in 0..65535.
func complementIvals(iv []portIval) []portIval {
	var out []portIval
	next := uint32(0)
	for _, v := range iv {
		if uint32(v.lo) > next {
			out = append(out, portIval{uint16(next), v.lo - 1})
		}
		next = uint32(v.hi) + 1
	}
	if next <= 0xffff {
		out = append(out, portIval{uint16(next), 0xffff})
	}
	return out
}

// multiport: the source and destination ports (transport header bytes 0
// and 2) are loaded into two 32-bit registers and looked up, as the
// concatenation "sport . dport", in an anonymous set of intervals of both
// (the kernel's pipapo set). --sports S holds S . 0-65535, --dports D
// 0-65535 . D, and --ports P (either port) the disjoint union
// P . 0-65535 and (not P) . P; "!" inverts the lookup. Like xt_multiport,
// a non-first fragment never matches, inverted or not: its transport
// header cannot be loaded and the rule breaks. (A packet too short to hold
// the 4 bytes of ports is dropped by xt_multiport; here the rule does not
// match it.) An empty list of ports (only reversed ranges) matches no
// port.
func init() {
	registerMatch("multiport", func(x *xlate, m ruleset.Match) ([]expr.Any, error) {
		mp := m.(*xt.Multiport)
		iv := multiportIvals(mp)
		all := []portIval{{0, 0xffff}}
		var elems []nftables.SetElement
		add := func(s, d []portIval) {
			for _, a := range s {
				for _, b := range d {
					elems = append(elems, nftables.SetElement{
						Key:    []byte{byte(a.lo >> 8), byte(a.lo), 0, 0, byte(b.lo >> 8), byte(b.lo), 0, 0},
						KeyEnd: []byte{byte(a.hi >> 8), byte(a.hi), 0, 0, byte(b.hi >> 8), byte(b.hi), 0, 0},
					})
				}
			}
		}
		switch mp.Dir {
		case xt.MultiportSource:
			add(iv, all)
		case xt.MultiportDest:
			add(all, iv)
		default:
			add(iv, all)
			add(complementIvals(iv), iv)
		}
		th := expr.PayloadBaseTransportHeader
		ex := []expr.Any{
			&expr.Payload{DestRegister: reg32, Base: th, Offset: 0, Len: 2},
			&expr.Payload{DestRegister: reg32 + 1, Base: th, Offset: 2, Len: 2},
		}
		if len(elems) == 0 {
			// No port at all: the loads still break on a fragment.
			if mp.Inv {
				return ex, nil
			}
			return append(ex, never()...), nil
		}
		kt, err := nftables.ConcatSetType(nftables.TypeInetService, nftables.TypeInetService)
		if err != nil {
			return nil, err
		}
		s := &nftables.Set{KeyType: kt, Interval: true, Concatenation: true}
		return append(ex, x.addAnonSet(s, elems, reg32, mp.Inv)), nil
	})
}
