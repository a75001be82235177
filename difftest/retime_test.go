package difftest

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/rampartfw/rampart/capture"
)

// nflogFrame builds an NFLOG frame: packet header (hook), optional
// timestamp, payload.
func nflogFrame(hook byte, ts time.Time, ip []byte) []byte {
	b := []byte{2, 0, 0, 5}
	tlv := func(typ uint16, v []byte) {
		h := make([]byte, 4)
		binary.LittleEndian.PutUint16(h, uint16(4+len(v)))
		binary.LittleEndian.PutUint16(h[2:], typ)
		b = append(b, h...)
		b = append(b, v...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	tlv(nfulaPacketHdr, []byte{8, 0, hook, 0})
	if !ts.IsZero() {
		v := make([]byte, 16)
		binary.BigEndian.PutUint64(v, uint64(ts.Unix()))
		binary.BigEndian.PutUint64(v[8:], uint64(ts.Nanosecond()/1000))
		tlv(nfulaTimestamp, v)
	}
	tlv(nfulaPayload, ip)
	return b
}

func nflogPcap(frames [][]byte, at []time.Time) []byte {
	var b bytes.Buffer
	h := make([]byte, 24)
	binary.LittleEndian.PutUint32(h, 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 65535)
	binary.LittleEndian.PutUint32(h[20:], 239)
	b.Write(h)
	for i, f := range frames {
		r := make([]byte, 16)
		binary.LittleEndian.PutUint32(r, uint32(at[i].Unix()))
		binary.LittleEndian.PutUint32(r[4:], uint32(at[i].Nanosecond()/1000))
		binary.LittleEndian.PutUint32(r[8:], uint32(len(f)))
		binary.LittleEndian.PutUint32(r[12:], uint32(len(f)))
		b.Write(r)
		b.Write(f)
	}
	return b.Bytes()
}

// Received packets take their skb timestamp, the harness's own packets
// the time they were sent, REJECT's answers the time of the packet they
// answer.
func TestRetime(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	us := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Microsecond) }
	in := ip4(t, "10.9.0.2", "10.9.0.1", 1)
	out := ip4(t, "10.9.0.1", "10.9.0.2", 2)
	answer := ip4(t, "10.9.0.1", "10.9.0.2", 3)
	// The kernel fills in the IPv4 identification and checksum.
	outCaptured := bytes.Clone(out)
	outCaptured[4], outCaptured[10] = 0x12, 0x34
	data := nflogPcap([][]byte{
		nflogFrame(0, us(100), in),
		nflogFrame(3, time.Time{}, answer),
		nflogFrame(3, time.Time{}, outCaptured),
	}, []time.Time{us(180), us(190), us(2500)})
	got := retime(data, []sentPacket{{at: us(2400), ip: out}})
	r, err := capture.Open(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []time.Time{us(100), us(100), us(2400)} {
		fr, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !fr.Time.Equal(want) {
			t.Errorf("frame %d at %v, want %v", i, fr.Time.Sub(t0), want.Sub(t0))
		}
	}
}

func ip4(t *testing.T, src, dst string, id byte) []byte {
	t.Helper()
	b := make([]byte, 28)
	b[0], b[8], b[9] = 0x45, 64, 17
	b[3] = 28
	copy(b[12:16], parse4(t, src))
	copy(b[16:20], parse4(t, dst))
	b[21], b[23], b[25] = id, 53, 8
	return b
}

func parse4(t *testing.T, s string) []byte {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a.AsSlice()
}
