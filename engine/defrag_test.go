package engine

import (
	"net/netip"
	"testing"
	"time"

	"github.com/rampartfw/rampart/pkt"
)

// frag4 builds an IPv4 UDP fragment with payload length n at byte offset off.
func frag4(t *testing.T, off, n int, more bool) *pkt.Packet {
	t.Helper()
	raw := pkt.Build(pkt.Spec{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"),
		Proto: 200, ID: 7, FragOff: uint16(off / 8), MoreFrags: more, Payload: make([]byte, n)})
	p := &pkt.Packet{}
	if err := p.Decode(raw); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefrag4(t *testing.T) {
	type fr struct {
		off, n int
		more   bool
	}
	tests := []struct {
		name  string
		frags []fr
		want  int // reassembled IP length, 0: none
	}{
		{"in order", []fr{{0, 16, true}, {16, 8, true}, {24, 5, false}}, 20 + 29},
		{"out of order", []fr{{24, 5, false}, {0, 16, true}, {16, 8, true}}, 20 + 29},
		{"overlap discards", []fr{{0, 16, true}, {8, 16, true}, {24, 5, false}}, 0},
		{"duplicate is ignored", []fr{{0, 16, true}, {0, 8, true}, {16, 8, false}}, 20 + 24},
		// ip_frag_queue trims a non-final fragment to a multiple of 8.
		{"trimmed to 8 bytes", []fr{{0, 576, true}, {576, 577, true}, {1152, 1, false}}, 20 + 1153},
		{"missing piece", []fr{{0, 16, true}, {24, 5, false}}, 0},
		{"data beyond the end", []fr{{16, 8, false}, {0, 32, true}}, 0},
	}
	now := time.Unix(1000, 0)
	for _, tt := range tests {
		d := NewDefrag()
		got := 0
		for _, f := range tt.frags {
			if out := d.Add(frag4(t, f.off, f.n, f.more), now); out != nil {
				got = len(out)
			}
		}
		if got != tt.want {
			t.Errorf("%s: reassembled %d bytes, want %d", tt.name, got, tt.want)
		}
	}
}

func TestDefragTimeout(t *testing.T) {
	d := NewDefrag()
	now := time.Unix(1000, 0)
	d.Add(frag4(t, 0, 16, true), now)
	if out := d.Add(frag4(t, 16, 4, false), now.Add(31*time.Second)); out != nil {
		t.Error("a fragment completed a queue that had expired")
	}
}
