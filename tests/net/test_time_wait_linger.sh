#!/usr/bin/env bash
# TIME-WAIT told as it really goes: with --linger the program stays, and the narration shows the
# stack's TIME-WAIT record end 2·MSL (60 s) after the ACK that began it (held to that frame in the
# pcap and to the run's length); a --linger too short for it says, at exit, how much was left and
# that it ends with the program.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin directory of the build}"
work=$(mktemp -d /tmp/ustack-time-wait.XXXXXX)
chmod 0777 "$work"
trap 'rm -rf "$work"' EXIT
mb() { timeout 150 "$SANDBOX" exec "$USTACK_BIN/minibrowser" --no-color --level 6 --no-subresources --idle-timeout 1 "$@"; }
at_ms() { sed -nE "s/^\[L[0-9] +([0-9.]+) ms\] .*/\1/p" <<<"$1" | head -1; }

# --- 1. --linger 63: our idle timer sends the first FIN after 1 s; TIME-WAIT ends 60 s later ----
start=$(date +%s%N)
mb --linger 63 --pcap "$work/tw.pcap" http://www.domain.com/ >/dev/null 2>"$work/tw.txt" || { cat "$work/tw.txt" >&2; fail "minibrowser failed"; }
wall=$(( ($(date +%s%N) - start) / 1000000 ))
unwrap_file "$work/tw.txt"
n=$(cat "$work/tw.txt")
expect_match "TIME-WAIT with --linger" "$n" 'TCP #1 is in TIME-WAIT \(we sent the first FIN\): .*--linger keeps this program running, so its end is shown below'
over=$(grep -E 'TCP #1: TIME-WAIT over after [0-9.]+ s \(2·MSL\): the stack forgot ' <<<"$n") || { printf '%s\n' "$n" >&2; fail "no TIME-WAIT expiry line"; }
port=$(tshark -r "$work/tw.pcap" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -e tcp.srcport 2>/dev/null | head -1)
[[ $over == *":$port ↔ 203.0.113.80:80, which may now be used again" ]] || fail "the expiry names another 4-tuple than the pcap's port $port: $over"
# The ACK of the server's FIN began TIME-WAIT: its frame line, then 60 s to the expiry line.
ack_line=$(grep -E 'TCP #1 \[frame [0-9]+\] → ACK of the FIN' <<<"$n" | head -1)
[[ -n $ack_line ]] || fail "no ACK of the FIN narrated"
gap=$(awk -v a="$(at_ms "$over")" -v b="$(at_ms "$ack_line")" 'BEGIN { printf "%d", a - b }')
((gap >= 59900 && gap <= 60600)) || fail "TIME-WAIT ended $gap ms after the ACK that began it, not 60 s"
frame=$(grep -oE '\[frame [0-9]+\]' <<<"$ack_line" | tr -dc 0-9)
[[ $(tshark -r "$work/tw.pcap" -Y "frame.number == $frame" -T fields -e tcp.srcport -e tcp.flags.ack 2>/dev/null | tr '\t' ' ') == "$port 1" ]] ||
  fail "frame $frame is not our ACK on port $port"
((wall >= 60000 && wall < 63000 + 5000)) || fail "the run took $wall ms: it should end when TIME-WAIT does (~61 s), within the 63 s linger"
expect_no_match "nothing left at exit" "$n" 'still in TIME-WAIT'
pass "--linger 63: TIME-WAIT of port $port ended $gap ms after frame $frame (its ACK); the run took $wall ms"

# --- 2. --linger 5: the program exits first, and says so ------------------------------------------
mb --linger 5 http://www.domain.com/ >/dev/null 2>"$work/short.txt" || { cat "$work/short.txt" >&2; fail "minibrowser --linger 5 failed"; }
unwrap_file "$work/short.txt"
short=$(cat "$work/short.txt")
left=$(grep -oE 'TCP #1 is still in TIME-WAIT \([0-9.]+ s left\) as the program exits: it ends with the program' <<<"$short") ||
  { printf '%s\n' "$short" >&2; fail "no line for the TIME-WAIT cut short"; }
secs=$(grep -oE '[0-9.]+ s left' <<<"$left" | awk '{print $1}')
awk -v s="$secs" 'BEGIN { exit !(s >= 55 && s <= 57) }' || fail "$secs s left: expected about 56 (60 s from ~1 s, exit at 5 s)"
expect_no_match "no expiry claimed" "$short" 'TIME-WAIT over'
pass "--linger 5: at exit, $secs s of TIME-WAIT left, said to end with the program"
