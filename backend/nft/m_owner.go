package nft

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables/expr"

	"github.com/rampartfw/rampart/ruleset"
	"github.com/rampartfw/rampart/xt"
)

// owner: --uid-owner and --gid-owner (not inverted) are meta skuid and
// meta skgid, the fsuid and fsgid of the socket's file, compared with the
// id or range (a range through a byte order swap, as nft does: the ids
// are host order). Like xt_owner, a packet without a full socket of the
// namespace, or whose socket has no file (kernel sockets), does not match:
// the meta expression breaks.
//
// Refused: inverted --uid-owner/--gid-owner (xt_owner matches a packet
// without a socket then, where meta breaks), --socket-exists (no nft
// expression tells a socket without a file from none) and --suppl-groups
// (nft reads only the fsgid).
func init() {
	registerMatch("owner", func(_ *xlate, m ruleset.Match) ([]expr.Any, error) {
		o := m.(*xt.Owner)
		switch {
		case o.SocketExists:
			return nil, fmt.Errorf("extension \"-m owner\" option --socket-exists not supported")
		case o.SupplGroups:
			return nil, fmt.Errorf("extension \"-m owner\" option --suppl-groups not supported")
		case o.HasUID && o.InvUID || o.HasGID && o.InvGID:
			return nil, fmt.Errorf("extension \"-m owner\" inverted --uid-owner/--gid-owner not supported (xt_owner matches packets without a socket then)")
		}
		var ex []expr.Any
		for _, id := range []struct {
			has bool
			key expr.MetaKey
			r   xt.IDRange
		}{{o.HasUID, expr.MetaKeySKUID, o.UID}, {o.HasGID, expr.MetaKeySKGID, o.GID}} {
			if !id.has {
				continue
			}
			ex = append(ex, &expr.Meta{Key: id.key, Register: reg})
			if id.r.Lo == id.r.Hi {
				ex = append(ex, cmp(false, le32(id.r.Lo)))
				continue
			}
			ex = append(ex,
				&expr.Byteorder{SourceRegister: reg, DestRegister: reg, Op: expr.ByteorderHton, Len: 4, Size: 4},
				&expr.Range{Op: expr.CmpOpEq, Register: reg, FromData: binary.BigEndian.AppendUint32(nil, id.r.Lo), ToData: binary.BigEndian.AppendUint32(nil, id.r.Hi)})
		}
		return ex, nil
	})
}
