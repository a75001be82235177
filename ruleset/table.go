package ruleset

// Hook is a netfilter hook.
type Hook uint8

// The netfilter hooks, in kernel order.
const (
	PreRouting Hook = iota
	LocalIn
	Forward
	LocalOut
	PostRouting
)

// String returns the built-in chain name of the hook.
func (h Hook) String() string {
	switch h {
	case PreRouting:
		return "PREROUTING"
	case LocalIn:
		return "INPUT"
	case Forward:
		return "FORWARD"
	case LocalOut:
		return "OUTPUT"
	case PostRouting:
		return "POSTROUTING"
	}
	return "?"
}

// HookOf returns the hook of a built-in chain name.
func HookOf(chain string) (Hook, bool) {
	switch chain {
	case "PREROUTING":
		return PreRouting, true
	case "INPUT":
		return LocalIn, true
	case "FORWARD":
		return Forward, true
	case "OUTPUT":
		return LocalOut, true
	case "POSTROUTING":
		return PostRouting, true
	}
	return 0, false
}

// TableInfo describes a built-in table.
type TableInfo struct {
	Name     string
	Builtins []string // built-in chains in hook order
	Priority int      // nftables priority iptables-nft uses for the base chains
}

// TableOrder lists the tables in the order iptables-nft-save prints them.
var TableOrder = []TableInfo{
	{"mangle", []string{"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"}, -150},
	{"security", []string{"INPUT", "FORWARD", "OUTPUT"}, 50},
	{"raw", []string{"PREROUTING", "OUTPUT"}, -300},
	{"filter", []string{"INPUT", "FORWARD", "OUTPUT"}, 0},
	{"nat", []string{"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"}, -100},
}

// LookupTable returns the description of a built-in table.
func LookupTable(name string) (TableInfo, bool) {
	for _, t := range TableOrder {
		if t.Name == name {
			return t, true
		}
	}
	return TableInfo{}, false
}

// IsBuiltin reports whether chain is a built-in chain of table.
func (t TableInfo) IsBuiltin(chain string) bool {
	for _, c := range t.Builtins {
		if c == chain {
			return true
		}
	}
	return false
}
