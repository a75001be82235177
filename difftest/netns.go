package difftest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampartfw/rampart/engine"
)

// The test topology: "fw" is the firewall host, "peer" sits on fw's
// interface vpeer, "far" on vfar; fw forwards between them.
var (
	FWPeer4   = netip.MustParseAddr("10.9.0.1")
	FWPeer6   = netip.MustParseAddr("fd00:9::1")
	FWFar4    = netip.MustParseAddr("10.9.1.1")
	FWFar6    = netip.MustParseAddr("fd00:9:1::1")
	PeerNet4  = netip.MustParsePrefix("10.9.0.0/24")
	PeerNet6  = netip.MustParsePrefix("fd00:9::/64")
	FarNet4   = netip.MustParsePrefix("10.9.1.0/24")
	FarNet6   = netip.MustParsePrefix("fd00:9:1::/64")
	macFWPeer = [6]byte{2, 0, 0, 0, 0, 1}
	macPeer   = [6]byte{2, 0, 0, 0, 0, 2}
	macFWFar  = [6]byte{2, 0, 0, 0, 1, 1}
	macFar    = [6]byte{2, 0, 0, 0, 1, 2}
)

// Interface names inside fw.
const (
	IfPeer = "vpeer"
	IfFar  = "vfar"
)

// capMark marks the packets the harness sends from fw (SO_MARK), so that
// the quiet chain lets them through.
const capMark = 0x77

// nflogGroup is the NFLOG group the capture table logs to.
const nflogGroup = 5

// hostAddr returns address number n (2..) of a /24 or /64 of the topology.
func hostAddr(p netip.Prefix, n int) netip.Addr {
	b := p.Addr().AsSlice()
	b[len(b)-1] = byte(n)
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Host returns the engine's model of fw.
func Host() *engine.Host {
	h := engine.NewHost()
	h.Ifaces = append(h.Ifaces,
		engine.Iface{Name: IfPeer, Addrs: []netip.Prefix{netip.PrefixFrom(FWPeer4, 24), netip.PrefixFrom(FWPeer6, 64)}},
		engine.Iface{Name: IfFar, Addrs: []netip.Prefix{netip.PrefixFrom(FWFar4, 24), netip.PrefixFrom(FWFar6, 64)}})
	h.Forwarding = true
	return h
}

// Topo is the three namespaces with their links, and the sockets that
// inject packets.
type Topo struct {
	FW, Peer, Far string // netns names

	peerFD, farFD int // AF_PACKET sockets
	peerIdx       int
	farIdx        int
	fw4, fw6      int // raw IP sockets in fw (header included)
}

func sh(ns string, script string) error {
	args := []string{"sh", "-ec", script}
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", script, err, out)
	}
	return nil
}

func macStr(m [6]byte) string { return net.HardwareAddr(m[:]).String() }

// quietSysctls keep IPv6 from sending anything on its own.
const quietSysctls = `
sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
sysctl -qw net.ipv6.conf.all.addr_gen_mode=1 net.ipv6.conf.default.addr_gen_mode=1
sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
sysctl -qw net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0
sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
sysctl -qw net.ipv6.conf.all.mldv2_unsolicited_report_interval=10 net.ipv6.conf.default.mldv2_unsolicited_report_interval=10 || true
sysctl -qw net.ipv6.conf.all.mldv1_unsolicited_report_interval=10 net.ipv6.conf.default.mldv1_unsolicited_report_interval=10 || true
ip link set lo up
`

// Setup builds the topology in three existing, empty namespaces: links,
// addresses, static neighbours (no ARP or neighbour discovery), forwarding
// in fw, the capture table in fw, and sinks in peer and far (their kernels
// never answer what they receive: they are pure packet sources).
func Setup(fw, peer, far string) (*Topo, error) {
	t := &Topo{FW: fw, Peer: peer, Far: far, peerFD: -1, farFD: -1, fw4: -1, fw6: -1}
	for _, ns := range []string{fw, peer, far} {
		if err := sh(ns, quietSysctls); err != nil {
			return nil, err
		}
	}
	if err := sh(fw, `sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 net.ipv6.conf.default.forwarding=1`); err != nil {
		return nil, err
	}
	if err := sh("", fmt.Sprintf(`
ip -n %[1]s link add %[3]s address %[5]s type veth peer name p0 address %[6]s netns %[2]s
ip -n %[1]s link add %[4]s address %[7]s type veth peer name f0 address %[8]s netns %[9]s
`, fw, peer, IfPeer, IfFar, macStr(macFWPeer), macStr(macPeer), macStr(macFWFar), macStr(macFar), far)); err != nil {
		return nil, err
	}
	var fwScript strings.Builder
	fmt.Fprintf(&fwScript, "ip addr add %s/24 dev %s\nip addr add %s/64 dev %s nodad\n", FWPeer4, IfPeer, FWPeer6, IfPeer)
	fmt.Fprintf(&fwScript, "ip addr add %s/24 dev %s\nip addr add %s/64 dev %s nodad\n", FWFar4, IfFar, FWFar6, IfFar)
	for n := 2; n < 10; n++ {
		for _, x := range []struct {
			p   netip.Prefix
			dev string
			mac [6]byte
		}{{PeerNet4, IfPeer, macPeer}, {PeerNet6, IfPeer, macPeer}, {FarNet4, IfFar, macFar}, {FarNet6, IfFar, macFar}} {
			fmt.Fprintf(&fwScript, "ip neigh replace %s lladdr %s dev %s nud permanent\n", hostAddr(x.p, n), macStr(x.mac), x.dev)
		}
	}
	fmt.Fprintf(&fwScript, "ip link set %s up\nip link set %s up\n", IfPeer, IfFar)
	fmt.Fprintf(&fwScript, "nft -f - <<'EOF'\n%sEOF\n", captureTable)
	if err := sh(fw, fwScript.String()); err != nil {
		return nil, err
	}
	for _, x := range []struct {
		ns, dev string
		net4    netip.Prefix
		net6    netip.Prefix
		gw4     netip.Addr
		gw6     netip.Addr
		gwmac   [6]byte
	}{{peer, "p0", PeerNet4, PeerNet6, FWPeer4, FWPeer6, macFWPeer}, {far, "f0", FarNet4, FarNet6, FWFar4, FWFar6, macFWFar}} {
		s := fmt.Sprintf(`ip addr add %s/24 dev %s
ip addr add %s/64 dev %s nodad
ip neigh replace %s lladdr %s dev %s nud permanent
ip neigh replace %s lladdr %s dev %s nud permanent
ip link set %s up
ip route add default via %s
ip -6 route add default via %s
nft -f - <<'EOF'
table inet sink {
	chain pre { type filter hook prerouting priority -500; policy drop; }
}
EOF
`, hostAddr(x.net4, 2), x.dev, hostAddr(x.net6, 2), x.dev, x.gw4, macStr(x.gwmac), x.dev, x.gw6, macStr(x.gwmac), x.dev, x.dev, x.gw4, x.gw6)
		if err := sh(x.ns, s); err != nil {
			return nil, err
		}
	}
	if err := t.openSockets(); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// captureTable logs every packet entering PREROUTING (except the loopback
// copies of local traffic, which the engine simulates from their OUTPUT
// copy) or OUTPUT to NFLOG, before defragmentation and conntrack. The quiet
// chain removes, before anything sees them, the RSTs fw's own TCP stack
// sends for the crafted sessions (it has no sockets): those have no
// conntrack attached yet, unlike REJECT's, which REJECT attaches to the
// rejected packet's connection, and unlike the harness's, which carry
// capMark. fw's side of a session is sent by the harness instead.
var captureTable = fmt.Sprintf(`table inet rampartcap {
	chain quiet {
		type filter hook output priority -2000;
		meta mark != 0x%x tcp flags & rst == rst ct state invalid drop
	}
	chain pre {
		type filter hook prerouting priority -1000;
		iifname != "lo" log group %d queue-threshold 1
	}
	chain out {
		type filter hook output priority -1000;
		log group %d queue-threshold 1
	}
}
`, capMark, nflogGroup, nflogGroup)

// inNetns runs f on an OS thread that has joined the namespace.
func inNetns(name string, f func() error) error {
	runtime.LockOSThread()
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer self.Close()
	ns, err := os.Open("/run/netns/" + name)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer ns.Close()
	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", name, err)
	}
	ferr := f()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: the runtime discards it with the goroutine.
		return fmt.Errorf("setns back: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (t *Topo) openSockets() error {
	packet := func(ns, dev string, fd, idx *int) error {
		return inNetns(ns, func() error {
			ifc, err := net.InterfaceByName(dev)
			if err != nil {
				return err
			}
			s, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0) // protocol 0: send only
			if err != nil {
				return err
			}
			*fd, *idx = s, ifc.Index
			return nil
		})
	}
	if err := packet(t.Peer, "p0", &t.peerFD, &t.peerIdx); err != nil {
		return err
	}
	if err := packet(t.Far, "f0", &t.farFD, &t.farIdx); err != nil {
		return err
	}
	return inNetns(t.FW, func() error {
		s4, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
		if err != nil {
			return err
		}
		t.fw4 = s4
		s6, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_RAW)
		if err != nil {
			return err
		}
		t.fw6 = s6
		for _, s := range []int{s4, s6} {
			if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_MARK, capMark); err != nil {
				return err
			}
		}
		return nil
	})
}

// Close closes the sockets (the namespaces belong to the caller).
func (t *Topo) Close() {
	for _, fd := range []*int{&t.peerFD, &t.farFD, &t.fw4, &t.fw6} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

// Send injects one packet from its side. Errors (a packet that fw's OUTPUT
// chain drops gets EPERM) are returned for the record only.
func (t *Topo) Send(side Side, ip []byte) error {
	switch side {
	case Peer:
		return unix.Sendto(t.peerFD, ether(macFWPeer, macPeer, ip), 0, &unix.SockaddrLinklayer{Ifindex: t.peerIdx, Halen: 6, Addr: [8]byte{2, 0, 0, 0, 0, 1}, Protocol: htons(etherType(ip))})
	case Far:
		return unix.Sendto(t.farFD, ether(macFWFar, macFar, ip), 0, &unix.SockaddrLinklayer{Ifindex: t.farIdx, Halen: 6, Addr: [8]byte{2, 0, 0, 0, 1, 1}, Protocol: htons(etherType(ip))})
	case FW:
		if ip[0]>>4 == 4 {
			return unix.Sendto(t.fw4, ip, 0, &unix.SockaddrInet4{Addr: [4]byte(ip[16:20])})
		}
		return unix.Sendto(t.fw6, ip, 0, &unix.SockaddrInet6{Addr: [16]byte(ip[24:40])})
	}
	return fmt.Errorf("bad side %d", side)
}

func etherType(ip []byte) uint16 {
	if ip[0]>>4 == 6 {
		return 0x86dd
	}
	return 0x0800
}

// FlushConntrack empties fw's conntrack table (ctnetlink
// IPCTNL_MSG_CT_DELETE without a tuple, all families).
func (t *Topo) FlushConntrack() error {
	return inNetns(t.FW, func() error {
		s, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_NETFILTER)
		if err != nil {
			return err
		}
		defer unix.Close(s)
		msg := make([]byte, 20)
		binary.NativeEndian.PutUint32(msg[0:], 20)
		binary.NativeEndian.PutUint16(msg[4:], 1<<8|2) // NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_DELETE
		binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
		binary.NativeEndian.PutUint32(msg[8:], 1)
		// nfgenmsg: family AF_UNSPEC, version 0, res_id 0
		if err := unix.Sendto(s, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return err
		}
		buf := make([]byte, 4096)
		n, _, err := unix.Recvfrom(s, buf, 0)
		if err != nil {
			return err
		}
		if n >= 20 && binary.NativeEndian.Uint16(buf[4:]) == unix.NLMSG_ERROR {
			if e := int32(binary.NativeEndian.Uint32(buf[16:])); e != 0 {
				return fmt.Errorf("conntrack flush: %v", unix.Errno(-e))
			}
		}
		return nil
	})
}

// Exec runs a command in fw with stdin and returns its stdout.
func (t *Topo) Exec(stdin string, name string, args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", t.FW, name}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil {
		return o.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, e.String())
	}
	return o.String(), nil
}

// Capture is a running tcpdump on fw's NFLOG group.
type Capture struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan struct{}
	Path   string
}

// StartCapture starts tcpdump -i nflog:N -w path -U in fw and waits until
// it listens.
func (t *Topo) StartCapture(path string) (*Capture, error) {
	c := &Capture{Path: path, done: make(chan struct{})}
	c.cmd = exec.Command("ip", "netns", "exec", t.FW, "tcpdump", "-n", "-i", fmt.Sprintf("nflog:%d", nflogGroup), "-w", path, "-U", "-B", "8192")
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c.cmd.Stderr = pw
	if err := c.cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, err
	}
	pw.Close()
	ready := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		var all []byte
		sent := false
		for {
			n, err := pr.Read(buf)
			all = append(all, buf[:n]...)
			if !sent && bytes.Contains(all, []byte("listening on")) {
				ready <- nil
				sent = true
			}
			if err != nil {
				if !sent {
					ready <- fmt.Errorf("tcpdump: %s", all)
				}
				c.stderr.Write(all)
				pr.Close()
				close(c.done)
				return
			}
		}
	}()
	select {
	case err := <-ready:
		if err != nil {
			c.cmd.Wait()
			return nil, err
		}
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		c.cmd.Wait()
		return nil, fmt.Errorf("tcpdump did not start")
	}
	return c, nil
}

// Stop interrupts tcpdump and returns how many packets it says the kernel
// dropped.
func (c *Capture) Stop() (dropped int, err error) {
	c.cmd.Process.Signal(os.Interrupt)
	c.cmd.Wait()
	<-c.done
	for _, l := range strings.Split(c.stderr.String(), "\n") {
		if strings.Contains(l, "dropped by kernel") {
			fmt.Sscan(l, &dropped)
		}
	}
	return dropped, nil
}

// KernelJiffyPhase returns where this machine's jiffies tick in Unix time
// (xt.JiffyPhase): the CLOCK_REALTIME - CLOCK_MONOTONIC offset modulo the
// 4 ms jiffy, since the tick is aligned to multiples of TICK_NSEC of
// CLOCK_MONOTONIC.
func KernelJiffyPhase() time.Duration {
	const jiffy = int64(4 * time.Millisecond)
	best := int64(-1)
	var off int64
	for range 5 {
		var rt, mono, rt2 unix.Timespec
		unix.ClockGettime(unix.CLOCK_REALTIME, &rt)
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono)
		unix.ClockGettime(unix.CLOCK_REALTIME, &rt2)
		if d := rt2.Nano() - rt.Nano(); best < 0 || d < best {
			best = d
			off = (rt.Nano()+rt2.Nano())/2 - mono.Nano()
		}
	}
	return time.Duration((off%jiffy + jiffy) % jiffy)
}
