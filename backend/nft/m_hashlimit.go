package nft

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// hashlimit is translated as nft's "meter": a named dynamic set per
// --hashlimit-name ("hashlimit/NAME") whose elements are the masked
// source and/or destination addresses of --hashlimit-mode (concatenated),
// each carrying its own packet limit expression, which a dynset
// expression (op update) adds or refreshes for every packet that reaches
// it. An element expires --hashlimit-htable-expire ms after its last
// packet (the update rewrites its expiration, as xt_hashlimit rewrites
// dh->expires), and the set holds at most --hashlimit-htable-max elements.
//
// How the two rate limiters differ (the equivalence tests treat packets
// near these boundaries as marginal):
//
//   - xt_hashlimit keeps credits in jiffies (HZ=250: 4 ms): a packet gets
//     the credit of the whole jiffies elapsed since the entry's previous
//     packet (CREDITS_PER_JIFFY = 2^39 each), and one packet costs
//     user2credits(avg) = avg * (HZ*2^39/1000000) credits, the constant
//     truncated (137438953 for 137438953.47), so a packet costs about 3.4
//     ppm less than avg microseconds of credit; the bucket holds
//     user2credits(avg*burst).
//   - nft_limit keeps tokens in nanoseconds (ktime_get_ns): a packet costs
//     unit*1e9/rate ns and the bucket holds cost*burst, refilled by the
//     exact time elapsed. The rate goes over as libxt_hashlimit prints it
//     (N per second, minute, hour or day), so an average that is not a
//     whole number of packets per unit (1000000/avg inexact) is rounded the
//     way iptables prints it.
//
// So a packet that finds the bucket within one jiffy's credit (4 ms at
// the rate) of one packet's cost can go either way; away from those
// boundaries both take and refuse the same packets. Both start a new
// element with a full bucket. An entry past its expiry that the garbage
// collection (every --hashlimit-htable-gcinterval ms) has not freed yet is
// reused by xt_hashlimit with its credit, where nft finds no element and
// starts a full one: they differ only when the expiry is shorter than the
// time the bucket takes to refill. When the table is full xt_hashlimit
// drops the packet of a new flow, while the dynset breaks (the rule does
// not match it).
//
// Not expressible exactly, and refused: byte rates (nft's byte limit has
// no per-16-byte cost steps nor xt_hashlimit's burst refills), the
// rate-match mode, and port modes (xt_hashlimit reads ports of ESP and AH
// too, uses 0 for other protocols and reads a non-first fragment's bytes
// as ports, where nft's transport header payload breaks).
func init() { registerMatch("hashlimit", hashlimitExprs) }

// hashlimitNftRate is print_rate of libxt_hashlimit: the rate per unit
// (seconds) an average interval in microseconds is printed as.
func hashlimitNftRate(avg uint64) (rate uint64, unit expr.LimitTime) {
	units := []struct {
		secs expr.LimitTime
		mult uint64
	}{{expr.LimitTimeDay, xt.HashlimitScale * 86400}, {expr.LimitTimeHour, xt.HashlimitScale * 3600},
		{expr.LimitTimeMinute, xt.HashlimitScale * 60}, {expr.LimitTimeSecond, xt.HashlimitScale}}
	i := 1
	for ; i < len(units); i++ {
		m := units[i].mult
		if avg > m || m/avg < m%avg {
			break
		}
	}
	return units[i-1].mult / avg, units[i-1].secs
}

// hashlimitSize is the htable-max the kernel gives the table: the size
// and max capped at HASHLIMIT_MAX_SIZE, the size defaulting to the
// machine's, the max to 8 times the size and at least the size.
func hashlimitSize(h *xt.Hashlimit) uint32 {
	const maxSize = 1048576
	size, mx := min(h.Size, maxSize), min(h.Max, maxSize)
	if size == 0 {
		size = xt.HashlimitDefaultSize
	}
	if mx == 0 {
		mx = 8 * size
	} else if mx < size {
		mx = size
	}
	return mx
}

func hashlimitExprs(x *xlate, m ruleset.Match) ([]expr.Any, error) {
	h := m.(*xt.Hashlimit)
	switch {
	case h.Mode&xt.HashlimitBytes != 0:
		return nil, fmt.Errorf("extension \"-m hashlimit\" with a byte rate not supported (nft's byte limit differs from xt_hashlimit's)")
	case h.Mode&xt.HashlimitRateMatch != 0:
		return nil, fmt.Errorf("extension \"-m hashlimit\" option --hashlimit-rate-match not supported")
	case h.Mode&(xt.HashlimitSrcPort|xt.HashlimitDstPort) != 0:
		return nil, fmt.Errorf("extension \"-m hashlimit\" --hashlimit-mode srcport/dstport not supported (xt_hashlimit's port rules have no exact nft equivalent)")
	case h.Avg == 0 || h.Burst == 0 || h.Burst > 1<<32-1:
		return nil, fmt.Errorf("extension \"-m hashlimit\": rate or burst out of range")
	}
	name, err := namedSetName("hashlimit", h.TableName)
	if err != nil {
		return nil, err
	}
	// The key: masked source, then destination address, each in its own
	// registers; without either, one constant key (one bucket for all).
	offs := map[ruleset.Family][2]uint32{ruleset.IPv4: {12, 16}, ruleset.IPv6: {8, 24}}[x.Fam]
	alen, atype := uint32(4), nftables.TypeIPAddr
	if x.Fam == ruleset.IPv6 {
		alen, atype = 16, nftables.TypeIP6Addr
	}
	var ex []expr.Any
	var types []nftables.SetDatatype
	r := uint32(reg32)
	for _, a := range []struct {
		bit  uint32
		off  uint32
		plen uint8
	}{{xt.HashlimitSrcIP, offs[0], h.SrcMask}, {xt.HashlimitDstIP, offs[1], h.DstMask}} {
		if h.Mode&a.bit == 0 {
			continue
		}
		ex = append(ex, &expr.Payload{DestRegister: r, Base: expr.PayloadBaseNetworkHeader, Offset: a.off, Len: alen})
		if int(a.plen) < int(alen*8) {
			mask := make([]byte, alen)
			for i := range mask {
				bitsLeft := int(a.plen) - 8*i
				switch {
				case bitsLeft >= 8:
					mask[i] = 0xff
				case bitsLeft > 0:
					mask[i] = byte(0xff << (8 - bitsLeft))
				}
			}
			ex = append(ex, &expr.Bitwise{SourceRegister: r, DestRegister: r, Len: alen, Mask: mask, Xor: make([]byte, alen)})
		}
		types = append(types, atype)
		r += alen / 4
	}
	if len(types) == 0 {
		ex = append(ex, &expr.Immediate{Register: reg32, Data: []byte{0, 0, 0, 0}})
		types = append(types, nftables.TypeMark) // 4 bytes, listed in hex
	}
	kt := types[0]
	if len(types) > 1 {
		if kt, err = nftables.ConcatSetType(types...); err != nil {
			return nil, err
		}
	}
	// The settings that decide the set and its elements: a rule of the
	// same name must agree on all of them (xt_hashlimit would silently
	// use the first rule's table settings, and an element's limit is the
	// one of the rule that created it).
	var cfg strings.Builder
	h.Save(&cfg, ruleset.Fmt{})
	settings := "hashlimit" + cfg.String()
	if len(settings) > 200 {
		// The set's comment has room for less than the kernel's 256
		// bytes of userdata: a long name keeps its start and a digest.
		sum := sha256.Sum256([]byte(settings))
		settings = settings[:150] + "... sha256:" + hex.EncodeToString(sum[:16])
	}
	if old := x.findSet(name); old != nil {
		if old.Comment != settings {
			return nil, fmt.Errorf("extension \"-m hashlimit\": --hashlimit-name %s is used with other settings by an earlier rule (%s); the nft backend shares a name only between identical hashlimit matches", h.TableName, old.Comment)
		}
	} else {
		x.AddSet(&nftables.Set{
			ID: nextSetID(), Name: name, KeyType: kt, Concatenation: len(types) > 1,
			Dynamic: true, HasTimeout: true, Size: hashlimitSize(h), Comment: settings,
		}, nil)
	}
	s := x.findSet(name)
	rate, unit := hashlimitNftRate(h.Avg)
	// nft_limit_init's bucket (cost in ns * burst) cannot overflow here:
	// the kernel's own check on xt_hashlimit's credits (avg in us *
	// burst * 137438953) refuses every larger burst first.
	ex = append(ex, &expr.Dynset{
		SrcRegKey: reg32,
		SetName:   s.Name,
		SetID:     s.ID,
		Operation: 1, // NFT_DYNSET_OP_UPDATE
		Timeout:   time.Duration(h.Expire) * time.Millisecond,
		Exprs: []expr.Any{&expr.Limit{Type: expr.LimitTypePkts, Rate: rate, Unit: unit, Burst: uint32(h.Burst),
			Over: h.Mode&xt.HashlimitInvert != 0}},
	})
	return ex, nil
}
