package xt

import "math/bits"

// The kernel's Jenkins hash (include/linux/jhash.h), used where rampart
// must reproduce a kernel choice exactly (cluster's node, NAT's address in
// a range).

// jhashFinal is the kernel's __jhash_final.
func jhashFinal(a, b, c uint32) uint32 {
	c ^= b
	c -= bits.RotateLeft32(b, 14)
	a ^= c
	a -= bits.RotateLeft32(c, 11)
	b ^= a
	b -= bits.RotateLeft32(a, 25)
	c ^= b
	c -= bits.RotateLeft32(b, 16)
	a ^= c
	a -= bits.RotateLeft32(c, 4)
	b ^= a
	b -= bits.RotateLeft32(a, 14)
	c ^= b
	c -= bits.RotateLeft32(b, 24)
	return c
}

// jhashMix is the kernel's __jhash_mix.
func jhashMix(a, b, c uint32) (uint32, uint32, uint32) {
	a -= c
	a ^= bits.RotateLeft32(c, 4)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 6)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 8)
	b += a
	a -= c
	a ^= bits.RotateLeft32(c, 16)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 19)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 4)
	b += a
	return a, b, c
}

const jhashInitval = 0xdeadbeef

// jhash1Word is the kernel's jhash_1word.
func jhash1Word(a, initval uint32) uint32 {
	iv := initval + jhashInitval + 1<<2
	return jhashFinal(a+iv, iv, iv)
}

// jhash2 is the kernel's jhash2 over 32-bit words.
func jhash2(k []uint32, initval uint32) uint32 {
	a := jhashInitval + uint32(len(k))<<2 + initval
	b, c := a, a
	for len(k) > 3 {
		a += k[0]
		b += k[1]
		c += k[2]
		a, b, c = jhashMix(a, b, c)
		k = k[3:]
	}
	switch len(k) {
	case 3:
		c += k[2]
		fallthrough
	case 2:
		b += k[1]
		fallthrough
	case 1:
		a += k[0]
		c = jhashFinal(a, b, c)
	}
	return c
}

// clusterHash is xt_cluster_hash: the jhash of the original source
// address, its bytes read as the host's (little-endian, x86) 32-bit words,
// scaled into [0, TotalNodes) by reciprocal_scale.
