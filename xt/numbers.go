package xt

import (
	"strconv"
	"strings"
)

// ParseUint parses s as C's strtoul with base 0 does (decimal, 0x hex, 0
// octal), the whole string, within [min, max], as xtables_strtoul does.
func ParseUint(s string, min, max uint64) (uint64, bool) {
	if s == "" || s[0] == '-' || s[0] == ' ' {
		return 0, false
	}
	s = strings.TrimPrefix(s, "+")
	base := 10
	digits := s
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		base, digits = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, digits = 8, s[1:]
	}
	v, err := strconv.ParseUint(digits, base, 64)
	if err != nil || v < min || v > max {
		return 0, false
	}
	return v, true
}

// ParseUintBase parses s in the given base (0 as ParseUint), within [min, max].
func ParseUintBase(s string, base int, min, max uint64) (uint64, bool) {
	if base == 0 {
		return ParseUint(s, min, max)
	}
	if s == "" || s[0] == '-' {
		return 0, false
	}
	v, err := strconv.ParseUint(s, base, 64)
	if err != nil || v < min || v > max {
		return 0, false
	}
	return v, true
}

// ParseUintPrefix parses a leading number as strtoul would and returns it
// with the rest of the string; ok is false if no digits were read.
func ParseUintPrefix(s string) (v uint64, rest string, ok bool) {
	base := 10
	i := 0
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		if len(s) > 2 && isHex(s[2]) {
			base, i = 16, 2
		}
	} else if len(s) > 0 && s[0] == '0' {
		base = 8
	}
	j := i
	for j < len(s) && digitOK(s[j], base) {
		j++
	}
	if j == i {
		return 0, s, false
	}
	v, err := strconv.ParseUint(s[i:j], base, 64)
	if err != nil {
		return 0, s, false
	}
	return v, s[j:], true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func digitOK(c byte, base int) bool {
	switch base {
	case 16:
		return isHex(c)
	case 8:
		return c >= '0' && c <= '7'
	}
	return c >= '0' && c <= '9'
}

// Hex formats v as C's "0x%x".
func Hex(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }

// Utoa formats an unsigned decimal.
func Utoa(v uint64) string { return strconv.FormatUint(v, 10) }

// Bang returns " !" when inv is set, as iptables-save writes before an
// inverted option.
func Bang(inv bool) string {
	if inv {
		return " !"
	}
	return ""
}

// BangL returns "!" when inv is set, as the -L printers write.
func BangL(inv bool) string {
	if inv {
		return "!"
	}
	return ""
}
