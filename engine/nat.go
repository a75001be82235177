package engine

import (
	"encoding/binary"
	"net/netip"

	"github.com/rampartfw/rampart/conntrack"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// natManip applies the NAT of the packet's connection at a hook, as
// nf_nat_packet does after the nat chains: the destination is rewritten at
// PREROUTING and OUTPUT, the source at INPUT and POSTROUTING, for the
// original direction when the entry has that kind of NAT and for the reply
// direction when it has the other kind (un-NAT of replies). The packet
// then looks like the inverse of the other direction's tuple. It reports
// whether the destination changed (the kernel then routes again).
func natManip(c *pkt.Ctx) bool {
	conn := c.Conn
	if conn == nil || c.CTState == pkt.CTUntracked {
		return false
	}
	dstManip := c.Hook == ruleset.PreRouting || c.Hook == ruleset.LocalOut
	want := conntrack.IPS_DST_NAT
	if !dstManip {
		want = conntrack.IPS_SRC_NAT
	}
	if c.CTDir == 1 {
		// Replies get the opposite manipulation.
		if want == conntrack.IPS_DST_NAT {
			want = conntrack.IPS_SRC_NAT
		} else {
			want = conntrack.IPS_DST_NAT
		}
	}
	if conn.Status&want == 0 {
		return false
	}
	other := conn.Reply
	if c.CTDir == 1 {
		other = conn.Orig
	}
	p := c.P
	if dstManip {
		if p.Dst == other.Src && p.DstPort == other.SrcPort {
			return false
		}
		setAddr(p, false, other.Src)
		setPort(p, false, other.SrcPort)
		return true
	}
	if p.Src != other.Dst || p.SrcPort != other.DstPort {
		setAddr(p, true, other.Dst)
		setPort(p, true, other.DstPort)
	}
	return false
}

func setAddr(p *pkt.Packet, src bool, a netip.Addr) {
	if !a.IsValid() || a.Is4() != (p.Family == ruleset.IPv4) {
		return
	}
	if p.Family == ruleset.IPv4 {
		off := 16
		if src {
			off = 12
			p.Src = a
		} else {
			p.Dst = a
		}
		b := a.As4()
		copy(p.Raw[off:off+4], b[:])
		return
	}
	off := 24
	if src {
		off = 8
		p.Src = a
	} else {
		p.Dst = a
	}
	b := a.As16()
	copy(p.Raw[off:off+16], b[:])
}

func setPort(p *pkt.Packet, src bool, port uint16) {
	if p.L4 < 0 {
		return
	}
	switch p.Proto {
	case pkt.ProtoTCP, pkt.ProtoUDP, pkt.ProtoUDPLite, pkt.ProtoSCTP:
		off := p.L4 + 2
		if src {
			off = p.L4
			p.SrcPort = port
		} else {
			p.DstPort = port
		}
		if off+2 <= len(p.Raw) {
			binary.BigEndian.PutUint16(p.Raw[off:off+2], port)
		}
	case pkt.ProtoICMP, pkt.ProtoICMPv6:
		// The ICMP id is the "port" of both directions of a ping.
		if p.L4+6 <= len(p.Raw) && !p.IsICMPError() {
			p.ICMPID = port
			binary.BigEndian.PutUint16(p.Raw[p.L4+4:p.L4+6], port)
		}
	}
}

// reroute is the rest of a packet's path after its destination changed at
// PREROUTING (in: the interface it came in on) or OUTPUT.
func (h *Host) reroute(hook ruleset.Hook, in string, dst netip.Addr) Path {
	local := h.IsLocal(dst)
	if hook == ruleset.PreRouting {
		switch {
		case local:
			return mkPath("", HookStep{ruleset.LocalIn, in, ""})
		case !h.Forwarding:
			return mkPath("forwarding is off")
		}
		out := h.Lookup(dst)
		if out == "" {
			return mkPath("no route to " + dst.String())
		}
		return mkPath("", HookStep{ruleset.Forward, in, out}, HookStep{ruleset.PostRouting, "", out})
	}
	if local {
		return mkPath("", HookStep{ruleset.PostRouting, "", "lo"}, HookStep{ruleset.PreRouting, "lo", ""}, HookStep{ruleset.LocalIn, "lo", ""})
	}
	out := h.Lookup(dst)
	if out == "" {
		return mkPath("no route to " + dst.String())
	}
	return mkPath("", HookStep{ruleset.PostRouting, "", out})
}
