package iptext_test

import (
	"strings"
	"testing"

	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/ruleset"
	_ "github.com/rampartfw/rampart/xt"
)

func spec(t *testing.T, fam ruleset.Family, args string) string {
	t.Helper()
	cmd, err := iptext.ParseCommand(strings.Fields(args), iptext.ParseOptions{Family: fam})
	if err != nil {
		t.Fatalf("%s: %v", args, err)
	}
	var b strings.Builder
	for i, r := range cmd.Rules() {
		if i > 0 {
			b.WriteString(" |")
		}
		iptext.RuleSpec(&b, r, fam, false)
	}
	return strings.TrimSpace(b.String())
}

func TestParseRuleSpec(t *testing.T) {
	tests := []struct {
		fam  ruleset.Family
		args string
		want string
	}{
		{ruleset.IPv4, "-A INPUT -j ACCEPT", "-j ACCEPT"},
		{ruleset.IPv4, "-A INPUT -p tcp --dport 22 -j ACCEPT", "-p tcp -m tcp --dport 22 -j ACCEPT"},
		{ruleset.IPv4, "-A INPUT -p tcp --sp 7 --dport=22", "-p tcp -m tcp --sport 7 --dport 22"},
		{ruleset.IPv4, "-A INPUT ! -s 10.1.2.3/8 -d 1.2.3.4", "! -s 10.0.0.0/8 -d 1.2.3.4/32"},
		{ruleset.IPv4, "-A INPUT -s 10.11.12.13/255.0.255.0", "-s 10.0.12.0/255.0.255.0"},
		{ruleset.IPv4, "-A INPUT -s 10", "-s 10.0.0.0/32"},
		{ruleset.IPv4, "-A INPUT -s 1.2.3.4,5.6.7.8", "-s 1.2.3.4/32 | -s 5.6.7.8/32"},
		{ruleset.IPv4, "-A FORWARD -i eth+ ! -o ppp0", "-i eth+ ! -o ppp0"},
		{ruleset.IPv4, "-A INPUT -f -j DROP", "-f -j DROP"},
		{ruleset.IPv4, "-A INPUT ! -f", "! -f"},
		{ruleset.IPv4, "-A INPUT -p 6 -m state --state established,NEW", "-p tcp -m state --state NEW,ESTABLISHED"},
		{ruleset.IPv4, "-A INPUT -p tcp ! --syn", "-p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN"},
		{ruleset.IPv4, "-A INPUT -p tcp --tcp-flags ALL NONE", "-p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE"},
		{ruleset.IPv4, "-A INPUT -g FOO", "-g FOO"},
		{ruleset.IPv6, "-A INPUT -s ::1 -j ACCEPT", "-s ::1/128 -j ACCEPT"},
		{ruleset.IPv6, "-A INPUT -d 2001:db8::1/ffff:ffff::", "-d 2001:db8::/32"},
	}
	for _, tt := range tests {
		if got := spec(t, tt.fam, tt.args); got != tt.want {
			t.Errorf("%s:\n got  %s\n want %s", tt.args, got, tt.want)
		}
	}
}

func TestParseCommands(t *testing.T) {
	tests := []struct {
		args  string
		op    iptext.Op
		chain string
		num   int
		table string
	}{
		{"-nvL", iptext.OpList, "", 0, "filter"},
		{"-L INPUT 3 -t nat", iptext.OpList, "INPUT", 3, "nat"},
		{"-tmangle -S", iptext.OpListRules, "", 0, "mangle"},
		{"-I INPUT 2 -j DROP", iptext.OpInsert, "INPUT", 2, "filter"},
		{"-I INPUT -j DROP", iptext.OpInsert, "INPUT", 1, "filter"},
		{"-D INPUT 4", iptext.OpDeleteNum, "INPUT", 4, "filter"},
		{"--delete INPUT -j DROP", iptext.OpDelete, "INPUT", 0, "filter"},
		{"-Z INPUT 2", iptext.OpZeroNum, "INPUT", 2, "filter"},
		{"-L -Z", iptext.OpList | iptext.OpZero, "", 0, "filter"},
		{"-F", iptext.OpFlush, "", 0, "filter"},
		{"-X", iptext.OpDeleteChain, "", 0, "filter"},
		{"-P FORWARD DROP", iptext.OpPolicy, "FORWARD", 0, "filter"},
		{"-E old new", iptext.OpRename, "old", 0, "filter"},
	}
	for _, tt := range tests {
		cmd, err := iptext.ParseCommand(strings.Fields(tt.args), iptext.ParseOptions{})
		if err != nil {
			t.Errorf("%s: %v", tt.args, err)
			continue
		}
		if cmd.Op != tt.op || cmd.Chain != tt.chain || cmd.RuleNum != tt.num || cmd.Table != tt.table {
			t.Errorf("%s: got op=%v chain=%q num=%d table=%q", tt.args, cmd.Op, cmd.Chain, cmd.RuleNum, cmd.Table)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		args, msg string
		arg       int
		exit      int
	}{
		{"-A INPUT --dport 22", `unknown option "--dport"`, 2, 2},
		{"-A INPUT -p tcp --dport 99999", "invalid port/service `99999' specified", 5, 2},
		{"-A INPUT -s YOUR_IP_ADDRESS", "host/network `YOUR_IP_ADDRESS' not found", 3, 2},
		{"-A INPUT -s 1.2.3.4/33", "invalid mask `33' specified", 3, 2},
		{"-A INPUT -m nosuch", "Couldn't load match `nosuch':No such file or directory\n", 2, 2},
		{"-A INPUT foo", "Bad argument `foo'", 2, 2},
		{"-A INPUT -j ACCEPT -j DROP", "multiple -j flags not allowed", 4, 2},
		{"-A INPUT ! ! -p tcp", "multiple consecutive ! not allowed", 3, 2},
		{"-A INPUT -p tcp !", "nothing appropriate following !", -1, 2},
		{"-A OUTPUT -i eth0", "Can't use -i with OUTPUT\n", -1, 2},
		{"-L INPUT -S", "Cannot use -S with -L", 2, 2},
		{"-t nat -A POSTROUTING -j DROP", "\nThe \"nat\" table is not intended for filtering, the use of DROP is therefore inhibited.\n\n", -1, 2},
	}
	for _, tt := range tests {
		_, err := iptext.ParseCommand(strings.Fields(tt.args), iptext.ParseOptions{})
		e, ok := err.(*iptext.Error)
		if !ok {
			t.Errorf("%s: got %v, want error %q", tt.args, err, tt.msg)
			continue
		}
		if e.Msg != tt.msg || e.Arg != tt.arg || e.Exit != tt.exit {
			t.Errorf("%s: got %q arg=%d exit=%d, want %q arg=%d exit=%d", tt.args, e.Msg, e.Arg, e.Exit, tt.msg, tt.arg, tt.exit)
		}
	}
}

func TestHintForMissingProtocol(t *testing.T) {
	_, err := iptext.ParseCommand(strings.Fields("-A INPUT --dport 22 -j ACCEPT"), iptext.ParseOptions{})
	e := err.(*iptext.Error)
	if !strings.Contains(e.Hint, "-p tcp") {
		t.Errorf("hint %q does not suggest -p tcp", e.Hint)
	}
}
