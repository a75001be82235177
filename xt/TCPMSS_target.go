package xt

import (
	"strconv"
	"strings"

	"github.com/rampartfw/rampart/ruleset"
)

// TCPMSSClampPMTU is the MSS value meaning --clamp-mss-to-pmtu.
const TCPMSSClampPMTU = 0xFFFF

// TCPMSSTarget is the TCPMSS target: set the MSS of SYN packets to MSS, or to
// the path MTU minus headers (MSS == TCPMSSClampPMTU). Under nf_tables the
// kernel cannot see a tcp --syn match, so only -p tcp is required.
type TCPMSSTarget struct {
	MSS uint16
	set bool
}

func init() {
	for _, f := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		Register(&Def{Name: "TCPMSS", Family: f, Target: true,
			Options: []Option{{Name: "set-mss", Arg: ReqArg}, {Name: "clamp-mss-to-pmtu"}},
			New:     func() Parser { return &TCPMSSTarget{} }})
	}
}

// Name implements ruleset.Extension.
func (t *TCPMSSTarget) Name() string { return "TCPMSS" }

// Parse implements Parser. The later of --set-mss and --clamp-mss-to-pmtu
// wins, as in iptables.
func (t *TCPMSSTarget) Parse(ctx *Context, opt, arg string, _ bool) error {
	t.set = true
	if opt == "clamp-mss-to-pmtu" {
		t.MSS = TCPMSSClampPMTU
		return nil
	}
	max := uint64(65535 - 20)
	if ctx.Family == ruleset.IPv6 {
		max = 65535 - 40
	}
	v, err := tgUint("TCPMSS", opt, arg, 0, max)
	if err != nil {
		return err
	}
	t.MSS = uint16(v)
	return nil
}

// Final implements Parser.
func (t *TCPMSSTarget) Final(ctx *Context) (ruleset.Extension, error) {
	if !t.set {
		return nil, Errorf("TCPMSS target: At least one parameter is required")
	}
	if ctx.Rule.Proto != 6 || ctx.Rule.Inv&ruleset.InvProto != 0 {
		return nil, KernelInval()
	}
	if t.MSS == TCPMSSClampPMTU {
		if err := tgKernelPlace(ctx, "", "FORWARD", "OUTPUT", "POSTROUTING"); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Save implements ruleset.Extension.
func (t *TCPMSSTarget) Save(b *strings.Builder, _ ruleset.Fmt) {
	if t.MSS == TCPMSSClampPMTU {
		b.WriteString(" --clamp-mss-to-pmtu")
		return
	}
	b.WriteString(" --set-mss " + strconv.Itoa(int(t.MSS)))
}

// Print implements ruleset.Extension.
func (t *TCPMSSTarget) Print(b *strings.Builder, _ ruleset.Fmt) {
	if t.MSS == TCPMSSClampPMTU {
		b.WriteString(" TCPMSS clamp to PMTU")
		return
	}
	b.WriteString(" TCPMSS set " + strconv.Itoa(int(t.MSS)))
}
