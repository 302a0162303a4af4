#!/usr/bin/env bash
# ustack dhcp against the sandbox's dnsmasq: a lease by Rapid Commit (RFC 4039) in 10.77.0.100-199
# with router 10.77.0.1 and DNS 198.51.100.53; the lease file makes the second run INIT-REBOOT and
# get the same address (RFC 2131 §3.2); --release makes dnsmasq drop the lease (RFC 2131 §4.4.6).
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"
# shellcheck disable=SC1091
. "$STATE/env"   # TAP_DEV, TAP_USER

# A MAC of its own, so this test's lease never meets another test's.
readonly MAC=02:00:00:d4:c0:01
work=$(mktemp -d)
chown "$TAP_USER" "$work"   # the program runs as the invoking user
lease_file="$work/lease"
cleanup() {
  # Leave no lease behind in dnsmasq, whatever failed.
  [[ -s $lease_file ]] && sb "$USTACK_BIN/ustack" dhcp --tap "$TAP_DEV" --mac "$MAC" --lease-file "$lease_file" --release >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
leases="$STATE/dnsmasq/dnsmasq.leases"
dnsmasq_has() { grep -qi " $MAC $1 " "$leases"; }

# --- 1. a fresh lease, by Rapid Commit ---------------------------------------------------------
out=$(sb "$USTACK_BIN/ustack" dhcp --tap "$TAP_DEV" --mac "$MAC" --lease-file "$lease_file" --hostname ustack-test 2>&1) ||
  { printf '%s\n' "$out" | sed 's/^/     | /' >&2; fail "ustack dhcp exited $?"; }
printf '%s\n' "$out" | sed 's/^/     /'
expect_match "rapid commit exchange" "$out" '^DISCOVER → ACK \(rapid commit\)'
expect_match "udhcpc-style summary" "$out" '^lease of 10\.77\.0\.1[0-9][0-9] obtained from 10\.77\.0\.1, lease time [0-9]+$'
expect_match "address/prefix" "$out" '^  address   10\.77\.0\.1[0-9][0-9]/24$'
expect_match "router" "$out" '^  router    10\.77\.0\.1$'
expect_match "dns" "$out" '^  dns       198\.51\.100\.53$'
expect_match "T1" "$out" '^  T1        [0-9]+ s'
expect_match "T2" "$out" '^  T2        [0-9]+ s'
expect_match "server" "$out" '^  server    10\.77\.0\.1$'
expect_match "dhclient-style bound line" "$out" '^bound to 10\.77\.0\.1[0-9][0-9] -- renewal in [0-9]+ seconds\.$'
ip=$(sed -n 's/^  address   \([0-9.]*\)\/24$/\1/p' <<<"$out")
dnsmasq_has "$ip" || { cat "$leases" >&2; fail "dnsmasq has no lease for $MAC $ip"; }
grep -q "^address=$ip/24$" "$lease_file" || { cat "$lease_file" >&2; fail "lease file does not hold $ip"; }
grep -q "DHCPACK(tap0) $ip $MAC ustack-test" "$STATE/logs/dnsmasq.log" ||
  fail "dnsmasq's log has no ACK naming our hostname (option 12)"
pass "rapid commit lease $ip (router 10.77.0.1, DNS 198.51.100.53), kept in the lease file"

# --- 2. the next start asks for the same address (INIT-REBOOT) ------------------------------------
out=$(sb "$USTACK_BIN/ustack" dhcp --tap "$TAP_DEV" --mac "$MAC" --lease-file "$lease_file" 2>&1) ||
  { printf '%s\n' "$out" | sed 's/^/     | /' >&2; fail "second ustack dhcp exited $?"; }
printf '%s\n' "$out" | sed 's/^/     /'
expect_match "INIT-REBOOT" "$out" "^REQUEST ${ip//./\\.} \(INIT-REBOOT\) → ACK"
expect_no_match "no DISCOVER" "$out" 'DISCOVER'
expect_match "same address" "$out" "^  address   ${ip//./\\.}/24$"
pass "INIT-REBOOT got $ip again"

# --- 3. --release: dnsmasq drops the lease, the lease file goes -----------------------------------
out=$(sb "$USTACK_BIN/ustack" dhcp --tap "$TAP_DEV" --mac "$MAC" --lease-file "$lease_file" --release 2>&1) ||
  { printf '%s\n' "$out" | sed 's/^/     | /' >&2; fail "ustack dhcp --release exited $?"; }
printf '%s\n' "$out" | sed 's/^/     /'
expect_match "release line" "$out" "^RELEASE of ${ip//./\\.} to 10\.77\.0\.1$"
for _ in $(seq 30); do dnsmasq_has "$ip" || break; sleep 0.1; done
! dnsmasq_has "$ip" || { cat "$leases" >&2; fail "dnsmasq still holds $ip after DHCPRELEASE"; }
grep -q "DHCPRELEASE(tap0) $ip $MAC" "$STATE/logs/dnsmasq.log" || fail "no DHCPRELEASE in dnsmasq's log"
[[ ! -e $lease_file ]] || fail "lease file still there after --release"
pass "released: dnsmasq dropped $ip"
