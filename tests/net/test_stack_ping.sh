#!/usr/bin/env bash
# Ethernet, ARP, IPv4 and ICMP on the real wire: our stack on the sandbox's tap0 against the Linux kernel.
#  - the kernel pings our stack 1000 times at 10 ms with 0 % loss; arping gets answers;
#  - the kernel's fragmented pings (ping -s 4000) come back whole;
#  - `ustack ping` reaches the router, and a host in the internet namespace through the NAT;
#  - the pcap of the run reads cleanly in tshark (zero malformed frames).
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"

work=$(mktemp -d /tmp/ustack-ping-test.XXXXXX)
chmod 0777 "$work"   # the stack runs as the invoking user inside the sandbox
up_pid=""
cleanup() {
  [[ -n $up_pid ]] && kill "$up_pid" 2>/dev/null && wait "$up_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# --- our stack as the passive side: the kernel pings it --------------------------------------
"$SANDBOX" exec "$USTACK_BIN/ustack" up --ip 10.77.0.50/24 --gateway 10.77.0.1 --for 120 --stats \
  --pcap "$work/up.pcap" >"$work/up.log" 2>&1 &
up_pid=$!
for _ in $(seq 50); do grep -q '^ustack up:' "$work/up.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^ustack up:' "$work/up.log" || { cat "$work/up.log" >&2; fail "ustack up did not start"; }
pass "$(head -1 "$work/up.log")"

out=$(sb --root ping -n -q -c 1000 -i 0.01 -W 1 10.77.0.50 2>&1) || true
expect_match "1000 pings at 10 ms" "$out" "1000 packets transmitted, 1000 received, 0% packet loss"
pass "kernel -> stack: $(grep -E 'packets transmitted' <<<"$out")"
note "$(grep -E '^rtt' <<<"$out")"

out=$(sb --root arping -c 3 -w 5 -I tap0 10.77.0.50 2>&1) || true
expect_match "arping" "$out" "3 packets transmitted, 3 packets received"
pass "arping: $(grep -E 'packets received' <<<"$out")"

out=$(sb --root ping -n -c 3 -i 0.2 -s 4000 -W 2 10.77.0.50 2>&1) || true
expect_match "fragmented pings" "$out" "3 packets transmitted, 3 received, 0% packet loss"
expect_match "whole replies" "$out" "4008 bytes from 10.77.0.50"
pass "ping -s 4000 (3 fragments each way): $(grep -E 'packets transmitted' <<<"$out")"

kill -TERM "$up_pid"
rc=0; wait "$up_pid" || rc=$?
((rc == 143)) || fail "ustack up exited with $rc after SIGTERM (expected 143 = 128 + SIGTERM)"
up_pid=""
expect_match "echo counter" "$(cat "$work/up.log")" "icmp.echo_requests_answered +100[0-9]"
expect_no_match "no checksum drops" "$(cat "$work/up.log")" "drop\.ipv4\.bad_checksum"

# --- our stack as the active side ---------------------------------------------------------------
out=$(sb "$USTACK_BIN/ustack" ping -c 3 -i 0.2 -W 3 --ip 10.77.0.51/24 --gateway 10.77.0.1 10.77.0.1 2>&1) ||
  { printf '%s\n' "$out" >&2; fail "ustack ping 10.77.0.1 failed"; }
expect_match "ping the router" "$out" "3 packets transmitted, 3 received, 0% packet loss"
expect_match "iputils-style reply line" "$out" '^64 bytes from 10\.77\.0\.1: icmp_seq=1 ttl=64 time=[0-9.]+ ms$'
pass "ustack ping 10.77.0.1: $(grep -E 'packets transmitted' <<<"$out")"

out=$(sb "$USTACK_BIN/ustack" ping -c 3 -i 0.2 -W 3 --ip 10.77.0.51/24 --gateway 10.77.0.1 --pcap "$work/nat.pcap" \
  203.0.113.80 2>&1) || { printf '%s\n' "$out" >&2; fail "ustack ping through the NAT failed"; }
expect_match "ping through the NAT" "$out" "3 packets transmitted, 3 received, 0% packet loss"
expect_match "TTL decremented by the router" "$out" "ttl=63"
pass "ustack ping 203.0.113.80 (through the router's NAT): $(grep -E 'packets transmitted' <<<"$out")"

out=$(sb "$USTACK_BIN/ustack" ping -c 2 -i 0.2 -W 2 -s 3000 --ip 10.77.0.51/24 --gateway 10.77.0.1 10.77.0.1 2>&1) || true
expect_match "our fragmented pings" "$out" "2 packets transmitted, 2 received"
pass "ustack ping -s 3000 (we fragment, the kernel reassembles): $(grep -E 'packets transmitted' <<<"$out")"

out=$(sb "$USTACK_BIN/ustack" ping -c 2 -i 0.2 -W 5 --ip 10.77.0.51/24 --gateway 10.77.0.1 10.77.0.77 2>&1) && \
  fail "ping of an absent host succeeded: $out"
expect_match "absent neighbour" "$out" "Destination Host Unreachable"
# iputils prints one line per request that failed, not one per ARP resolution.
expect_match "seq 1 unreachable" "$out" "icmp_seq=1 Destination Host Unreachable"
expect_match "seq 2 unreachable" "$out" "icmp_seq=2 Destination Host Unreachable"
expect_match "absent neighbour summary" "$out" "2 packets transmitted, 0 received, \+2 errors"
pass "ustack ping 10.77.0.77 (nobody there): ARP gives up, exit 1, like iputils"

# --- the captures read cleanly ---------------------------------------------------------------------
for f in up nat; do
  frames=$(tshark -r "$work/$f.pcap" 2>/dev/null | wc -l)
  malformed=$(tshark -r "$work/$f.pcap" -Y '_ws.malformed || _ws.expert.severity >= error' 2>/dev/null | wc -l)
  ((frames > 0)) || fail "$f.pcap has no frames"
  ((malformed == 0)) || fail "$f.pcap: $malformed malformed frame(s): $(tshark -r "$work/$f.pcap" -Y _ws.malformed 2>&1 | head -3)"
  pass "$f.pcap: $frames frames, 0 malformed (tshark)"
done
