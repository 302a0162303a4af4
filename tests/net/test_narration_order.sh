#!/usr/bin/env bash
# One clock, in order: the narration's times never go backwards (a frame the stack reported late is
# shown at the time of the line above it, not before it), every TCP line of a pooled connection —
# state change or frame — carries its number (TCP #n, the pool's connection #n), and a connection
# is announced before its first state change.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin directory of the build}"
work=$(mktemp -d /tmp/ustack-order.XXXXXX)
chmod 0777 "$work"
trap 'rm -rf "$work"' EXIT

timeout 120 "$SANDBOX" exec "$USTACK_BIN/minibrowser" --no-color --level 7 http://www.domain.com/ >/dev/null 2>"$work/n.txt" ||
  { cat "$work/n.txt" >&2; fail "minibrowser failed"; }
unwrap_file "$work/n.txt"
n=$(cat "$work/n.txt")
back=$(awk 'match($0, /^\[L[0-9] +[0-9.]+ ms\]/) { split(substr($0, 5, RLENGTH - 4), a, " "); t = a[1] + 0;
              if (NR > 1 && t < prev) { print NR ": " $0; exit } prev = t }' <<<"$n")
[[ -z $back ]] || fail "the time goes backwards at line $back"
pass "$(wc -l <<<"$n") lines, their times never go backwards"

expect_no_match "unnumbered state line" "$n" 'TCP: [A-Z][A-Z0-9-]* → '
expect_no_match "unnumbered frame line" "$n" 'TCP \[frame ' 
conns=$(grep -oE 'pool: opening connection #[0-9]+' <<<"$n" | grep -oE '[0-9]+$')
[[ -n $conns ]] || fail "no connection opened"
for c in $conns; do
  open_at=$(grep -n "pool: opening connection #$c to" <<<"$n" | head -1 | cut -d: -f1)
  first_state=$(grep -n "TCP #$c: CLOSED → SYN-SENT" <<<"$n" | head -1 | cut -d: -f1)
  [[ -n $first_state ]] || fail "connection #$c: no CLOSED → SYN-SENT line"
  ((open_at < first_state)) || fail "connection #$c: its first state change (line $first_state) comes before it is opened (line $open_at)"
done
pass "connections $(tr '\n' ' ' <<<"$conns")each announced before its CLOSED → SYN-SENT, every state and frame line numbered"
