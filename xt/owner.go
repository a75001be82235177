package xt

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// The user and group databases are read from /etc/passwd and /etc/group, as
// iptables' getpwnam/getgrnam calls resolve names on the host.
var (
	PasswdFile = "/etc/passwd"
	GroupFile  = "/etc/group"
)

type idDB struct {
	once   sync.Once
	byName map[string]uint32
	byID   map[uint32]string
}

var users, groups idDB

func (db *idDB) load(path string) {
	db.once.Do(func() {
		db.byName = map[string]uint32{}
		db.byID = map[uint32]string{}
		f, err := os.Open(path)
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Split(sc.Text(), ":")
			if len(fs) < 3 || fs[0] == "" {
				continue
			}
			id, err := strconv.ParseUint(fs[2], 10, 32)
			if err != nil {
				continue
			}
			if _, ok := db.byName[fs[0]]; !ok {
				db.byName[fs[0]] = uint32(id)
			}
			if _, ok := db.byID[uint32(id)]; !ok {
				db.byID[uint32(id)] = fs[0]
			}
		}
	})
}

// UserID looks a user name up in /etc/passwd.
func UserID(name string) (uint32, bool) {
	users.load(PasswdFile)
	id, ok := users.byName[name]
	return id, ok
}

// UserName returns the /etc/passwd name of a uid.
func UserName(id uint32) (string, bool) {
	users.load(PasswdFile)
	n, ok := users.byID[id]
	return n, ok
}

// GroupID looks a group name up in /etc/group.
func GroupID(name string) (uint32, bool) {
	groups.load(GroupFile)
	id, ok := groups.byName[name]
	return id, ok
}

// GroupName returns the /etc/group name of a gid.
func GroupName(id uint32) (string, bool) {
	groups.load(GroupFile)
	n, ok := groups.byID[id]
	return n, ok
}

// xtChainHook returns the netfilter hook of the rule's chain when it is a
// built-in chain of the table; user chains have none (iptables-nft checks
// hook restrictions only for base chains).
func xtChainHook(ctx *Context) (ruleset.Hook, bool) {
	t, ok := ruleset.LookupTable(ctx.Table)
	if !ok || !t.IsBuiltin(ctx.Chain) {
		return 0, false
	}
	return ruleset.HookOf(ctx.Chain)
}

// xtHookAllowed reports whether the rule's chain is a user chain or a
// built-in chain at one of the hooks.
func xtHookAllowed(ctx *Context, hooks ...ruleset.Hook) bool {
	h, ok := xtChainHook(ctx)
	if !ok {
		return true
	}
	for _, a := range hooks {
		if a == h {
			return true
		}
	}
	return false
}

// IDRange is an inclusive range of uids or gids.
type IDRange struct{ Lo, Hi uint32 }

// Owner is the owner match (revision 1): socket owner uid/gid ranges,
// socket existence and supplementary groups.
type Owner struct {
	UID, GID       IDRange
	HasUID, HasGID bool
	SocketExists   bool
	SupplGroups    bool
	InvUID, InvGID bool
	InvSocket      bool
}

func init() {
	Register(&Def{Name: "owner", New: func() Parser { return &Owner{} },
		Options: []Option{
			{Name: "uid-owner", Arg: ReqArg, Invert: true},
			{Name: "gid-owner", Arg: ReqArg, Invert: true},
			{Name: "socket-exists", Invert: true},
			{Name: "suppl-groups"},
		}})
}

// Name implements ruleset.Extension.
func (m *Owner) Name() string { return "owner" }

// parseOwnerRange is owner_parse_range: ID[-ID] or ID[:ID], each strtoul
// base 0 up to 2^32-2.
func parseOwnerRange(s, opt string) (IDRange, error) {
	bad := Errorf("owner: Bad value for \"%s\" option: \"%s\"", opt, s)
	const max = 1<<32 - 2
	lo, rest, ok := ParseUintPrefix(s)
	if !ok || lo > max {
		return IDRange{}, bad
	}
	hi := lo
	if rest != "" && (rest[0] == '-' || rest[0] == ':') {
		hi, rest, ok = ParseUintPrefix(rest[1:])
		if !ok || hi > max {
			return IDRange{}, bad
		}
	}
	if rest != "" {
		return IDRange{}, bad
	}
	return IDRange{uint32(lo), uint32(hi)}, nil
}

// Parse implements Parser.
func (m *Owner) Parse(_ *Context, opt, arg string, inv bool) error {
	switch opt {
	case "uid-owner":
		if id, ok := UserID(arg); ok {
			m.UID = IDRange{id, id}
		} else {
			r, err := parseOwnerRange(arg, "--uid-owner")
			if err != nil {
				return err
			}
			m.UID = r
		}
		m.HasUID, m.InvUID = true, inv
	case "gid-owner":
		if id, ok := GroupID(arg); ok {
			m.GID = IDRange{id, id}
		} else {
			r, err := parseOwnerRange(arg, "--gid-owner")
			if err != nil {
				return err
			}
			m.GID = r
		}
		m.HasGID, m.InvGID = true, inv
	case "socket-exists":
		m.SocketExists, m.InvSocket = true, inv
	case "suppl-groups":
		if !m.HasGID {
			return Errorf("owner: Bad value for \"--suppl-groups\" option: \"you need to use --gid-owner first\"")
		}
		m.SupplGroups = true
	}
	return nil
}

// Final implements Parser.
func (m *Owner) Final(ctx *Context) (ruleset.Extension, error) {
	if !m.HasUID && !m.HasGID && !m.SocketExists {
		return nil, Errorf("owner: At least one of --uid-owner, --gid-owner or --socket-exists is required")
	}
	// xt_owner: only in OUTPUT and POSTROUTING; ranges must be ordered.
	if !xtHookAllowed(ctx, ruleset.LocalOut, ruleset.PostRouting) {
		return nil, KernelInval()
	}
	if m.HasUID && m.UID.Lo > m.UID.Hi || m.HasGID && m.GID.Lo > m.GID.Hi {
		return nil, KernelInval()
	}
	return m, nil
}

func ownerItem(b *strings.Builder, inv bool, label string, r IDRange, numeric bool, lookup func(uint32) (string, bool)) {
	b.WriteString(Bang(inv) + " " + label)
	if r.Lo != r.Hi {
		b.WriteString(" " + Utoa(uint64(r.Lo)) + "-" + Utoa(uint64(r.Hi)))
		return
	}
	if !numeric {
		if n, ok := lookup(r.Lo); ok {
			b.WriteString(" " + n)
			return
		}
	}
	b.WriteString(" " + Utoa(uint64(r.Lo)))
}

func (m *Owner) write(b *strings.Builder, save, numeric bool) {
	sock, uid, gid, suppl := "owner socket exists", "owner UID match", "owner GID match", "incl. suppl. groups"
	if save {
		sock, uid, gid, suppl = "--socket-exists", "--uid-owner", "--gid-owner", "--suppl-groups"
	}
	if m.SocketExists {
		b.WriteString(Bang(m.InvSocket) + " " + sock)
	}
	if m.HasUID {
		ownerItem(b, m.InvUID, uid, m.UID, numeric, UserName)
	}
	if m.HasGID {
		ownerItem(b, m.InvGID, gid, m.GID, numeric, GroupName)
	}
	if m.SupplGroups {
		b.WriteString(" " + suppl)
	}
}

// Save implements ruleset.Extension.
func (m *Owner) Save(b *strings.Builder, _ ruleset.Fmt) { m.write(b, true, true) }

// Print implements ruleset.Extension.
func (m *Owner) Print(b *strings.Builder, f ruleset.Fmt) { m.write(b, false, f.Numeric) }

// Owner option bits, as in xt_owner's match and invert fields.
const (
	ownerUID    = 1 << 0
	ownerGID    = 1 << 1
	ownerSocket = 1 << 2
	ownerSuppl  = 1 << 3
)

func (m *Owner) bits() (match, invert uint8) {
	if m.HasUID {
		match |= ownerUID
		if m.InvUID {
			invert |= ownerUID
		}
	}
	if m.HasGID {
		match |= ownerGID
		if m.InvGID {
			invert |= ownerGID
		}
	}
	if m.SocketExists {
		match |= ownerSocket
		if m.InvSocket {
			invert |= ownerSocket
		}
	}
	if m.SupplGroups {
		match |= ownerSuppl
	}
	return
}

// Match implements pkt.Matcher as xt_owner's owner_mt does, asking c.Facts
// for the packet's socket: without one, the rule matches only when every
// option it gives is inverted (--suppl-groups, never inverted, fails it);
// a socket without a file passes only inverted uid/gid options; otherwise
// the file's fsuid and fsgid (or, with --suppl-groups, a supplementary
// group) must be in the ranges.
func (m *Owner) Match(c *pkt.Ctx) bool {
	if c.Facts == nil {
		return c.Undecide("owner: the packet's socket is unknown")
	}
	sock, file, ok := c.Facts.Socket()
	if !ok {
		return c.Undecide("owner: the packet's socket is unknown")
	}
	match, invert := m.bits()
	if !sock {
		return match^invert == 0
	}
	if match&invert&ownerSocket != 0 {
		return false
	}
	if !file {
		return (match^invert)&(ownerUID|ownerGID) == 0
	}
	if !m.HasUID && !m.HasGID {
		return true
	}
	uid, gid, ok := c.Facts.Owner()
	if !ok {
		return c.Undecide("owner: the socket's credentials are unknown")
	}
	if m.HasUID && (uid >= m.UID.Lo && uid <= m.UID.Hi) == m.InvUID {
		return false
	}
	if m.HasGID {
		in := gid >= m.GID.Lo && gid <= m.GID.Hi
		if !in && m.SupplGroups {
			gids, ok := c.Facts.SupplGroups()
			if !ok {
				return c.Undecide("owner: the socket's supplementary groups are unknown")
			}
			for _, g := range gids {
				if g >= m.GID.Lo && g <= m.GID.Hi {
					in = true
					break
				}
			}
		}
		if in == m.InvGID {
			return false
		}
	}
	return true
}
