package xt

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// NAT range flags (NF_NAT_RANGE_*).
const (
	NATMapIPs          uint16 = 1 << 0
	NATProtoSpecified  uint16 = 1 << 1
	NATProtoRandom     uint16 = 1 << 2
	NATPersistent      uint16 = 1 << 3
	NATProtoRandomFull uint16 = 1 << 4
	NATProtoOffset     uint16 = 1 << 5
)

// NATRange is the address and port range of the NAT targets (SNAT, DNAT,
// MASQUERADE, REDIRECT), as nf_nat_range2.
type NATRange struct {
	Flags            uint16
	MinAddr, MaxAddr netip.Addr
	MinPort, MaxPort uint16
	BasePort         uint16 // with NATProtoOffset
	// NoBase is set for the targets whose kernel structure has no base
	// port (SNAT, MASQUERADE): iptables shows the offset as "/0". The
	// parsed base is kept for lossless (state file) output only.
	NoBase bool
}

// natPortOK reports whether a rule's protocol allows a port range: the
// protocol number as given, inverted or not, as iptables checks it.
func natPortOK(ctx *Context) bool {
	switch ctx.Rule.Proto {
	case 6, 17, 132, 33, 1:
		return true
	}
	return false
}

// natServicePort is getservbyname(name, NULL).
func natServicePort(name string) (uint16, bool) {
	for _, p := range []string{"tcp", "udp", "sctp", "dccp"} {
		if v, ok := ServicePort(name, p); ok {
			return v, true
		}
	}
	return 0, false
}

// natParsePorts parses PORT[-PORT[/BASE]] into r, as libxt_NAT's parse_ports.
func natParsePorts(arg string, portOK bool, r *NATRange) error {
	if !portOK {
		return Errorf("Need TCP, UDP, SCTP or DCCP with port specification")
	}
	r.Flags |= NATProtoSpecified
	port, end, ok := tgStrtoul(arg)
	if !ok || port > 0xFFFF {
		p, found := natServicePort(arg)
		if !found {
			return Errorf("Port `%s' not valid", arg)
		}
		port, end = uint64(p), ""
	}
	switch {
	case end == "":
		r.MinPort, r.MaxPort = uint16(port), uint16(port)
		return nil
	case end[0] == '-':
		arg = end[1:]
	case end[0] == ':':
		return Errorf("Invalid port:port syntax - use dash")
	default:
		return Errorf("Garbage after port value: `%s'", end)
	}
	maxPort, end, ok := tgStrtoul(arg)
	if !ok || maxPort > 0xFFFF {
		return Errorf("Port `%s' not valid", arg)
	}
	if maxPort < port {
		return Errorf("Port range `%s' funky", arg)
	}
	r.MinPort, r.MaxPort = uint16(port), uint16(maxPort)
	switch {
	case end == "":
		return nil
	case end[0] == '/':
		arg = end[1:]
	default:
		return Errorf("Garbage after port range: `%s'", end)
	}
	base, _, ok := tgStrtoul(arg)
	if !ok || base < 1 || base > 0xFFFF {
		p, found := natServicePort(arg)
		if !found {
			return Errorf("Port `%s' not valid", arg)
		}
		base = uint64(p)
	}
	r.Flags |= NATProtoOffset
	r.BasePort = uint16(base)
	return nil
}

// natInetPton is inet_pton for the family.
func natInetPton(s string, f ruleset.Family) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	if f == ruleset.IPv6 {
		return a, a.Is6()
	}
	return a, a.Is4()
}

// natParseTo parses [ADDR[-ADDR]][:PORT[-PORT[/BASE]]] (IPv6 addresses in
// brackets when ports follow) as libxt_NAT's parse_to.
func natParseTo(arg string, portOK bool, f ruleset.Family, r *NATRange) error {
	var start string
	colon := -1 // index in arg
	if i := strings.IndexByte(arg, '['); i < 0 {
		start = arg
		colon = strings.IndexByte(arg, ':')
		if colon >= 0 && strings.IndexByte(arg[colon+1:], ':') >= 0 {
			colon = -1
		}
	} else {
		rest := arg[i+1:]
		end := strings.IndexByte(rest, ']')
		if end < 0 || f == ruleset.IPv4 {
			return Errorf("Invalid address format")
		}
		start = rest[:end]
		endAbs := i + 1 + end
		if c := strings.IndexByte(arg[endAbs+1:], ':'); c >= 0 {
			colon = endAbs + 1 + c
		}
	}
	if colon >= 0 {
		if err := natParsePorts(arg[colon+1:], portOK, r); err != nil {
			return err
		}
		// Starts with a colon or "[]:": no address.
		if colon == 0 || colon == 2 {
			return nil
		}
		if !strings.Contains(arg, "[") {
			start = arg[:colon]
		}
	}
	r.Flags |= NATMapIPs
	lo, hi, dash := strings.Cut(start, "-")
	a, ok := natInetPton(lo, f)
	if !ok {
		return Errorf("Bad IP address \"%s\"", lo)
	}
	r.MinAddr, r.MaxAddr = a, a
	if dash {
		b, ok := natInetPton(hi, f)
		if !ok {
			return Errorf("Bad IP address \"%s\"", hi)
		}
		r.MaxAddr = b
	}
	return nil
}

// rangeString is libxt_NAT's sprint_range.
func (r *NATRange) rangeString(f ruleset.Family, lossless bool) string {
	var b strings.Builder
	brackets := f == ruleset.IPv6 && r.Flags&NATProtoSpecified != 0
	if r.Flags&NATMapIPs != 0 {
		if brackets {
			b.WriteByte('[')
		}
		b.WriteString(r.MinAddr.String())
		if r.MaxAddr != r.MinAddr {
			b.WriteString("-" + r.MaxAddr.String())
		}
		if brackets {
			b.WriteByte(']')
		}
	}
	if r.Flags&NATProtoSpecified != 0 {
		b.WriteString(":" + strconv.Itoa(int(r.MinPort)))
		if r.MaxPort != r.MinPort {
			b.WriteString("-" + strconv.Itoa(int(r.MaxPort)))
		}
		if r.Flags&NATProtoOffset != 0 {
			base := r.BasePort
			if r.NoBase && !lossless {
				base = 0
			}
			b.WriteString("/" + strconv.Itoa(int(base)))
		}
	}
	return b.String()
}

// write is libxt_NAT's __NAT_print.
func (r *NATRange) write(b *strings.Builder, fm ruleset.Fmt, rangeOpt, flagPfx string, skipColon bool) {
	if s := r.rangeString(fm.Family, fm.Lossless); s != "" {
		if skipColon && s[0] == ':' {
			s = s[1:]
		}
		b.WriteString(" " + rangeOpt + s)
	}
	if r.Flags&NATProtoRandom != 0 {
		b.WriteString(" " + flagPfx + "random")
	}
	if r.Flags&NATProtoRandomFull != 0 {
		b.WriteString(" " + flagPfx + "random-fully")
	}
	if r.Flags&NATPersistent != 0 {
		b.WriteString(" " + flagPfx + "persistent")
	}
}

// natFlag handles the flag options common to the NAT targets.
func natFlag(r *NATRange, opt string) {
	switch opt {
	case "random":
		r.Flags |= NATProtoRandom
	case "random-fully":
		r.Flags |= NATProtoRandomFull
	case "persistent":
		r.Flags |= NATPersistent
	}
}

// Snat is the SNAT target (-t nat, POSTROUTING and INPUT).
type Snat struct {
	Family ruleset.Family
	Range  NATRange
	set    bool
}

func init() {
	for _, f := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		fam := f
		Register(&Def{Name: "SNAT", Family: fam, Target: true,
			Options: []Option{{Name: "to-source", Arg: ReqArg}, {Name: "random"}, {Name: "random-fully"}, {Name: "persistent"}},
			New:     func() Parser { return &Snat{Family: fam} }})
	}
}

// Name implements ruleset.Extension.
func (t *Snat) Name() string { return "SNAT" }

// Parse implements Parser.
func (t *Snat) Parse(ctx *Context, opt, arg string, _ bool) error {
	if opt == "to-source" {
		t.set = true
		return natParseTo(arg, natPortOK(ctx), t.Family, &t.Range)
	}
	natFlag(&t.Range, opt)
	return nil
}

// Final implements Parser.
func (t *Snat) Final(ctx *Context) (ruleset.Extension, error) {
	if !t.set {
		return nil, Errorf("SNAT: option \"--to-source\" must be specified\n")
	}
	if err := tgKernelPlace(ctx, "nat", "POSTROUTING", "INPUT"); err != nil {
		return nil, err
	}
	t.Range.NoBase = true
	return t, nil
}

// Save implements ruleset.Extension.
func (t *Snat) Save(b *strings.Builder, f ruleset.Fmt) {
	t.Range.write(b, f, "--to-source ", "--", false)
}

// Print implements ruleset.Extension.
func (t *Snat) Print(b *strings.Builder, f ruleset.Fmt) {
	t.Range.write(b, f, "to:", "", false)
}

// Act implements pkt.Actor as xt_nat's xt_snat_target_v0 does (iptables-nft
// loads revision 0 for IPv4, 1 for IPv6; both are nf_nat_setup_info with
// NF_NAT_MANIP_SRC): see natBind. The nat table's verdict is NF_ACCEPT.
func (t *Snat) Act(c *pkt.Ctx) pkt.Verdict {
	natBind(c, "SNAT", false, &t.Range)
	return pkt.Accept
}

// natRandomAll is NF_NAT_RANGE_PROTO_RANDOM_ALL.
const natRandomAll = NATProtoRandom | NATProtoRandomFull

// natBind is nf_nat_setup_info for a NAT target with range r on the
// packet's new conntrack entry, as get_unique_tuple chooses the new tuple:
//
//   - SNAT without --random/--random-fully keeps the tuple when it is
//     already in the range and not in use (nothing is recorded then, as the
//     kernel changes nothing and sets no IPS_SRC_NAT);
//   - the address is find_best_ips_proto's: the only one of the range, or
//     for a range a jhash2 of the source address seeded with the last word
//     of the destination (0 with --persistent; conntrack zone 0), scaled
//     onto the range word by word - deterministic, computed exactly;
//   - the port (or ICMP id) is kept when it is in the range and free (or
//     the range is a single port), when no range is given and it is free,
//     and for DNAT without a range; with a /BASE offset it is the kernel's
//     first candidate min + (port - base) % size; otherwise the kernel
//     starts from a random offset, and the packet is marked undecided
//     (the conntrack model then takes the lowest free port).
//
// The binding goes to c.NAT (conntrack.Table.SetNAT). Not modelled: an
// earlier mapping of the same source reused by find_appropriate_src
// (nf_nat_bysource), and tuples in use by entries the model does not know.
// Without a conntrack entry in the original direction the nat table would
// not run; nothing is done.
func natBind(c *pkt.Ctx, name string, dst bool, r *NATRange) {
	conn := c.Conn
	if conn == nil || c.CTDir != 0 {
		return
	}
	// The tuple as the packet now looks: the inverse of the reply tuple.
	rep := conn.Reply
	cur := pkt.Tuple{Src: rep.Dst, Dst: rep.Src, SrcPort: rep.DstPort, DstPort: rep.SrcPort, Proto: rep.Proto}
	icmp := rep.Proto == pkt.ProtoICMP || rep.Proto == pkt.ProtoICMPv6
	hasPorts := icmp
	switch rep.Proto {
	case pkt.ProtoTCP, pkt.ProtoUDP, pkt.ProtoUDPLite, pkt.ProtoSCTP, 33:
		hasPorts = true
	}
	// The manipulated address and port (ICMP: the id, kept in SrcPort in
	// both directions).
	curAddr, port := cur.Src, cur.SrcPort
	if dst {
		curAddr, port = cur.Dst, cur.DstPort
	}
	if icmp {
		port = rep.SrcPort
	}
	randomAll := r.Flags&natRandomAll != 0
	spec := r.Flags&NATProtoSpecified != 0
	portIn := !spec || !hasPorts || port >= r.MinPort && port <= r.MaxPort
	used := func(addr netip.Addr) bool {
		if c.Conns == nil || icmp || !hasPorts {
			return false
		}
		// nf_nat_used_tuple: the reply tuple of the new tuple is taken.
		t := pkt.Tuple{Src: cur.Dst, Dst: addr, SrcPort: cur.DstPort, DstPort: port, Proto: cur.Proto}
		if dst {
			t = pkt.Tuple{Src: addr, Dst: cur.Src, SrcPort: port, DstPort: cur.SrcPort, Proto: cur.Proto}
		}
		_, _, found := c.Conns.Lookup(t, c.Now)
		return found
	}
	if !dst && !randomAll {
		inRange := portIn && (r.Flags&NATMapIPs == 0 || natAddrIn(curAddr, r.MinAddr, r.MaxAddr))
		if inRange && !used(curAddr) {
			return
		}
	}
	addr := curAddr
	if r.Flags&NATMapIPs != 0 {
		addr = natBestIP(cur, r)
	}
	keep, random := true, false
	if hasPorts {
		single := spec && r.MinPort == r.MaxPort
		offset := spec && r.Flags&NATProtoOffset != 0
		switch {
		case randomAll:
			keep = dst && !spec && !icmp
			random = !keep && !offset && !single
		case offset:
			keep = false
		case spec:
			keep = portIn && (single || !used(addr))
			random = !keep && !single
		default:
			keep = !used(addr) || dst && !icmp
			random = !keep
		}
	}
	if keep && addr == curAddr {
		return
	}
	var lo, hi uint16
	switch {
	case keep:
	case spec && r.Flags&NATProtoOffset != 0:
		size := uint32(r.MaxPort) - uint32(r.MinPort) + 1
		lo = uint16(uint32(r.MinPort) + uint32(port-r.BasePort)%size)
		hi = lo
	case spec:
		lo, hi = r.MinPort, r.MaxPort
	}
	if random {
		c.Undecide(name + ": the kernel picks the new port at random")
	}
	if c.NAT != nil {
		c.NAT.BindNAT(c, dst, addr, lo, hi)
	}
}

// natAddrIn is nf_nat_inet_in_range's address test.
func natAddrIn(a, lo, hi netip.Addr) bool {
	return a.Compare(lo) >= 0 && a.Compare(hi) <= 0
}

// natWords returns an address as nf_inet_addr's four 32-bit words, loaded
// in the byte order of the kernel's CPU (little-endian, as on x86-64 and
// arm64): IPv4 fills the first word.
func natWords(a netip.Addr) (w [4]uint32) {
	if a.Is4() {
		b := a.As4()
		w[0] = binary.LittleEndian.Uint32(b[:])
		return w
	}
	b := a.As16()
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return w
}

// natBestIP is find_best_ips_proto for a range of addresses.
func natBestIP(cur pkt.Tuple, r *NATRange) netip.Addr {
	if r.MinAddr == r.MaxAddr {
		return r.MinAddr
	}
	max := 0
	if r.MinAddr.Is6() {
		max = 3
	}
	src, dstw := natWords(cur.Src), natWords(cur.Dst)
	minw, maxw := natWords(r.MinAddr), natWords(r.MaxAddr)
	persistent := r.Flags&NATPersistent != 0
	seed := dstw[max] // ^ zone id 0
	if persistent {
		seed = 0
	}
	j := natJhash2(src, seed)
	var out [4]uint32
	full := false
	for i := 0; i <= max; i++ {
		var lo, dist uint32
		if !full {
			lo = bits.ReverseBytes32(minw[i])
			dist = bits.ReverseBytes32(maxw[i]) - lo + 1
		} else {
			lo, dist = 0, ^uint32(0)
		}
		// reciprocal_scale(j, dist)
		v := lo + uint32(uint64(j)*uint64(dist)>>32)
		out[i] = bits.ReverseBytes32(v)
		if out[i] != maxw[i] {
			full = true
		}
		if !persistent {
			j ^= dstw[i]
		}
	}
	if max == 0 {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], out[0])
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	for i, w := range out {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	return netip.AddrFrom16(b)
}

// natJhash2 is the kernel's jhash2 (lookup3) over four words.
func natJhash2(k [4]uint32, initval uint32) uint32 {
	return jhash2(k[:], initval)
}
