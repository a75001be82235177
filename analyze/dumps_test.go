package analyze

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampartfw/rampart/internal/testenv"
	"github.com/rampartfw/rampart/ruleset"
)

// TestDumps checks every iptables-save dump of the conformance corpus:
// each must be analyzed without error (or panic).
func TestDumps(t *testing.T) {
	dir := filepath.Join(testenv.Shared(t), "conformance", "iptables-1.8.9", "dumps")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) == 0 {
		t.Fatalf("no dumps in %s", dir)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			path := filepath.Join(dir, e.Name())
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			fam := ruleset.IPv4
			if strings.Contains(e.Name(), "ip6tables") {
				fam = ruleset.IPv6
			}
			rep, err := CheckFileFamily(path, data, fam)
			if err != nil {
				t.Fatalf("%s: %v", fam, err)
			}
			if len(rep.Families) != 1 || rep.Families[0].Family != fam.String() {
				t.Errorf("families %+v, want %s only", rep.Families, fam)
			}
			t.Logf("%s: %d finding(s)", fam, len(rep.Findings))
			for _, f := range rep.Findings {
				t.Logf("  %s:%d %s %s %s#%d %s", filepath.Base(f.File), f.Line, f.Level, f.Kind, f.Chain, f.Rule, f.Message)
			}
		})
	}
}
