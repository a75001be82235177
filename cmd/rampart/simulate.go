package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/rampartfw/rampart/capture"
	"github.com/rampartfw/rampart/engine"
	"github.com/rampartfw/rampart/iptext"
	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// newTracker builds the connection tracker the engine uses.
var newTracker = func() engine.Tracker { return engine.NewConntrack(0) }

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// verdictLine is one line of --verdicts output.
type verdictLine struct {
	Index     int      `json:"index"`
	Time      string   `json:"time"`
	Hook      string   `json:"hook"`
	Verdict   string   `json:"verdict"`
	Table     string   `json:"table,omitempty"`
	Chain     string   `json:"chain,omitempty"`
	Rule      int      `json:"rule,omitempty"`
	Policy    bool     `json:"policy,omitempty"`
	Why       string   `json:"why,omitempty"`
	Path      []string `json:"path,omitempty"`
	State     string   `json:"state,omitempty"`
	Undecided string   `json:"undecided,omitempty"`
}

func stateName(s uint8) string {
	switch s {
	case pkt.CTNew:
		return "NEW"
	case pkt.CTEstablished:
		return "ESTABLISHED"
	case pkt.CTRelated:
		return "RELATED"
	case pkt.CTInvalid:
		return "INVALID"
	case pkt.CTUntracked:
		return "UNTRACKED"
	}
	return ""
}

func cmdSimulate(args []string) int {
	fam := ruleset.IPv4
	var rulesFile, pcapFile, verdictsFile, logFile string
	var ifaces, routes multiFlag
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := func() (string, bool) {
			if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(k, "--") {
				return v, true
			}
			if i+1 < len(args) {
				i++
				return args[i], true
			}
			fmt.Fprintf(os.Stderr, "rampart simulate: %s needs a value\n", a)
			return "", false
		}
		name, _, _ := strings.Cut(a, "=")
		switch name {
		case "-4":
			fam = ruleset.IPv4
		case "-6":
			fam = ruleset.IPv6
		case "--pcap":
			v, ok := val()
			if !ok {
				return 2
			}
			pcapFile = v
		case "--iface":
			v, ok := val()
			if !ok {
				return 2
			}
			ifaces = append(ifaces, v)
		case "--route":
			v, ok := val()
			if !ok {
				return 2
			}
			routes = append(routes, v)
		case "--verdicts":
			v, ok := val()
			if !ok {
				return 2
			}
			verdictsFile = v
		case "--log":
			v, ok := val()
			if !ok {
				return 2
			}
			logFile = v
		default:
			if strings.HasPrefix(a, "-") || rulesFile != "" {
				fmt.Fprintf(os.Stderr, "rampart simulate: unexpected argument %q\n", a)
				return 2
			}
			rulesFile = a
		}
	}
	if rulesFile == "" || pcapFile == "" {
		fmt.Fprintln(os.Stderr, "usage: rampart simulate [-6] RULES --pcap IN [--iface NAME=ADDR/LEN,...]... [--route PREFIX=IFACE]... [--verdicts OUT.jsonl] [--log FILE]")
		return 2
	}
	rs, ok := loadRules(rulesFile, fam)
	if !ok {
		return 2
	}
	host, ok := buildHost("simulate", ifaces, routes)
	if !ok {
		return 2
	}
	var tracker engine.Tracker
	if newTracker != nil {
		tracker = newTracker()
	}
	e := newEngine(rs, host, tracker)
	in, err := os.Open(pcapFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rampart simulate:", err)
		return 1
	}
	defer in.Close()
	r, err := capture.Open(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rampart simulate:", err)
		return 2
	}
	var vw *bufio.Writer
	if verdictsFile != "" {
		f, err := os.Create(verdictsFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "rampart simulate:", err)
			return 1
		}
		defer f.Close()
		vw = bufio.NewWriter(f)
		defer vw.Flush()
	}
	logw := bufio.NewWriter(os.Stderr)
	if logFile != "" {
		f, err := os.Create(logFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "rampart simulate:", err)
			return 1
		}
		defer f.Close()
		logw = bufio.NewWriter(f)
	}
	defer logw.Flush()
	stats, err := engine.RunCapture(e, r, engine.CaptureOptions{Each: func(fr capture.Frame, p *pkt.Packet, res engine.Result) {
		for _, l := range e.LastLog() {
			logw.WriteString(l)
			if !strings.HasSuffix(l, "\n") {
				logw.WriteByte('\n')
			}
		}
		if vw == nil {
			return
		}
		vl := verdictLine{Index: fr.Index, Time: fr.Time.UTC().Format("2006-01-02T15:04:05.000000000Z"),
			Hook: res.Hook.String(), Verdict: res.Verdict.String(), Table: res.Reason.Table, Chain: res.Reason.Chain,
			Rule: res.Reason.Rule, Policy: res.Reason.Policy, Why: res.Reason.Why, State: stateName(res.CTState), Undecided: res.Undecided}
		for _, h := range res.Path.Steps() {
			vl.Path = append(vl.Path, h.Hook.String())
		}
		b, _ := json.Marshal(vl)
		vw.Write(b)
		vw.WriteByte('\n')
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "rampart simulate:", err)
		return 1
	}
	for why, n := range stats.Undecided {
		fmt.Fprintf(os.Stderr, "rampart simulate: %d packets met a rule that cannot be decided from a capture: %s\n", n, why)
	}
	fmt.Print(iptext.Save(rs, iptext.SaveOptions{Counters: true}))
	return 0
}
