#!/usr/bin/env bash
# At levels 6 and 7 every narration line fits a 100-column terminal, counted in characters (an
# arrow or a "·" is one column, not three bytes): the run tools/demo makes (level 7, --fresh
# --no-rapid-commit, the DNS walk from the sandbox's root, a pcap) and the https run at level 6.
# Only -v may go wider: it adds each TCP segment as tcpdump prints it, after the segment's gloss.
# A line too long for its words goes on under the same tag, indented four spaces (broken at a
# space; the other tests read the lines joined back: testlib.sh unwrap).
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin directory of the build}"
work=$(mktemp -d /tmp/ustack-width-test.XXXXXX)
chmod 0777 "$work"
trap 'rm -rf "$work"' EXIT
hints=$STATE/unbound/root.hints
mb() { timeout 120 "$SANDBOX" exec "$USTACK_BIN/minibrowser" --no-color "$@"; }

# wide FILE: the lines of FILE wider than 100 characters (UTF-8 decoded).
wide() { LC_ALL=C.UTF-8 bash -c 'while IFS= read -r l; do ((${#l} > 100)) && printf "%3d %s\n" "${#l}" "$l"; done; true' <"$1"; }
widest() { LC_ALL=C.UTF-8 bash -c 'm=0; while IFS= read -r l; do ((${#l} > m)) && m=${#l}; done; echo $m' <"$1"; }

check_run() {  # check_run NAME LEVEL: the narration in $work/NAME.txt
  local name=$1 lvl=$2 f=$work/$1.txt total over cont
  total=$(grep -c . "$f" || true)
  ((total >= 20)) || { cat "$f" >&2; fail "$name: only $total narration lines"; }
  over=$(wide "$f")
  [[ -z $over ]] || { printf '%s\n' "$over" >&2; fail "$name: $(wc -l <<<"$over") of $total lines wider than 100 columns"; }
  # Every line is tagged (a continuation too), and no tcpdump format without -v.
  expect_no_match "$name: untagged line" "$(cat "$f")" '^[^[]|^\[[^L]'
  expect_no_match "$name: tcpdump line without -v" "$(cat "$f")" 'Flags \['
  cont=$(grep -cE "^\[L[1-$lvl] +[0-9.]+ ms\]     " "$f" || true)
  # A continued line is one said line: joined back, it is the text the unwrapped run has.
  [[ $(unwrap "$f" | wc -l) -eq $((total - cont)) ]] || fail "$name: unwrap does not give $((total - cont)) lines"
  pass "$name: $total lines, the widest $(widest "$f") columns ($cont continued under their tag)"
}

# --- the demo's run: level 7, the classic DHCP exchange, the walk, a capture ------------------------
mb --level 7 --fresh --no-rapid-commit --root-hints "$hints" --pcap "$work/l7.pcap" http://www.domain.com/ \
  >/dev/null 2>"$work/l7.txt" || { cat "$work/l7.txt" >&2; fail "minibrowser --level 7 failed"; }
check_run l7 7
# The run really told the long steps (so the check above covered them).
l7=$(cat "$work/l7.txt")
expect_match "DHCP OFFER" "$l7" '^\[L7 +[0-9.]+ ms\] DHCP \[frame [0-9]+\] ← OFFER from 10\.77\.0\.1'
expect_match "walk" "$l7" '^\[L5 +[0-9.]+ ms\] DNS walk \[frames [0-9]+, [0-9]+\] asked ns1\.domain\.com\.'
expect_match "NAT" "$l7" '^\[L7 +[0-9.]+ ms\] NAT: the router 10\.77\.0\.1 rewrites our source '
expect_match "SYN gloss" "$l7" '^\[L6 +[0-9.]+ ms\] TCP #1 \[frame [0-9]+\] → SYN: '
expect_match "summary row" "$l7" '^\[L6 +[0-9.]+ ms\]   #1 port [0-9]+: [0-9]+ req, [0-9]+ B up, [0-9]+ B down, first FIN: '
expect_match "times" "$l7" '^\[L6 +[0-9.]+ ms\] times: DHCP '

# --- https at level 6 (the demo's second run) --------------------------------------------------------
mb --level 6 --pcap "$work/l6s.pcap" https://www.domain.com/ >/dev/null 2>"$work/l6s.txt" ||
  { cat "$work/l6s.txt" >&2; fail "minibrowser --level 6 https failed"; }
check_run l6s 6
expect_match "TLS narrated" "$(cat "$work/l6s.txt")" 'TLS'

# --- -v: the tcpdump lines come on top, after their glosses -------------------------------------------
mb --level 7 -v --no-subresources --pcap "$work/v.pcap" http://www.domain.com/ >/dev/null 2>"$work/v.txt" ||
  { cat "$work/v.txt" >&2; fail "minibrowser -v failed"; }
dumps=$(grep -E '^\[L6 +[0-9.]+ ms\] TCP( #[0-9]+)? \[frame [0-9]+\]   IP ' "$work/v.txt" || true)
[[ -n $dumps ]] || { cat "$work/v.txt" >&2; fail "-v: no tcpdump lines"; }
grep -vE '^\[L6 +[0-9.]+ ms\] TCP( #[0-9]+)? \[frame [0-9]+\]   IP ' "$work/v.txt" >"$work/v-rest.txt" || true
over=$(wide "$work/v-rest.txt")
[[ -z $over ]] || { printf '%s\n' "$over" >&2; fail "-v: lines other than the tcpdump ones wider than 100 columns"; }
pass "-v: $(wc -l <<<"$dumps") tcpdump lines (up to $(widest <(printf '%s\n' "$dumps")) columns); every other line within 100"
