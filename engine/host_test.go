package engine

import (
	"net/netip"
	"testing"

	"github.com/rampartfw/rampart/ruleset"
)

func TestPathOf(t *testing.T) {
	h := NewHost()
	h.AddIface("eth0=10.0.0.1/24")
	h.AddIface("eth1=192.168.1.1/24")
	h.AddRoute("0.0.0.0/0=eth0")
	a := netip.MustParseAddr
	tests := []struct {
		src, dst string
		hooks    []ruleset.Hook
		routing  bool // stopped by routing
	}{
		{"203.0.113.9", "10.0.0.1", []ruleset.Hook{ruleset.PreRouting, ruleset.LocalIn}, false},
		{"10.0.0.1", "203.0.113.9", []ruleset.Hook{ruleset.LocalOut, ruleset.PostRouting}, false},
		{"203.0.113.9", "192.168.1.5", []ruleset.Hook{ruleset.PreRouting, ruleset.Forward, ruleset.PostRouting}, false},
		{"10.0.0.1", "10.0.0.1", []ruleset.Hook{ruleset.LocalOut, ruleset.PostRouting, ruleset.PreRouting, ruleset.LocalIn}, false},
		{"127.0.0.1", "10.0.0.1", []ruleset.Hook{ruleset.LocalOut, ruleset.PostRouting, ruleset.PreRouting, ruleset.LocalIn}, false}, // 127/8 is local: over lo
		{"203.0.113.9", "127.0.0.1", []ruleset.Hook{ruleset.PreRouting}, true},
		{"224.0.0.5", "10.0.0.1", []ruleset.Hook{ruleset.PreRouting}, true},
		{"0.0.0.0", "255.255.255.255", []ruleset.Hook{ruleset.PreRouting, ruleset.LocalIn}, false},
		{"0.0.0.0", "10.0.0.1", []ruleset.Hook{ruleset.PreRouting}, true},
		{"203.0.113.9", "192.168.1.255", []ruleset.Hook{ruleset.PreRouting, ruleset.LocalIn}, false},
		{"ff02::1", "2001:db8::1", nil, true},
	}
	for _, tt := range tests {
		p := h.PathOf(a(tt.src), a(tt.dst))
		var got []ruleset.Hook
		for _, s := range p.Steps() {
			got = append(got, s.Hook)
		}
		if len(got) != len(tt.hooks) || (p.Routing != "") != tt.routing {
			t.Errorf("%s > %s: hooks %v routing %q", tt.src, tt.dst, got, p.Routing)
			continue
		}
		for i := range got {
			if got[i] != tt.hooks[i] {
				t.Errorf("%s > %s: hooks %v, want %v", tt.src, tt.dst, got, tt.hooks)
				break
			}
		}
	}
}
