#!/usr/bin/env bash
# The sandbox is sealed off and built as promised: `tools/sandbox status` passes; the TAP device is
# in the router namespace, owned by the invoking user, with 10.77.0.1/24; every daemon runs in the
# namespace it should; nothing of ours shows up in the machine's own namespace; no daemon has a
# real upstream.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
# shellcheck disable=SC1091
. "$STATE/env"   # TAP_DEV, TAP_USER
inst=$USTACK_SANDBOX

out=$(timeout 30 "$SANDBOX" status 2>&1) || { printf '%s\n' "$out" >&2; fail "tools/sandbox status failed"; }
expect_match "status verdict" "$out" 'is up and sealed off'
# The TAP has no carrier until a program attaches: status explains ip's DOWN instead of
# contradicting host-net's "is up" two lines later.
if grep -qE '^ +tap[^ ]* +DOWN ' <<<"$out"; then
  expect_match "DOWN explained" "$out" 'DOWN only means no program is attached yet'
fi
pass "tools/sandbox status passes"

# The TAP device.
link=$(sb --root ip -d link show "$TAP_DEV") || fail "$TAP_DEV does not exist in $inst-router"
expect_match "tap kind" "$link" 'tun type tap'
expect_match "tap persistent" "$link" 'persist on'
uid=$(id -u "$TAP_USER")
owner=$(sb --root cat "/sys/class/net/$TAP_DEV/owner")
[[ $owner == "$uid" ]] || fail "$TAP_DEV owner is uid $owner, expected $uid ($TAP_USER)"
addr=$(sb --root ip -4 -o addr show dev "$TAP_DEV")
expect_match "tap address" "$addr" "inet 10\.77\.0\.1/24 "
[[ $(sb --root sysctl -n "net.ipv6.conf.$TAP_DEV.disable_ipv6") == 1 ]] || fail "IPv6 is not disabled on $TAP_DEV"
pass "$TAP_DEV: in $inst-router, persistent TAP, owner $TAP_USER (uid $uid), 10.77.0.1/24, no IPv6"

# `exec` runs as the invoking user (here: whoever owns the TAP).
[[ $(sb id -u) == "$uid" ]] || fail "tools/sandbox exec does not run as $TAP_USER"
pass "tools/sandbox exec runs as $TAP_USER"

# Each daemon runs in the namespace it belongs in (compare network-namespace inodes).
ns_inode() { stat -L -c %i "/run/netns/$1"; }
declare -A where=([nsd-root]=inet [nsd-com]=inet [nsd-domain]=inet [unbound]=inet [nginx]=inet [dnsmasq]=router [dnsmasq-lan]=router)
for d in "${!where[@]}"; do
  pid=$(cat "$STATE/pids/$d") || fail "no PID recorded for $d"
  got=$(readlink "/proc/$pid/ns/net" 2>/dev/null) || fail "$d (pid $pid) is not running"
  [[ $got == "net:[$(ns_inode "$inst-${where[$d]}")]" ]] || fail "$d (pid $pid) is not in $inst-${where[$d]}"
done
pass "every daemon runs in its own namespace (by network-namespace inode)"

# Nothing of ours in the machine's own namespace: no interface whose peer is in our namespaces,
# no TAP/veth of ours, and the daemons are not in the root namespace.
root_links=$(ip -o link show)
for ns in router inet client; do
  expect_no_match "root-namespace links into $inst-$ns" "$root_links" "link-netns $inst-$ns( |$)"
done
root_net=$(readlink /proc/$$/ns/net)   # this test runs in the machine's own namespace
for d in "${!where[@]}"; do
  [[ $(readlink "/proc/$(cat "$STATE/pids/$d")/ns/net") != "$root_net" ]] || fail "$d runs in the root namespace"
done
pass "no link between the machine's own namespace and ours"

# Every namespace resolves only through the sandbox.
for ns in router inet client; do
  f=/etc/netns/$inst-$ns/resolv.conf
  [[ $(grep '^nameserver' "$f") == "nameserver 198.51.100.53" ]] || fail "$f does not name only 198.51.100.53"
  ! grep -qv -E '^(127\.0\.0\.1|::1)\s' "/etc/netns/$inst-$ns/hosts" || fail "/etc/netns/$inst-$ns/hosts has more than localhost"
done
pass "/etc/netns/<ns>/resolv.conf -> 198.51.100.53 and hosts = localhost only, in all three namespaces"

# No real upstream: unbound has no forwarders and only our root in its hints; dnsmasq does no DNS.
! grep -qiE '^\s*forward-(zone|addr)|^\s*stub-' "$STATE/unbound/unbound.conf" || fail "unbound has a forwarder/stub"
hints=$(grep -E '\sA\s' "$STATE/unbound/root.hints" | awk '{print $NF}' | sort -u)
[[ $hints == 198.51.100.1 ]] || fail "unbound's root hints name $hints, expected only 198.51.100.1"
# Both dnsmasq: the TAP's (written by tools/host-net) and the LAN's.
for conf in "$STATE/dnsmasq/dnsmasq.conf" "$STATE/dnsmasq-lan/dnsmasq.conf"; do
  grep -qx 'port=0' "$conf" || fail "$conf: dnsmasq is not DHCP-only (port=0)"
  ! grep -qE '^(server|resolv-file)=' "$conf" || fail "$conf: dnsmasq has an upstream server"
done
pass "unbound: no forwarders, root hints = 198.51.100.1 only; both dnsmasq: DHCP only"
