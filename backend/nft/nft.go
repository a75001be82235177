// Package nft is rampart's native nf_tables backend: it translates the model
// into nftables expressions with github.com/google/nftables and loads them
// over netlink into rampart's own tables ("table ip rampart", "table ip6
// rampart"), so that it coexists with other nftables users. Every iptables
// table becomes base chains named TABLE/CHAIN at the hook, type and priority
// iptables-nft uses (raw -300, mangle -150, nat -100 / 100, filter 0,
// security 50), and every user chain TABLE/NAME. Every load, both families,
// is one netlink batch: the kernel applies all of it or nothing, and a
// process killed mid-way leaves the old ruleset.
//
// Each rule carries its iptables text (the lossless save form) in its
// userdata, so that the ruleset reads back exactly; the counter expression
// of each rule gives its counters. A rule the backend cannot express
// natively yet is refused with an error naming its file:line and the
// extension, and nothing is loaded.
//
// Loading is incremental (incremental.go): when rampart's table exists, Apply
// computes the difference between what the kernel holds and the new
// ruleset, chain by chain, and sends only that — rules that did not change
// stay in the kernel with their counters. What the kernel holds is known
// from a cache file (cache.go) that records, per family, the chains and each
// rule's handle and a hash of its text, stamped with the nf_tables ruleset
// generation it describes; when the generation differs (someone else changed
// the ruleset), the table is read from the kernel instead. Change edits one
// rule (append, insert, delete, replace) through the same cache without
// reading the ruleset.
//
// The batches are written and sent by this package directly (one sendmsg,
// with the socket's send buffer sized to the batch), which lets a batch hold
// any number of rules; the library marshals the expressions, tables, chains
// and sets.
package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/ruleset"
)

// TableName is the name of rampart's nftables table in each family.
const TableName = "rampart"

// DefaultStateDir is where the backend keeps its cache files when
// Backend.StateDir is empty: one directory per network namespace ("host"
// for the current one), holding ip.cache, ip6.cache and a lock file.
const DefaultStateDir = "/var/lib/rampart/nft"

// Backend loads and reads rampart's nftables tables, inside network
// namespace Netns (its `ip netns` name, or a path to a namespace file) when
// it is not empty.
type Backend struct {
	Netns string
	// StateDir is the directory of the handle caches (DefaultStateDir when
	// empty; "-" keeps no cache: every incremental load then reads
	// rampart's table from the kernel first).
	StateDir string
	// ChunkSize is the most rules an nftables chain holds before the
	// chain is split into chunk chains linked by gotos (chunk.go), so
	// that changing a rule rebuilds one chunk in the kernel:
	// DefaultChunkSize when 0, no splitting when negative.
	ChunkSize int
}

// nsPath is the path of the backend's namespace file ("" for the current
// namespace).
func (b Backend) nsPath() string {
	if b.Netns == "" || strings.ContainsRune(b.Netns, '/') {
		return b.Netns
	}
	return filepath.Join("/var/run/netns", b.Netns)
}

// dial opens a google/nftables connection in the backend's namespace. The
// connection opens its sockets when it sends, through the namespace handle:
// done closes the handle, after the last use of the connection.
func (b Backend) dial() (c *nftables.Conn, done func(), err error) {
	if b.Netns == "" {
		c, err = nftables.New()
		return c, func() {}, err
	}
	f, err := os.Open(b.nsPath())
	if err != nil {
		return nil, nil, fmt.Errorf("network namespace %s: %w", b.Netns, err)
	}
	c, err = nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return c, func() { f.Close() }, nil
}

func nftFamily(f ruleset.Family) nftables.TableFamily {
	if f == ruleset.IPv6 {
		return nftables.TableFamilyIPv6
	}
	return nftables.TableFamilyIPv4
}

// Apply loads the ruleset of each given family into rampart's table of that
// family, all in one netlink batch: the kernel ends with exactly the new
// rulesets, or (on any error) with what it had. When the table exists, only
// the difference is sent, and the rules that did not change keep their
// counters in the kernel (the counters the model gives them are not
// loaded); new rules start with the model's counters. Nothing changes when
// a rule cannot be translated or the kernel refuses the batch. Tables of
// families not given are left alone.
func (b Backend) Apply(sets ...*ruleset.Ruleset) error { return b.load(false, sets) }

// Replace is Apply without the difference: it deletes rampart's table of
// each given family and creates it again with the new ruleset, in one
// batch, so that every counter is the model's.
func (b Backend) Replace(sets ...*ruleset.Ruleset) error { return b.load(true, sets) }

// load translates sets (one ruleset a family) and applies them in one
// batch: the difference against the kernel's tables, or with replace the
// tables deleted and created again.
func (b Backend) load(replace bool, sets []*ruleset.Ruleset) error {
	defer lessGC()()
	var plans []*tablePlan
	seen := map[ruleset.Family]bool{}
	for _, rs := range sets {
		if seen[rs.Family] {
			return fmt.Errorf("nft backend: two rulesets of family %s", rs.Family)
		}
		seen[rs.Family] = true
		p, err := translate(rs)
		if err != nil {
			return err
		}
		plans = append(plans, p)
	}
	return b.applyPlans(plans, replace)
}

// loadGCPercent is the garbage collector's GOGC while Apply and Replace
// translate and marshal a ruleset: a large load allocates its expressions
// and batch once, and with the default 100 the collector takes a third of
// the time of a 100,000-rule load (BenchmarkBackendLoadNft100k).
const loadGCPercent = 400

// lessGC raises GOGC to loadGCPercent (unless it is higher or off) and
// returns the function that restores it.
func lessGC() func() {
	old := debug.SetGCPercent(loadGCPercent)
	if old < 0 || old > loadGCPercent {
		debug.SetGCPercent(old)
		return func() {}
	}
	return func() { debug.SetGCPercent(old) }
}

// Delete removes rampart's tables of the given families (one batch); a
// family without the table is no error.
func (b Backend) Delete(fams ...ruleset.Family) error {
	unlock, err := b.lock()
	if err != nil {
		return err
	}
	defer unlock()
	c, done, err := b.dial()
	if err != nil {
		return err
	}
	defer done()
	for _, f := range fams {
		t := &nftables.Table{Family: nftFamily(f), Name: TableName}
		c.AddTable(t)
		c.DelTable(t)
	}
	err = c.Flush()
	for _, f := range fams {
		b.removeCache(f)
	}
	return err
}

// SaveText reads rampart's table of family f back as iptables-save -c text
// (no comment lines), policy counters included (see t_policy.go).
func (b Backend) SaveText(f ruleset.Family) (string, error) {
	c, done, err := b.dial()
	if err != nil {
		return "", err
	}
	defer done()
	return readBack(c, f)
}

// Save reads rampart's table of family f back into the model, with the
// rules' counters.
func (b Backend) Save(f ruleset.Family) (*ruleset.Ruleset, error) {
	text, err := b.SaveText(f)
	if err != nil {
		return nil, err
	}
	name := "nft:" + f.String() + "/" + TableName
	rs, _, err := ipt.Load(name, []byte(text), ipt.LoadOptions{Family: f, Counters: true})
	if err != nil {
		return nil, fmt.Errorf("nft backend: reading back: %w", err)
	}
	return rs, nil
}

// Name is the backend's --backend name.
func (Backend) Name() string { return "nft" }

// Available reports whether the kernel answers nf_tables requests in
// network namespace netns ("" for the current one).
func Available(netns string) bool {
	c, done, err := Backend{Netns: netns}.dial()
	if err != nil {
		return false
	}
	defer done()
	_, err = c.ListTables()
	return err == nil
}

// nfnetlink message types of the nf_tables subsystem.
func nftType(msg uint16) uint16 { return unix.NFNL_SUBSYS_NFTABLES<<8 | msg }

const (
	nlmHdrLen  = 16 // struct nlmsghdr
	nfgenLen   = 4  // struct nfgenmsg
	flagsEcho  = unix.NLM_F_ECHO
	flagsReq   = unix.NLM_F_REQUEST
	nestedFlag = unix.NLA_F_NESTED
)

// batchBuf builds a netlink batch in one buffer: NFNL_MSG_BATCH_BEGIN, the
// messages, NFNL_MSG_BATCH_END. Each message gets the next sequence number.
type batchBuf struct {
	b     []byte
	seq   uint32
	start int // offset of the message being written
	nest  []int
	n     int // messages between begin and end
}

func newBatch(size int, seq uint32) *batchBuf {
	w := &batchBuf{b: make([]byte, 0, size), seq: seq}
	w.begin(unix.NFNL_MSG_BATCH_BEGIN, flagsReq, 0, unix.NFNL_SUBSYS_NFTABLES)
	w.end()
	return w
}

// echoGen sets NLM_F_ECHO on the first message after BATCH_BEGIN, so that
// the kernel sends us the NEWGEN notification of the commit, with the new
// generation id: nf_tables_gen_notify tests nlmsg_report() of the
// message the batch's skb starts with once nfnetlink has pulled
// BATCH_BEGIN.
func (w *batchBuf) echoGen() {
	first := int(binary.NativeEndian.Uint32(w.b))
	first = (first + 3) &^ 3
	if len(w.b) < first+nlmHdrLen {
		return
	}
	f := binary.NativeEndian.Uint16(w.b[first+6:])
	binary.NativeEndian.PutUint16(w.b[first+6:], f|flagsEcho)
}

// setLastAck sets NLM_F_ACK on the last message written.
func (w *batchBuf) setLastAck() {
	off := w.start + 6
	f := binary.NativeEndian.Uint16(w.b[off:])
	binary.NativeEndian.PutUint16(w.b[off:], f|unix.NLM_F_ACK)
}

// begin starts a message and returns its sequence number.
func (w *batchBuf) begin(typ, flags uint16, fam uint8, resID uint16) uint32 {
	w.seq++
	w.start = len(w.b)
	var h [nlmHdrLen + nfgenLen]byte
	binary.NativeEndian.PutUint16(h[4:], typ)
	binary.NativeEndian.PutUint16(h[6:], flags)
	binary.NativeEndian.PutUint32(h[8:], w.seq)
	h[16] = fam
	h[17] = unix.NFNETLINK_V0
	binary.BigEndian.PutUint16(h[18:], resID)
	w.b = append(w.b, h[:]...)
	return w.seq
}

// raw starts a message whose nfgenmsg and attributes are data (a message
// the library marshalled).
func (w *batchBuf) raw(typ, flags uint16, data []byte) uint32 {
	w.seq++
	w.start = len(w.b)
	var h [nlmHdrLen]byte
	binary.NativeEndian.PutUint16(h[4:], typ)
	binary.NativeEndian.PutUint16(h[6:], flags)
	binary.NativeEndian.PutUint32(h[8:], w.seq)
	w.b = append(w.b, h[:]...)
	w.b = append(w.b, data...)
	w.end()
	return w.seq
}

// end finishes the message: its length, and padding to 4 bytes.
func (w *batchBuf) end() {
	binary.NativeEndian.PutUint32(w.b[w.start:], uint32(len(w.b)-w.start))
	for len(w.b)%4 != 0 {
		w.b = append(w.b, 0)
	}
	w.n++
}

func (w *batchBuf) attr(typ uint16, data []byte) {
	var h [4]byte
	binary.NativeEndian.PutUint16(h[0:], uint16(4+len(data)))
	binary.NativeEndian.PutUint16(h[2:], typ)
	w.b = append(w.b, h[:]...)
	w.b = append(w.b, data...)
	for len(w.b)%4 != 0 {
		w.b = append(w.b, 0)
	}
}

func (w *batchBuf) attrStr(typ uint16, s string) {
	var h [4]byte
	binary.NativeEndian.PutUint16(h[0:], uint16(4+len(s)+1))
	binary.NativeEndian.PutUint16(h[2:], typ)
	w.b = append(w.b, h[:]...)
	w.b = append(w.b, s...)
	w.b = append(w.b, 0)
	for len(w.b)%4 != 0 {
		w.b = append(w.b, 0)
	}
}

func (w *batchBuf) attrU64(typ uint16, v uint64) {
	var h [12]byte
	binary.NativeEndian.PutUint16(h[0:], 12)
	binary.NativeEndian.PutUint16(h[2:], typ)
	binary.BigEndian.PutUint64(h[4:], v)
	w.b = append(w.b, h[:]...)
}

func (w *batchBuf) nestBegin(typ uint16) {
	w.nest = append(w.nest, len(w.b))
	w.b = append(w.b, 0, 0, 0, 0)
	binary.NativeEndian.PutUint16(w.b[len(w.b)-2:], typ|nestedFlag)
}

func (w *batchBuf) nestEnd() {
	off := w.nest[len(w.nest)-1]
	w.nest = w.nest[:len(w.nest)-1]
	binary.NativeEndian.PutUint16(w.b[off:], uint16(len(w.b)-off))
}

// finish appends NFNL_MSG_BATCH_END and returns the buffer.
func (w *batchBuf) finish() []byte {
	w.begin(unix.NFNL_MSG_BATCH_END, flagsReq, 0, unix.NFNL_SUBSYS_NFTABLES)
	w.end()
	return w.b
}

// nlConn is a raw NETLINK_NETFILTER socket in the backend's namespace.
type nlConn struct {
	c   *netlink.Conn
	raw syscall.RawConn
	seq uint32
	buf []byte
	ns  string // nsIdentity
}

func (b Backend) dialRaw() (*nlConn, error) {
	cfg := &netlink.Config{}
	if p := b.nsPath(); p != "" {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("network namespace %s: %w", b.Netns, err)
		}
		defer f.Close()
		cfg.NetNS = int(f.Fd())
	}
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, cfg)
	if err != nil {
		return nil, fmt.Errorf("nft backend: netlink: %w", err)
	}
	raw, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	// Extended acks carry the kernel's message for an error.
	c.SetOption(netlink.ExtendedAcknowledge, true)
	return &nlConn{c: c, raw: raw, seq: 1, buf: make([]byte, 1<<20), ns: nsIdentity(raw)}, nil
}

func (c *nlConn) close() { c.c.Close() }

// setBuffers makes the socket's send buffer hold a batch of snd bytes and
// its receive buffer rcv bytes of replies (the kernel doubles the values;
// as root the *FORCE options pass the system limits, as nft(8) does).
func (c *nlConn) setBuffers(snd, rcv int) {
	c.raw.Control(func(fd uintptr) {
		if snd > 0 {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, snd) != nil {
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, snd)
			}
		}
		if rcv > 0 {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcv) != nil {
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcv)
			}
		}
	})
}

// nlMsg is a received netlink message.
type nlMsg struct {
	typ, flags uint16
	seq        uint32
	data       []byte // after the nlmsghdr
}

// write sends buf in one sendmsg. The kernel handles a netlink message in
// the sender's call, so that when it returns every reply to a batch is
// queued on the socket.
func (c *nlConn) write(buf []byte) error {
	c.setBuffers(len(buf)+(64<<10), 0)
	var serr error
	err := c.raw.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return serr != unix.EAGAIN
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("nft backend: sending %d bytes: %w", len(buf), err)
	}
	return nil
}

// read receives what the socket holds; with wait it blocks until at least
// one datagram comes. It returns no messages (and no error) when nothing is
// queued and wait is false.
func (c *nlConn) read(wait bool) ([]nlMsg, error) {
	var n int
	var rerr error
	err := c.raw.Read(func(fd uintptr) bool {
		for {
			n, _, rerr = unix.Recvfrom(int(fd), c.buf, unix.MSG_DONTWAIT|unix.MSG_PEEK|unix.MSG_TRUNC)
			if rerr != nil || n <= len(c.buf) {
				break
			}
			c.buf = make([]byte, n)
		}
		if rerr == nil {
			n, _, rerr = unix.Recvfrom(int(fd), c.buf, unix.MSG_DONTWAIT)
		}
		return rerr != unix.EAGAIN || !wait
	})
	if err == nil {
		err = rerr
	}
	if err == unix.EAGAIN {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("nft backend: receiving: %w", err)
	}
	return parseMsgs(c.buf[:n])
}

func parseMsgs(b []byte) ([]nlMsg, error) {
	var out []nlMsg
	for len(b) >= nlmHdrLen {
		l := int(binary.NativeEndian.Uint32(b))
		if l < nlmHdrLen || l > len(b) {
			return nil, fmt.Errorf("nft backend: bad netlink message length %d", l)
		}
		out = append(out, nlMsg{
			typ:   binary.NativeEndian.Uint16(b[4:]),
			flags: binary.NativeEndian.Uint16(b[6:]),
			seq:   binary.NativeEndian.Uint32(b[8:]),
			data:  append([]byte(nil), b[nlmHdrLen:l]...),
		})
		l = (l + 3) &^ 3
		if l > len(b) {
			break
		}
		b = b[l:]
	}
	return out, nil
}

// kernelError is an error the kernel returned for one message of a batch.
type kernelError struct {
	errno syscall.Errno
	msg   string // the extended ack's message, if any
	what  string // what the message did
}

func (e *kernelError) Error() string {
	s := e.errno.Error()
	if e.msg != "" {
		s += " (" + e.msg + ")"
	}
	if e.what != "" {
		return e.what + ": " + s
	}
	return s
}

func (e *kernelError) Unwrap() error { return e.errno }

// ackError decodes an NLMSG_ERROR message: its errno (0 for an ack) and the
// sequence number of the message it answers.
func ackError(m nlMsg) (syscall.Errno, uint32, string) {
	if len(m.data) < 4+nlmHdrLen {
		return 0, 0, ""
	}
	code := int32(binary.NativeEndian.Uint32(m.data))
	seq := binary.NativeEndian.Uint32(m.data[4+8:])
	var text string
	if m.flags&unix.NLM_F_ACK_TLVS != 0 {
		// The request's header follows (its payload only when the
		// kernel did not cap it), then the TLVs.
		off := 4 + nlmHdrLen
		if m.flags&unix.NLM_F_CAPPED == 0 {
			off = 4 + int(binary.NativeEndian.Uint32(m.data[4:]))
		}
		for off+4 <= len(m.data) {
			l := int(binary.NativeEndian.Uint16(m.data[off:]))
			t := binary.NativeEndian.Uint16(m.data[off+2:])
			if l < 4 || off+l > len(m.data) {
				break
			}
			if t == unix.NLMSGERR_ATTR_MSG {
				text = strings.TrimRight(string(m.data[off+4:off+l]), "\x00")
			}
			off += (l + 3) &^ 3
		}
	}
	return syscall.Errno(-code), seq, text
}

// sendBatch sends a finished batch and collects the replies. The last
// message of the batch (before BATCH_END) must carry NLM_F_ACK: its ack
// tells that the kernel handled the whole batch. It returns the first error
// the kernel reported (naming what the failing message did, from what), and
// the other replies (echoes, NEWGEN).
func (c *nlConn) sendBatch(buf []byte, lastSeq uint32, what *descs, rcv int) ([]nlMsg, error) {
	c.setBuffers(0, rcv+(256<<10))
	if err := c.write(buf); err != nil {
		return nil, err
	}
	var replies []nlMsg
	var first error
	acked := false
	for {
		ms, err := c.read(false)
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				return nil, fmt.Errorf("nft backend: replies lost (receive buffer too small): the outcome of the batch is unknown")
			}
			return nil, err
		}
		if len(ms) == 0 {
			break
		}
		for _, m := range ms {
			if m.typ != unix.NLMSG_ERROR {
				replies = append(replies, m)
				continue
			}
			errno, seq, text := ackError(m)
			if errno == 0 {
				if seq == lastSeq {
					acked = true
				}
				continue
			}
			if first == nil {
				first = &kernelError{errno: errno, msg: text, what: what.get(seq)}
			}
		}
	}
	if first != nil {
		return nil, first
	}
	if !acked {
		return nil, fmt.Errorf("nft backend: the kernel did not acknowledge the batch")
	}
	return replies, nil
}

// request sends one request (not a batch) and collects its replies until
// the ack, or the end of a dump.
func (c *nlConn) request(typ, flags uint16, fam uint8, attrs func(w *batchBuf)) ([]nlMsg, error) {
	w := &batchBuf{seq: c.seq}
	seq := w.begin(typ, flags|flagsReq|unix.NLM_F_ACK, fam, 0)
	if attrs != nil {
		attrs(w)
	}
	w.end()
	c.seq = w.seq + 1
	if err := c.write(w.b); err != nil {
		return nil, err
	}
	var out []nlMsg
	for {
		ms, err := c.read(true)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if m.seq != seq {
				continue
			}
			switch m.typ {
			case unix.NLMSG_DONE:
				if m.flags&unix.NLM_F_DUMP_INTR != 0 {
					return nil, errDumpIntr
				}
				return out, nil
			case unix.NLMSG_ERROR:
				errno, _, text := ackError(m)
				if errno != 0 {
					return nil, &kernelError{errno: errno, msg: text}
				}
				if flags&unix.NLM_F_DUMP == 0 {
					return out, nil
				}
			default:
				if m.flags&unix.NLM_F_DUMP_INTR != 0 {
					return nil, errDumpIntr
				}
				out = append(out, m)
			}
		}
	}
}

var errDumpIntr = errors.New("nft backend: the ruleset changed during the dump")

// getGen returns the current nf_tables ruleset generation id
// (NFT_MSG_GETGEN): the kernel increments it with every commit.
func (c *nlConn) getGen() (uint32, error) {
	ms, err := c.request(nftType(unix.NFT_MSG_GETGEN), 0, unix.AF_UNSPEC, nil)
	if err != nil {
		return 0, fmt.Errorf("nft backend: reading the ruleset generation: %w", err)
	}
	for _, m := range ms {
		if id, ok := genOf(m); ok {
			return id, nil
		}
	}
	return 0, fmt.Errorf("nft backend: no generation in the kernel's answer")
}

// genOf decodes a NEWGEN message.
func genOf(m nlMsg) (uint32, bool) {
	if m.typ != nftType(unix.NFT_MSG_NEWGEN) || len(m.data) < nfgenLen {
		return 0, false
	}
	var id uint32
	found := false
	forAttrs(m.data[nfgenLen:], func(t uint16, v []byte) {
		if t == unix.NFTA_GEN_ID && len(v) == 4 {
			id, found = binary.BigEndian.Uint32(v), true
		}
	})
	return id, found
}

// forAttrs calls f for each attribute of b (type without the flag bits).
func forAttrs(b []byte, f func(typ uint16, v []byte)) {
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b))
		if l < 4 || l > len(b) {
			return
		}
		f(binary.NativeEndian.Uint16(b[2:])&^(unix.NLA_F_NESTED|unix.NLA_F_NET_BYTEORDER), b[4:l])
		l = (l + 3) &^ 3
		if l > len(b) {
			return
		}
		b = b[l:]
	}
}

func (w *batchBuf) attrU32(typ uint16, v uint32) {
	var h [8]byte
	binary.NativeEndian.PutUint16(h[0:], 8)
	binary.NativeEndian.PutUint16(h[2:], typ)
	binary.BigEndian.PutUint32(h[4:], v)
	w.b = append(w.b, h[:]...)
}

// dataValue writes a nested attribute typ holding NFTA_DATA_VALUE data.
func (w *batchBuf) dataValue(typ uint16, data []byte) {
	w.nestBegin(typ)
	w.attr(unix.NFTA_DATA_VALUE, data)
	w.nestEnd()
}

// expr writes one expression of a rule (an NFTA_LIST_ELEM): the common
// ones directly, byte for byte as expr.Marshal writes them (see
// TestFastExprs), the others through expr.Marshal.
func (w *batchBuf) expr(fam byte, e expr.Any) error {
	start := func(name string) {
		w.nestBegin(unix.NFTA_LIST_ELEM)
		w.attrStr(unix.NFTA_EXPR_NAME, name)
		w.nestBegin(unix.NFTA_EXPR_DATA)
	}
	finish := func() {
		w.nestEnd()
		w.nestEnd()
	}
	switch e := e.(type) {
	case *expr.Payload:
		if e.OperationType != expr.PayloadLoad || e.CsumType != 0 {
			break
		}
		start("payload")
		w.attrU32(unix.NFTA_PAYLOAD_DREG, e.DestRegister)
		w.attrU32(unix.NFTA_PAYLOAD_BASE, uint32(e.Base))
		w.attrU32(unix.NFTA_PAYLOAD_OFFSET, e.Offset)
		w.attrU32(unix.NFTA_PAYLOAD_LEN, e.Len)
		finish()
		return nil
	case *expr.Meta:
		if e.SourceRegister {
			break
		}
		start("meta")
		w.attrU32(unix.NFTA_META_KEY, uint32(e.Key))
		w.attrU32(unix.NFTA_META_DREG, e.Register)
		finish()
		return nil
	case *expr.Cmp:
		start("cmp")
		w.attrU32(unix.NFTA_CMP_SREG, e.Register)
		w.attrU32(unix.NFTA_CMP_OP, uint32(e.Op))
		w.dataValue(unix.NFTA_CMP_DATA, e.Data)
		finish()
		return nil
	case *expr.Bitwise:
		start("bitwise")
		w.attrU32(unix.NFTA_BITWISE_SREG, e.SourceRegister)
		w.attrU32(unix.NFTA_BITWISE_DREG, e.DestRegister)
		w.attrU32(unix.NFTA_BITWISE_LEN, e.Len)
		w.dataValue(unix.NFTA_BITWISE_MASK, e.Mask)
		w.dataValue(unix.NFTA_BITWISE_XOR, e.Xor)
		finish()
		return nil
	case *expr.Range:
		if e.Register == 0 || len(e.FromData) == 0 || len(e.ToData) == 0 {
			break
		}
		start("range")
		w.attrU32(unix.NFTA_RANGE_SREG, e.Register)
		w.attrU32(unix.NFTA_RANGE_OP, uint32(e.Op))
		w.dataValue(unix.NFTA_RANGE_FROM_DATA, e.FromData)
		w.dataValue(unix.NFTA_RANGE_TO_DATA, e.ToData)
		finish()
		return nil
	case *expr.Counter:
		start("counter")
		w.attrU64(unix.NFTA_COUNTER_BYTES, e.Bytes)
		w.attrU64(unix.NFTA_COUNTER_PACKETS, e.Packets)
		finish()
		return nil
	case *expr.Verdict:
		start("immediate")
		w.attrU32(unix.NFTA_IMMEDIATE_DREG, unix.NFT_REG_VERDICT)
		w.nestBegin(unix.NFTA_IMMEDIATE_DATA)
		w.nestBegin(unix.NFTA_DATA_VERDICT)
		w.attrU32(unix.NFTA_VERDICT_CODE, uint32(e.Kind))
		if e.Chain != "" {
			w.attrStr(unix.NFTA_VERDICT_CHAIN, e.Chain)
		}
		w.nestEnd()
		w.nestEnd()
		finish()
		return nil
	}
	data, err := expr.Marshal(fam, e)
	if err != nil {
		return err
	}
	w.attr(unix.NFTA_LIST_ELEM|nestedFlag, data)
	return nil
}

// descs says what each message of a batch does, for the kernel's errors;
// a rule's description is made only when needed.
type descs struct {
	text  map[uint32]string
	rules map[uint32]*nftables.Rule
	// ranges of consecutive messages adding rules
	ranges []descRange
}

type descRange struct {
	first uint32
	rules []*nftables.Rule
}

// ruleRange records that the messages from sequence number first on add
// rules, one each.
func (d *descs) ruleRange(first uint32, rules []*nftables.Rule) {
	d.ranges = append(d.ranges, descRange{first, rules})
}

func newDescs() *descs {
	return &descs{text: map[uint32]string{}, rules: map[uint32]*nftables.Rule{}}
}

func (d *descs) set(seq uint32, s string)          { d.text[seq] = s }
func (d *descs) rule(seq uint32, r *nftables.Rule) { d.rules[seq] = r }

func (d *descs) get(seq uint32) string {
	if r := d.rules[seq]; r != nil {
		return ruleDesc(r)
	}
	for _, rg := range d.ranges {
		if seq >= rg.first && seq-rg.first < uint32(len(rg.rules)) {
			return ruleDesc(rg.rules[seq-rg.first])
		}
	}
	return d.text[seq]
}

// Loaded reports whether rampart's table of family f exists (one netlink
// request; no rule is read).
func (b Backend) Loaded(f ruleset.Family) bool {
	c, done, err := b.dial()
	if err != nil {
		return false
	}
	defer done()
	tables, err := c.ListTablesOfFamily(nftFamily(f))
	if err != nil {
		return false
	}
	for _, t := range tables {
		if t.Name == TableName {
			return true
		}
	}
	return false
}
