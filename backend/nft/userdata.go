package nft

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"strings"

	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// A rule's userdata is a list of TLVs (one type byte, one length byte), as
// libnftnl writes it. Type 0 is the comment nft prints; rampart adds the
// rule's iptables text (the lossless save form of its options, without
// "-A CHAIN") in TLVs of its own types, which nft ignores: udText holds it
// plainly, udFlate DEFLATE-compressed; a text longer than one TLV goes in
// several consecutive TLVs of the same type.
const (
	udComment = 0
	udText    = 0x52 // 'R'
	udFlate   = 0x5a // 'Z'

	// maxUserdata is the kernel's NFT_USERDATA_MAXLEN.
	maxUserdata = 256
)

// appendTLVs appends data as TLVs of type typ, 255 bytes at most each; an
// empty value is one empty TLV (an empty rule, "-A INPUT", has empty text).
func appendTLVs(ud []byte, typ byte, data []byte) []byte {
	if len(data) == 0 {
		return append(ud, typ, 0)
	}
	for len(data) > 0 {
		n := min(len(data), 255)
		ud = append(ud, typ, byte(n))
		ud = append(ud, data[:n]...)
		data = data[n:]
	}
	return ud
}

func tlvSize(n int) int { return n + 2*max(1, (n+254)/255) }

// ruleUserdata builds the userdata of a rule: its text, and its -m comment
// as nft's comment when there is room.
func ruleUserdata(r *ruleset.Rule, f ruleset.Family) ([]byte, error) {
	var b strings.Builder
	iptext.RuleSpecLossless(&b, r, f)
	text := []byte(b.String())
	var ud []byte
	if tlvSize(len(text)) <= maxUserdata {
		ud = appendTLVs(nil, udText, text)
	} else {
		var z bytes.Buffer
		w, _ := flate.NewWriter(&z, flate.BestCompression)
		w.Write(text)
		w.Close()
		if tlvSize(z.Len()) > maxUserdata {
			return nil, fmt.Errorf("rule text too long for nftables userdata (%d bytes, %d compressed; the kernel keeps %d): not supported yet", len(text), z.Len(), maxUserdata)
		}
		ud = appendTLVs(nil, udFlate, z.Bytes())
	}
	for _, m := range r.Matches {
		if c, ok := m.(*xt.Comment); ok && c.Text != "" && len(c.Text) < 255 && len(ud)+len(c.Text)+3 <= maxUserdata {
			ud = appendTLVs(ud, udComment, append([]byte(c.Text), 0))
			break
		}
	}
	return ud, nil
}

// ruleText extracts the iptables text from a rule's userdata.
func ruleText(ud []byte) (string, bool) {
	var plain, z []byte
	found := false
	for len(ud) >= 2 {
		typ, n := ud[0], int(ud[1])
		if len(ud) < 2+n {
			return "", false
		}
		switch typ {
		case udText:
			plain = append(plain, ud[2:2+n]...)
			found = true
		case udFlate:
			z = append(z, ud[2:2+n]...)
			found = true
		}
		ud = ud[2+n:]
	}
	if !found {
		return "", false
	}
	if z != nil {
		t, err := io.ReadAll(flate.NewReader(bytes.NewReader(z)))
		if err != nil {
			return "", false
		}
		plain = t
	}
	return string(plain), true
}
