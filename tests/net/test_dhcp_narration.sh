#!/usr/bin/env bash
# minibrowser's level 7 tells the DHCP exchange one message per line, each at its own time, and
# each held to the pcap: with --fresh --no-rapid-commit the classic four messages (RFC 2131 §3.1);
# without them, Rapid Commit (RFC 4039) on a first run and INIT-REBOOT (RFC 2131 §3.2) from the
# lease file on the next, named as such; the ARP probes of RFC 5227 with why and how long. The lease
# file is keyed by the interface and the network namespace, and --fresh neither reads nor writes it.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin directory of the build}"
work=$(mktemp -d /tmp/ustack-dhcp-narration.XXXXXX)
chmod 0777 "$work"
trap 'rm -rf "$work"' EXIT
state=$work/state
mb() { timeout 120 "$SANDBOX" exec env XDG_STATE_HOME="$state" "$USTACK_BIN/minibrowser" --no-color --level 7 --no-subresources "$@"; }
tf() { tshark -r "$1" -Y "$2" -T fields "${@:3}" 2>/dev/null; }
at_ms() { sed -nE "s/^\[L[0-9] +([0-9.]+) ms\] .*/\1/p" <<<"$1" | head -1; }
# pcap time of a frame, in ms since the first frame
frame_ms() { tf "$1" "frame.number == $2" -e frame.time_relative | awk '{ printf "%.3f", $1 * 1000 }'; }
close_to() {  # close_to LABEL A B TOLERANCE_MS
  awk -v a="$2" -v b="$3" -v t="$4" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }' || fail "$1: $2 ms vs $3 ms (pcap), more than $4 ms apart"
}

# --- 1. --fresh --no-rapid-commit: DISCOVER, OFFER, REQUEST, ACK ----------------------------------
mb --fresh --no-rapid-commit --pcap "$work/fresh.pcap" http://www.domain.com/ >/dev/null 2>"$work/fresh.txt" ||
  { cat "$work/fresh.txt" >&2; fail "minibrowser --fresh failed"; }
unwrap_file "$work/fresh.txt"
n=$(cat "$work/fresh.txt")
dhcp_lines=$(grep -E '^\[L7 .*\] DHCP \[frame [0-9]+\] [→←] ' <<<"$n")
[[ $(grep -oE 'DHCP \[frame [0-9]+\] [→←] (DISCOVER|OFFER|REQUEST|ACK|NAK)' <<<"$dhcp_lines" | awk '{print $5}' | tr '\n' ' ') == "DISCOVER OFFER REQUEST ACK " ]] ||
  { printf '%s\n' "$n" >&2; fail "the DHCP lines are not DISCOVER, OFFER, REQUEST, ACK in that order"; }
[[ $(tf "$work/fresh.pcap" dhcp -e dhcp.option.dhcp | tr '\n' ' ') == "1 2 3 5 " ]] || fail "the pcap's DHCP messages are not 1 2 3 5"
[[ -z $(tf "$work/fresh.pcap" 'dhcp.option.dhcp == 1 && dhcp.option.type == 80' -e frame.number) ]] ||
  fail "--no-rapid-commit, but the DISCOVER carries option 80"
expect_match "DISCOVER line" "$dhcp_lines" 'DHCP \[frame [0-9]+\] → DISCOVER, broadcast from 0\.0\.0\.0 \(we have no address yet\), without Rapid Commit: the classic four messages'
read -r offer_frame offer_src yiaddr lease < <(tf "$work/fresh.pcap" 'dhcp.option.dhcp == 2' -e frame.number -e ip.src -e dhcp.ip.your -e dhcp.option.ip_address_lease_time)
expect_match "OFFER line" "$dhcp_lines" "DHCP \[frame [0-9]+\] ← OFFER from ${offer_src//./\\.}: ${yiaddr//./\\.} for $lease s"
expect_match "REQUEST line" "$dhcp_lines" "DHCP \[frame [0-9]+\] → REQUEST ${yiaddr//./\\.} from server ${offer_src//./\\.}, broadcast"
[[ $(tf "$work/fresh.pcap" 'dhcp.option.dhcp == 3' -e dhcp.option.requested_ip_address -e dhcp.option.dhcp_server_id | tr '\t' ' ') == "$yiaddr $offer_src" ]] ||
  fail "the pcap's REQUEST does not ask for $yiaddr from $offer_src"
expect_match "ACK line" "$dhcp_lines" "DHCP \[frame [0-9]+\] ← ACK from ${offer_src//./\\.}: ${yiaddr//./\\.} is ours for $lease s$"
pass "--fresh --no-rapid-commit: DISCOVER, OFFER from $offer_src ($yiaddr, $lease s), REQUEST, ACK — as the pcap has them"
# Each line at its own time: the narration's gaps are the pcap's (±3 ms).
disc_frame=$(tf "$work/fresh.pcap" 'dhcp.option.dhcp == 1' -e frame.number | head -1)
t0=$(at_ms "$(grep -E 'DHCP \[frame [0-9]+\] → DISCOVER' <<<"$dhcp_lines")") p0=$(frame_ms "$work/fresh.pcap" "$disc_frame")
for kind in 'OFFER 2' 'REQUEST 3' 'ACK 5'; do
  read -r word type <<<"$kind"
  f=$(tf "$work/fresh.pcap" "dhcp.option.dhcp == $type" -e frame.number | head -1)
  t=$(at_ms "$(grep -E "DHCP \[frame [0-9]+\] [→←] $word" <<<"$dhcp_lines")")
  close_to "$word after DISCOVER" "$(awk -v a="$t" -v b="$t0" 'BEGIN { print a - b }')" \
    "$(awk -v a="$(frame_ms "$work/fresh.pcap" "$f")" -v b="$p0" 'BEGIN { print a - b }')" 15
done
pass "each DHCP line at its own time: the gaps after the DISCOVER match the pcap's within 15 ms (a loaded machine delays a line, not a frame)"

# The ARP probes: why, how many, how long (from the ACK to the first use of the address).
expect_match "probe why" "$n" "DHCP \[frame [0-9]+\] → ARP probe: who has ${yiaddr//./\\.}\? \(sender 0\.0\.0\.0; RFC 5227 address conflict detection"
probes=$(tf "$work/fresh.pcap" "arp.src.proto_ipv4 == 0.0.0.0 && arp.dst.proto_ipv4 == $yiaddr" -e frame.number | wc -l)
took=$(grep -oE "no reply to [0-9]+ ARP probe\(s\): the address is free, we take it; the check took [0-9.]+ ms after the ACK" <<<"$n") ||
  fail "no line for the end of the check"
[[ $(awk '{print $4}' <<<"$took") == "$probes" ]] || fail "narrated $(awk '{print $4}' <<<"$took") probes, the pcap has $probes"
ack_frame=$(tf "$work/fresh.pcap" 'dhcp.option.dhcp == 5' -e frame.number | head -1)
announce=$(tf "$work/fresh.pcap" "arp.src.proto_ipv4 == $yiaddr && arp.dst.proto_ipv4 == $yiaddr" -e frame.number | head -1)
[[ -n $announce ]] || fail "no gratuitous ARP for $yiaddr in the pcap"
took_ms=$(grep -oE '[0-9.]+ ms after' <<<"$took" | awk '{print $1}')
close_to "the check's length" "$took_ms" "$(awk -v a="$(frame_ms "$work/fresh.pcap" "$announce")" -v b="$(frame_ms "$work/fresh.pcap" "$ack_frame")" 'BEGIN { print a - b }')" 15
pass "ARP probes: $probes in the pcap as narrated; the check took $took_ms ms from the ACK to the announcement"
[[ ! -e $state ]] || fail "--fresh wrote $(find "$state" -type f)"
pass "--fresh: no lease file written"

# --- 2. without --fresh: Rapid Commit, then INIT-REBOOT from a lease file keyed by the network --
mb --pcap "$work/first.pcap" http://www.domain.com/ >/dev/null 2>"$work/first.txt" || { cat "$work/first.txt" >&2; fail "first run failed"; }
unwrap_file "$work/first.txt"
first=$(cat "$work/first.txt")
expect_match "rapid DISCOVER" "$first" 'DHCP \[frame [0-9]+\] → DISCOVER, broadcast .*asking for Rapid Commit \(RFC 4039'
expect_match "rapid ACK" "$first" 'DHCP \[frame [0-9]+\] ← ACK from 10\.77\.0\.1 with Rapid Commit \(RFC 4039\): 10\.77\.0\.[0-9]+ is ours for [0-9]+ s, no OFFER and no REQUEST'
[[ $(tf "$work/first.pcap" dhcp -e dhcp.option.dhcp | tr '\n' ' ') == "1 5 " ]] || fail "the first run's pcap is not DISCOVER, ACK"
[[ $(tf "$work/first.pcap" 'dhcp.option.type == 80' -e dhcp.option.dhcp | tr '\n' ' ') == "1 5 " ]] ||
  fail "option 80 is not in both the DISCOVER and the ACK"
pass "first run: DISCOVER and ACK, both with option 80 in the pcap, named Rapid Commit"

netns=$("$SANDBOX" exec readlink /proc/self/ns/net | tr -dc 0-9)
lease_file=$state/ustack/lease-tap0-net$netns
[[ -s $lease_file ]] || fail "no lease file $lease_file (have: $(find "$state" -type f 2>/dev/null))"
[[ $(find "$state" -type f | wc -l) -eq 1 ]] || fail "more than one lease file: $(find "$state" -type f)"
pass "the lease file is keyed by the interface and the sandbox's network namespace: ${lease_file##*/}"

mb --pcap "$work/again.pcap" http://www.domain.com/ >/dev/null 2>"$work/again.txt" || { cat "$work/again.txt" >&2; fail "second run failed"; }
unwrap_file "$work/again.txt"
again=$(cat "$work/again.txt")
stored=$(sed -n 's/^address=\([0-9.]*\)\/.*/\1/p' "$lease_file")
expect_match "INIT-REBOOT" "$again" "DHCP \[frame [0-9]+\] → REQUEST ${stored//./\\.}, broadcast: INIT-REBOOT \(RFC 2131 §3\.2\), the address stored in ${lease_file//./\\.} asked for again without a DISCOVER"
expect_match "INIT-REBOOT ACK" "$again" "DHCP \[frame [0-9]+\] ← ACK from 10\.77\.0\.1: ${stored//./\\.} is ours for [0-9]+ s \(the stored address is still valid here\)"
[[ $(tf "$work/again.pcap" dhcp -e dhcp.option.dhcp | tr '\n' ' ') == "3 5 " ]] || fail "the second run's pcap is not REQUEST, ACK"
read -r req_ip server_id < <(tf "$work/again.pcap" 'dhcp.option.dhcp == 3' -e dhcp.option.requested_ip_address -e dhcp.option.dhcp_server_id)
[[ $req_ip == "$stored" && -z $server_id ]] || fail "the REQUEST asks for '$req_ip' with server id '$server_id': not an INIT-REBOOT for $stored"
pass "second run: INIT-REBOOT REQUEST for $stored (option 50, no server id in the pcap), ACK"
