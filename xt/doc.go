// Package xt owns the iptables extensions: every match (-m NAME) and target
// (-j NAME) that rampart understands. Each extension lives in its own file
// and holds its option table, its parser, and its two printers (save form
// and -L form); later issues add evaluation and a symbolic form in the same
// file. All extensions are registered in one table (registry.go) keyed by
// name and family.
package xt
