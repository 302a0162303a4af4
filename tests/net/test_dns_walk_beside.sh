#!/usr/bin/env bash
# Level 5's DNS walk (root → TLD → authoritative) never holds the page back: it starts when the
# resolver has answered and runs beside the fetch, its lines appearing as its answers arrive; what
# the resolver really did is read from the two TTLs (held to the pcap's replies); an NXDOMAIN is
# walked to the server it comes from; with root servers that cannot be reached, one line says so
# and a level-7 run takes no longer than a level-4 run plus the short wait for a first root answer.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin directory of the build}"
work=$(mktemp -d /tmp/ustack-walk-test.XXXXXX)
chmod 0777 "$work"
trap 'rm -rf "$work"' EXIT
mb() { timeout 120 "$SANDBOX" exec "$USTACK_BIN/minibrowser" --no-color "$@"; }
tf() { tshark -r "$1" -Y "$2" -T fields "${@:3}" 2>/dev/null; }
ms_of() { sed -nE "s/^\[L[0-9] +([0-9.]+) ms\] .*/\1/p" <<<"$1" | head -1; }

# --- 1. the walk beside the fetch ---------------------------------------------------------------
mb --level 5 --pcap "$work/walk.pcap" http://www.domain.com/ >/dev/null 2>"$work/walk.txt" ||
  { cat "$work/walk.txt" >&2; fail "minibrowser failed"; }
narration=$(cat "$work/walk.txt")
fetch_line=$(grep -n 'fetching http://www\.domain\.com/' <<<"$narration" | head -1 | cut -d: -f1)
first_walk=$(grep -nE 'DNS walk \[frames? [0-9, ]+\] asked ' <<<"$narration" | head -1 | cut -d: -f1)
[[ -n $fetch_line && -n $first_walk ]] || { printf '%s\n' "$narration" >&2; fail "no fetch line or no walk line"; }
((fetch_line < first_walk)) || fail "the first walk answer (line $first_walk) came before the fetch began (line $fetch_line): the walk held the page"
# Each server the walk names answered it in the pcap.
while read -r ip; do
  [[ -n $(tf "$work/walk.pcap" "dns.flags.response == 1 && ip.src == $ip && dns.qry.name == \"www.domain.com\"" -e frame.number) ]] ||
    fail "the walk says $ip answered; the pcap has no reply from it"
done < <(grep -oE 'DNS walk \[frames? [0-9, ]+\] asked [^ ]+ \(([0-9.]+)\)' <<<"$narration" | grep -oE '[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+')
pass "the walk's first answer is narrated after the fetch began; each server it names replied in the pcap"

# The resolver's TTL and the authoritative TTL, each as the pcap's reply carries it.
res_ttl=$(tf "$work/walk.pcap" 'dns.flags.response == 1 && ip.src == 198.51.100.53 && dns.qry.name == "www.domain.com"' -e dns.resp.ttl | head -1 | cut -d, -f1)
auth_ttl=$(tf "$work/walk.pcap" 'dns.flags.response == 1 && ip.src == 198.51.100.3 && dns.qry.name == "www.domain.com"' -e dns.resp.ttl | head -1 | cut -d, -f1)
[[ $res_ttl =~ ^[0-9]+$ && $auth_ttl =~ ^[0-9]+$ ]] || fail "TTLs not found in the pcap (resolver '$res_ttl', authoritative '$auth_ttl')"
if ((res_ttl < auth_ttl)); then
  expect_match "from the cache" "$narration" "DNS walk: the resolver answered from its cache \(TTL $res_ttl of $auth_ttl s left: it learned the name $((auth_ttl - res_ttl)) s ago\)"
  expect_no_match "no replay claim" "$narration" 'the way the resolver asked it'
  pass "the resolver answered from its cache: TTL $res_ttl of $auth_ttl (both from the pcap)"
else
  expect_match "full TTL" "$narration" "DNS walk: the resolver's TTL is the full $auth_ttl s"
  pass "the resolver's TTL is the authoritative $auth_ttl s (both from the pcap)"
fi

# --- 2. NXDOMAIN: where "no such name" comes from ---------------------------------------------
rc=0
mb --level 5 --pcap "$work/nx.pcap" http://nosuch.domain.com/ >/dev/null 2>"$work/nx.txt" || rc=$?
((rc == 6)) || { cat "$work/nx.txt" >&2; fail "NXDOMAIN exited $rc, expected 6"; }
nx=$(cat "$work/nx.txt")
expect_match "NXDOMAIN walked" "$nx" 'DNS walk: NXDOMAIN for nosuch\.domain\.com from 198\.51\.100\.3#53\(ns1\.domain\.com\) after 3 queries .*the resolver passed that on'
[[ $(tf "$work/nx.pcap" 'dns.flags.rcode == 3 && ip.src == 198.51.100.3' -e dns.qry.name | head -1) == nosuch.domain.com ]] ||
  fail "the pcap has no NXDOMAIN from 198.51.100.3"
pass "NXDOMAIN: walked to ns1.domain.com, whose rcode 3 is in the pcap"

# --- 3. roots that cannot be reached: one line, no wait ------------------------------------------
# 198.51.100.99 is in the sandbox's internet but nothing answers there (silence, as behind a firewall).
printf 'x.root-servers.test. 198.51.100.99\n' >"$work/hints"
chmod 0644 "$work/hints"
best() { sort -n | head -1; }
t4=() t7=()
for _ in 1 2 3; do
  s=$(date +%s%N); mb --level 4 http://www.domain.com/ >/dev/null 2>&1 || fail "level 4 failed"; t4+=($(( ($(date +%s%N) - s) / 1000000 )))
  s=$(date +%s%N)
  mb --level 7 --root-hints "$work/hints" --pcap "$work/iso.pcap" http://www.domain.com/ >/dev/null 2>"$work/iso.txt" ||
    { cat "$work/iso.txt" >&2; fail "level 7 with unreachable roots failed"; }
  t7+=($(( ($(date +%s%N) - s) / 1000000 )))
done
l4=$(printf '%s\n' "${t4[@]}" | best) l7=$(printf '%s\n' "${t7[@]}" | best)
unwrap_file "$work/iso.txt"
iso=$(cat "$work/iso.txt")
[[ $(grep -c 'DNS walk: ' <<<"$iso") -eq 2 ]] || { grep 'DNS walk' <<<"$iso" >&2; fail "expected the walk's opening line and one more"; }
expect_match "one line" "$iso" 'DNS walk: no root server answered in [0-9.]+ ms: the walk is dropped, the page does not wait'
[[ -n $(tf "$work/iso.pcap" 'ip.dst == 198.51.100.99 && dns' -e frame.number) ]] || fail "no query to 198.51.100.99 in the pcap"
[[ -z $(tf "$work/iso.pcap" 'ip.src == 198.51.100.99' -e frame.number) ]] || fail "198.51.100.99 answered after all"
page_at=$(ms_of "$(grep '^\[L1 ' <<<"$iso")") gave_up_at=$(ms_of "$(grep 'no root server answered' <<<"$iso")")
awk -v a="$page_at" -v b="$gave_up_at" 'BEGIN { exit !(b - a <= 250) }' ||
  fail "the walk was dropped $gave_up_at ms into the run, the page appeared at $page_at ms: more than the 200 ms grace"
# The 200 ms grace for a first root answer, plus slack for the level-7 narration and its capture.
((l7 <= l4 + 700)) || fail "level 7 with unreachable roots took $l7 ms, level 4 $l4 ms (best of 3 each)"
pass "unreachable roots: one line, the page at $page_at ms, the walk dropped at $gave_up_at ms; level 7 $l7 ms vs level 4 $l4 ms (best of 3)"
