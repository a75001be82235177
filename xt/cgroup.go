package xt

import (
	"os"
	"strings"

	"github.com/rampartfw/rampart/pkt"
	"github.com/rampartfw/rampart/ruleset"
)

// CgroupRoot is where the cgroup2 hierarchy is mounted; --path names are
// looked up under it as the kernel's cgroup_get_from_path does.
var CgroupRoot = "/sys/fs/cgroup"

// Cgroup is the cgroup match (revision 2): the packet's socket is in the
// cgroup2 Path (or a descendant), or its net_cls classid is ClassID.
type Cgroup struct {
	Path              string
	ClassID           uint32
	HasPath, HasClass bool
	InvPath, InvClass bool
}

func init() {
	Register(&Def{Name: "cgroup", New: func() Parser { return &Cgroup{} },
		Options: []Option{
			{Name: "path", Arg: ReqArg, Invert: true},
			{Name: "cgroup", Arg: ReqArg, Invert: true},
		}})
}

// Name implements ruleset.Extension.
func (m *Cgroup) Name() string { return "cgroup" }

// Parse implements Parser.
func (m *Cgroup) Parse(_ *Context, opt, arg string, inv bool) error {
	switch opt {
	case "path":
		if len(arg) > 511 {
			arg = arg[:511] // strncpy into path[XT_CGROUP_PATH_MAX]
		}
		m.Path, m.HasPath, m.InvPath = arg, true, inv
	case "cgroup":
		v, err := ParseOptUint("cgroup", opt, arg, 0, 0xFFFFFFFF)
		if err != nil {
			return err
		}
		m.ClassID, m.HasClass, m.InvClass = uint32(v), true, inv
	}
	return nil
}

// cgroupPathExists is cgroup_get_from_path: each non-empty component of
// the path must name a directory (a cgroup) under the cgroup2 root.
func cgroupPathExists(p string) bool {
	dir := CgroupRoot
	for _, c := range strings.Split(p, "/") {
		if c == "" {
			continue
		}
		if c == "." || c == ".." {
			return false
		}
		dir += "/" + c
	}
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}

// Final implements Parser with xt_cgroup's cgroup_mt_check_v2: exactly
// one of --path and --cgroup, hooks INPUT, OUTPUT, POSTROUTING, and a path
// naming an existing cgroup.
func (m *Cgroup) Final(ctx *Context) (ruleset.Extension, error) {
	if m.HasPath == m.HasClass {
		return nil, KernelInval()
	}
	if !xtHookAllowed(ctx, ruleset.LocalIn, ruleset.LocalOut, ruleset.PostRouting) {
		return nil, KernelInval()
	}
	if m.HasPath && strings.Trim(m.Path, "/") != "" && !cgroupPathExists(m.Path) {
		return nil, KernelInval()
	}
	return m, nil
}

// Save implements ruleset.Extension.
func (m *Cgroup) Save(b *strings.Builder, _ ruleset.Fmt) {
	if m.HasPath {
		b.WriteString(Bang(m.InvPath) + " --path")
		SaveString(b, m.Path)
	}
	if m.HasClass {
		b.WriteString(Bang(m.InvClass) + " --cgroup " + Utoa(uint64(m.ClassID)))
	}
}

// Print implements ruleset.Extension.
func (m *Cgroup) Print(b *strings.Builder, _ ruleset.Fmt) {
	b.WriteString(" cgroup")
	if m.HasPath {
		b.WriteString(" " + bangSp(m.InvPath) + m.Path)
	}
	if m.HasClass {
		b.WriteString(" " + bangSp(m.InvClass) + Utoa(uint64(m.ClassID)))
	}
}

// Match implements pkt.Matcher as cgroup_mt_v2 does: a packet without a
// full socket of this namespace never matches (whatever the inversion);
// with one, the socket's cgroup is a fact a capture lacks.
func (m *Cgroup) Match(c *pkt.Ctx) bool {
	if c.Facts == nil {
		return c.Undecide("cgroup: the packet's socket is unknown")
	}
	sock, _, ok := c.Facts.Socket()
	if !ok {
		return c.Undecide("cgroup: the packet's socket is unknown")
	}
	if !sock {
		return false
	}
	return c.Undecide("cgroup: the socket's cgroup is unknown")
}

// bangSp returns "! " when inv is set.
func bangSp(inv bool) string {
	if inv {
		return "! "
	}
	return ""
}
