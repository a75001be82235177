package ruleset

import (
	"math/bits"
	"net/netip"
)

// AddrMask is an address with an arbitrary (possibly non-contiguous) mask, as
// iptables' -s and -d accept them. The zero value means "any" of no family;
// use Any to build a family-specific wildcard. Addr is always stored masked.
type AddrMask struct {
	Addr netip.Addr
	Mask netip.Addr
}

// Any returns the wildcard 0.0.0.0/0 or ::/0.
func Any(f Family) AddrMask {
	if f == IPv6 {
		return AddrMask{netip.IPv6Unspecified(), netip.IPv6Unspecified()}
	}
	return AddrMask{netip.IPv4Unspecified(), netip.IPv4Unspecified()}
}

// MaskFromBits returns the contiguous mask of the given length for family f.
func MaskFromBits(f Family, n int) netip.Addr {
	if f == IPv6 {
		var b [16]byte
		for i := 0; i < 16; i++ {
			switch {
			case n >= 8:
				b[i] = 0xff
				n -= 8
			case n > 0:
				b[i] = byte(0xff << (8 - n))
				n = 0
			}
		}
		return netip.AddrFrom16(b)
	}
	var b [4]byte
	for i := 0; i < 4; i++ {
		switch {
		case n >= 8:
			b[i] = 0xff
			n -= 8
		case n > 0:
			b[i] = byte(0xff << (8 - n))
			n = 0
		}
	}
	return netip.AddrFrom4(b)
}

// NewAddrMask masks a with m and returns the pair.
func NewAddrMask(a, m netip.Addr) AddrMask {
	return AddrMask{Addr: andAddr(a, m), Mask: m}
}

// FromPrefix converts a prefix to an AddrMask.
func FromPrefix(p netip.Prefix) AddrMask {
	f := IPv4
	if p.Addr().Is6() {
		f = IPv6
	}
	return NewAddrMask(p.Addr(), MaskFromBits(f, p.Bits()))
}

func andAddr(a, m netip.Addr) netip.Addr {
	if a.Is4() {
		x, y := a.As4(), m.As4()
		for i := range x {
			x[i] &= y[i]
		}
		return netip.AddrFrom4(x)
	}
	x, y := a.As16(), m.As16()
	for i := range x {
		x[i] &= y[i]
	}
	return netip.AddrFrom16(x)
}

// Bits returns the prefix length of the mask, or -1 if it is not contiguous.
func (am AddrMask) Bits() int {
	b := am.Mask.AsSlice()
	n := 0
	seenZero := false
	for _, x := range b {
		if seenZero && x != 0 {
			return -1
		}
		ones := bits.LeadingZeros8(^x)
		if x<<ones != 0 {
			return -1
		}
		n += ones
		if ones < 8 {
			seenZero = true
		}
	}
	return n
}

// IsAny reports whether the mask is all zeros (matches every address).
func (am AddrMask) IsAny() bool {
	return !am.Mask.IsValid() || am.Mask.IsUnspecified()
}

// Contains reports whether a matches the address/mask pair.
func (am AddrMask) Contains(a netip.Addr) bool {
	if am.IsAny() {
		return true
	}
	if a.Is4() != am.Addr.Is4() {
		return false
	}
	return andAddr(a, am.Mask) == am.Addr
}

// Prefix returns the pair as a prefix when the mask is contiguous.
func (am AddrMask) Prefix() (netip.Prefix, bool) {
	n := am.Bits()
	if n < 0 {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(am.Addr, n), true
}

// String formats the pair as iptables-save does: addr/len, or addr/mask for a
// non-contiguous IPv4 mask.
func (am AddrMask) String() string {
	n := am.Bits()
	if n >= 0 {
		return am.Addr.String() + "/" + itoa(n)
	}
	return am.Addr.String() + "/" + am.Mask.String()
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
