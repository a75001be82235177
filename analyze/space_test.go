package analyze

import (
	"net/netip"
	"testing"
)

func iv16(pairs ...uint64) ivs {
	var s ivs
	for i := 0; i+1 < len(pairs); i += 2 {
		s = append(s, iv{num(pairs[i]), num(pairs[i+1])})
	}
	return s
}

func TestIntervals(t *testing.T) {
	tests := []struct {
		name       string
		a, b       ivs
		inter, sub ivs
		union      ivs
	}{
		{"disjoint", iv16(0, 9), iv16(20, 29), nil, iv16(0, 9), iv16(0, 9, 20, 29)},
		{"inside", iv16(0, 100), iv16(10, 20), iv16(10, 20), iv16(0, 9, 21, 100), iv16(0, 100)},
		{"edges", iv16(0, 100), iv16(0, 0, 100, 100), iv16(0, 0, 100, 100), iv16(1, 99), iv16(0, 100)},
		{"adjacent", iv16(0, 9), iv16(10, 19), nil, iv16(0, 9), iv16(0, 19)},
		{"cover", iv16(5, 6, 8, 9), iv16(0, 65535), iv16(5, 6, 8, 9), nil, iv16(0, 65535)},
		{"multi", iv16(0, 10, 20, 30), iv16(5, 25), iv16(5, 10, 20, 25), iv16(0, 4, 26, 30), iv16(0, 30)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.inter(tc.b); !got.equal(tc.inter) {
				t.Errorf("inter = %v, want %v", got, tc.inter)
			}
			if got := tc.a.sub(tc.b); !got.equal(tc.sub) {
				t.Errorf("sub = %v, want %v", got, tc.sub)
			}
			if got := tc.a.union(tc.b); !got.equal(tc.union) {
				t.Errorf("union = %v, want %v", got, tc.union)
			}
		})
	}
	// 128-bit edges
	full := ivs{{u128{}, u128{^uint64(0), ^uint64(0)}}}
	p := prefixIvs(netip.MustParsePrefix("2001:db8::/64"))
	rest := full.sub(p)
	if len(rest) != 2 || !rest.union(p).equal(full) || len(rest.inter(p)) != 0 {
		t.Errorf("IPv6 complement of a /64: %v", rest)
	}
	if p[0].hi.lo != ^uint64(0) || p[0].hi.hi != p[0].lo.hi {
		t.Errorf("prefixIvs /64 = %v", p)
	}
}

// point returns the one-packet box of p.
func (an *analyzer) point(p Packet) Box {
	b := an.full
	b.Src = ivs{{addrVal(p.Src), addrVal(p.Src)}}
	b.Dst = ivs{{addrVal(p.Dst), addrVal(p.Dst)}}
	b.Proto = protoBit(p.Proto)
	b.SPort = span(uint64(p.SPort), uint64(p.SPort))
	b.DPort = span(uint64(p.DPort), uint64(p.DPort))
	b.State = p.State
	b.Flags = 1 << p.Flags
	ic := uint64(p.ICMPType)<<8 | uint64(p.ICMPCode)
	b.ICMP = span(ic, ic)
	b.In = 1 << uint(an.ifs.classOf(p.In))
	b.Out = 1 << uint(an.ifs.classOf(p.Out))
	b.Frag = fragFirst
	if p.Fragment {
		b.Frag = fragLater
	}
	return b
}

func TestSetOps(t *testing.T) {
	an := analyzerFor(t, "*filter\n-A INPUT -i eth0 -j ACCEPT\n-A INPUT -i ppp+ -j ACCEPT\nCOMMIT\n")
	full := Set{an.full}
	tcp22 := full[0]
	tcp22.Proto = protoBit(6)
	tcp22.DPort = span(22, 22)
	web := full[0]
	web.Proto = protoBit(6)
	web.DPort = iv16(80, 80, 443, 443)
	newOnly := full[0]
	newOnly.State = stNew
	tests := []struct {
		name  string
		set   Set
		empty bool
	}{
		{"full", full, false},
		{"tcp22", Set{tcp22}, false},
		{"tcp22 minus tcp22", Set{tcp22}.Subtract(Set{tcp22}), true},
		{"tcp22 and web", Set{tcp22}.Intersect(Set{web}), true},
		{"full minus tcp22", full.Subtract(Set{tcp22}), false},
		{"full minus tcp22 minus not-tcp22", full.Subtract(Set{tcp22}).Subtract(full.Subtract(Set{tcp22})), true},
		{"(full minus web) and web", full.Subtract(Set{web}).Intersect(Set{web}), true},
		{"web and new", Set{web}.Intersect(Set{newOnly}), false},
		{"web minus new minus rest", Set{web}.Subtract(Set{newOnly}).Subtract(full.Subtract(Set{newOnly})), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.set.IsEmpty(); got != tc.empty {
				t.Fatalf("IsEmpty = %v, want %v", got, tc.empty)
			}
			if tc.empty {
				if _, ok := an.Witness(tc.set); ok {
					t.Fatal("witness of an empty set")
				}
				return
			}
			w, ok := an.Witness(tc.set)
			if !ok {
				t.Fatal("no witness")
			}
			pt := an.point(w)
			if !(Set{pt}).SubsetOf(tc.set) {
				t.Fatalf("witness %v not in the set", w)
			}
		})
	}
	// subtraction yields disjoint pieces whose union is the difference
	d := full.Subtract(Set{tcp22, web})
	if !d.Union(Set{tcp22, web}).Intersect(full).Subtract(full).IsEmpty() || !full.SubsetOf(d.Union(Set{tcp22, web})) {
		t.Error("full \\ (tcp22 ∪ web) ∪ (tcp22 ∪ web) != full")
	}
	if !d.Intersect(Set{tcp22}).IsEmpty() {
		t.Error("difference still holds tcp/22")
	}
	// interface classes
	for name, want := range map[string]string{"eth0": "eth0", "ppp7": "ppp+", "wlan0": "other", "": "none"} {
		i := an.ifs.classOf(name)
		got := map[int]string{ifNone: "none", ifOther: "other", ifExact: an.ifs.syms[i].name, ifWild: an.ifs.syms[i].name + "+"}[an.ifs.syms[i].kind]
		if got != want {
			t.Errorf("class of %q = %s, want %s", name, got, want)
		}
		if w := an.ifs.witnessName(i); an.ifs.classOf(w) != i {
			t.Errorf("witness name %q of class %s is not in it", w, want)
		}
	}
}
