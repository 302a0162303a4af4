#!/usr/bin/env bash
# The kernel client takes a DHCP lease from the router's LAN dnsmasq (busybox udhcpc), uses the leased
# address through NAT, and gives it back (DHCPRELEASE) so the lease file is empty again.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox

work=$(mktemp -d)
udhcpc_pid=
cleanup() {
  if [[ -n $udhcpc_pid ]] && kill -0 "$udhcpc_pid" 2>/dev/null; then
    kill -TERM "$udhcpc_pid" 2>/dev/null || true    # udhcpc -R releases on SIGTERM
    wait "$udhcpc_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

export UDHCPC_OUT="$work/events"
# -f foreground, -R release on exit, 3 discovers 1 s apart, our event script records the lease.
# Started directly (not through a shell function) so that $! is udhcpc itself: `tools/sandbox exec`
# and `ip netns exec` both exec. If this test is killed outright, `tools/sandbox down` still stops it.
"$SANDBOX" exec --client --root busybox udhcpc -i lan0 -f -R -t 3 -T 1 -A 1 \
  -s "$SANDBOX_DATA/udhcpc-script.sh" >"$work/udhcpc.log" 2>&1 &
udhcpc_pid=$!

for _ in $(seq 50); do grep -q '^event=bound' "$UDHCPC_OUT" 2>/dev/null && break; sleep 0.1; done
bound=$(grep '^event=bound' "$UDHCPC_OUT" 2>/dev/null || true)
[[ -n $bound ]] || { cat "$work/udhcpc.log" >&2; fail "no DHCP lease within 5 s"; }
get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$bound"; }
ip=$(get ip); router=$(get router); dns=$(get dns); lease=$(get lease); mask=$(get subnet)
pass "lease: ip=$ip mask=$mask router=$router dns=$dns lease=${lease}s"

if ! [[ $ip =~ ^10\.78\.0\.([0-9]+)$ ]] || ((BASH_REMATCH[1] < 100 || BASH_REMATCH[1] > 199)); then
  fail "leased address $ip is not in 10.78.0.100-199"
fi
[[ $mask == 255.255.255.0 ]] || fail "netmask $mask, expected 255.255.255.0"
[[ $router == 10.78.0.1 ]] || fail "router option $router, expected 10.78.0.1"
[[ $dns == 198.51.100.53 ]] || fail "DNS option $dns, expected 198.51.100.53"
pass "address in the pool, router 10.78.0.1, DNS 198.51.100.53"

grep -q " $ip " "$STATE/dnsmasq-lan/dnsmasq.leases" || fail "dnsmasq's lease file does not list $ip"
pass "dnsmasq recorded the lease"

# The leased address works: fetch the page from it (through the router's NAT).
code=$(sb --client curl -s -o /dev/null --max-time 5 --interface "$ip" -w '%{http_code}' http://www.domain.com/ || true)
[[ $code == 200 ]] || fail "curl from the leased address $ip got '$code', expected 200"
pass "the leased address reaches http://www.domain.com/"

# Release: udhcpc sends DHCPRELEASE on SIGTERM; dnsmasq must drop the lease.
kill -TERM "$udhcpc_pid"; wait "$udhcpc_pid" || true; udhcpc_pid=
grep -q 'sending release' "$work/udhcpc.log" || { cat "$work/udhcpc.log" >&2; fail "udhcpc did not send a DHCPRELEASE"; }
for _ in $(seq 30); do grep -q " $ip " "$STATE/dnsmasq-lan/dnsmasq.leases" || break; sleep 0.1; done
! grep -q " $ip " "$STATE/dnsmasq-lan/dnsmasq.leases" || fail "lease for $ip still in dnsmasq's lease file after DHCPRELEASE"
! sb --client ip -4 -o addr show dev lan0 | grep -q "inet $ip/" || fail "$ip still configured on lan0"
pass "released: lease gone from dnsmasq, address removed from lan0"
