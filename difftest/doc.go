// Package difftest owns the kernel differential suite of rampart's packet
// engine: it builds throwaway network namespaces joined by veth pairs
// (fw, the firewall host; peer and far, its neighbours), loads a ruleset
// with the real iptables-restore, captures every packet entering
// PREROUTING and OUTPUT through an NFLOG table at priority -1000 (so the
// host's own replies are captured too), injects generated packet
// sequences, and compares the kernel's iptables-save -c with rampart's
// simulation of the same capture. Rulesets and packets are random but
// deterministic from a seed.
package difftest
