package xt

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// Cluster is the cluster match: the node that handles a connection is a
// jhash of its original source address, modulo TotalNodes; it matches
// when that node's bit is in NodeMask.
type Cluster struct {
	TotalNodes uint32
	NodeMask   uint32
	HashSeed   uint32
	Invert     bool
	given      uint32 // option ids given (1 << id)
}

// Cluster option ids, in libxt_cluster's table order.
const (
	clTotal = iota
	clNode
	clMask
	clSeed
)

func init() {
	Register(&Def{Name: "cluster", New: func() Parser { return &Cluster{} },
		Options: []Option{
			{Name: "cluster-total-nodes", Arg: ReqArg},
			{Name: "cluster-local-node", Arg: ReqArg, Invert: true},
			{Name: "cluster-local-nodemask", Arg: ReqArg, Invert: true},
			{Name: "cluster-hash-seed", Arg: ReqArg},
		}})
}

// Name implements ruleset.Extension.
func (m *Cluster) Name() string { return "cluster" }

// Parse implements Parser.
func (m *Cluster) Parse(_ *Context, opt, arg string, inv bool) error {
	switch opt {
	case "cluster-total-nodes":
		v, err := ParseOptUint("cluster", opt, arg, 1, 32)
		if err != nil {
			return err
		}
		m.TotalNodes = uint32(v)
		m.given |= 1 << clTotal
	case "cluster-local-node":
		v, err := ParseOptUint("cluster", opt, arg, 1, 32)
		if err != nil {
			return err
		}
		m.NodeMask = 1 << (v - 1)
		m.Invert = m.Invert || inv
		m.given |= 1 << clNode
	case "cluster-local-nodemask":
		v, err := ParseOptUint("cluster", opt, arg, 1, 32)
		if err != nil {
			return err
		}
		m.NodeMask = uint32(v)
		m.Invert = m.Invert || inv
		m.given |= 1 << clMask
	case "cluster-hash-seed":
		v, err := ParseOptUint("cluster", opt, arg, 0, 0xFFFFFFFF)
		if err != nil {
			return err
		}
		m.HashSeed = uint32(v)
		m.given |= 1 << clSeed
	}
	return nil
}

// Final implements Parser: cluster_check, then libxtables' mandatory and
// exclusion checks in option table order.
func (m *Cluster) Final(*Context) (ruleset.Extension, error) {
	g := m.given
	if t := uint32(1<<clTotal | 1<<clNode | 1<<clSeed); g&t == t {
		if uint64(m.NodeMask) >= 1<<m.TotalNodes {
			return nil, Errorf("cluster match: `--cluster-local-node' must be <= `--cluster-total-nodes'")
		}
	} else if t := uint32(1<<clTotal | 1<<clMask | 1<<clSeed); g&t == t {
		if uint64(m.NodeMask) >= 1<<m.TotalNodes {
			return nil, Errorf("cluster match: `--cluster-local-nodemask' too big for `--cluster-total-nodes'")
		}
	} else if g&(1<<clNode|1<<clMask) == 0 {
		return nil, Errorf("cluster match: `--cluster-local-node' or`--cluster-local-nodemask' is missing")
	}
	if g&(1<<clTotal) == 0 {
		return nil, Errorf("cluster: option \"--cluster-total-nodes\" must be specified\n")
	}
	if g&(1<<clNode) != 0 && g&(1<<clMask) != 0 {
		return nil, Errorf("cluster: option \"--cluster-local-node\" cannot be used together with \"--cluster-local-nodemask\".\n")
	}
	if g&(1<<clSeed) == 0 {
		return nil, Errorf("cluster: option \"--cluster-hash-seed\" must be specified\n")
	}
	if uint64(m.NodeMask) >= 1<<m.TotalNodes {
		return nil, Kernel("Numerical argument out of domain")
	}
	return m, nil
}

// Save implements ruleset.Extension.
func (m *Cluster) Save(b *strings.Builder, _ ruleset.Fmt) {
	fmt.Fprintf(b, "%s --cluster-local-nodemask 0x%08x --cluster-total-nodes %d --cluster-hash-seed 0x%08x",
		Bang(m.Invert), m.NodeMask, m.TotalNodes, m.HashSeed)
}

// Print implements ruleset.Extension.
func (m *Cluster) Print(b *strings.Builder, _ ruleset.Fmt) {
	inv := ""
	if m.Invert {
		inv = "!"
	}
	fmt.Fprintf(b, " cluster %snode_mask=0x%08x total_nodes=%d hash_seed=0x%08x", inv, m.NodeMask, m.TotalNodes, m.HashSeed)
}

func (m *Cluster) clusterHash(src [16]byte, v4 bool) uint32 {
	var h uint32
	if v4 {
		h = jhash1Word(binary.LittleEndian.Uint32(src[12:]), m.HashSeed)
	} else {
		var w [4]uint32
		for i := range w {
			w[i] = binary.LittleEndian.Uint32(src[4*i:])
		}
		h = jhash2(w[:], m.HashSeed)
	}
	return uint32(uint64(h) * uint64(m.TotalNodes) >> 32)
}

// Match implements pkt.Matcher as xt_cluster_mt does: no conntrack entry
// (untracked, invalid) never matches; otherwise the node is the hash of
// the entry's original source address. Approximation: the kernel hashes
// the master connection of an expected (RELATED) one, which pkt.Conn does
// not record; rampart hashes the entry itself. The match's side effect of
// turning a link-layer multicast packet into PACKET_HOST is not modelled.
func (m *Cluster) Match(c *pkt.Ctx) bool {
	if c.Conn == nil {
		return false
	}
	src := c.Conn.Orig.Src
	h := m.clusterHash(src.As16(), src.Is4())
	return (uint32(1)<<h&m.NodeMask != 0) != m.Invert
}
