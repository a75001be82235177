// Package ruleset owns rampart's model of a netfilter ruleset as iptables sees
// it: families, tables with their built-in chains and hooks, user chains,
// policies, rules made of generic header matches plus extension matches and a
// target, and packet/byte counters.
//
// The model is shared by every other part of rampart: the text readers and
// printers (package iptext), the iptables command emulation (package iptcli),
// the packet engine and the kernel backends. Extensions (package xt) plug in
// through the Match and Target interfaces defined here.
package ruleset
