package analyze

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/rampartfw/rampart/ipt"
	"github.com/rampartfw/rampart/ruleset"
)

// loadRules loads iptables-restore text of family fam and fails the test
// on an error or a diagnostic.
func loadRules(t testing.TB, fam ruleset.Family, text string) *ruleset.Ruleset {
	t.Helper()
	rs, diags, err := ipt.Load("t.rules", []byte(text), ipt.LoadOptions{Family: fam})
	if err != nil || len(diags) > 0 {
		t.Fatalf("load: %v %v\n%s", err, diags, text)
	}
	return rs
}

// goldenFile compares got with the golden file testdata/dir/name; with
// update (the test flag flagName) it first rewrites the file.
func goldenFile(t *testing.T, dir, name string, got []byte, update bool, flagName string) {
	t.Helper()
	path := filepath.Join("testdata", dir, name)
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -%s)", err, flagName)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n%s", name, got)
	}
}
