#!/usr/bin/env bash
# ustack dhcp's other paths against the sandbox's dnsmasq: the four-message exchange when Rapid
# Commit is not asked for (RFC 2131 §3.1), a real RENEWING exchange (--renew-test: REQUEST with
# ciaddr unicast to the server, RFC 2131 §4.4.5) and DHCPRELEASE at exit (--release-on-exit).
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"
# shellcheck disable=SC1091
. "$STATE/env"   # TAP_DEV, TAP_USER

readonly MAC=02:00:00:d4:c0:02
work=$(mktemp -d)
chown "$TAP_USER" "$work"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
leases="$STATE/dnsmasq/dnsmasq.leases"
log="$STATE/logs/dnsmasq.log"

out=$(sb "$USTACK_BIN/ustack" dhcp --tap "$TAP_DEV" --mac "$MAC" --no-lease-file --no-rapid-commit --renew-test \
      --release-on-exit --pcap "$work/dhcp.pcap" 2>&1) ||
  { printf '%s\n' "$out" | sed 's/^/     | /' >&2; fail "ustack dhcp exited $?"; }
printf '%s\n' "$out" | sed 's/^/     /'
expect_match "four-message exchange" "$out" '^DISCOVER → OFFER from 10\.77\.0\.1 → REQUEST → ACK( |$)'
ip=$(sed -n 's/^  address   \([0-9.]*\)\/24$/\1/p' <<<"$out")
[[ $ip =~ ^10\.77\.0\.1[0-9][0-9]$ ]] || fail "no address in the pool: '$ip'"
pass "DISCOVER → OFFER → REQUEST → ACK gave $ip"

expect_match "renewal" "$out" '^RENEW \(unicast to 10\.77\.0\.1\) → ACK$'
expect_match "renewed line" "$out" "^renewed ${ip//./\\.} from 10\.77\.0\.1, lease time [0-9]+"
# The RENEW is unicast: IP destination 10.77.0.1 from our address, not a broadcast.
if command -v tcpdump >/dev/null; then
  renew=$(tcpdump -n -r "$work/dhcp.pcap" "udp port 67 and src host $ip and dst host 10.77.0.1" 2>/dev/null | head -2)
  [[ $(wc -l <<<"$renew") -ge 2 ]] || { printf '%s\n' "$renew" >&2; fail "no unicast RENEW and RELEASE from $ip in the capture"; }
fi
pass "RENEWING: unicast REQUEST to 10.77.0.1, ACK"

for _ in $(seq 30); do grep -qi " $MAC $ip " "$leases" || break; sleep 0.1; done
! grep -qi " $MAC $ip " "$leases" || fail "dnsmasq still holds $ip after --release-on-exit"
grep -q "DHCPRELEASE(tap0) $ip $MAC" "$log" || fail "no DHCPRELEASE in dnsmasq's log"
pass "--release-on-exit released $ip"
