#!/usr/bin/env bash
# bench-restore.sh — time the real iptables-restore (nf_tables and legacy)
# and iptables-save on the 100,000-rule file of BenchmarkRestore100k
# (ClassBench acl1_10k, see ipt/bench_test.go), each run in a fresh network
# namespace, as a reference for rampart's figures:
#   go test ./ipt -run '^$' -bench 100k
# The save output of each backend must equal the file. Needs root.
# RUNS (default 3) repetitions per backend; KEEP=path keeps the file.
set -u
cd "$(dirname "$0")/.." || exit 1
RUNS=${RUNS:-3}
file=${KEEP:-$(mktemp --suffix=.rules)}
[ -n "${KEEP:-}" ] || trap 'rm -f "$file"' EXIT
RAMPART_BENCH_OUT=$file go test ./ipt -count=1 -run '^TestWriteBenchRestore$' >/dev/null || { echo "writing $file failed"; exit 1; }
echo "file: $file, $(grep -c '^-A' "$file") rules, $(wc -c <"$file") bytes"
rc=0
TIMEFORMAT='%R s real, %U s user, %S s sys'
for backend in nft legacy; do
  for i in $(seq "$RUNS"); do
    ns=benchrestore$$_$i
    ip netns add $ns || exit 1
    echo "== iptables-$backend-restore run $i"
    time ip netns exec $ns iptables-$backend-restore <"$file" || rc=1
    echo "== iptables-$backend-save run $i"
    time ip netns exec $ns iptables-$backend-save >/tmp/benchrestore.$$.out || rc=1
    # The file is in canonical save form: the real tool prints it back.
    grep -v '^#' /tmp/benchrestore.$$.out | cmp -s - "$file" || { echo "iptables-$backend-save output differs from the file"; rc=1; }
    ip netns del $ns
  done
done
rm -f /tmp/benchrestore.$$.out
exit $rc
