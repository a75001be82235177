// Package backend groups rampart's kernel backends: nft (native nf_tables
// over netlink, in rampart's own tables) and iptrestore (the system's
// iptables-restore / ip6tables-restore). Both act inside a named network
// namespace when given one ("" is the current namespace). Open chooses one
// by name or detects which the host can use.
package backend

import (
	"fmt"
	"os/exec"

	"github.com/rampartfw/rampart/backend/iptrestore"
	"github.com/rampartfw/rampart/backend/nft"
	"github.com/rampartfw/rampart/ruleset"
)

// Backend loads rulesets into the kernel and reads them back.
type Backend interface {
	// Name is the backend's --backend name: "nft" or "iptables".
	Name() string
	// Apply loads the rulesets (at most one per family), replacing what
	// the backend loaded before for those families. Nothing changes when
	// it fails.
	Apply(sets ...*ruleset.Ruleset) error
	// SaveText returns the loaded ruleset of family f as iptables-save -c
	// text.
	SaveText(f ruleset.Family) (string, error)
	// Save reads the loaded ruleset of family f into the model, with its
	// counters.
	Save(f ruleset.Family) (*ruleset.Ruleset, error)
}

// Names are the accepted --backend values.
var Names = []string{"auto", "nft", "iptables"}

// Open returns the backend called kind ("nft", "iptables", or "auto" / ""
// to detect) acting in network namespace netns ("" for the current one).
func Open(kind, netns string) (Backend, error) {
	if kind == "" || kind == "auto" {
		kind = Detect(netns)
	}
	switch kind {
	case "nft":
		return nft.Backend{Netns: netns}, nil
	case "iptables":
		return iptrestore.Backend{Netns: netns}, nil
	}
	return nil, fmt.Errorf("unknown backend %q (want nft, iptables or auto)", kind)
}

// Detect chooses the backend for a host: nft when the kernel answers
// nf_tables requests in the namespace, else iptables when the system has
// iptables-restore; nft otherwise (its error then says what is missing).
func Detect(netns string) string {
	if nft.Available(netns) {
		return "nft"
	}
	if _, err := exec.LookPath("iptables-restore"); err == nil {
		return "iptables"
	}
	return "nft"
}
