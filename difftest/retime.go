package difftest

import (
	"bytes"
	"encoding/binary"
	"time"
)

// sentPacket is a packet the harness sent from fw, with the time just
// before the send: the raw socket's sendto runs the OUTPUT hook at once.
type sentPacket struct {
	at time.Time
	ip []byte
}

// NFLOG attribute types (enum nfulnl_attr_type).
const (
	nfulaPacketHdr = 1
	nfulaTimestamp = 3
	nfulaPayload   = 9
	hookLocalOut   = 3
)

// retime gives each frame of a little-endian NFLOG pcap the time the
// kernel handled the packet instead of the time tcpdump read it (tens of
// microseconds later, with jitter - enough to move a packet across a
// jiffy or a limit's token): a received packet's skb timestamp
// (NFULA_TIMESTAMP, set when the packet entered fw); for a packet the
// harness sent from fw, the time of its send; for any other locally
// generated packet (REJECT's answers, sent from within the hook that
// handled the previous packet), the previous packet's time. Other
// captures are returned unchanged.
func retime(data []byte, sent []sentPacket) []byte {
	if len(data) < 24 {
		return data
	}
	var nano bool
	switch binary.LittleEndian.Uint32(data) {
	case 0xa1b2c3d4:
	case 0xa1b23c4d:
		nano = true
	default:
		return data
	}
	if binary.LittleEndian.Uint32(data[20:]) != 239 { // LINKTYPE_NFLOG
		return data
	}
	out := bytes.Clone(data)
	var prev time.Time
	for off := 24; off+16 <= len(out); {
		rec := out[off:]
		incl := int(binary.LittleEndian.Uint32(rec[8:]))
		if 16+incl > len(rec) {
			break
		}
		frame := rec[16 : 16+incl]
		hook, ts, payload := nflogAttrs(frame)
		var at time.Time
		switch {
		case !ts.IsZero():
			at = ts
		case hook == hookLocalOut:
			if len(sent) > 0 && samePacket(sent[0].ip, payload) {
				at = sent[0].at
				sent = sent[1:]
			} else if !prev.IsZero() {
				at = prev
			}
		}
		if !at.IsZero() {
			binary.LittleEndian.PutUint32(rec[0:], uint32(at.Unix()))
			frac := at.Nanosecond() / 1000
			if nano {
				frac = at.Nanosecond()
			}
			binary.LittleEndian.PutUint32(rec[4:], uint32(frac))
			prev = at
		} else {
			sec := int64(binary.LittleEndian.Uint32(rec[0:]))
			frac := int64(binary.LittleEndian.Uint32(rec[4:]))
			if !nano {
				frac *= 1000
			}
			prev = time.Unix(sec, frac)
		}
		off += 16 + incl
	}
	return out
}

// nflogAttrs returns the hook, the kernel timestamp (zero when absent) and
// the payload of an NFLOG frame.
func nflogAttrs(b []byte) (hook int, ts time.Time, payload []byte) {
	hook = -1
	for off := 4; off+4 <= len(b); {
		l := int(binary.LittleEndian.Uint16(b[off:]))
		t := binary.LittleEndian.Uint16(b[off+2:]) & 0x7fff
		if l < 4 || off+l > len(b) {
			break
		}
		v := b[off+4 : off+l]
		switch t {
		case nfulaPacketHdr:
			if len(v) >= 3 {
				hook = int(v[2])
			}
		case nfulaTimestamp:
			if len(v) >= 16 {
				sec := binary.BigEndian.Uint64(v)
				usec := binary.BigEndian.Uint64(v[8:])
				ts = time.Unix(int64(sec), int64(usec)*1000)
			}
		case nfulaPayload:
			payload = v
		}
		off += (l + 3) &^ 3
	}
	return hook, ts, payload
}

// samePacket compares a packet the harness sent with a captured one: the
// kernel fills in an IPv4 header's length, identification and checksum.
func samePacket(sent, got []byte) bool {
	if len(sent) == 0 || len(got) == 0 || sent[0]>>4 != got[0]>>4 {
		return false
	}
	if sent[0]>>4 == 6 {
		return bytes.Equal(sent, got)
	}
	hl := int(sent[0]&0x0f) * 4
	if len(sent) < hl || len(got) < hl || hl < 20 {
		return false
	}
	return bytes.Equal(sent[12:20], got[12:20]) && bytes.Equal(sent[hl:], got[hl:])
}
