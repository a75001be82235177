package nft

import (
	"fmt"
	"runtime"
	"sync"
	"time"
	"weak"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// recent is translated into a named dynamic set per --name
// ("recent/NAME") of the masked source (--rsource) or destination
// (--rdest) addresses:
//
//	--set       dynset update (adds the address or refreshes it); matches
//	! --set     the same, then never matches
//	--rcheck    lookup (inverted for "! --rcheck")
//	--update    lookup, then dynset update
//	--remove    lookup, then dynset delete
//
// xt_recent keeps an address's timestamps; --seconds S makes --rcheck and
// --update see only addresses seen in the last S seconds. Here the
// elements carry a timeout of S (set and refreshed by every update), so an
// address older than that is gone. That is exact only when every --rcheck
// and --update of the list uses the same --seconds and no rule removes
// from a list with a timeout (xt_recent's --remove finds old addresses
// too); other combinations are refused, as are --hitcount, --rttl and
// --reap (nft keeps one expiration per element, no hit count nor TTL),
// and "! --update" / "! --remove" (an update or removal of a present
// address followed by no match cannot be written as one rule).
//
// Differences left: an address exactly S seconds old (to the jiffy) is
// still seen by xt_recent and already expired in nft; and the list's
// capacity: xt_recent forgets the oldest address when ip_list_tot (200)
// are listed, nft keeps up to the set's size (a full set makes --set not
// match a new address instead).
func init() { registerMatch("recent", recentExprs) }

// recentList is what the rules of one plan translated so far do with a
// list: the --seconds of its checks, whether one removes, and its
// dynset expressions (whose timeout is the list's).
type recentList struct {
	set      *nftables.Set
	seconds  uint32
	checked  bool // a --rcheck or --update was seen (seconds is its)
	removes  bool
	dynsets  []*expr.Dynset
	settings string // side, mask and family: the key
}

// recentLists holds the lists of each plan being translated, dropped when
// the plan is no longer reachable.
var recentLists = struct {
	sync.Mutex
	m map[weak.Pointer[tablePlan]]map[string]*recentList
}{m: map[weak.Pointer[tablePlan]]map[string]*recentList{}}

func (x *xlate) recentList(name string) (*recentList, bool) {
	recentLists.Lock()
	defer recentLists.Unlock()
	wp := weak.Make(x.plan)
	lists := recentLists.m[wp]
	if lists == nil {
		lists = map[string]*recentList{}
		recentLists.m[wp] = lists
		runtime.AddCleanup(x.plan, func(k weak.Pointer[tablePlan]) {
			recentLists.Lock()
			delete(recentLists.m, k)
			recentLists.Unlock()
		}, wp)
	}
	l, ok := lists[name]
	if !ok {
		l = &recentList{}
		lists[name] = l
	}
	return l, ok
}

func recentExprs(x *xlate, m ruleset.Match) ([]expr.Any, error) {
	r := m.(*xt.Recent)
	op := r.CheckSet & (xt.RecentSet | xt.RecentCheck | xt.RecentUpdate | xt.RecentRemove)
	switch {
	case r.HitCount != 0:
		return nil, fmt.Errorf("extension \"-m recent\" option --hitcount not supported (nft sets keep no hit count)")
	case r.CheckSet&xt.RecentTTL != 0:
		return nil, fmt.Errorf("extension \"-m recent\" option --rttl not supported (nft sets keep no TTL)")
	case r.CheckSet&xt.RecentReap != 0:
		return nil, fmt.Errorf("extension \"-m recent\" option --reap not supported")
	case r.Invert && (op == xt.RecentUpdate || op == xt.RecentRemove):
		return nil, fmt.Errorf("extension \"-m recent\" inverted --update/--remove not supported (not expressible as one nft rule)")
	}
	name, err := namedSetName("recent", r.List)
	if err != nil {
		return nil, err
	}
	// The key: the masked address of the chosen side.
	off, alen, atype := uint32(12), uint32(4), nftables.TypeIPAddr
	if x.Fam == ruleset.IPv6 {
		off, alen, atype = 8, 16, nftables.TypeIP6Addr
	}
	if r.Side == xt.RecentDest {
		off += alen
	}
	ex := []expr.Any{&expr.Payload{DestRegister: reg32, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: alen}}
	if r.Mask.IsValid() {
		mask := r.Mask.AsSlice()
		full := len(mask) == int(alen)
		for _, b := range mask {
			full = full && b == 0xff
		}
		if len(mask) != int(alen) {
			return nil, fmt.Errorf("extension \"-m recent\": --mask of the wrong family")
		}
		if !full {
			ex = append(ex, &expr.Bitwise{SourceRegister: reg32, DestRegister: reg32, Len: alen, Mask: mask, Xor: make([]byte, alen)})
		}
	}
	settings := fmt.Sprintf("side %d mask %v", r.Side, r.Mask)
	l, seen := x.recentList(name)
	if !seen {
		l.set = &nftables.Set{ID: nextSetID(), Name: name, KeyType: atype, Dynamic: true, HasTimeout: true,
			Comment: "recent"}
		l.settings = settings
		x.AddSet(l.set, nil)
	} else if l.settings != settings {
		// xt_recent keeps one list whatever the rules' sides and masks;
		// the lookups of rules that disagree would not meet.
		return nil, fmt.Errorf("extension \"-m recent\": list %s is used with another --rsource/--rdest or --mask by an earlier rule", r.List)
	}
	if op == xt.RecentCheck || op == xt.RecentUpdate {
		if l.checked && l.seconds != r.Seconds {
			return nil, fmt.Errorf("extension \"-m recent\": list %s is checked with --seconds %d here and %d by an earlier rule; the nft backend needs one --seconds per list (an element timeout)", r.List, r.Seconds, l.seconds)
		}
		l.checked, l.seconds = true, r.Seconds
	}
	if op == xt.RecentRemove {
		l.removes = true
	}
	if l.removes && l.seconds != 0 {
		return nil, fmt.Errorf("extension \"-m recent\": list %s has --remove and --seconds %d: not supported (xt_recent removes addresses older than that too)", r.List, l.seconds)
	}
	dyn := func(op uint32) *expr.Dynset {
		d := &expr.Dynset{SrcRegKey: reg32, SetName: l.set.Name, SetID: l.set.ID, Operation: op}
		l.dynsets = append(l.dynsets, d)
		return d
	}
	look := func(inv bool) *expr.Lookup {
		return &expr.Lookup{SourceRegister: reg32, SetName: l.set.Name, SetID: l.set.ID, Invert: inv}
	}
	const opUpdate, opDelete = 1, 2 // NFT_DYNSET_OP_UPDATE, NFT_DYNSET_OP_DELETE
	switch op {
	case xt.RecentSet:
		ex = append(ex, dyn(opUpdate))
		if r.Invert {
			ex = append(ex, never()...)
		}
	case xt.RecentCheck:
		ex = append(ex, look(r.Invert))
	case xt.RecentUpdate:
		ex = append(ex, look(false), dyn(opUpdate))
	case xt.RecentRemove:
		ex = append(ex, look(false), dyn(opDelete))
	default:
		return nil, fmt.Errorf("extension \"-m recent\": no single command")
	}
	// Every update of the list (earlier rules' too) gives the list's
	// timeout.
	for _, d := range l.dynsets {
		if d.Operation == opUpdate {
			d.Timeout = time.Duration(l.seconds) * time.Second
		}
	}
	return ex, nil
}
