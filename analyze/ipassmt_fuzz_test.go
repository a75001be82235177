package analyze

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzIPAssignment: the ipassmt parser never panics, and what it accepts
// prints (IPAssmtEntry.String, one line per entry) to a file that parses
// back to the same entries.
func FuzzIPAssignment(f *testing.F) {
	for _, s := range []string{
		"eth0 = [192.168.0.0/16]\neth1 = [0.0.0.0-255.255.255.255]\n",
		"eth0 = all_but_those_ips [10.0.0.0/8, 10.1.0.0-10.1.3.255, 1.2.3.4]\nppp+ = []\n",
		"lo = [::1/128]\n# comment\nwlan0 = [2001:db8::/32, fe80::1]\n",
		"+ = []\n", "eth0 = [", "= [1.2.3.4]", "eth0 = [1.2.3.4/33]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseIPAssignment("fuzz", data)
		if err != nil {
			return
		}
		var b strings.Builder
		for i := range a.Entries {
			b.WriteString(a.Entries[i].String() + "\n")
		}
		a2, err := ParseIPAssignment("printed", []byte(b.String()))
		if err != nil {
			t.Fatalf("printed form does not parse: %v\n%s", err, b.String())
		}
		if len(a.Entries) != len(a2.Entries) {
			t.Fatalf("%d entries, %d after printing", len(a.Entries), len(a2.Entries))
		}
		for i := range a.Entries {
			x, y := a.Entries[i], a2.Entries[i]
			if x.Iface != y.Iface || x.Negated != y.Negated || !reflect.DeepEqual(x.Items, y.Items) || !x.set.equal(y.set) {
				t.Fatalf("entry %d: %s became %s", i, x.String(), y.String())
			}
		}
	})
}
