package xt

import (
	"fmt"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// ClusterIP is the CLUSTERIP target (IPv4). Linux removed the module in
// 6.3: iptables 1.8.9 (nf_tables) warns that revision 0 is not supported
// and the kernel refuses every such rule with ENOENT, as this does.
type ClusterIP struct {
	New        bool
	HashMode   uint8 // 1 sourceip, 2 sourceip-sourceport, 3 sourceip-sourceport-destport
	MAC        [6]byte
	TotalNodes uint16
	LocalNode  uint16
	HashInit   uint32
	seen       map[string]bool
	warned     bool
}

var clusteripModes = []string{"", "sourceip", "sourceip-sourceport", "sourceip-sourceport-destport"}

func init() {
	Register(&Def{Name: "CLUSTERIP", Family: ruleset.IPv4, Target: true,
		New: func() Parser { return &ClusterIP{seen: map[string]bool{}} },
		// Invert is allowed through so that the parser's refusal of "!"
		// comes after the load warning, as in iptables.
		Options: []Option{{Name: "new", Invert: true}, {Name: "hashmode", Arg: ReqArg, Invert: true},
			{Name: "clustermac", Arg: ReqArg, Invert: true}, {Name: "total-nodes", Arg: ReqArg, Invert: true},
			{Name: "local-node", Arg: ReqArg, Invert: true}, {Name: "hash-init", Arg: ReqArg, Invert: true}}})
}

// Name implements ruleset.Extension.
func (t *ClusterIP) Name() string { return "CLUSTERIP" }

func (t *ClusterIP) warn(ctx *Context) {
	if !t.warned && ctx.Warn != nil {
		ctx.Warn("Warning: Extension CLUSTERIP revision 0 not supported, missing kernel module?")
	}
	t.warned = true
}

// Parse implements Parser.
func (t *ClusterIP) Parse(ctx *Context, opt, arg string, inv bool) error {
	t.warn(ctx)
	if inv {
		return Errorf("CLUSTERIP: option \"--%s\" cannot be inverted.\n", opt)
	}
	t.seen[opt] = true
	switch opt {
	case "new":
		t.New = true
	case "hashmode":
		for i, m := range clusteripModes {
			if i > 0 && m == arg {
				t.HashMode = uint8(i)
				return nil
			}
		}
		return Errorf("Unknown hashmode \"%s\"", arg)
	case "clustermac":
		mac, ok := parseMAC(arg)
		if !ok {
			return Errorf("Invalid MAC address specified.")
		}
		if mac[0]&1 == 0 {
			return Errorf("MAC has to be a multicast ethernet address")
		}
		t.MAC = mac
	case "total-nodes", "local-node":
		v, err := tgUint("CLUSTERIP", opt, arg, 0, 16)
		if err != nil {
			return err
		}
		if opt == "total-nodes" {
			t.TotalNodes = uint16(v)
		} else {
			t.LocalNode = uint16(v)
		}
	case "hash-init":
		v, err := tgUint("CLUSTERIP", opt, arg, 0, 0xFFFFFFFF)
		if err != nil {
			return err
		}
		t.HashInit = uint32(v)
	}
	return nil
}

// parseMAC parses six colon-separated hex bytes (xtables_parse_mac).
func parseMAC(s string) ([6]byte, bool) {
	var m [6]byte
	if len(s) != 17 {
		return m, false
	}
	for i := 0; i < 6; i++ {
		if i > 0 && s[i*3-1] != ':' {
			return m, false
		}
		hi, lo := s[i*3], s[i*3+1]
		if !isHex(hi) || !isHex(lo) {
			return m, false
		}
		m[i] = markDigitVal(lower(hi))<<4 | markDigitVal(lower(lo))
	}
	return m, true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 32
	}
	return c
}

// Final implements Parser.
func (t *ClusterIP) Final(ctx *Context) (ruleset.Extension, error) {
	t.warn(ctx)
	if len(t.seen) != 0 {
		for _, o := range []string{"new", "hashmode", "clustermac", "total-nodes", "local-node"} {
			if !t.seen[o] {
				return nil, Errorf("CLUSTERIP target: Invalid parameter combination")
			}
		}
	}
	return nil, Kernel("No such file or directory")
}

// Save implements ruleset.Extension.
func (t *ClusterIP) Save(b *strings.Builder, _ ruleset.Fmt) {
	if !t.New {
		return
	}
	fmt.Fprintf(b, " --new --hashmode %s --clustermac %s --total-nodes %d --local-node %d --hash-init %d",
		clusteripModes[t.HashMode%4], t.macString(), t.TotalNodes, t.LocalNode, t.HashInit)
}

func (t *ClusterIP) macString() string {
	m := t.MAC
	return fmt.Sprintf("%02X:%02X:%02X:%02X:%02X:%02X", m[0], m[1], m[2], m[3], m[4], m[5])
}

// Print implements ruleset.Extension.
func (t *ClusterIP) Print(b *strings.Builder, _ ruleset.Fmt) {
	if !t.New {
		b.WriteString(" CLUSTERIP")
		return
	}
	fmt.Fprintf(b, " CLUSTERIP hashmode=%s clustermac=%s total_nodes=%d local_node=%d hash_init=%d",
		clusteripModes[t.HashMode%4], t.macString(), t.TotalNodes, t.LocalNode, t.HashInit)
}

// Act implements pkt.Actor. No such rule can be loaded (see ClusterIP);
// the cluster membership a hash decides is unknown here.
func (t *ClusterIP) Act(c *pkt.Ctx) pkt.Verdict {
	c.Undecide("CLUSTERIP: not supported by this kernel")
	return pkt.Drop
}
