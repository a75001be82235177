package nft

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rampartfw/rampart/ruleset"
)

// famState is what rampart's table of one family holds in the kernel: its
// chains in the kernel's order, each with its rules' handles and keys.
type famState struct {
	// ns identifies the network namespace and boot the state belongs to
	// (generation ids restart in a new namespace and after a reboot).
	ns     string
	gen    uint32 // ruleset generation the state describes (0: unknown)
	exists bool   // the table exists
	chains []*chainState
}

// chainState is one chain of the table.
type chainState struct {
	name   string
	base   bool
	policy uint32 // NF_ACCEPT / NF_DROP of a base chain
	// use is the kernel's use count of the chain (NFTA_CHAIN_USE: its
	// rules and the jumps to it), 0 when unknown.
	use   uint32
	rules []ruleState
}

// ruleState is one rule: its handle and the key of its userdata (0 for a
// rule without userdata, which never equals a new rule's key).
type ruleState struct {
	handle uint64
	key    uint64
}

// ruleKey is the key of a rule's userdata: its 64-bit FNV-1a hash, never 0.
// Two rules with the same userdata have the same iptables text, and so the
// same expressions.
func ruleKey(ud []byte) uint64 {
	h := fnv.New64a()
	h.Write(ud)
	k := h.Sum64()
	if k == 0 {
		k = 1
	}
	return k
}

func (s *famState) chain(name string) *chainState {
	for _, c := range s.chains {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (s *famState) ruleCount() int {
	n := 0
	for _, c := range s.chains {
		n += len(c.rules)
	}
	return n
}

// The cache file of a family: cacheMagic, then little-endian fields —
// namespace identity length u16 and text, generation u32, table exists u8, chain count u32, and per chain: name
// length u16, name, base u8, policy u32, use u32, rule count u32, then per
// rule handle u64 and key u64 — and a CRC-32 (IEEE) of all that. A file
// that does not parse is no cache.
const cacheMagic = "rampart-nft-cache 3\n"

func (b Backend) stateDir() string {
	if b.StateDir == "-" {
		return ""
	}
	dir := b.StateDir
	if dir == "" {
		dir = DefaultStateDir
	}
	ns := "host"
	if b.Netns != "" {
		ns = strings.ReplaceAll(strings.Trim(b.Netns, "/"), "/", "%")
	}
	return filepath.Join(dir, ns)
}

func (b Backend) cachePath(f ruleset.Family) string {
	d := b.stateDir()
	if d == "" {
		return ""
	}
	name := "ip.cache"
	if f == ruleset.IPv6 {
		name = "ip6.cache"
	}
	return filepath.Join(d, name)
}

// lock takes the backend's lock file (flock, exclusive) so that two rampart
// processes do not interleave their reads of the cache, batches and cache
// writes. Without a state directory it does nothing.
func (b Backend) lock() (unlock func(), err error) {
	d := b.stateDir()
	if d == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(d, 0o700); err != nil {
		return nil, fmt.Errorf("nft backend: state directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(d, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("nft backend: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("nft backend: locking %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// loadCache reads the cache of family f; nil when there is none or it does
// not parse.
func (b Backend) loadCache(f ruleset.Family) *famState {
	p := b.cachePath(f)
	if p == "" {
		return nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	s, err := decodeCache(data)
	if err != nil {
		return nil
	}
	return s
}

// writeCache replaces the cache of family f (a temporary file renamed over
// it); s == nil removes it. A failure only costs a read of the table next
// time, so it is not reported.
func (b Backend) writeCache(f ruleset.Family, s *famState) {
	p := b.cachePath(f)
	if p == "" {
		return
	}
	if s == nil {
		os.Remove(p)
		return
	}
	if os.MkdirAll(filepath.Dir(p), 0o700) != nil {
		return
	}
	tmp := p + ".tmp"
	if os.WriteFile(tmp, encodeCache(s), 0o600) != nil {
		os.Remove(tmp)
		os.Remove(p)
		return
	}
	if os.Rename(tmp, p) != nil {
		os.Remove(p)
	}
}

func (b Backend) removeCache(f ruleset.Family) { b.writeCache(f, nil) }

func encodeCache(s *famState) []byte {
	n := len(cacheMagic) + 2 + len(s.ns) + 9 + 4
	for _, c := range s.chains {
		n += 15 + len(c.name) + 16*len(c.rules)
	}
	out := make([]byte, 0, n)
	le := binary.LittleEndian
	out = append(out, cacheMagic...)
	out = le.AppendUint16(out, uint16(len(s.ns)))
	out = append(out, s.ns...)
	out = le.AppendUint32(out, s.gen)
	ex := byte(0)
	if s.exists {
		ex = 1
	}
	out = append(out, ex)
	out = le.AppendUint32(out, uint32(len(s.chains)))
	for _, c := range s.chains {
		out = le.AppendUint16(out, uint16(len(c.name)))
		out = append(out, c.name...)
		base := byte(0)
		if c.base {
			base = 1
		}
		out = append(out, base)
		out = le.AppendUint32(out, c.policy)
		out = le.AppendUint32(out, c.use)
		out = le.AppendUint32(out, uint32(len(c.rules)))
		for _, r := range c.rules {
			out = le.AppendUint64(out, r.handle)
			out = le.AppendUint64(out, r.key)
		}
	}
	return le.AppendUint32(out, crc32.ChecksumIEEE(out))
}

var errBadCache = errors.New("bad cache file")

func decodeCache(data []byte) (*famState, error) {
	le := binary.LittleEndian
	if len(data) < len(cacheMagic)+4 || !bytes.HasPrefix(data, []byte(cacheMagic)) {
		return nil, errBadCache
	}
	body := data[:len(data)-4]
	if crc32.ChecksumIEEE(body) != le.Uint32(data[len(body):]) {
		return nil, errBadCache
	}
	b := body[len(cacheMagic):]
	need := func(n int) bool { return len(b) >= n }
	if !need(2) || !need(2+int(le.Uint16(b))+9) {
		return nil, errBadCache
	}
	ns := string(b[2 : 2+int(le.Uint16(b))])
	b = b[2+len(ns):]
	s := &famState{ns: ns, gen: le.Uint32(b), exists: b[4] == 1}
	nc := int(le.Uint32(b[5:]))
	b = b[9:]
	for i := 0; i < nc; i++ {
		if !need(2) {
			return nil, errBadCache
		}
		l := int(le.Uint16(b))
		if !need(2 + l + 13) {
			return nil, errBadCache
		}
		c := &chainState{name: string(b[2 : 2+l]), base: b[2+l] == 1, policy: le.Uint32(b[3+l:]), use: le.Uint32(b[7+l:])}
		nr := int(le.Uint32(b[11+l:]))
		b = b[15+l:]
		if nr < 0 || !need(16*nr) {
			return nil, errBadCache
		}
		c.rules = make([]ruleState, nr)
		for j := range c.rules {
			c.rules[j] = ruleState{le.Uint64(b[16*j:]), le.Uint64(b[16*j+8:])}
		}
		b = b[16*nr:]
		s.chains = append(s.chains, c)
	}
	if len(b) != 0 {
		return nil, errBadCache
	}
	return s, nil
}

// readState reads rampart's table of family f from the kernel: its chains
// and its rules' handles and keys, with the generation it belongs to (a dump
// that the kernel reports interrupted by a commit is made again).
func (c *nlConn) readState(f ruleset.Family) (*famState, error) {
	for try := 0; ; try++ {
		s, err := c.readStateOnce(f)
		if errors.Is(err, errDumpIntr) && try < 5 {
			continue
		}
		return s, err
	}
}

func (c *nlConn) readStateOnce(f ruleset.Family) (*famState, error) {
	fam := uint8(nftFamily(f))
	gen, err := c.getGen()
	if err != nil {
		return nil, err
	}
	s := &famState{ns: c.ns, gen: gen}
	tables, err := c.request(nftType(unix.NFT_MSG_GETTABLE), 0, fam, func(w *batchBuf) {
		w.attrStr(unix.NFTA_TABLE_NAME, TableName)
	})
	var ke *kernelError
	if errors.As(err, &ke) && ke.errno == unix.ENOENT {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("nft backend: reading table %s %s: %w", f, TableName, err)
	}
	s.exists = len(tables) > 0
	chains, err := c.readChains(f)
	if err != nil {
		return nil, err
	}
	s.chains = chains
	byName := map[string]*chainState{}
	for _, ch := range chains {
		byName[ch.name] = ch
	}
	rules, err := c.request(nftType(unix.NFT_MSG_GETRULE), unix.NLM_F_DUMP, fam, func(w *batchBuf) {
		w.attrStr(unix.NFTA_RULE_TABLE, TableName)
	})
	if err != nil {
		return nil, fmt.Errorf("nft backend: listing rules of %s %s: %w", f, TableName, err)
	}
	for _, m := range rules {
		if m.typ != nftType(unix.NFT_MSG_NEWRULE) || len(m.data) < nfgenLen {
			continue
		}
		var table, chain string
		var r ruleState
		forAttrs(m.data[nfgenLen:], func(t uint16, v []byte) {
			switch t {
			case unix.NFTA_RULE_TABLE:
				table = cstr(v)
			case unix.NFTA_RULE_CHAIN:
				chain = cstr(v)
			case unix.NFTA_RULE_HANDLE:
				if len(v) == 8 {
					r.handle = binary.BigEndian.Uint64(v)
				}
			case unix.NFTA_RULE_USERDATA:
				r.key = ruleKey(v)
			}
		})
		if table != TableName {
			continue
		}
		ch := byName[chain]
		if ch == nil {
			return nil, errDumpIntr
		}
		ch.rules = append(ch.rules, r)
	}
	if gen2, err := c.getGen(); err != nil {
		return nil, err
	} else if gen2 != gen {
		return nil, errDumpIntr
	}
	return s, nil
}

func cstr(v []byte) string {
	if i := bytes.IndexByte(v, 0); i >= 0 {
		v = v[:i]
	}
	return string(v)
}

// readChains lists the chains of rampart's table of family f, without
// their rules (a cheap request: the rules are not dumped).
func (c *nlConn) readChains(f ruleset.Family) ([]*chainState, error) {
	chains, err := c.request(nftType(unix.NFT_MSG_GETCHAIN), unix.NLM_F_DUMP, uint8(nftFamily(f)), func(w *batchBuf) {
		w.attrStr(unix.NFTA_CHAIN_TABLE, TableName)
	})
	if err != nil {
		return nil, fmt.Errorf("nft backend: listing chains of %s %s: %w", f, TableName, err)
	}
	var out []*chainState
	for _, m := range chains {
		if m.typ != nftType(unix.NFT_MSG_NEWCHAIN) || len(m.data) < nfgenLen {
			continue
		}
		var table string
		ch := &chainState{}
		forAttrs(m.data[nfgenLen:], func(t uint16, v []byte) {
			switch t {
			case unix.NFTA_CHAIN_TABLE:
				table = cstr(v)
			case unix.NFTA_CHAIN_NAME:
				ch.name = cstr(v)
			case unix.NFTA_CHAIN_HOOK:
				ch.base = true
			case unix.NFTA_CHAIN_POLICY:
				if len(v) == 4 {
					ch.policy = binary.BigEndian.Uint32(v)
				}
			case unix.NFTA_CHAIN_USE:
				if len(v) == 4 {
					ch.use = binary.BigEndian.Uint32(v)
				}
			}
		})
		if table == TableName {
			out = append(out, ch)
		}
	}
	return out, nil
}

// sameChains reports whether the kernel's chains (from readChains) are
// the cached ones: the same names in the same order, kinds, policies and
// use counts. The generation id changes with every commit in the network
// namespace, whatever table it touches; when it differs from the cache's,
// this cheap test tells whether rampart's table may have changed (a rule
// added or deleted changes its chain's use count). A rule replaced in
// place by another tool passes it, but nothing else does.
func sameChains(cached, kernel []*chainState) bool {
	if len(cached) != len(kernel) {
		return false
	}
	for i, c := range cached {
		k := kernel[i]
		if c.use == 0 || c.name != k.name || c.base != k.base || c.base && c.policy != k.policy || c.use != k.use {
			return false
		}
	}
	return true
}

// stampUses records the chains' use counts in s, read right after the
// commit of generation gen; false when another commit came between
// (then the uses are unknown).
func (c *nlConn) stampUses(f ruleset.Family, s *famState, gen uint32) bool {
	chains, err := c.readChains(f)
	if err != nil {
		return false
	}
	if g, err := c.getGen(); err != nil || g != gen {
		return false
	}
	if len(chains) != len(s.chains) {
		return false
	}
	for i, ch := range chains {
		if ch.name != s.chains[i].name {
			return false
		}
		s.chains[i].use = ch.use
	}
	return true
}

// dumpBelow: when the generation differs from the cache's, a table of
// fewer cached rules than this is read from the kernel (exact); a larger
// one is trusted when its chains and use counts are unchanged (sameChains),
// since the kernel's rule dump costs time quadratic in the rules of a
// chain (it restarts from the chain's first rule for every 32 KiB of
// answer: about 25 s for 100,000 rules in one chain).
var dumpBelow = 20000

// state returns what rampart's table of family f holds: the cache when it
// is current (same generation; or, for a large table, same chains and use
// counts), else a dump. fromCache tells which.
func (b Backend) state(c *nlConn, f ruleset.Family, gen uint32) (s *famState, fromCache bool, err error) {
	if s := b.loadCache(f); s != nil && gen != 0 && c.ns != "" && s.ns == c.ns {
		if s.gen == gen {
			return s, true, nil
		}
		if s.exists && s.ruleCount() >= dumpBelow {
			if chains, err := c.readChains(f); err == nil && sameChains(s.chains, chains) {
				if g, err := c.getGen(); err == nil && g == gen {
					s.gen = gen
					return s, true, nil
				}
			}
		}
	}
	s, err = c.readState(f)
	return s, false, err
}

// nsIdentity names the socket's network namespace for this boot: the
// kernel's boot id and the namespace's cookie (SO_NETNS_COOKIE, unique
// among the namespaces of a boot, never reused), "" when the kernel lacks
// either (then no cache is trusted).
func nsIdentity(raw interface{ Control(func(uintptr)) error }) string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	var cookie uint64
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cookie, cerr = unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	}); err != nil || cerr != nil {
		return ""
	}
	return fmt.Sprintf("%s/%d", strings.TrimSpace(string(boot)), cookie)
}
