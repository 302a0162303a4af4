#!/usr/bin/env bash
# dnsmasq serves the TAP device even though it had no carrier when dnsmasq started: attach to the
# TAP as the invoking user (like the user-space stack will), DISCOVER with Rapid Commit, expect an
# ACK straight away with the sandbox's options, then DHCPRELEASE.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
# shellcheck disable=SC1091
. "$STATE/env"   # TAP_DEV, TAP_USER

# The probe is fed on stdin so that the invoking user need not be able to read the checkout.
out=$(sb perl - "$TAP_DEV" <"$SANDBOX_DATA/tap-dhcp-probe.pl" 2>&1) || { printf '%s\n' "$out" >&2; fail "probe failed"; }
printf '%s\n' "$out" | sed 's/^/     /'
expect_match "message type" "$out" '^type=ACK$'
expect_match "rapid commit" "$out" '^rapid_commit=yes$'
expect_match "address" "$out" '^yiaddr=10\.77\.0\.1[0-9][0-9]$'
expect_match "router" "$out" '^router=10\.77\.0\.1$'
expect_match "dns" "$out" '^dns=198\.51\.100\.53$'
pass "DHCP on $TAP_DEV: one round trip (Rapid Commit) gave $(sed -n 's/^yiaddr=//p' <<<"$out")"

ip=$(sed -n 's/^yiaddr=//p' <<<"$out")
for _ in $(seq 30); do grep -q " $ip " "$STATE/dnsmasq/dnsmasq.leases" || break; sleep 0.1; done
! grep -q " $ip " "$STATE/dnsmasq/dnsmasq.leases" || fail "lease for $ip still in dnsmasq's lease file after DHCPRELEASE"
pass "released"
