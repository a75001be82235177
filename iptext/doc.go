// Package iptext owns iptables' text forms: the command-line grammar (argv of
// iptables/ip6tables, also used for the lines of a restore file), the
// iptables-restore file reader, and the printers for iptables-save, -S and
// -L, byte-identical to iptables 1.8.9 (nf_tables).
package iptext
