package engine

import (
	"encoding/binary"
	"net/netip"
	"sort"
	"time"

	"github.com/rampartfw/rampart/pkt"
)

// Defrag reassembles fragments before the first hook, as nf_defrag_ipv4 and
// nf_defrag_ipv6 do when connection tracking is loaded (priority -400):
// the tables never see a fragment, only the whole datagram, counted with
// its reassembled length. Overlapping fragments discard the datagram
// (Linux since 4.19); incomplete ones expire after the timeout.
type Defrag struct {
	Timeout4 time.Duration // net.ipv4.ipfrag_time, 30s
	Timeout6 time.Duration // net.netfilter.nf_conntrack_frag6_timeout, 60s
	queues   map[fragKey]*fragQueue
}

type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8
}

type frag struct {
	off  int // bytes
	data []byte
	last bool
}

type fragQueue struct {
	first    time.Time
	frags    []frag
	header   []byte // IP header (and for IPv6 the unfragmentable part) of the first fragment
	bad      bool
	hasFirst bool
}

// NewDefrag returns a reassembler with the kernel's default timeouts.
func NewDefrag() *Defrag {
	return &Defrag{Timeout4: 30 * time.Second, Timeout6: 60 * time.Second, queues: map[fragKey]*fragQueue{}}
}

// Add takes one packet. It returns the packet itself when it is not a
// fragment, the reassembled datagram when p completes one, or nil while
// fragments are pending (or were discarded).
func (d *Defrag) Add(p *pkt.Packet, now time.Time) []byte {
	if !(p.FragOff != 0 || p.MoreFrags) {
		return p.Raw
	}
	d.expire(now)
	k := fragKey{p.Src, p.Dst, p.ID, p.Proto}
	q := d.queues[k]
	if q == nil {
		q = &fragQueue{first: now}
		d.queues[k] = q
	}
	hdrLen, payload := fragPayload(p)
	if hdrLen < 0 {
		return nil
	}
	off := int(p.FragOff) * 8
	if off == 0 {
		q.header = append([]byte(nil), p.Raw[:hdrLen]...)
		q.hasFirst = true
	}
	for _, f := range q.frags {
		if off < f.off+len(f.data) && f.off < off+len(payload) {
			q.bad = true
		}
	}
	q.frags = append(q.frags, frag{off, append([]byte(nil), payload...), !p.MoreFrags})
	if q.bad {
		delete(d.queues, k)
		return nil
	}
	sort.Slice(q.frags, func(i, j int) bool { return q.frags[i].off < q.frags[j].off })
	end := 0
	done := false
	for _, f := range q.frags {
		if f.off != end {
			return nil
		}
		end += len(f.data)
		if f.last {
			done = true
		}
	}
	if !done || !q.hasFirst {
		return nil
	}
	delete(d.queues, k)
	out := append([]byte(nil), q.header...)
	for _, f := range q.frags {
		out = append(out, f.data...)
	}
	if p.Family == 4 {
		binary.BigEndian.PutUint16(out[2:4], uint16(len(out)))
		binary.BigEndian.PutUint16(out[6:8], 0)
	} else {
		binary.BigEndian.PutUint16(out[4:6], uint16(len(out)-40))
		removeFragHeader6(&out)
	}
	return out
}

// fragPayload returns the length of the header kept from the first
// fragment and the fragment's data.
func fragPayload(p *pkt.Packet) (int, []byte) {
	if p.Family == 4 {
		ihl := int(p.Raw[0]&0x0f) * 4
		return ihl, p.Raw[ihl:]
	}
	// IPv6: find the fragment header; everything before it is kept.
	next := p.Raw[6]
	off := 40
	prev := 6
	for off+8 <= len(p.Raw) {
		switch next {
		case pkt.ProtoHopOpts, pkt.ProtoRouting, pkt.ProtoDstOpts:
			prev = off
			next = p.Raw[off]
			off += int(p.Raw[off+1])*8 + 8
		case pkt.ProtoFragment:
			_ = prev
			return off + 8, p.Raw[off+8:]
		default:
			return -1, nil
		}
	}
	return -1, nil
}

// removeFragHeader6 drops the 8-byte fragment header that the first
// fragment's kept header ends with and fixes the next-header chain.
func removeFragHeader6(b *[]byte) {
	out := *b
	next := out[6]
	off := 40
	prev := 6
	for off+8 <= len(out) {
		switch next {
		case pkt.ProtoHopOpts, pkt.ProtoRouting, pkt.ProtoDstOpts:
			prev = off
			next = out[off]
			off += int(out[off+1])*8 + 8
		case pkt.ProtoFragment:
			out[prev] = out[off]
			out = append(out[:off], out[off+8:]...)
			binary.BigEndian.PutUint16(out[4:6], uint16(len(out)-40))
			*b = out
			return
		default:
			return
		}
	}
}

func (d *Defrag) expire(now time.Time) {
	for k, q := range d.queues {
		t := d.Timeout4
		if k.src.Is6() {
			t = d.Timeout6
		}
		if now.Sub(q.first) > t {
			delete(d.queues, k)
		}
	}
}
