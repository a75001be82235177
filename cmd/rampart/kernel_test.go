package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rampartfw/rampart/backend/iptrestore"
	"github.com/rampartfw/rampart/backend/nft"
	"github.com/rampartfw/rampart/internal/testenv"
	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/ruleset"
)

// TestHelperProcess is not a test: run by the kernel tests inside a
// network namespace (RAMPART_HELPER=MODE:ADDR), it is
//   - listen: a TCP listener answering "ok" to every connection;
//   - dial: the client of listen (exit status 0 when it reads "ok" from
//     ADDR within 2 s);
//   - echo: a TCP echo server of lines;
//   - session: a client that keeps one connection and, for each line on
//     stdin, sends it and prints "reply LINE" (or "error ...") when the
//     echo does (not) come back within 2 s.
func TestHelperProcess(t *testing.T) {
	mode, addr, ok := strings.Cut(os.Getenv("RAMPART_HELPER"), ":")
	if !ok {
		return
	}
	switch mode {
	case "listen", "echo":
		l, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("ready")
		for {
			c, err := l.Accept()
			if err != nil {
				os.Exit(1)
			}
			if mode == "echo" {
				go io.Copy(c, c)
				continue
			}
			c.Write([]byte("ok\n"))
			c.Close()
		}
	case "session":
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		r := bufio.NewReader(c)
		in := bufio.NewScanner(os.Stdin)
		fmt.Println("connected", c.LocalAddr())
		for in.Scan() {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			line, err := "", error(nil)
			if _, err = c.Write([]byte(in.Text() + "\n")); err == nil {
				line, err = r.ReadString('\n')
			}
			if err != nil {
				fmt.Println("error:", err)
				continue
			}
			fmt.Println("reply", strings.TrimSpace(line))
		}
		os.Exit(0)
	case "dial":
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil || string(b) != "ok\n" {
			fmt.Fprintf(os.Stderr, "read %q: %v\n", b, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(2)
}

var counterRE = regexp.MustCompile(`\[[0-9]+:[0-9]+\]`)

// noCounters is iptables-save output without its comment lines and with
// every counter zeroed (iptables-save prints the policy counters always).
func noCounters(s string) string {
	return counterRE.ReplaceAllString(testenv.StripComments(s), "[0:0]")
}

// helperCmd runs this test binary as TestHelperProcess inside netns ns.
func helperCmd(ns, helper string) *exec.Cmd {
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "RAMPART_HELPER="+helper)
	return cmd
}

// startHelper starts TestHelperProcess (RAMPART_HELPER=mode) in ns; it is
// killed when the test ends.
func startHelper(t *testing.T, ns, mode string) (stdin io.Writer, stdout *bufio.Reader) {
	t.Helper()
	cmd := helperCmd(ns, mode)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return in, bufio.NewReader(out)
}

// listen starts the TCP listener on port 22 (all addresses) in ns.
func listen(t *testing.T, ns string) {
	t.Helper()
	_, out := startHelper(t, ns, "listen:0.0.0.0:22")
	line, _ := out.ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("listener in %s: %q", ns, line)
	}
}

// connects reports whether a TCP connection from ns to addr gets the
// listener's answer.
func connects(ns, addr string) bool {
	return helperCmd(ns, "dial:"+addr).Run() == nil
}

// nsPair is a server and a client namespace joined by a veth pair
// (server 10.99.0.1/24, client 10.99.0.2/24), loopback up in both.
func nsPair(t *testing.T) (server, client *testenv.Netns) {
	t.Helper()
	server, client = testenv.NewNetns(t), testenv.NewNetns(t)
	for _, argv := range [][]string{
		{"ip", "-n", server.Name, "link", "add", "vs", "type", "veth", "peer", "name", "vc", "netns", client.Name},
		{"ip", "-n", server.Name, "addr", "add", "10.99.0.1/24", "dev", "vs"},
		{"ip", "-n", client.Name, "addr", "add", "10.99.0.2/24", "dev", "vc"},
		{"ip", "-n", server.Name, "link", "set", "vs", "up"},
		{"ip", "-n", client.Name, "link", "set", "vc", "up"},
		{"ip", "-n", server.Name, "link", "set", "lo", "up"},
		{"ip", "-n", client.Name, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			testenv.Missing(t, "%s: %v: %s", strings.Join(argv, " "), err, out)
		}
	}
	return server, client
}

func TestKernelSave(t *testing.T) {
	seed := filepath.Join(testenv.Shared(t), "seeds", "centos7-web.rules")
	ns := testenv.NewNetns(t)
	bin := buildRampart(t)
	rs, _, err := ipt.LoadFile(seed, ipt.LoadOptions{Family: ruleset.IPv4})
	if err != nil {
		t.Fatal(err)
	}
	b := iptrestore.Backend{Netns: ns.Name}
	if err := b.Apply(rs); err != nil {
		t.Fatal(err)
	}
	v6 := "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -s 2001:db8::/32 -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n"
	if err := b.ApplyText(ruleset.IPv6, v6); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		tool []string
	}{
		{[]string{"save", "--netns", ns.Name}, []string{"iptables-save"}},
		{[]string{"save", "-c", "--netns", ns.Name}, []string{"iptables-save", "-c"}},
		{[]string{"save", "-6", "--netns", ns.Name}, []string{"ip6tables-save"}},
		{[]string{"save", "-6", "-c", "--netns", ns.Name}, []string{"ip6tables-save", "-c"}},
	} {
		r := runBin(t, bin, nil, "", c.args...)
		if r.code != 0 {
			t.Fatalf("rampart %v: exit %d: %s", c.args, r.code, r.stderr)
		}
		k := ns.Run("", c.tool[0], c.tool[1:]...)
		if k.Code != 0 {
			t.Fatalf("%v: %s", c.tool, k.Stderr)
		}
		if g, w := testenv.StripComments(r.stdout), testenv.StripComments(k.Stdout); g != w {
			t.Errorf("rampart %v differs from %v:\n--- rampart\n%s--- kernel\n%s", c.args, c.tool, g, w)
		}
		if !strings.HasPrefix(r.stdout, "# Generated by ") {
			t.Errorf("rampart %v: no header line:\n%s", c.args, r.stdout)
		}
	}

	// --to writes the file atomically and keeps the previous one as .bak.
	to := filepath.Join(t.TempDir(), "rules.v4")
	if err := os.WriteFile(to, []byte("previous\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if r := runBin(t, bin, nil, "", "save", "--netns", ns.Name, "--to", to); r.code != 0 || r.stdout != "" {
		t.Fatalf("save --to: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	got, err := os.ReadFile(to)
	if err != nil {
		t.Fatal(err)
	}
	if w := testenv.StripComments(ns.Run("", "iptables-save").Stdout); testenv.StripComments(string(got)) != w {
		t.Errorf("--to file:\n%s\nwant\n%s", got, w)
	}
	if bak, err := os.ReadFile(to + ".bak"); err != nil || string(bak) != "previous\n" {
		t.Errorf("%s.bak: %q, %v", to, bak, err)
	}
	if st, err := os.Stat(to); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("mode of %s not kept: %v %v", to, st.Mode(), err)
	}
	// The written file loads back as the same ruleset.
	back, _, err := ipt.LoadFile(to, ipt.LoadOptions{Family: ruleset.IPv4})
	if err != nil {
		t.Fatal(err)
	}
	if g, w := saveText(back, false), saveText(rs, false); testenv.StripComments(g) != testenv.StripComments(w) {
		t.Errorf("--to file loads as\n%s\nwant\n%s", g, w)
	}
	if r := runBin(t, bin, nil, "", "save", "--to", to, seed); r.code != 2 {
		t.Errorf("save --to with a rules file: exit %d, want 2", r.code)
	}
	if r := runBin(t, bin, nil, "", "save", "--netns", "rampart-no-such-netns"); r.code != 1 {
		t.Errorf("save in a missing netns: exit %d, want 1 (%s)", r.code, r.stderr)
	}
}

// TestKernelResetAfterSeedScript is issue 4's acceptance item: after the
// seed command script (its YOUR_IP_ADDRESS line fails, so SSH is closed),
// `rampart reset` leaves a host that accepts SSH, tested with a real TCP
// connection between namespaces.
func TestKernelResetAfterSeedScript(t *testing.T) {
	script := filepath.Join(testenv.Shared(t), "seeds", "centos6-vps.sh")
	server, client := nsPair(t)
	bin := buildRampart(t)
	listen(t, server.Name)
	if !connects(client.Name, "10.99.0.1:22") {
		t.Fatal("no connection before the firewall: the namespace pair does not work")
	}

	data, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	var cmds [][]string
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		cmds = append(cmds, strings.Fields(l))
		lines = append(lines, l)
	}
	// Extra state reset must undo: a user chain, an IPv6 DROP policy, a
	// nat table, and a rampart nftables table dropping input.
	cmds = append(cmds,
		[]string{"iptables", "-N", "EXTRA"},
		[]string{"iptables", "-A", "EXTRA", "-j", "DROP"},
		[]string{"iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "vs", "-j", "MASQUERADE"},
		[]string{"ip6tables", "-P", "INPUT", "DROP"},
	)
	lines = append(lines, "extra", "extra", "extra", "extra")
	for i, r := range server.RunBatch(t, cmds) {
		failing := strings.Contains(lines[i], "YOUR_IP_ADDRESS")
		if (r.Code != 0) != failing {
			t.Fatalf("%q: exit %d (%s)", lines[i], r.Code, r.Stderr)
		}
	}
	if connects(client.Name, "10.99.0.1:22") {
		t.Fatal("SSH reachable after the seed script: the script should have closed it")
	}
	nrs, _, err := ipt.Load("nft-drop", []byte("*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"), ipt.LoadOptions{Family: ruleset.IPv4})
	if err != nil {
		t.Fatal(err)
	}
	if err := (nft.Backend{Netns: server.Name}).Apply(nrs); err != nil {
		t.Fatal(err)
	}
	if connects(client.Name, "10.99.0.1:22") {
		t.Fatal("SSH reachable through rampart's nftables table dropping input")
	}

	r := runBin(t, bin, nil, "", "reset", "--netns", server.Name)
	if r.code != 0 {
		t.Fatalf("rampart reset: exit %d: %s", r.code, r.stderr)
	}
	if !connects(client.Name, "10.99.0.1:22") {
		t.Fatalf("SSH still unreachable after rampart reset:\n%s\n%s", server.Run("", "iptables-save").Stdout, server.Run("", "nft", "list", "ruleset").Stdout)
	}
	want4 := "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
	if g := noCounters(server.Run("", "iptables-save", "-t", "filter").Stdout); g != want4 {
		t.Errorf("filter after reset:\n%s\nwant\n%s", g, want4)
	}
	if g := testenv.StripComments(server.Run("", "iptables-save", "-t", "nat").Stdout); strings.Contains(g, "-A ") || strings.Contains(g, "DROP") {
		t.Errorf("nat after reset:\n%s", g)
	}
	if g := noCounters(server.Run("", "ip6tables-save").Stdout); g != want4 {
		t.Errorf("ip6 filter after reset:\n%s\nwant\n%s", g, want4)
	}
	if g := server.Run("", "nft", "list", "tables").Stdout; strings.Contains(g, nft.TableName) {
		t.Errorf("rampart's nftables table left after reset:\n%s", g)
	}
	// reset on a reset host changes nothing and succeeds.
	if r := runBin(t, bin, nil, "", "reset", "--netns", server.Name); r.code != 0 {
		t.Fatalf("second reset: exit %d: %s", r.code, r.stderr)
	}
}

func TestKernelPanic(t *testing.T) {
	server, client := nsPair(t)
	bin := buildRampart(t)
	listen(t, server.Name)
	if !connects(client.Name, "10.99.0.1:22") {
		t.Fatal("no connection before panic: the namespace pair does not work")
	}
	r := runBin(t, bin, nil, "", "panic", "--netns", server.Name)
	if r.code != 0 {
		t.Fatalf("rampart panic: exit %d: %s", r.code, r.stderr)
	}
	if connects(client.Name, "10.99.0.1:22") {
		t.Fatal("connection from the client succeeds after panic")
	}
	if !connects(server.Name, "127.0.0.1:22") {
		t.Fatal("loopback blocked after panic")
	}
	if !connects(server.Name, "10.99.0.1:22") {
		// The server's own address is local traffic on lo too.
		t.Fatal("local traffic to the host's own address blocked after panic")
	}
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		g := noCounters(server.Run("", tool, "-t", "filter").Stdout)
		if g != panicText {
			t.Errorf("%s after panic:\n%s\nwant\n%s", tool, g, panicText)
		}
	}
	if r := runBin(t, bin, nil, "", "reset", "--netns", server.Name); r.code != 0 {
		t.Fatalf("reset after panic: exit %d: %s", r.code, r.stderr)
	}
	if !connects(client.Name, "10.99.0.1:22") {
		t.Fatal("reset after panic did not reopen access")
	}
	if r := runBin(t, bin, nil, "", "panic", "extra"); r.code != 2 {
		t.Errorf("panic with an extra argument: exit %d, want 2", r.code)
	}
}
