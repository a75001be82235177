package capture

import (
	"time"

	"github.com/gopacket/gopacket"
)

func captureInfo(t time.Time, n int) gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: t, CaptureLength: n, Length: n}
}
