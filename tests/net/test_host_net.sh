#!/usr/bin/env bash
# tools/host-net on a "host" that is a fresh network namespace whose uplink is a veth into the
# sandbox's internet (which has no route back to the TAP subnet: replies return only through the
# NAT). `up` gives a TAP owned by an unprivileged user; `ustack dhcp` gets a lease from host-net's
# dnsmasq (router and DNS = the TAP address); the mini-browser fetches the sandbox page with DNS
# forwarded by dnsmasq to the ISP's unbound and packets masqueraded out of the uplink; `up` twice
# changes nothing; a colliding subnet is refused; `down` leaves the namespace exactly as it was.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin directory of the build}"
HOST_NET="$USTACK_SOURCE/tools/host-net"
inet="$USTACK_SANDBOX-inet"

# Names unique to this run. The uplink is 100.64.77.0/30 (RFC 6598 space, used nowhere else in
# the sandbox): .1 in the internet namespace, .2 on the "host".
ns="hn$$-${USTACK_SANDBOX:0:8}"
peer="hn$$"
tap="hnt$$"
readonly UP_HOST=100.64.77.2 UP_INET=100.64.77.1 SUBNET=10.79.0.0/24
readonly MAC=02:00:00:d4:c0:79
user=$(unprivileged_user)
[[ $user == nobody ]] || note "nobody cannot run $USTACK_BIN/ustack: the TAP goes to $user"
group=$(id -gn "$user")
work=$(mktemp -d /tmp/ustack-host-net-test.XXXXXX)
chmod 0777 "$work"
cleanup() {
  if [[ -e /run/netns/$ns ]]; then ip netns exec "$ns" "$HOST_NET" down --tap "$tap" >/dev/null 2>&1 || true; fi
  drop_uplink_ns "$ns" "$peer"
  rm -rf "$work"
}
trap cleanup EXIT

# --- the "host": a fresh namespace, uplink up0 into the sandbox's internet ---------------------------
make_uplink_ns "$ns" "$peer" 100.64.77
! ip -n "$inet" route get 10.79.0.100 >/dev/null 2>&1 || fail "the internet namespace has a route to $SUBNET"
# The "host's own resolvers": the ISP's unbound. dnsmasq must never read a real resolv.conf here.
printf 'nameserver 198.51.100.53\n' >"$work/resolv.conf"
hn() { timeout 60 ip netns exec "$ns" "$HOST_NET" "$@"; }
as_user() { timeout 120 ip netns exec "$ns" setpriv --reuid="$user" --regid="$group" --clear-groups -- env HOME="$work" "$@"; }

# --- down of nothing: quiet success ---------------------------------------------------------------
out=$(hn down --tap "$tap" 2>&1) || fail "down with nothing up failed: $out"
[[ -z $out ]] || fail "down with nothing up printed: $out"
pass "down with nothing up: exit 0, no output"

# --- colliding subnets are refused, and refusing changes nothing -----------------------------------
snapshot() {
  printf '## nft\n'; ip netns exec "$ns" nft list ruleset
  printf '## links\n'; ip -n "$ns" -d link show
  printf '## addresses\n'; ip -n "$ns" addr show
  printf '## routes\n'; ip -n "$ns" route show table all
  printf '## sysctl\n'; ip netns exec "$ns" sysctl net.ipv4.ip_forward
  printf '## processes\n'; ip netns pids "$ns" | sort -n
}
ip -n "$ns" route add 10.0.2.0/24 via "$UP_INET"   # where VirtualBox's NAT network would be
snapshot >"$work/before-refusal"
rc=0; out=$(hn up --tap "$tap" --subnet 10.0.2.0/24 --user "$user" --resolv-file "$work/resolv.conf" 2>&1) || rc=$?
((rc != 0)) || fail "up with a subnet on an existing route succeeded: $out"
expect_match "refusal names the route" "$out" "^host-net: subnet 10\.0\.2\.0/24 collides with the existing route '10\.0\.2\.0/24 via $UP_INET dev up0"
expect_match "refusal suggests --subnet" "$out" 'choose another with --subnet'
[[ $(wc -l <<<"$out") == 1 ]] || fail "the refusal is not one line: $out"
rc=0; out=$(hn up --tap "$tap" --subnet 100.64.0.0/16 --user "$user" --resolv-file "$work/resolv.conf" 2>&1) || rc=$?
((rc != 0)) || fail "up with a subnet containing the uplink's succeeded: $out"
expect_match "refusal of the uplink's subnet" "$out" "collides with the existing route '100\.64\.77\.0/30 dev up0"
snapshot >"$work/after-refusal"
diff -u "$work/before-refusal" "$work/after-refusal" >&2 || fail "a refused up changed the namespace"
ip -n "$ns" route del 10.0.2.0/24 via "$UP_INET"
pass "10.0.2.0/24 (a route) and 100.64.0.0/16 (the uplink's) refused in one line each, nothing changed"

# --- a first up that fails half-way undoes itself --------------------------------------------------
snapshot >"$work/before"
rc=0; out=$(USTACK_HOST_NET_FAIL_AT=dnsmasq hn up --uplink up0 --tap "$tap" --subnet "$SUBNET" --user "$user" \
  --resolv-file "$work/resolv.conf" 2>&1) || rc=$?
((rc != 0)) || fail "up with an injected failure succeeded"
expect_match "failure reported" "$out" 'up failed \(exit 1\): undoing what it did'
expect_match "it got that far" "$out" "^created TAP $tap owned by $user$"
snapshot >"$work/after-failure"
diff -u "$work/before" "$work/after-failure" >&2 || fail "a failed up left changes behind"
! compgen -G "/run/ustack-host-net/*-$tap" >/dev/null || fail "a failed up left its state dir"
pass "a failed first up (TAP, address, forwarding, NAT done; failing before dnsmasq) undid all of it"

# --- up, and up again ---------------------------------------------------------------------------------
t0=$(date +%s%N)
out=$(hn up --uplink up0 --tap "$tap" --subnet "$SUBNET" --user "$user" --resolv-file "$work/resolv.conf" 2>&1) ||
  { printf '%s\n' "$out" >&2; fail "host-net up failed"; }
up_ms=$((($(date +%s%N) - t0) / 1000000))
printf '%s\n' "$out" | sed 's/^/     | /'
expect_match "TAP created" "$out" "^created TAP $tap owned by $user$"
expect_match "forwarding" "$out" '^net\.ipv4\.ip_forward=1 \(was 0\)$'
link=$(ip -n "$ns" -d link show "$tap")
expect_match "persistent TAP" "$link" 'tun type tap .*persist on'
[[ $(ip netns exec "$ns" cat "/sys/class/net/$tap/owner") == "$(id -u "$user")" ]] || fail "$tap is not owned by $user"
expect_match "address" "$(ip -n "$ns" -4 -o addr show dev "$tap")" 'inet 10\.79\.0\.1/24 '
[[ $(ip netns exec "$ns" sysctl -n "net.ipv6.conf.$tap.disable_ipv6") == 1 ]] || fail "IPv6 is on on $tap"
rules=$(ip netns exec "$ns" nft list ruleset)
expect_match "tagged masquerade" "$rules" "oifname \"up0\" ip saddr 10\.79\.0\.0/24 masquerade comment \"ustack-host-net:$tap\""
expect_match "tagged return path" "$rules" "iifname \"up0\" oifname \"$tap\" ip daddr 10\.79\.0\.0/24 ct state established,related accept comment \"ustack-host-net:$tap\""
pass "up in $up_ms ms: TAP $tap owned by $user, 10.79.0.1/24, no IPv6, forwarding, tagged NAT out of up0"

snapshot >"$work/up1"
out=$(hn up --uplink up0 --tap "$tap" --subnet "$SUBNET" --user "$user" --resolv-file "$work/resolv.conf" 2>&1) ||
  { printf '%s\n' "$out" >&2; fail "the second up failed"; }
[[ $out == "$tap is already up (nothing changed)" ]] || fail "the second up said: $out"
snapshot >"$work/up2"
diff -u "$work/up1" "$work/up2" >&2 || fail "the second up changed the namespace"
rc=0; out=$(hn up --uplink up0 --tap "$tap" --subnet 10.80.0.0/24 --user "$user" --resolv-file "$work/resolv.conf" 2>&1) || rc=$?
((rc != 0)) || fail "up with another subnet over a running one succeeded"
expect_match "other options refused" "$out" 'already up with SUBNET=10\.79\.0\.0/24 .*down'
pass "up again: 'already up (nothing changed)', same rules, links, addresses and processes; other options refused"

out=$(hn status --tap "$tap" 2>&1) || { printf '%s\n' "$out" >&2; fail "status failed while up"; }
expect_match "status" "$out" "^$tap is up$"
expect_match "status: DNS" "$out" 'DNS forwarded to '
pass "status: $(grep -c . <<<"$out") lines, '$tap is up'"
state_dir=$(sed -nE 's/.*\(state: (.*)\)$/\1/p' <<<"$out")
[[ -d $state_dir ]] || fail "no state dir in status output: $out"

# --- ustack dhcp through the TAP, as the TAP's (unprivileged) owner ----------------------------------
out=$(as_user "$USTACK_BIN/ustack" dhcp --tap "$tap" --mac "$MAC" --lease-file "$work/lease" 2>&1) ||
  { printf '%s\n' "$out" | sed 's/^/     | /' >&2; fail "ustack dhcp as $user failed"; }
expect_match "lease" "$out" '^  address   10\.79\.0\.1[0-9][0-9]/24$'
expect_match "router" "$out" '^  router    10\.79\.0\.1$'
expect_match "dns" "$out" '^  dns       10\.79\.0\.1$'
ip=$(sed -n 's/^  address   \([0-9.]*\)\/24$/\1/p' <<<"$out")
grep -qi " $MAC $ip " "$state_dir/dnsmasq.leases" || fail "host-net's dnsmasq has no lease for $MAC $ip"
pass "ustack dhcp as $user: $ip/24, router and DNS 10.79.0.1 (in dnsmasq's lease file)"

# --- the mini-browser: DNS via dnsmasq -> unbound, HTTP through the NAT ------------------------------
rc=0
as_user "$USTACK_BIN/minibrowser" --level 1 --tap "$tap" --hosts /dev/null http://www.domain.com/ \
  >"$work/page.txt" 2>"$work/narration.txt" || rc=$?
((rc == 0)) || { cat "$work/narration.txt" >&2; fail "minibrowser exited $rc"; }
expect_match "page" "$(cat "$work/page.txt")" '^Welcome to www\.domain\.com$'
log=$(cat "$state_dir/dnsmasq.log")
expect_match "query reached dnsmasq" "$log" "query\[A\] www\.domain\.com from 10\.79\.0\.1[0-9][0-9]"
expect_match "dnsmasq forwarded it" "$log" 'forwarded www\.domain\.com to 198\.51\.100\.53'
# nginx saw the uplink's address: the TAP subnet was masqueraded (the internet has no route to it).
access=$(grep -E "^$UP_HOST:[0-9]+ \"GET / " "$STATE/logs/nginx-access.log" || true)
[[ -n $access ]] || fail "nginx logged no GET / from $UP_HOST (the NAT'd address)"
pass "minibrowser http://www.domain.com/: page rendered; DNS $ip -> dnsmasq -> 198.51.100.53; nginx saw $UP_HOST"
as_user "$USTACK_BIN/ustack" dhcp --tap "$tap" --mac "$MAC" --lease-file "$work/lease" --release >/dev/null 2>&1 || true

# --- down: exactly as before --------------------------------------------------------------------------
out=$(hn down --tap "$tap" 2>&1) || { printf '%s\n' "$out" >&2; fail "down failed"; }
expect_match "down" "$out" "^$tap is down$"
snapshot >"$work/after"
diff -u "$work/before" "$work/after" >&2 || fail "down did not leave the namespace as it was before up"
[[ ! -e $state_dir ]] || fail "state dir $state_dir remains"
out=$(hn down --tap "$tap" 2>&1) || fail "a second down failed: $out"
[[ -z $out ]] || fail "a second down printed: $out"
pass "down: nft ruleset, links, addresses, routes, ip_forward and processes as before up; state gone; down again quiet"

# --- a host whose iptables FORWARD policy is DROP (what docker does) ---------------------------------
# host-net accepts the TAP's traffic there with two tagged rules, the page still loads, and down
# deletes exactly those two rules (the DROP policy stays).
ip netns exec "$ns" iptables -P FORWARD DROP
snapshot >"$work/before-drop"
out=$(hn up --uplink up0 --tap "$tap" --subnet "$SUBNET" --user "$user" --resolv-file "$work/resolv.conf" 2>&1) ||
  { printf '%s\n' "$out" >&2; fail "host-net up with FORWARD DROP failed"; }
expect_match "iptables handled" "$out" 'iptables: FORWARD policy is DROP: accepted 10\.79\.0\.0/24 <-> up0'
fwd=$(ip netns exec "$ns" iptables -S FORWARD)
[[ $(grep -c -- "--comment \"\?ustack-host-net:$tap\"\? -j ACCEPT" <<<"$fwd") == 2 ]] || { printf '%s\n' "$fwd" >&2; fail "expected 2 tagged ACCEPT rules in FORWARD"; }
rc=0
as_user "$USTACK_BIN/minibrowser" --level 1 --tap "$tap" --hosts /dev/null http://www.domain.com/ \
  >"$work/page2.txt" 2>"$work/narration2.txt" || rc=$?
((rc == 0)) || { cat "$work/narration2.txt" >&2; fail "minibrowser exited $rc behind FORWARD DROP"; }
expect_match "page behind DROP" "$(cat "$work/page2.txt")" '^Welcome to www\.domain\.com$'
out=$(hn down --tap "$tap" 2>&1) || { printf '%s\n' "$out" >&2; fail "down (FORWARD DROP) failed"; }
expect_match "iptables rules removed" "$out" "removed the iptables FORWARD rules tagged ustack-host-net:$tap"
snapshot >"$work/after-drop"
diff -u "$work/before-drop" "$work/after-drop" >&2 || fail "down did not restore the namespace (FORWARD DROP case)"
pass "iptables FORWARD policy DROP: 2 tagged ACCEPT rules, page loads, down removes them (policy DROP stays)"

# --- a TAP that was there before up: used, and left in place by down ----------------------------------
ip -n "$ns" tuntap add dev "$tap" mode tap user "$user"
# The kernel gives a link its default qdisc the first time it goes up, which nothing can undo: take
# the TAP up and down once first, as any TAP that has been used before was.
ip -n "$ns" link set "$tap" up
ip -n "$ns" link set "$tap" down
other=root; [[ $user == root ]] && other=nobody
rc=0; out=$(hn up --uplink up0 --tap "$tap" --subnet "$SUBNET" --user "$other" --resolv-file "$work/resolv.conf" 2>&1) || rc=$?
((rc != 0)) || fail "up for $other on a TAP owned by $user succeeded"
expect_match "owner mismatch refused" "$out" "^host-net: $tap exists but belongs to uid $(id -u "$user"), not $other"
snapshot >"$work/before-existing"
out=$(hn up --uplink up0 --tap "$tap" --subnet "$SUBNET" --user "$user" --resolv-file "$work/resolv.conf" 2>&1) ||
  { printf '%s\n' "$out" >&2; fail "up on an existing TAP failed"; }
expect_match "existing TAP used" "$out" "^using the existing TAP $tap"
hn status --tap "$tap" >/dev/null || fail "status fails on an existing TAP"
out=$(hn down --tap "$tap" 2>&1) || { printf '%s\n' "$out" >&2; fail "down (existing TAP) failed"; }
expect_match "existing TAP left" "$out" "left the existing TAP $tap as it was before up"
snapshot >"$work/after-existing"
diff -u "$work/before-existing" "$work/after-existing" >&2 || fail "down did not leave the existing TAP as it was"
pass "an existing TAP: another owner refused; used, then left in place, down and without the address"

# --- without --resolv-file: the host's own resolvers ---------------------------------------------------
# Inside `ip netns exec` /etc/resolv.conf is /etc/netns/<ns>/resolv.conf (make_uplink_ns wrote it):
# here it names systemd-resolved's stub 127.0.0.53, and "resolved's upstream list" is a file of
# ours naming the ISP's unbound. host-net must forward to that list, never to the stub.
printf 'nameserver 127.0.0.53\noptions edns0\n' >"/etc/netns/$ns/resolv.conf"
[[ $(ip netns exec "$ns" cat /etc/resolv.conf) == $'nameserver 127.0.0.53\noptions edns0' ]] ||
  fail "/etc/resolv.conf in $ns is not the namespace's own: refusing to let dnsmasq read the machine's"
printf 'nameserver 198.51.100.53\n' >"$work/resolved.conf"
ip -n "$ns" tuntap del dev "$tap" mode tap
out=$(USTACK_HOST_NET_RESOLVED_CONF="$work/resolved.conf" hn up --uplink up0 --tap "$tap" --subnet "$SUBNET" --user "$user" 2>&1) ||
  { printf '%s\n' "$out" >&2; fail "up without --resolv-file failed"; }
expect_match "resolved's list used" "$out" "forwarding to the servers in ${work//./\\.}/resolved\.conf\)"
answer=$(ip netns exec "$ns" dig +time=2 +tries=2 +short @10.79.0.1 www.domain.com A 2>&1)
[[ $answer == 203.0.113.80 ]] || fail "dig @10.79.0.1 www.domain.com gave '$answer', expected 203.0.113.80"
hn down --tap "$tap" >/dev/null || fail "down (default resolvers) failed"
pass "no --resolv-file, resolv.conf = 127.0.0.53: dnsmasq forwards to resolved's list; dig @10.79.0.1 -> 203.0.113.80"
