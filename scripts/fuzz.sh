#!/usr/bin/env bash
# fuzz.sh — run every fuzz target of rampart for a short time each.
# FUZZTIME (default 200000x) is passed to -fuzztime: a count of executions
# (Nx) or a duration. Counts are the default because Go 1.26's fuzzing
# coordinator can report a spurious "context deadline exceeded" when a
# duration runs out (go.dev/issue/75804, fixed in Go 1.27).
# A failing input is written by go test under PKG/testdata/fuzz/FuzzX/;
# the script exits non-zero when any target fails.
set -u
cd "$(dirname "$0")/.." || exit 1
FUZZTIME=${FUZZTIME:-200000x}
targets="./iptext:FuzzArgv ./ipt:FuzzRestore ./pkt:FuzzDecode ./engine:FuzzEngine ./analyze:FuzzIPAssignment"
fails=0
for t in $targets; do
  pkg=${t%%:*}; fn=${t#*:}
  echo "=== $pkg $fn ($FUZZTIME)"
  if ! go test "$pkg" -run '^$' -fuzz "^${fn}\$" -fuzztime "$FUZZTIME"; then
    echo "FAIL: $pkg $fn"
    fails=$((fails+1))
  fi
done
echo "fuzz: $fails target(s) failed"
[ $fails -eq 0 ]
