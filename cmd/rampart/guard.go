package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampartfw/rampart/engine"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// The lock-out guard of rampart apply: before a ruleset is loaded, the SSH
// connection the command runs over (SSH_CONNECTION) is run through the new
// ruleset with the engine. The connection must survive and the
// administrator must be able to come back (a new SYN from the same client
// to the same server port, and the server's answer). The session's packets
// are ESTABLISHED only when conntrack already tracks the connection (an
// entry in the namespace's table): where the rules did not use conntrack
// before, the kernel picks the session up mid-stream, and its next packet
// is NEW without SYN, which the common "! --syn -m state --state NEW -j
// DROP" drops.

// sshConn is the connection SSH_CONNECTION describes:
// "client_ip client_port server_ip server_port".
type sshConn struct {
	client, server netip.Addr
	cport, sport   uint16
}

// parseSSHConnection reads SSH_CONNECTION. IPv4-mapped IPv6 addresses
// (::ffff:a.b.c.d, as sshd prints them on a dual-stack socket) are IPv4.
func parseSSHConnection(s string) (sshConn, error) {
	f := strings.Fields(s)
	if len(f) != 4 {
		return sshConn{}, fmt.Errorf("SSH_CONNECTION %q: want \"client_ip client_port server_ip server_port\"", s)
	}
	var c sshConn
	var err error
	addr := func(w string) (netip.Addr, error) {
		a, err := netip.ParseAddr(w)
		if err != nil {
			return a, fmt.Errorf("SSH_CONNECTION %q: bad address %q", s, w)
		}
		return a.WithZone("").Unmap(), nil
	}
	port := func(w string) (uint16, error) {
		n, err := strconv.ParseUint(w, 10, 16)
		if err != nil || n == 0 {
			return 0, fmt.Errorf("SSH_CONNECTION %q: bad port %q", s, w)
		}
		return uint16(n), nil
	}
	if c.client, err = addr(f[0]); err != nil {
		return c, err
	}
	if c.cport, err = port(f[1]); err != nil {
		return c, err
	}
	if c.server, err = addr(f[2]); err != nil {
		return c, err
	}
	if c.sport, err = port(f[3]); err != nil {
		return c, err
	}
	if c.client.Is4() != c.server.Is4() {
		return c, fmt.Errorf("SSH_CONNECTION %q: client and server of different families", s)
	}
	return c, nil
}

// family is the ruleset family that decides the connection's fate.
func (c sshConn) family() ruleset.Family {
	if c.client.Is6() {
		return ruleset.IPv6
	}
	return ruleset.IPv4
}

func (c sshConn) String() string {
	return netip.AddrPortFrom(c.client, c.cport).String() + " -> " + netip.AddrPortFrom(c.server, c.sport).String()
}

// guardIface is the interface the client's packets arrive on: the one of
// the route back to the client (ip route get, inside netns), "lo" for a
// local client; assumed is set when the route could not be looked up and
// "eth0" stands in.
func guardIface(netns string, c sshConn) (iface string, assumed bool) {
	if c.client.IsLoopback() || c.client == c.server {
		return "lo", false
	}
	args := []string{"-o", "route", "get", c.client.String()}
	if netns != "" {
		if strings.ContainsRune(netns, '/') {
			return "eth0", true
		}
		args = append([]string{"-n", netns}, args...)
	}
	out, err := exec.Command("ip", args...).Output()
	if err == nil {
		f := strings.Fields(string(out))
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "dev" {
				return f[i+1], false
			}
		}
	}
	return "eth0", true
}

// guardProbe is one packet of the guarded connection.
type guardProbe struct {
	what  string // what the packet stands for
	spec  pkt.Spec
	state uint8
	res   engine.Result
}

// passed reports whether the rules let the probe through (a packet the
// host model cannot route is not the rules' doing and is not held against
// them).
func (p *guardProbe) passed() bool {
	return p.res.Verdict == pkt.Accept || p.res.Path.Routing != "" || p.res.Reason.Table == ""
}

// ctView is what connection tracking knows of the guarded connection in
// the namespace the rules go to. An established connection is ESTABLISHED
// to the rules only when conntrack has an entry for it: on a host (or
// namespace) whose rules did not use conntrack before, nothing tracks it,
// and its next packet is picked up mid-stream as NEW without SYN
// (nf_conntrack_tcp_loose=1, the default) or INVALID (loose=0).
type ctView struct {
	known   bool // the conntrack table could be read (or conntrack is not loaded)
	tracked bool // an entry has the connection's tuple
	loose   bool // nf_conntrack_tcp_loose
}

// conntrackView reads the conntrack table and the loose sysctl of netns
// ("" the current one; a name under /var/run/netns or a path), from a
// thread that enters the namespace and is then thrown away.
func conntrackView(netns string, c sshConn) ctView {
	ch := make(chan ctView, 1)
	go func() {
		if netns != "" {
			// Never unlocked: the thread ends with the goroutine, so the
			// namespace change never reaches another goroutine.
			runtime.LockOSThread()
			path := netns
			if !strings.ContainsRune(path, '/') {
				path = filepath.Join("/var/run/netns", netns)
			}
			f, err := os.Open(path)
			if err != nil {
				ch <- ctView{loose: true}
				return
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				ch <- ctView{loose: true}
				return
			}
		}
		v := ctView{known: true, loose: true}
		if b, err := os.ReadFile("/proc/sys/net/netfilter/nf_conntrack_tcp_loose"); err == nil && strings.TrimSpace(string(b)) == "0" {
			v.loose = false
		}
		data, err := os.ReadFile("/proc/thread-self/net/nf_conntrack")
		if err != nil {
			v.known = errors.Is(err, fs.ErrNotExist) // no conntrack: nothing tracked
			ch <- v
			return
		}
		v.tracked = ctHasConn(string(data), c)
		ch <- v
	}()
	return <-ch
}

// tupleField places the fields of a conntrack tuple.
var tupleField = map[string]int{"src": 0, "dst": 1, "sport": 2, "dport": 3}

// ctHasConn reports whether a /proc/net/nf_conntrack listing has a TCP
// entry for the connection: client to server in the original direction,
// or server to client in the reply direction (the original one may carry
// the address before DNAT).
func ctHasConn(table string, c sshConn) bool {
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[2] != "tcp" {
			continue
		}
		var tuples [][4]string
		var cur [4]string
		n := 0
		for _, w := range f {
			k, v, ok := strings.Cut(w, "=")
			if !ok {
				continue
			}
			i, ok := tupleField[k]
			if !ok {
				continue
			}
			cur[i] = v
			if n++; n == 4 {
				tuples = append(tuples, cur)
				n = 0
			}
		}
		is := func(t [4]string, src, dst netip.Addr, sp, dp uint16) bool {
			a, err1 := netip.ParseAddr(t[0])
			b, err2 := netip.ParseAddr(t[1])
			return err1 == nil && err2 == nil && a.Unmap() == src && b.Unmap() == dst &&
				t[2] == strconv.Itoa(int(sp)) && t[3] == strconv.Itoa(int(dp))
		}
		if len(tuples) >= 1 && is(tuples[0], c.client, c.server, c.cport, c.sport) ||
			len(tuples) >= 2 && is(tuples[1], c.server, c.client, c.sport, c.cport) {
			return true
		}
	}
	return false
}

// runGuard runs the connection's packets through rs (the ruleset of the
// connection's family as it would be loaded) on a host whose server
// address is on iface. ct says whether the session's packets are
// ESTABLISHED or picked up mid-stream (then the client's next packet is
// the first conntrack sees, and the server's answer is ESTABLISHED).
func runGuard(rs *ruleset.Ruleset, c sshConn, iface string, ct ctView) []*guardProbe {
	const ack, syn = 0x10, 0x02
	in := pkt.Spec{Proto: pkt.ProtoTCP, Src: c.client, SrcPort: c.cport, Dst: c.server, DstPort: c.sport}
	out := pkt.Spec{Proto: pkt.ProtoTCP, Src: c.server, SrcPort: c.sport, Dst: c.client, DstPort: c.cport}
	session := &guardProbe{what: "this session, client to server (ESTABLISHED: conntrack tracks it)", spec: in, state: pkt.CTEstablished}
	switch {
	case !ct.tracked && ct.loose:
		session.what = "this session, client to server (NEW without SYN: conntrack does not track it yet and picks it up mid-stream)"
		session.state = pkt.CTNew
	case !ct.tracked:
		session.what = "this session, client to server (INVALID: conntrack does not track it and nf_conntrack_tcp_loose=0)"
		session.state = pkt.CTInvalid
	}
	probes := []*guardProbe{
		session,
		{what: "this session, server to client (ESTABLISHED)", spec: out, state: pkt.CTEstablished},
		{what: "a new connection from the same client (SYN, NEW)", spec: in, state: pkt.CTNew},
		{what: "the server's answer to it (SYN-ACK, ESTABLISHED)", spec: out, state: pkt.CTEstablished},
	}
	probes[0].spec.TCPFlags = ack
	probes[1].spec.TCPFlags = ack
	probes[2].spec.TCPFlags = syn
	probes[3].spec.TCPFlags = syn | ack
	bits := c.client.BitLen()
	for _, p := range probes {
		host := engine.NewHost()
		if !host.IsLocal(c.server) {
			host.AddIface(iface + "=" + netip.PrefixFrom(c.server, bits).String())
		}
		if !host.IsLocal(c.client) {
			host.AddRoute(netip.PrefixFrom(c.client, bits).String() + "=" + iface)
		}
		var packet pkt.Packet
		if err := packet.Decode(pkt.Build(p.spec)); err != nil {
			// A packet built from valid addresses and ports always
			// decodes; should it not, the guard says so below.
			p.res = engine.Result{Verdict: pkt.Drop, Undecided: err.Error()}
			continue
		}
		e := newEngine(rs, host, fixedState(p.state))
		p.res = e.Process(&packet, time.Now(), nil)
	}
	return probes
}

// guardWhere names what decided a probe: table, chain, rule number,
// file:line and the rule's text, or the chain's policy and the line that
// set it.
func guardWhere(rs *ruleset.Ruleset, res engine.Result) string {
	r := res.Reason
	t := rs.Table(r.Table)
	var c *ruleset.Chain
	if t != nil {
		c = t.Chain(r.Chain)
	}
	if r.Policy || r.Rule == 0 {
		s := fmt.Sprintf("%s %s policy %s", r.Table, r.Chain, res.Verdict)
		if c != nil {
			s = fmt.Sprintf("%s %s policy %s", r.Table, r.Chain, c.Policy)
		}
		if pos := policyPos(rs.Family, r.Table, r.Chain); pos != "" {
			s += " (set at " + pos + ")"
		}
		return s
	}
	s := fmt.Sprintf("%s %s rule %d", r.Table, r.Chain, r.Rule)
	if c != nil && r.Rule <= len(c.Rules) {
		rule := c.Rules[r.Rule-1]
		if rule.Pos.File != "" {
			s += fmt.Sprintf(" (%s:%d)", rule.Pos.File, rule.Pos.Line)
		}
		s += ": " + ruleLine(r.Chain, rule, rs.Family)
	}
	return s
}

// guardFiles are the rules files being applied, for policyPos.
var guardFiles = map[ruleset.Family]string{}

// guardSkipped are the lines of the rules files that failed and were
// skipped (file:line), by family: a refusal points at them.
var guardSkipped = map[ruleset.Family][]string{}

// policyPos finds the line of the rules file of family fam that sets the
// policy of table/chain: the chain line ":CHAIN POLICY" of a restore file
// or the last "-P CHAIN" command of a script. "" when it cannot be found.
func policyPos(fam ruleset.Family, table, chain string) string {
	path := guardFiles[fam]
	if path == "" {
		return ""
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	script := ipt.DetectFormat(data) == ipt.FormatScript
	found, cur := "", "filter"
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(nil, 1<<24)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if !script {
			switch {
			case line[0] == '*':
				cur = line[1:]
			case line[0] == ':' && cur == table && len(f) >= 2 && f[0] == ":"+chain,
				cur == table && len(f) >= 3 && (f[0] == "-P" || f[0] == "--policy") && f[1] == chain:
				found = fmt.Sprintf("%s:%d: %s", path, n, line)
			}
			continue
		}
		tbl, isPolicy := "filter", false
		for i := 0; i < len(f); i++ {
			switch {
			case (f[i] == "-t" || f[i] == "--table") && i+1 < len(f):
				tbl = f[i+1]
			case (f[i] == "-P" || f[i] == "--policy") && i+1 < len(f) && f[i+1] == chain:
				isPolicy = true
			}
		}
		tool := strings.Contains(f[0], "ip6tables") || len(f) > 1 && f[0] == "sudo" && strings.Contains(f[1], "ip6tables")
		if isPolicy && tbl == table && tool == (fam == ruleset.IPv6) {
			found = fmt.Sprintf("%s:%d: %s", path, n, line)
		}
	}
	return found
}

// ruleLine is a rule as iptables-save prints it: -A CHAIN SPEC.
func ruleLine(chain string, r *ruleset.Rule, fam ruleset.Family) string {
	var b strings.Builder
	b.WriteString("-A " + chain)
	iptextRuleSpec(&b, r, fam)
	return b.String()
}

// checkLockout runs the guard for the connection in SSH_CONNECTION against
// the rulesets about to be loaded (sets, by family). It prints what it
// found and reports whether the apply may go on (force lets a refused
// apply go on with a warning).
func checkLockout(sets map[ruleset.Family]*ruleset.Ruleset, netns string, force bool) bool {
	env := os.Getenv("SSH_CONNECTION")
	if env == "" {
		return true
	}
	c, err := parseSSHConnection(env)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rampart apply: lock-out guard: %v; not checked\n", err)
		return true
	}
	rs := sets[c.family()]
	if rs == nil {
		return true // that family's rules do not change
	}
	iface, assumed := guardIface(netns, c)
	ct := conntrackView(netns, c)
	if !ct.known {
		// Unreadable: take the session as tracked, and say so.
		ct.tracked = true
		fmt.Fprintln(os.Stderr, "lock-out guard: note: the conntrack table could not be read; the SSH session is taken as ESTABLISHED")
	}
	probes := runGuard(rs, c, iface, ct)
	blocked := false
	for _, p := range probes {
		if !p.passed() {
			blocked = true
		}
	}
	ifNote := iface
	if assumed {
		ifNote += " (assumed: no route to the client found)"
	}
	if !blocked {
		fmt.Fprintf(os.Stderr, "lock-out guard: SSH connection %s (%s, interface %s) stays open and can reconnect\n", c, c.family(), ifNote)
		for _, p := range probes {
			if p.res.Undecided != "" {
				fmt.Fprintf(os.Stderr, "  note: %s: the rules depend on something the guard cannot know: %s\n", p.what, p.res.Undecided)
			}
		}
		return true
	}
	verb := "refused"
	if force {
		verb = "warning (--force)"
	}
	fmt.Fprintf(os.Stderr, "rampart apply: %s: the new rules would lock out the SSH connection %s (%s, interface %s):\n", verb, c, c.family(), ifNote)
	for _, p := range probes {
		if p.passed() {
			fmt.Fprintf(os.Stderr, "  ok       %s: %s\n", p.what, guardWhere(rs, p.res))
			continue
		}
		fmt.Fprintf(os.Stderr, "  %-8s %s: %s\n", p.res.Verdict, p.what, guardWhere(rs, p.res))
		if p.res.Undecided != "" {
			fmt.Fprintf(os.Stderr, "           (the rules depend on something the guard cannot know: %s)\n", p.res.Undecided)
		}
	}
	if skipped := guardSkipped[c.family()]; len(skipped) > 0 {
		fmt.Fprintf(os.Stderr, "  note: the rule meant to let this connection in may be a line that failed: %s\n", strings.Join(skipped, ", "))
	}
	if force {
		return true
	}
	fmt.Fprintln(os.Stderr, "nothing was changed; fix the rules, or apply with --force (and --confirm) to load them anyway")
	return false
}
