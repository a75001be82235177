// Package backend groups rampart's kernel backends: nft (native nf_tables
// over netlink, in rampart's own tables) and iptrestore (the system's
// iptables-restore / ip6tables-restore). Both act inside a named network
// namespace when given one ("" is the current namespace).
package backend
