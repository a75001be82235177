#!/usr/bin/env bash
# difftest.sh — the long kernel differential run: SEEDS random rulesets with
# random packet sequences (seeds 1..SEEDS, default 200) go through the real
# kernel (three throwaway network namespaces, iptables 1.8.9 nf_tables,
# NFLOG capture with tcpdump) and through rampart's engine, and every rule
# counter of iptables-save -c must be identical. The seed rulesets run too
# (TestSeeds). Mismatching cases keep their capture, rules, report and
# rampart's per-packet verdicts in /tmp/difftest-SEED-*/ (named in the output).
# Needs root, ip, iptables, nft and tcpdump.
#
#   SEEDS=200 scripts/difftest.sh            # seeds 1..200
#   DIFFTEST_SEED=17,42 scripts/difftest.sh  # just these seeds
#   DIFFTEST_KEEP=1                          # keep the files of passing cases too
#   DIFFTEST_NOCT=1                          # run rampart without connection tracking
#   DIFFTEST_ALL=1                           # also rules rampart cannot evaluate yet
set -u
cd "$(dirname "$0")/.." || exit 1
export SEEDS=${SEEDS:-200}
go test -count=1 -timeout 60m -run 'TestKernelDifferential|TestSeeds' -v ./difftest "$@" 2>&1 |
  grep -v '^=== RUN' |
  tee /tmp/difftest-last.log |
  grep -E '^(---|difftest:|FAIL|ok|PASS)|case .*mismatching|candidate rules left out|kernel:|rampart:' 
status=${PIPESTATUS[0]}
echo "full output: /tmp/difftest-last.log"
exit "$status"
