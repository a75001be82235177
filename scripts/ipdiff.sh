#!/usr/bin/env bash
# ipdiff.sh FILE... — run each line of FILE ("iptables ARGS" or "ip6tables
# ARGS", shell-quoted) through the real iptables in a throwaway network
# namespace and through rampart on a state file, and show every difference
# in stdout, stderr, exit status and, after each line, in iptables-save,
# -S, -L -n -v, -L -v and -L -n -v -x --line-numbers output.
# Needs root. RAMPART=path/to/rampart (default: builds one).
set -u
if [ -z "${RAMPART:-}" ]; then
  RAMPART=$(mktemp -d)/rampart
  (cd "$(dirname "$0")/.." && go build -o "$RAMPART" ./cmd/rampart) || exit 1
fi
ns=ipdiff$$
ip netns add $ns || exit 1
state=$(mktemp -u)
trap 'ip netns del $ns; rm -f $state $state.lock' EXIT
fails=0; n=0
compare() { # label real ours
  if [ "$2" != "$3" ]; then
    fails=$((fails+1))
    echo "=== DIFF ($1) after: $line"
    diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | head -20
  fi
}
for f in "$@"; do
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue;; esac
    n=$((n+1))
    tool=${line%% *}
    rest=${line#* }
    real=$(eval "ip netns exec $ns $tool $rest" 2>/tmp/ipdiff.err.$$; echo "rc=$?")
    realerr=$(cat /tmp/ipdiff.err.$$)
    ours=$(eval "RAMPART_STATE=$state $RAMPART $tool $rest" 2>/tmp/ipdiff.err.$$; echo "rc=$?")
    ourerr=$(cat /tmp/ipdiff.err.$$)
    compare "stdout+rc" "$real" "$ours"
    compare "stderr" "$realerr" "$ourerr"
    save=${tool}-save
    compare "save" "$(ip netns exec $ns $save -c 2>&1 | grep -v '^#')" "$(RAMPART_STATE=$state $RAMPART $save -c 2>&1 | grep -v '^#')"
    for t in filter nat mangle raw security; do
      for l in "-S" "-v -S" "-L -n -v" "-L -v" "-L -n -v -x --line-numbers" "-L -n"; do
        compare "-t $t $l" "$(ip netns exec $ns $tool -t $t $l 2>&1)" "$(RAMPART_STATE=$state $RAMPART $tool -t $t $l 2>&1)"
      done
    done
  done < "$f"
done
rm -f /tmp/ipdiff.err.$$
echo "ipdiff: $n commands, $fails differences"
[ $fails -eq 0 ]
