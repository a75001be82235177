#!/usr/bin/env bash
# bench-backend.sh — benchmark rampart's nft backend against the system's
# iptables-nft-restore and iptables-legacy-restore, on the same rules, in
# the same run, each in a throwaway network namespace (needs root, the real
# iptables 1.8.9, nft and ../shared).
#
# The rules: N simple filter rules made from the ClassBench set acl1_10k of
# the shared data ("-A INPUT -s SRC -d DST [-p tcp|udp [-m tcp|udp --sport
# --dport]] -j ACCEPT|DROP", repeated with the first source octet varied;
# see benchRules in backend/nft/bench_test.go). The benchmarks
# (backend/nft/bench_test.go, names Benchmark Backend*):
#   LoadNft10k/100k              rampart nft backend, full load from the model
#                                into an empty namespace (translation, batch,
#                                kernel)
#   IptablesNftRestore10k/100k   iptables-nft-restore <file (process included)
#   IptablesLegacyRestore10k/100k  iptables-legacy-restore <file
#   Translate100k                the user-space share: model -> expressions
#   Change100k                   Change: replace rule 50,000 of the loaded
#                                100k chain (one batch, cached handles)
#   ChangeAppend100k             Change: append a rule, then delete it (two
#                                batches per run)
#   ReapplyOne100k               Apply of the whole 100k model with one rule
#                                changed (difference: one rule replaced)
#   Replace100k                  Replace of the loaded 100k table (no
#                                difference; every counter reset)
# Wall time per run and Go allocations per run (the restore tools are other
# processes: their allocations are not counted).
#
# Usage: scripts/bench-backend.sh [BENCHTIME]   (default 3x: three runs each)
#   BENCH=regexp  restrict to some of the benchmarks (default: all)
# The machine should be otherwise idle: the figures are wall times.
set -u
cd "$(dirname "$0")/.." || exit 1
benchtime=${1:-3x}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test ./backend/nft -count=1 -run '^$' -bench "Backend${BENCH:-}" -benchtime "$benchtime" -timeout 60m | tee "$out" >&2
rc=${PIPESTATUS[0]}
echo
printf '| %-32s | %10s | %12s | %14s |\n' benchmark "wall s/op" "allocs/op" "bytes/op"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..34})" "$(printf -- '-%.0s' {1..12})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..16})"
awk '/^BenchmarkBackend/ {
  name = $1; sub(/^BenchmarkBackend/, "", name); sub(/-[0-9]+$/, "", name)
  ns = ""; al = ""; by = ""
  for (i = 2; i < NF; i++) {
    if ($(i+1) == "ns/op") ns = $i
    if ($(i+1) == "allocs/op") al = $i
    if ($(i+1) == "B/op") by = $i
  }
  printf "| %-32s | %10.3f | %12s | %14s |\n", name, ns / 1e9, al, by
}' "$out"
exit "$rc"
