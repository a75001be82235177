#!/usr/bin/env bash
# The whole test suite, kernel tests included. Installs what a clean Debian
# 12 machine lacks (iptables, nftables, iproute2, netbase, tcpdump, systemd for
# systemd-analyze), then runs vet,
# every Go test (unit, conformance, kernel differential in throwaway network
# namespaces) and a short run of each fuzz target.
# Needs root for the kernel tests; with CI=true a missing tool fails them.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for t in iptables:iptables ip6tables:iptables nft:nftables ip:iproute2 tcpdump:tcpdump systemd-analyze:systemd; do
  command -v "${t%%:*}" >/dev/null 2>&1 || need+=("${t#*:}")
done
[ -f /etc/services ] && [ -f /etc/protocols ] || need+=(netbase)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "missing ${need[*]} and not root: kernel tests will be skipped (they fail under CI=true)" >&2
  fi
fi
# Debian's iptables defaults to the nf_tables variant; make sure of it.
if command -v update-alternatives >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  update-alternatives --set iptables /usr/sbin/iptables-nft >/dev/null 2>&1 || true
  update-alternatives --set ip6tables /usr/sbin/ip6tables-nft >/dev/null 2>&1 || true
fi

echo "== go vet"
go vet ./...
echo "== go test (full log: ${TEST_LOG:=/tmp/rampart-test.log})"
# -v so that the suites' own counts (conformance, kernel differential)
# reach the log; the summary below shows them with each package's result.
set +e
go test -count=1 -timeout 40m -v ./... > "$TEST_LOG" 2>&1
status=$?
set -e
grep -E '^(ok|FAIL|panic:)|^[a-z-]+( [a-z0-9-]+)?: [0-9]+ (passed|packets|commands|lines|cases)|[0-9]+ kills during' "$TEST_LOG" || true
if [ $status -ne 0 ]; then
  echo "== failures"
  grep -A40 -- '--- FAIL' "$TEST_LOG" | head -400
  echo "go test failed (exit $status); full log in $TEST_LOG"
  exit $status
fi
echo "== fuzz (short)"
FUZZTIME="${FUZZTIME:-100000x}" scripts/fuzz.sh
