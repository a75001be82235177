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
	frags    []frag // sorted by offset, never overlapping
	header   []byte // IP header (and for IPv6 the unfragmentable part) of the first fragment
	hasFirst bool
	lastIn   bool // the final fragment arrived
	length   int  // datagram payload length known so far
}

// runs returns the contiguous byte ranges [start, end) the queue holds.
func (q *fragQueue) runs() [][2]int {
	var out [][2]int
	for _, f := range q.frags {
		e := f.off + len(f.data)
		if n := len(out); n > 0 && out[n-1][1] == f.off {
			out[n-1][1] = e
			continue
		}
		out = append(out, [2]int{f.off, e})
	}
	return out
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
	end := off + len(payload)
	if !p.MoreFrags {
		// The final fragment fixes the length; data beyond it or a
		// different end corrupts the datagram.
		if end < q.length || q.lastIn && end != q.length {
			delete(d.queues, k)
			return nil
		}
		q.lastIn, q.length = true, end
	} else {
		if end&7 != 0 {
			if p.Family == 6 {
				// nf_ct_frag6_queue: not rounded to 8 bytes, the
				// queue dies.
				delete(d.queues, k)
				return nil
			}
			// ip_frag_queue trims a non-final fragment to 8 bytes.
			end &^= 7
			payload = payload[:end-off]
		}
		if end > q.length {
			if q.lastIn {
				delete(d.queues, k)
				return nil
			}
			q.length = end
		}
	}
	if end == off {
		delete(d.queues, k)
		return nil
	}
	// inet_frag_queue_insert: a fragment inside an existing run is a
	// duplicate (dropped, queue kept); any other overlap discards the
	// datagram (RFC 5722).
	for _, r := range q.runs() {
		if off >= r[0] && end <= r[1] {
			return nil
		}
		if off < r[1] && r[0] < end {
			delete(d.queues, k)
			return nil
		}
	}
	if off == 0 {
		q.header = append([]byte(nil), p.Raw[:hdrLen]...)
		q.hasFirst = true
	}
	q.frags = append(q.frags, frag{off, append([]byte(nil), payload...), !p.MoreFrags})
	sort.Slice(q.frags, func(i, j int) bool { return q.frags[i].off < q.frags[j].off })
	if !q.lastIn || !q.hasFirst {
		return nil
	}
	pos := 0
	for _, f := range q.frags {
		if f.off != pos {
			return nil
		}
		pos += len(f.data)
	}
	if pos != q.length {
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
