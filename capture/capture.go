// Package capture owns reading packet captures (pcap and pcapng, through
// gopacket's pure-Go pcapgo) and peeling the link layer off each frame, so
// that the engine sees IP packets with their capture time.
package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Frame is one captured IP packet.
type Frame struct {
	Index  int       // 0-based position in the capture
	Time   time.Time // capture timestamp
	IP     []byte    // from the IP header on
	SrcMAC [6]byte   // link-layer source, when HasMAC
	DstMAC [6]byte   // link-layer destination, when HasMAC
	HasMAC bool
}

// Reader reads frames from a pcap or pcapng stream.
type Reader struct {
	next  func() ([]byte, time.Time, error)
	link  layers.LinkType
	index int
}

// Open detects pcap or pcapng from the first bytes and returns a reader.
func Open(r io.Reader) (*Reader, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	if binary.LittleEndian.Uint32(magic) == 0x0A0D0D0A {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, fmt.Errorf("capture: pcapng: %w", err)
		}
		return &Reader{link: ng.LinkType(), next: func() ([]byte, time.Time, error) {
			d, ci, err := ng.ReadPacketData()
			return d, ci.Timestamp, err
		}}, nil
	}
	pr, err := pcapgo.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("capture: pcap: %w", err)
	}
	return &Reader{link: pr.LinkType(), next: func() ([]byte, time.Time, error) {
		d, ci, err := pr.ReadPacketData()
		return d, ci.Timestamp, err
	}}, nil
}

// ErrSkip marks a frame that carries no IPv4/IPv6 packet (ARP, ...).
var ErrSkip = errors.New("capture: not an IP frame")

// Next returns the next frame. Frames without an IP packet are returned
// with ErrSkip (their Index still counts); io.EOF ends the capture.
func (r *Reader) Next() (Frame, error) {
	data, ts, err := r.next()
	if err != nil {
		return Frame{}, err
	}
	f := Frame{Index: r.index, Time: ts}
	r.index++
	ip, mac, hasMAC, ok := Unwrap(r.link, data)
	if !ok {
		return f, ErrSkip
	}
	f.IP, f.SrcMAC, f.HasMAC = ip, mac, hasMAC
	if hasMAC && r.link == layers.LinkTypeEthernet && len(data) >= 6 {
		copy(f.DstMAC[:], data[0:6])
	}
	return f, nil
}

// Unwrap removes the link-layer header of a frame of the given link type
// and returns the IP packet (and the Ethernet source address).
func Unwrap(link layers.LinkType, b []byte) (ip []byte, mac [6]byte, hasMAC bool, ok bool) {
	switch link {
	case layers.LinkTypeEthernet:
		if len(b) < 14 {
			return nil, mac, false, false
		}
		copy(mac[:], b[6:12])
		et := binary.BigEndian.Uint16(b[12:14])
		off := 14
		for (et == 0x8100 || et == 0x88a8) && len(b) >= off+4 {
			et = binary.BigEndian.Uint16(b[off+2 : off+4])
			off += 4
		}
		if et != 0x0800 && et != 0x86dd {
			return nil, mac, true, false
		}
		return b[off:], mac, true, true
	case layers.LinkTypeLinuxSLL:
		if len(b) < 16 {
			return nil, mac, false, false
		}
		if binary.BigEndian.Uint16(b[4:6]) == 6 {
			copy(mac[:], b[6:12])
			hasMAC = true
		}
		et := binary.BigEndian.Uint16(b[14:16])
		if et != 0x0800 && et != 0x86dd {
			return nil, mac, hasMAC, false
		}
		return b[16:], mac, hasMAC, true
	case layers.LinkType(276): // LINUX_SLL2
		if len(b) < 20 {
			return nil, mac, false, false
		}
		et := binary.BigEndian.Uint16(b[0:2])
		if b[11] == 6 {
			copy(mac[:], b[12:18])
			hasMAC = true
		}
		if et != 0x0800 && et != 0x86dd {
			return nil, mac, hasMAC, false
		}
		return b[20:], mac, hasMAC, true
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		if len(b) < 4 {
			return nil, mac, false, false
		}
		return b[4:], mac, false, ipVersion(b[4:])
	case layers.LinkTypeRaw, layers.LinkType(12), layers.LinkType(14), layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		return b, mac, false, ipVersion(b)
	case layers.LinkType(239): // LINKTYPE_NFLOG
		ip, ok := nflogPayload(b)
		return ip, mac, false, ok && ipVersion(ip)
	}
	return nil, mac, false, false
}

func ipVersion(b []byte) bool {
	return len(b) > 0 && (b[0]>>4 == 4 || b[0]>>4 == 6)
}

// Writer writes raw-IP pcap files (LINKTYPE_RAW), as the tests and the
// packet generator produce them.
type Writer struct {
	w *pcapgo.Writer
}

// NewWriter writes the pcap header to w.
func NewWriter(w io.Writer) (*Writer, error) {
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeRaw); err != nil {
		return nil, err
	}
	return &Writer{w: pw}, nil
}

// Write appends one IP packet captured at t.
func (w *Writer) Write(t time.Time, ip []byte) error {
	return w.w.WritePacket(captureInfo(t, len(ip)), ip)
}

// nflogPayload returns the packet of an NFLOG frame (tcpdump -i nflog:N):
// a 4-byte header, then TLVs (little-endian length and type, padded to 4
// bytes); type 9 (NFULA_PAYLOAD) holds the IP packet.
func nflogPayload(b []byte) ([]byte, bool) {
	if len(b) < 4 {
		return nil, false
	}
	off := 4
	for off+4 <= len(b) {
		l := int(binary.LittleEndian.Uint16(b[off : off+2]))
		t := binary.LittleEndian.Uint16(b[off+2:off+4]) & 0x7fff
		if l < 4 || off+l > len(b) {
			return nil, false
		}
		if t == 9 {
			return b[off+4 : off+l], true
		}
		off += (l + 3) &^ 3
	}
	return nil, false
}
