package conntrack

import (
	"encoding/binary"
	"time"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// TCP conntrack states (enum tcp_conntrack) and the timeout slots after
// them.
const (
	sNO      uint8 = iota // NONE
	sSS                   // SYN_SENT
	sSR                   // SYN_RECV
	sES                   // ESTABLISHED
	sFW                   // FIN_WAIT
	sCW                   // CLOSE_WAIT
	sLA                   // LAST_ACK
	sTW                   // TIME_WAIT
	sCL                   // CLOSE
	sS2                   // SYN_SENT2
	sIV                   // TCP_CONNTRACK_MAX: invalid
	sIG                   // TCP_CONNTRACK_IGNORE
	tRetrans              // TCP_CONNTRACK_RETRANS (timeout only)
	tUnack                // TCP_CONNTRACK_UNACK (timeout only)
	tcpTimeoutMax
)

var tcpStateNames = [...]string{"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"}

// tcpTimeouts are the default nf_conntrack_tcp_timeout_* sysctls.
var tcpTimeouts = [tcpTimeoutMax]time.Duration{
	sSS:      2 * time.Minute,
	sSR:      60 * time.Second,
	sES:      5 * 24 * time.Hour,
	sFW:      2 * time.Minute,
	sCW:      60 * time.Second,
	sLA:      30 * time.Second,
	sTW:      2 * time.Minute,
	sCL:      10 * time.Second,
	sS2:      2 * time.Minute,
	tRetrans: 5 * time.Minute,
	tUnack:   5 * time.Minute,
}

// Sysctls modelled with their defaults.
const (
	tcpLoose            = true  // nf_conntrack_tcp_loose=1
	tcpBeLiberal        = false // nf_conntrack_tcp_be_liberal=0
	tcpMaxRetrans       = 3     // nf_conntrack_tcp_max_retrans
	tcpIgnoreInvalidRst = false // nf_conntrack_tcp_ignore_invalid_rst=0
)

// Flag sets (enum tcp_bit_set), the index into tcp_conntracks.
const (
	tSYN uint8 = iota
	tSYNACK
	tFIN
	tACK
	tRST
	tNONE
)

// TCP header flag bits.
const (
	thFIN = 0x01
	thSYN = 0x02
	thRST = 0x04
	thPSH = 0x08
	thACK = 0x10
	thURG = 0x20
)

// ip_ct_tcp_state flags, and the last_flags bits.
const (
	flagWindowScale      = 0x01
	flagSackPerm         = 0x02
	flagCloseInit        = 0x04
	flagBeLiberal        = 0x08
	flagDataUnack        = 0x10
	flagMaxAckSet        = 0x20
	flagExpChallengeAck  = 0x40
	flagSimultaneousOpen = 0x80
)

// tcpConntracks is tcp_conntracks[2][6][TCP_CONNTRACK_MAX] of Linux 6.x.
var tcpConntracks = [2][6][10]uint8{
	{
		/* ORIGINAL */
		/*          sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2 */
		/*syn*/ {sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2},
		/*synack*/ {sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR},
		/*fin*/ {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
		/*ack*/ {sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV},
		/*rst*/ {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
		/*none*/ {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
	},
	{
		/* REPLY */
		/*          sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2 */
		/*syn*/ {sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2},
		/*synack*/ {sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR},
		/*fin*/ {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
		/*ack*/ {sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG},
		/*rst*/ {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
		/*none*/ {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
	},
}

// tcpValidFlags is tcp_valid_flags: the acceptable combinations of FIN,
// SYN, RST, ACK and URG (PSH, ECE and CWR are always valid).
var tcpValidFlags = [0x40]bool{
	thSYN:                 true,
	thSYN | thURG:         true,
	thSYN | thACK:         true,
	thRST:                 true,
	thRST | thACK:         true,
	thFIN | thACK:         true,
	thFIN | thACK | thURG: true,
	thACK:                 true,
	thACK | thURG:         true,
}

// tcpSeen is struct ip_ct_tcp_state: one direction's window data.
type tcpSeen struct {
	end    uint32 // td_end: max of seq + len
	maxend uint32 // td_maxend: max of ack + max(win,1)
	maxwin uint32 // td_maxwin: max(win)
	maxack uint32 // td_maxack: max of ack
	scale  uint8  // td_scale: window scale factor
	flags  uint8
}

// tcpConn is struct ip_ct_tcp.
type tcpConn struct {
	seen       [2]tcpSeen
	state      uint8
	lastDir    uint8
	retrans    uint8
	lastIndex  uint8
	lastWscale uint8
	lastFlags  uint8
	lastWin    uint16
	lastSeq    uint32
	lastAck    uint32
	lastEnd    uint32
}

func before(a, b uint32) bool { return int32(a-b) < 0 }
func after(a, b uint32) bool  { return before(b, a) }

// tcpSeg is the parsed TCP header of a packet.
type tcpSeg struct {
	seq, ack uint32
	win      uint16
	flags    uint8 // FIN..URG
	end      uint32
	opts     []byte
	bytes    uint32 // skb->len
}

func tcpIndex(f uint8) uint8 {
	switch {
	case f&thRST != 0:
		return tRST
	case f&thSYN != 0:
		if f&thACK != 0 {
			return tSYNACK
		}
		return tSYN
	case f&thFIN != 0:
		return tFIN
	case f&thACK != 0:
		return tACK
	}
	return tNONE
}

// tcpOptions is tcp_options: window scale and SACK permitted from a SYN.
func tcpOptions(opts []byte, s *tcpSeen) {
	length := len(opts)
	if length == 0 {
		return
	}
	s.scale = 0
	s.flags &= flagBeLiberal
	i := 0
	for length > 0 {
		opcode := opts[i]
		i++
		switch opcode {
		case 0: // TCPOPT_EOL
			return
		case 1: // TCPOPT_NOP
			length--
			continue
		}
		if length < 2 {
			return
		}
		opsize := int(opts[i])
		i++
		if opsize < 2 || opsize > length {
			return
		}
		if opcode == 4 && opsize == 2 { // SACK permitted
			s.flags |= flagSackPerm
		} else if opcode == 3 && opsize == 3 { // window scale
			s.scale = min(opts[i], 14)
			s.flags |= flagWindowScale
		}
		i += opsize - 2
		length -= opsize
	}
}

// tcpSack is tcp_sack: the highest right edge of the SACK blocks.
func tcpSack(opts []byte, sack *uint32) {
	length := len(opts)
	if length == 0 {
		return
	}
	// Fast path for timestamp-only option.
	if length == 12 && opts[0] == 1 && opts[1] == 1 && opts[2] == 8 && opts[3] == 10 {
		return
	}
	i := 0
	for length > 0 {
		opcode := opts[i]
		i++
		switch opcode {
		case 0:
			return
		case 1:
			length--
			continue
		}
		if length < 2 {
			return
		}
		opsize := int(opts[i])
		i++
		if opsize < 2 || opsize > length {
			return
		}
		if opcode == 5 && opsize >= 2+8 && (opsize-2)%8 == 0 {
			for j := 0; j < opsize-2; j += 8 {
				tmp := binary.BigEndian.Uint32(opts[i+j+4:])
				if after(tmp, *sack) {
					*sack = tmp
				}
			}
			return
		}
		i += opsize - 2
		length -= opsize
	}
}

// tcpInitSender is tcp_init_sender.
func (tc *tcpConn) initSender(sender, receiver *tcpSeen, s *tcpSeg, dir uint8) {
	sender.end = s.end
	sender.maxend = s.end
	sender.maxwin = uint32(s.win)
	if sender.maxwin == 0 {
		sender.maxwin = 1
	}
	tcpOptions(s.opts, sender)
	// RFC 1323: both sides must send the window scale option to enable
	// window scaling in either direction.
	if dir == DirReply && !(sender.flags&flagWindowScale != 0 && receiver.flags&flagWindowScale != 0) {
		sender.scale = 0
		receiver.scale = 0
	}
}

type tcpAction uint8

const (
	tcpIgnore tcpAction = iota
	tcpInvalid
	tcpAccept
)

// logInvalid is nf_tcp_log_invalid: liberal senders accept everything.
func logInvalid(sender *tcpSeen, ret tcpAction) tcpAction {
	if sender.flags&flagBeLiberal != 0 || tcpBeLiberal {
		return tcpAccept
	}
	return ret
}

const maxAckWinConst = 66000

func maxAckWindow(s *tcpSeen) uint32 {
	if s.maxwin > maxAckWinConst {
		return s.maxwin
	}
	return maxAckWinConst
}

// inWindow is tcp_in_window.
func (tc *tcpConn) inWindow(dir, index uint8, s *tcpSeg) tcpAction {
	sender := &tc.seen[dir]
	receiver := &tc.seen[dir^1]
	seq := s.seq
	ack, sack := s.ack, s.ack
	winRaw := s.win
	win := uint32(winRaw)
	end := s.end
	syn, hasAck, rst := s.flags&thSYN != 0, s.flags&thACK != 0, s.flags&thRST != 0

	if receiver.flags&flagSackPerm != 0 {
		tcpSack(s.opts, &sack)
	}
	// NAT sequence adjustment (seqadj) is not modelled: offset 0.

	if sender.maxwin == 0 {
		// Initialize sender data.
		if syn {
			tc.initSender(sender, receiver, s, dir)
			if !hasAck {
				return tcpAccept // simultaneous open
			}
		} else {
			// Mid-connection: use the data from the packet.
			sender.end = end
			swin := win << sender.scale
			if swin == 0 {
				swin = 1
			}
			sender.maxwin = swin
			sender.maxend = end + sender.maxwin
			if receiver.maxwin == 0 {
				receiver.end = sack
				receiver.maxend = sack
			} else if sack == receiver.end+1 {
				receiver.end++ // likely a reply to a keepalive
			}
		}
	} else if syn && after(end, sender.end) && (tc.state == sSS || tc.state == sSR) {
		// Re-initialised connection: re-init this direction.
		tc.initSender(sender, receiver, s, dir)
		if dir == DirReply && !hasAck {
			return tcpAccept
		}
	}

	if !hasAck {
		ack = receiver.end
		sack = ack
	} else if s.flags&(thACK|thRST) == thACK|thRST && ack == 0 {
		// Broken stacks sending RST+ACK with a zero ack.
		ack = receiver.end
		sack = ack
	}

	if rst && seq == 0 && tc.state == sSS {
		// RST answering a SYN.
		seq = sender.end
		end = seq
	}

	if !before(seq, sender.maxend+1) {
		overshot := end - sender.maxend + 1
		ackOK := after(sack, receiver.end-maxAckWindow(sender)-1)
		inRecvWin := receiver.maxwin != 0 && after(end, sender.end-receiver.maxwin-1)
		if inRecvWin && ackOK && overshot <= receiver.maxwin && before(sack, receiver.end+1) {
			// TCPs sending more than the receive window allows.
			sender.end = end
			sender.flags |= flagDataUnack
			return logInvalid(sender, tcpIgnore)
		}
		return logInvalid(sender, tcpInvalid) // SEQ is over upper bound
	}
	if !before(sack, receiver.end+1) {
		return logInvalid(sender, tcpInvalid) // ACK is over upper bound
	}
	inRecvWin := receiver.maxwin == 0 || after(end, sender.end-receiver.maxwin-1)
	if !inRecvWin {
		return logInvalid(sender, tcpIgnore) // SEQ is under lower bound
	}
	if !after(sack, receiver.end-maxAckWindow(sender)-1) {
		return logInvalid(sender, tcpIgnore) // ACK under lower bound
	}

	if !syn {
		win <<= sender.scale
	}
	// Update sender data.
	swin := win + (sack - ack)
	if sender.maxwin < swin {
		sender.maxwin = swin
	}
	if after(end, sender.end) {
		sender.end = end
		sender.flags |= flagDataUnack
	}
	if hasAck {
		if sender.flags&flagMaxAckSet == 0 {
			sender.maxack = ack
			sender.flags |= flagMaxAckSet
		} else if after(ack, sender.maxack) {
			sender.maxack = ack
		}
	}
	// Update receiver data.
	if receiver.maxwin != 0 && after(end, sender.maxend) {
		receiver.maxwin += end - sender.maxend
	}
	if after(sack+win, receiver.maxend-1) {
		receiver.maxend = sack + win
		if win == 0 {
			receiver.maxend++
		}
	}
	if ack == receiver.end {
		receiver.flags &^= flagDataUnack
	}
	// Check retransmissions.
	if index == tACK {
		if tc.lastDir == dir && tc.lastSeq == seq && tc.lastAck == ack && tc.lastEnd == end && tc.lastWin == winRaw {
			tc.retrans++ // u8, wraps as in the kernel
		} else {
			tc.lastDir = dir
			tc.lastSeq = seq
			tc.lastAck = ack
			tc.lastEnd = end
			tc.lastWin = winRaw
			tc.retrans = 0
		}
	}
	return tcpAccept
}

// handleInvalid is nf_tcp_handle_invalid: an out-of-window FIN or RST
// answering one from the other side shortens an assured entry's timeout.
func (e *entry) tcpHandleInvalid(dir, index uint8, now int64) {
	tc := &e.tcp
	if e.conn.Status&IPS_ASSURED == 0 || e.conn.Status&IPS_FIXED_TIMEOUT != 0 {
		return
	}
	if index != tRST && index != tFIN {
		return
	}
	if tc.lastDir != dir && (tc.lastIndex == tFIN || tc.lastIndex == tRST) {
		expires := e.expires(now)
		if expires < 120*time.Second {
			return
		}
		if timeout := tcpTimeouts[tUnack]; expires > timeout {
			e.deadline = now + int64(timeout)
		}
	} else {
		tc.lastIndex = index
		tc.lastDir = dir
	}
}

// tcpNew is tcp_new: set up a new entry from its first packet.
func (tc *tcpConn) tcpNew(s *tcpSeg) bool {
	newState := tcpConntracks[0][tcpIndex(s.flags)][sNO]
	if newState >= sIV {
		return false // invalid new
	}
	*tc = tcpConn{}
	tc.seen[0].end = s.end
	tc.seen[0].maxwin = uint32(s.win)
	if tc.seen[0].maxwin == 0 {
		tc.seen[0].maxwin = 1
	}
	if newState == sSS {
		tc.seen[0].maxend = tc.seen[0].end
		tcpOptions(s.opts, &tc.seen[0])
	} else if !tcpLoose {
		return false
	} else {
		// Picked up mid-stream: SACK and liberal window checking assumed.
		tc.seen[0].maxend = tc.seen[0].end + tc.seen[0].maxwin
		tc.seen[0].flags = flagSackPerm | flagBeLiberal
		tc.seen[1].flags = flagSackPerm | flagBeLiberal
	}
	tc.lastIndex = tNONE
	return true
}

func (tc *tcpConn) established(status uint32) bool {
	return tc.state == sES && status&IPS_ASSURED != 0
}

// canEarlyDrop is tcp_can_early_drop.
func (tc *tcpConn) canEarlyDrop() bool {
	switch tc.state {
	case sFW, sLA, sTW, sCL, sCW:
		return true
	}
	return false
}

// tcpPacket is nf_conntrack_tcp_packet (with tcp_error).
func (t *Table) tcpPacket(e *entry, idx uint32, raw []byte, dataoff int, v6 bool, dir uint8, hook ruleset.Hook, now int64) pres {
	tcplen := len(raw) - dataoff
	if tcplen < 20 {
		return resInvalid
	}
	th := raw[dataoff:]
	doff := int(th[12]>>4) * 4
	// tcp_error
	if doff < 20 || tcplen < doff {
		return resInvalid // truncated packet
	}
	if t.hookChecks(hook) && !l4ChecksumOK(raw, dataoff, tcplen, pkt.ProtoTCP, v6) {
		return resInvalid // bad checksum
	}
	flags := th[13] & 0x3f
	if !tcpValidFlags[flags&^thPSH] {
		return resInvalid // invalid tcp flag combination
	}
	s := tcpSeg{
		seq:   binary.BigEndian.Uint32(th[4:]),
		ack:   binary.BigEndian.Uint32(th[8:]),
		win:   binary.BigEndian.Uint16(th[14:]),
		flags: flags,
		opts:  th[20:doff],
		bytes: uint32(len(raw)),
	}
	// segment_seq_plus_len
	s.end = s.seq + uint32(tcplen-doff)
	if flags&thSYN != 0 {
		s.end++
	}
	if flags&thFIN != 0 {
		s.end++
	}
	tc := &e.tcp
	if !e.confirmed() && !tc.tcpNew(&s) {
		return resInvalid
	}

	oldState := tc.state
	index := tcpIndex(flags)
	newState := tcpConntracks[dir][index][oldState]
	skipWindow := false

	switch newState {
	case sSS:
		if oldState < sTW {
			break
		}
		// Reopening from TIME_WAIT/CLOSE (RFC 1122): kill the old entry
		// and track the SYN afresh if the connection was closed or aborted.
		if (tc.seen[dir].flags|tc.seen[dir^1].flags)&flagCloseInit != 0 ||
			(tc.lastDir == dir && tc.lastIndex == tRST) {
			return resRepeat
		}
		fallthrough
	case sIG:
		// Ignored packets: our entry may be out of sync.
		if index == tSYNACK && tc.lastIndex == tSYN && tc.lastDir != dir && s.ack == tc.lastEnd {
			// This SYN/ACK answers a SYN we ignored: resync from it.
			oldState = sSS
			newState = sSR
			ld := &tc.seen[tc.lastDir]
			ld.end = tc.lastEnd
			ld.maxend = tc.lastEnd
			ld.maxwin = uint32(tc.lastWin)
			if ld.maxwin == 0 {
				ld.maxwin = 1
			}
			ld.scale = tc.lastWscale
			tc.lastFlags &^= flagExpChallengeAck
			ld.flags = tc.lastFlags
			st := &tc.seen[dir]
			st.end, st.maxend, st.maxwin, st.maxack, st.scale = 0, 0, 0, 0, 0
			st.flags &= flagBeLiberal
			break
		}
		tc.lastIndex = index
		tc.lastDir = dir
		tc.lastSeq = s.seq
		tc.lastEnd = s.end
		tc.lastWin = s.win
		if index == tSYN && dir == DirOriginal {
			// A SYN in ORIGINAL: note its options for a SYN/ACK that
			// may follow.
			var seen tcpSeen
			tc.lastFlags = 0
			tc.lastWscale = 0
			tcpOptions(s.opts, &seen)
			if seen.flags&flagWindowScale != 0 {
				tc.lastFlags |= flagWindowScale
				tc.lastWscale = seen.scale
			}
			if seen.flags&flagSackPerm != 0 {
				tc.lastFlags |= flagSackPerm
			}
			if oldState == sLA {
				tc.lastFlags |= flagExpChallengeAck
			}
		}
		if oldState == sSS && index == tACK && dir == DirReply {
			tc.lastAck = s.ack // possible challenge ACK reply to SYN
		}
		return resAccept // ignored: no state change, no refresh
	case sIV:
		// (The SYN proxy keep-alive exception is not modelled.)
		return resInvalid
	case sTW:
		// RFC 5961 challenge ACK answering a SYN in LAST_ACK.
		if oldState == sLA && index == tACK && tc.lastDir != dir && tc.lastIndex == tSYN &&
			tc.lastFlags&flagExpChallengeAck != 0 {
			tc.lastFlags &^= flagExpChallengeAck
			return resAccept // don't change state
		}
	case sS2:
		tc.lastFlags |= flagSimultaneousOpen
	case sSR:
		if dir == DirReply && index == tACK && tc.lastFlags&flagSimultaneousOpen != 0 {
			newState = sES
		}
	case sCL:
		if index != tRST {
			break
		}
		if tc.canEarlyDrop() {
			skipWindow = true
			break
		}
		if tc.seen[dir^1].flags&flagMaxAckSet != 0 && tc.lastIndex != tSYN {
			seq := s.seq
			if seq == 0 && !tc.established(e.conn.Status) {
				break
			}
			if before(seq, tc.seen[dir^1].maxack) && !tcpIgnoreInvalidRst {
				return resInvalid // invalid RST
			}
			if !tc.established(e.conn.Status) || seq == tc.seen[dir^1].maxack {
				break
			}
			// RST part of a train: P seq:end, then R end:end.
			if tc.lastIndex == tACK && tc.lastDir == dir && seq == tc.lastEnd {
				break
			}
			// Not an exact match: keep the state for a challenge ACK.
			newState = oldState
		}
		if ((e.conn.Status&IPS_SEEN_REPLY != 0 && tc.lastIndex == tSYN) ||
			(e.conn.Status&IPS_ASSURED == 0 && tc.lastIndex == tACK)) &&
			s.ack == tc.lastEnd {
			// RST to an invalid SYN or ACK we let through: skip the
			// window check, the packet may ACK segments we ignored.
			skipWindow = true
			break
		}
		// Reset answering a challenge ACK we let through.
		if oldState == sSS && tc.lastIndex == tACK && tc.lastDir == DirReply && s.seq == tc.lastAck {
			skipWindow = true
		}
	}

	if !skipWindow {
		switch tc.inWindow(dir, index, &s) {
		case tcpIgnore:
			return resAccept
		case tcpInvalid:
			e.tcpHandleInvalid(dir, index, now)
			return resInvalid
		}
	}

	// From now on the packet is in window.
	tc.lastIndex = index
	tc.lastDir = dir
	tc.state = newState
	if oldState != newState && newState == sFW {
		tc.seen[dir].flags |= flagCloseInit
	}

	var timeout time.Duration
	switch {
	case tc.retrans >= tcpMaxRetrans && tcpTimeouts[newState] > tcpTimeouts[tRetrans]:
		timeout = tcpTimeouts[tRetrans]
	case index == tRST:
		timeout = tcpTimeouts[sCL]
	case (tc.seen[0].flags|tc.seen[1].flags)&flagDataUnack != 0 && tcpTimeouts[newState] > tcpTimeouts[tUnack]:
		timeout = tcpTimeouts[tUnack]
	case tc.lastWin == 0 && tcpTimeouts[newState] > tcpTimeouts[tRetrans]:
		timeout = tcpTimeouts[tRetrans]
	default:
		timeout = tcpTimeouts[newState]
	}

	if e.conn.Status&IPS_SEEN_REPLY == 0 {
		if flags&thRST != 0 {
			// Only a RST came back: delete the entry at once
			// (nf_ct_kill_acct).
			e.acct(dir, s.bytes)
			if e.confirmed() {
				t.kill(idx)
			}
			return resAccept
		}
		if index == tSYN && oldState == sSS {
			// No timeout renewal on SYN retransmits.
			return resAccept
		}
		// Mid-stream pick-up without a reply: no long ESTABLISHED timeout.
		if newState == sES && timeout > tcpTimeouts[tUnack] {
			timeout = tcpTimeouts[tUnack]
		}
	} else if e.conn.Status&IPS_ASSURED == 0 && (oldState == sSR || oldState == sES) && newState == sES {
		e.conn.Status |= IPS_ASSURED
	}
	e.refresh(now, timeout, dir, s.bytes)
	return resAccept
}
