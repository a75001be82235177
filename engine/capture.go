package engine

import (
	"errors"
	"io"

	"github.com/rampartfw/rampart/capture"
	"github.com/rampartfw/rampart/pkt"
)

// CaptureOptions tunes RunCapture.
type CaptureOptions struct {
	// Each, when set, sees every packet the engine processed: the frame
	// (for a reassembled datagram, the frame that completed it) and the
	// result.
	Each func(fr capture.Frame, p *pkt.Packet, res Result)
	// Trace, when set, returns the tracer for one frame (nil: none).
	Trace func(fr capture.Frame) Tracer
}

// CaptureStats counts what RunCapture did.
type CaptureStats struct {
	Frames    int            // frames read
	Skipped   int            // not IP, undecodable, or of a family without a ruleset
	Fragments int            // fragments held for reassembly (not seen by the tables)
	Packets   int            // packets that went through the engine
	Undecided map[string]int // reasons a rule could not be decided, by packet count
}

// RunCapture runs a capture through the engine, as `rampart simulate` and
// the kernel differential suite do: every
// IP frame is decoded, fragments are reassembled before the first hook
// (nf_defrag), and each whole packet is processed at its capture time.
// Packets of a family the engine has no ruleset for are skipped.
func RunCapture(e *Engine, r *capture.Reader, o CaptureOptions) (CaptureStats, error) {
	st := CaptureStats{Undecided: map[string]int{}}
	defrag := NewDefrag()
	var p pkt.Packet
	for {
		fr, err := r.Next()
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		if err != nil && !errors.Is(err, capture.ErrSkip) {
			return st, err
		}
		st.Frames++
		if errors.Is(err, capture.ErrSkip) {
			st.Skipped++
			continue
		}
		if p.Decode(fr.IP) != nil || e.Rulesets[p.Family] == nil {
			st.Skipped++
			continue
		}
		whole := defrag.Add(&p, fr.Time)
		if whole == nil {
			st.Fragments++
			continue
		}
		if len(whole) != len(p.Raw) {
			if p.Decode(whole) != nil {
				st.Skipped++
				continue
			}
		}
		var tr Tracer
		if o.Trace != nil {
			tr = o.Trace(fr)
		}
		res := e.ProcessFrame(&p, fr.Time, Link{Src: fr.SrcMAC, Dst: fr.DstMAC, Has: fr.HasMAC}, tr)
		st.Packets++
		if res.Undecided != "" {
			st.Undecided[res.Undecided]++
		}
		if o.Each != nil {
			o.Each(fr, &p, res)
		}
	}
}
