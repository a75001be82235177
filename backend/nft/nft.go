// Package nft is rampart's native nf_tables backend: it translates the model
// into nftables expressions with github.com/google/nftables and loads them
// over netlink into rampart's own tables ("table ip rampart", "table ip6
// rampart"), so that it coexists with other nftables users. Every iptables
// table becomes base chains named TABLE/CHAIN at the hook, type and priority
// iptables-nft uses (raw -300, mangle -150, nat -100 / 100, filter 0,
// security 50), and every user chain TABLE/NAME. The whole load, both
// families, is one netlink batch: the kernel applies all of it or nothing.
//
// Each rule carries its iptables text (the lossless save form) in its
// userdata, so that the ruleset reads back exactly; the counter expression
// of each rule gives its counters. A rule the backend cannot express
// natively yet is refused with an error naming its file:line and the
// extension, and nothing is loaded.
package nft

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/nftables"

	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/ruleset"
)

// TableName is the name of rampart's nftables table in each family.
const TableName = "rampart"

// Backend loads and reads rampart's nftables tables, inside network
// namespace Netns (its `ip netns` name, or a path to a namespace file) when
// it is not empty.
type Backend struct {
	Netns string
}

// dial opens a netlink connection in the backend's namespace. The
// connection opens its sockets when it sends, through the namespace handle:
// done closes the handle, after the last use of the connection.
func (b Backend) dial() (c *nftables.Conn, done func(), err error) {
	if b.Netns == "" {
		c, err = nftables.New()
		return c, func() {}, err
	}
	path := b.Netns
	if !strings.ContainsRune(path, '/') {
		path = filepath.Join("/var/run/netns", path)
	}
	f, err := os.Open(path)
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

// Apply replaces rampart's table of each given family with the ruleset of
// that family, all in one netlink batch. Nothing changes when a rule cannot
// be translated or the kernel refuses the batch. Tables of families not
// given are left alone.
func (b Backend) Apply(sets ...*ruleset.Ruleset) error {
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
	c, done, err := b.dial()
	if err != nil {
		return err
	}
	defer done()
	for _, p := range plans {
		if err := p.emit(c); err != nil {
			return fmt.Errorf("nft backend: %w", err)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nft backend: loading the ruleset: %w", err)
	}
	return nil
}

// Delete removes rampart's tables of the given families (one batch); a
// family without the table is no error.
func (b Backend) Delete(fams ...ruleset.Family) error {
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
	return c.Flush()
}

// SaveText reads rampart's table of family f back as iptables-save -c text
// (no comment lines). Policy counters are 0: base chains carry none yet.
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
