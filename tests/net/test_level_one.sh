#!/usr/bin/env bash
# Level 1 says one line, whatever the page is (docs/levels.md level 1: "you typed … → the page
# appears"): an HTML page names its title; text that is not HTML is shown as it is and the line
# says its type and size, as it does for an image, which is not shown; --source and --head say what
# is printed instead of the page. Each line is held to what came: the file the server has, and the
# status line the pcap shows.
# Address 10.77.0.59.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"
work=$(mktemp -d /tmp/ustack-level-one.XXXXXX)
chmod 0777 "$work"
trap 'rm -rf "$work"' EXIT
mb() { timeout 60 "$SANDBOX" exec "$USTACK_BIN/minibrowser" --no-color --ip 10.77.0.59/24 --gateway 10.77.0.1 --hosts /dev/null "$@"; }
one_line() {  # one_line LABEL FILE REGEX: FILE holds exactly one line, and it matches REGEX
  local n
  n=$(wc -l <"$2")
  ((n == 1)) || { cat "$2" >&2; fail "$1: $n lines at level 1"; }
  grep -qE "$3" "$2" || fail "$1: '$(cat "$2")' does not match $3"
}
www=$SANDBOX_DATA/www

mb --pcap "$work/html.pcap" http://203.0.113.80/about.html >"$work/html.out" 2>"$work/html.err" || fail "about.html: exit $?"
title=$(grep -oiE '<title>[^<]*</title>' "$www/about.html" | sed -E 's/<[^>]*>//g')
one_line "about.html" "$work/html.err" "^\[L1 +[0-9.]+ ms\] you typed http://203\.0\.113\.80/about\.html → the page appears: \"${title}\"$"
pass "HTML: $(cat "$work/html.err")"

mb --pcap "$work/css.pcap" http://203.0.113.80/style.css >"$work/css.out" 2>"$work/css.err" || fail "style.css: exit $?"
cmp -s "$work/css.out" "$www/style.css" || fail "style.css was not printed as it is"
size=$(stat -c %s "$www/style.css")
one_line "style.css" "$work/css.err" "^\[L1 +[0-9.]+ ms\] you typed http://203\.0\.113\.80/style\.css → text/css, shown as it is: $size bytes$"
[[ $(tshark -r "$work/css.pcap" -Y 'http.response' -T fields -e http.content_type 2>/dev/null | head -1) == text/css* ]] ||
  fail "style.css: the pcap's response is not text/css"
pass "text: $(cat "$work/css.err") (the file has $size bytes; the pcap's response is text/css)"

mb http://203.0.113.80/img/red.gif >"$work/gif.out" 2>"$work/gif.err" || fail "red.gif: exit $?"
size=$(stat -c %s "$STATE/www/img/red.gif")
one_line "red.gif" "$work/gif.err" "^\[L1 +[0-9.]+ ms\] you typed http://203\.0\.113\.80/img/red\.gif → image/gif, $size bytes: not shown \(-o FILE saves it\)$"
[[ $(cat "$work/gif.out") == "[image/gif, $size bytes] (save it with -o FILE)" ]] || fail "red.gif: stdout '$(cat "$work/gif.out")'"
pass "not text: $(cat "$work/gif.err") (the file has $size bytes)"

mb --source http://203.0.113.80/about.html >"$work/src.out" 2>"$work/src.err" || fail "--source: exit $?"
cmp -s "$work/src.out" "$www/about.html" || fail "--source did not print the file as it is"
size=$(stat -c %s "$www/about.html")
one_line "--source" "$work/src.err" "^\[L1 +[0-9.]+ ms\] you typed http://203\.0\.113\.80/about\.html → its source as it came \(--source\): $size bytes$"
pass "--source: $(cat "$work/src.err")"

mb --head --pcap "$work/head.pcap" http://203.0.113.80/ >"$work/head.out" 2>"$work/head.err" || fail "--head: exit $?"
status=$(tshark -r "$work/head.pcap" -Y 'http.response' -T fields -e http.response.version -e http.response.code -e http.response.phrase 2>/dev/null | head -1 | tr '\t' ' ')
[[ -n $status ]] || fail "--head: no response in the pcap"
one_line "--head" "$work/head.err" "^\[L1 +[0-9.]+ ms\] you typed http://203\.0\.113\.80/ → the response's headers \(--head\): ${status}$"
[[ $(head -1 "$work/head.out") == "$status" ]] || fail "--head printed '$(head -1 "$work/head.out")', the pcap has '$status'"
pass "--head: $(cat "$work/head.err") (as the pcap's status line)"
