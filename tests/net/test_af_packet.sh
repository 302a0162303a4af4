#!/usr/bin/env bash
# The AF_PACKET driver (--iface) passes the same ping/DHCP/HTTP tests as TAP, on a veth,
# next to the kernel's own stack on the same interface.
#
#   <inst>-router  "pk0r" 10.76.0.1/24, our own dnsmasq (DHCP .100-.149), our own nft table
#        | veth      (masquerade 10.76.0.0/24 out of wan: the sandbox's NAT covers 10.77/10.78 only)
#   <inst>-pk<pid>  "pk0": the kernel has 10.76.0.9/24 on it; our stack runs on it with --iface
#                   pk0 with its own MAC (promiscuous), 10.76.0.50 static or a lease from dnsmasq
#
# Checks: the kernel pings our stack (100 at 10 ms, 0 % loss) while the kernel's own address on
# pk0 answers too and the kernel there still reaches the web server; pk0 is promiscuous only while
# we run; `ustack ping` to the router and through the NAT; `ustack dhcp` gets a lease from
# dnsmasq; `ustack get` and the mini-browser fetch http://www.domain.com/ byte-exact; --pcap reads
# cleanly, --stats shows the driver's counters; the named errors (no such interface, down,
# --tap with --iface, no CAP_NET_RAW).
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"

NS_ROUTER="$USTACK_SANDBOX-router"
NS_PK="$USTACK_SANDBOX-pk$$"      # ours, unique, deleted by cleanup (with it pk0 and pk0r)
NFT_TABLE="ustack_afpacket_test"  # ours, in the router namespace, deleted by cleanup
SUBNET=10.76.0.0/24
ROUTER_ADDR=10.76.0.1
KERNEL_ADDR=10.76.0.9
STACK_ADDR=10.76.0.50
WEB_ADDR=203.0.113.80

work=$(mktemp -d /tmp/ustack-afpacket-test.XXXXXX)
export XDG_STATE_HOME="$work/state"   # DHCP lease files of the stack stay in here
up_pid="" dnsmasq_pid=""
cleanup() {
  [[ -n $up_pid ]] && kill "$up_pid" 2>/dev/null && wait "$up_pid" 2>/dev/null
  [[ -n $dnsmasq_pid ]] && kill "$dnsmasq_pid" 2>/dev/null && wait "$dnsmasq_pid" 2>/dev/null
  ip netns exec "$NS_ROUTER" nft delete table ip "$NFT_TABLE" 2>/dev/null
  ip netns del "$NS_PK" 2>/dev/null   # takes pk0 and with it its peer pk0r
  rm -rf "$work"
  [[ -n ${web_file:-} ]] && rm -f "$web_file"
  return 0
}
trap cleanup EXIT

in_pk() { timeout 60 ip netns exec "$NS_PK" "$@"; }
in_router() { timeout 60 ip netns exec "$NS_ROUTER" "$@"; }
ustack() { in_pk "$USTACK_BIN/ustack" "$@"; }

# --- the link: a veth from the router into a namespace of our own ---------------------------------
ip -n "$NS_ROUTER" link del pk0r 2>/dev/null || true   # left over from a killed run of this test
ip netns add "$NS_PK"
ip netns exec "$NS_PK" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$NS_PK" link set lo up
ip -n "$NS_ROUTER" link add pk0r type veth peer name pk0 netns "$NS_PK"
ip netns exec "$NS_ROUTER" sysctl -qw net.ipv6.conf.pk0r.disable_ipv6=1
ip -n "$NS_ROUTER" addr add "$ROUTER_ADDR/24" dev pk0r
ip -n "$NS_ROUTER" link set pk0r up
ip -n "$NS_PK" addr add "$KERNEL_ADDR/24" dev pk0      # the kernel's own address on the same link
ip -n "$NS_PK" link set pk0 up
ip -n "$NS_PK" route add default via "$ROUTER_ADDR"
in_router nft -f - <<EOF
table ip $NFT_TABLE {
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "pk0r" oifname "wan" ip saddr $SUBNET accept
    iifname "wan" oifname "pk0r" ct state established,related accept
    iifname "pk0r" drop
    oifname "pk0r" drop
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" ip saddr $SUBNET masquerade
  }
}
EOF
pass "veth pk0r ($NS_ROUTER, $ROUTER_ADDR) <-> pk0 ($NS_PK, kernel $KERNEL_ADDR); NAT in table ip $NFT_TABLE"
note "veth offloads left at their defaults (tx checksum, TSO on): the driver completes partial checksums"

# Our own DHCP server for the subnet (DHCP only, like the sandbox's), PID-tracked.
cat >"$work/dnsmasq.conf" <<EOF
port=0
interface=pk0r
bind-dynamic
no-resolv
no-hosts
no-poll
dhcp-authoritative
dhcp-rapid-commit
no-ping
dhcp-range=10.76.0.100,10.76.0.149,255.255.255.0,1h
dhcp-option=option:router,$ROUTER_ADDR
dhcp-option=option:dns-server,198.51.100.53
log-dhcp
log-facility=$work/dnsmasq.log
dhcp-leasefile=$work/dnsmasq.leases
user=root
EOF
: >"$work/dnsmasq.leases"
setsid ip netns exec "$NS_ROUTER" dnsmasq -k -C "$work/dnsmasq.conf" </dev/null >"$work/dnsmasq.out" 2>&1 &
dnsmasq_pid=$!   # setsid and ip netns exec both exec: this is dnsmasq's own PID
for _ in $(seq 50); do
  in_router ss -Hulnp 'sport = :67' | grep -q "pid=$dnsmasq_pid," && break
  sleep 0.1
done
in_router ss -Hulnp 'sport = :67' | grep -q "pid=$dnsmasq_pid," || { cat "$work/dnsmasq.out" >&2; fail "dnsmasq did not start"; }
pass "dnsmasq (pid $dnsmasq_pid) serves DHCP on pk0r"

# --- named errors ------------------------------------------------------------------------------------
set +e
out=$(ustack ping -c 1 --iface nosuch0 --ip 10.76.0.51/24 10.76.0.1 2>&1); rc=$?
set -e
((rc == 2)) || fail "missing interface: exit $rc, expected 2: $out"
expect_match "missing interface" "$out" "no interface named nosuch0"
pass "ustack ping --iface nosuch0: exit 2, '$out'"

ip -n "$NS_PK" link add pkd0 type veth peer name pkd1   # both ends down
set +e
out=$(ustack ping -c 1 --iface pkd0 --ip 10.76.0.51/24 10.76.0.1 2>&1); rc=$?
set -e
((rc == 2)) || fail "interface down: exit $rc, expected 2: $out"
expect_match "interface down" "$out" "pkd0 is down: .*ip link set pkd0 up"
pass "ustack ping --iface pkd0 (down): exit 2, '$out'"

set +e
out=$(ustack ping -c 1 --tap tap0 --iface pk0 --ip 10.76.0.51/24 10.76.0.1 2>&1); rc=$?
set -e
((rc == 2)) || fail "--tap with --iface: exit $rc, expected 2: $out"
expect_match "--tap with --iface" "$out" "--tap and --iface exclude each other"
pass "--tap with --iface: exit 2, '$out'"

set +e
out=$(in_pk setpriv --reuid 65534 --regid 65534 --clear-groups "$USTACK_BIN/ustack" ping -c 1 --iface pk0 \
  --ip 10.76.0.51/24 10.76.0.1 2>&1); rc=$?
set -e
((rc == 2)) || fail "without CAP_NET_RAW: exit $rc, expected 2: $out"
expect_match "without CAP_NET_RAW" "$out" "CAP_NET_RAW.*try: sudo, or 'sudo setcap cap_net_raw\+ep "
pass "as nobody: exit 2, '$out'"

out=$(ustack up --help 2>&1)
expect_match "--help" "$out" "--iface NAME +use an existing Ethernet interface"
pass "ustack up --help lists --iface"

# --- the kernel pings our stack, next to the kernel's own address on the same interface -------------
ip netns exec "$NS_PK" "$USTACK_BIN/ustack" up --iface pk0 --ip "$STACK_ADDR/24" --gateway "$ROUTER_ADDR" --for 120 \
  --stats --pcap "$work/up.pcap" >"$work/up.log" 2>&1 &
up_pid=$!
for _ in $(seq 50); do grep -q '^ustack up:' "$work/up.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^ustack up:' "$work/up.log" || { cat "$work/up.log" >&2; fail "ustack up --iface pk0 did not start"; }
pass "$(head -1 "$work/up.log")"
stack_mac=$(sed -n 's/.*mac \([0-9a-f:]*\).*/\1/p' "$work/up.log" | head -1)
kernel_mac=$(ip -n "$NS_PK" -br link show pk0 | awk '{print $3}')
[[ -n $stack_mac && $stack_mac != "$kernel_mac" ]] || fail "the stack's MAC '$stack_mac' should be its own, not pk0's $kernel_mac"
# PACKET_MR_PROMISC counts in the device's promiscuity (ip -d), not in the user-set PROMISC flag.
expect_match "promiscuous while we run" "$(ip -d -n "$NS_PK" link show pk0)" "promiscuity 1 "
pass "our MAC $stack_mac, the kernel's $kernel_mac; pk0 has promiscuity 1 while the stack runs"

out=$(in_router ping -n -q -c 100 -i 0.01 -W 1 "$STACK_ADDR" 2>&1) || true
expect_match "100 pings at 10 ms" "$out" "100 packets transmitted, 100 received, 0% packet loss"
pass "router kernel -> our stack: $(grep -E 'packets transmitted' <<<"$out")"
note "$(grep -E '^rtt' <<<"$out")"
neigh=$(in_router ip neigh show "$STACK_ADDR" dev pk0r)
expect_match "router's ARP entry" "$neigh" "lladdr $stack_mac"

out=$(in_router ping -n -q -c 20 -i 0.01 -W 1 "$KERNEL_ADDR" 2>&1) || true
expect_match "kernel address on the same link" "$out" "20 packets transmitted, 20 received, 0% packet loss"
neigh=$(in_router ip neigh show "$KERNEL_ADDR" dev pk0r)
expect_match "router's ARP entry for the kernel" "$neigh" "lladdr $kernel_mac"
pass "the kernel's own $KERNEL_ADDR on pk0 answers too: $(grep -E 'packets transmitted' <<<"$out")"

out=$(in_pk curl -sS --max-time 10 --resolve "www.domain.com:80:$WEB_ADDR" http://www.domain.com/ -o "$work/kernel.html" \
  -w '%{http_code}' 2>&1) || fail "the kernel's curl on pk0 failed while the stack runs: $out"
[[ $out == 200 ]] || fail "kernel curl: status $out"
cmp -s "$work/kernel.html" "$SANDBOX_DATA/www/index.html" || fail "kernel curl: body differs from nginx's index.html"
pass "the kernel on pk0 still fetches http://www.domain.com/ through the NAT (curl: 200, byte-exact)"

kill -TERM "$up_pid"
rc=0; wait "$up_pid" || rc=$?
((rc == 143)) || fail "ustack up exited with $rc after SIGTERM (expected 143 = 128 + SIGTERM)"
up_pid=""
expect_match "echo counter" "$(cat "$work/up.log")" "icmp.echo_requests_answered +1[0-9][0-9]"
expect_match "driver counters in --stats" "$(cat "$work/up.log")" "pk0\.rx_frames +[1-9]"
expect_no_match "no checksum drops" "$(cat "$work/up.log")" "drop\.ipv4\.bad_checksum|drop\.icmp.*checksum"
note "$(grep -E 'pk0\.(rx_frames|tx_frames|rx_dropped_outgoing|rx_kernel_drops) ' "$work/up.log" | tr -s ' ' | paste -sd ',' -)"
expect_match "promiscuous no more after exit" "$(ip -d -n "$NS_PK" link show pk0)" "promiscuity 0 "
pass "SIGTERM: exit 143, counters printed; pk0 no longer promiscuous (the membership went with the socket)"

# --- our stack as the active side ----------------------------------------------------------------------
out=$(ustack ping -c 3 -i 0.2 -W 3 --iface pk0 --ip 10.76.0.51/24 --gateway "$ROUTER_ADDR" "$ROUTER_ADDR" 2>&1) ||
  { printf '%s\n' "$out" >&2; fail "ustack ping $ROUTER_ADDR failed"; }
expect_match "ping the router" "$out" "3 packets transmitted, 3 received, 0% packet loss"
pass "ustack ping --iface pk0 $ROUTER_ADDR: $(grep -E 'packets transmitted' <<<"$out")"

out=$(ustack ping -c 3 -i 0.2 -W 3 --iface pk0 --ip 10.76.0.51/24 --gateway "$ROUTER_ADDR" --pcap "$work/nat.pcap" \
  "$WEB_ADDR" 2>&1) || { printf '%s\n' "$out" >&2; fail "ustack ping through the NAT failed"; }
expect_match "ping through the NAT" "$out" "3 packets transmitted, 3 received, 0% packet loss"
expect_match "TTL decremented by the router" "$out" "ttl=63"
pass "ustack ping --iface pk0 $WEB_ADDR (through our NAT): $(grep -E 'packets transmitted' <<<"$out")"

# The fault injector wraps the AF_PACKET device like the TAP: 30 % of frames dropped each way (a
# lost ARP exchange costs the pings queued behind it, so only "some but not all" is asserted).
set +e
out=$(ustack ping -c 30 -i 0.02 -W 2 --iface pk0 --ip 10.76.0.51/24 --drop-chance 0.3 --seed 7 --stats "$ROUTER_ADDR" 2>&1)
set -e
expect_match "fault injector on --iface" "$out" "fault\.rx_dropped +[1-9]"
expect_match "fault injector on --iface (tx)" "$out" "fault\.tx_dropped +[1-9]"
expect_match "losses seen by ping" "$out" "30 packets transmitted, ([1-9]|1[0-9]|2[0-9]) received"
pass "--drop-chance 0.3 on --iface: $(grep -E 'packets transmitted' <<<"$out")"

# --- DHCP from dnsmasq -------------------------------------------------------------------------------
out=$(ustack dhcp --iface pk0 --no-lease-file --stats 2>&1) || { printf '%s\n' "$out" >&2; fail "ustack dhcp --iface pk0 failed"; }
expect_match "lease" "$out" "10\.76\.0\.1([0-4][0-9]|[0-9])\b"
leased=$(grep -oE '10\.76\.0\.1([0-4][0-9]|[0-9])\b' <<<"$out" | head -1)
for _ in $(seq 20); do grep -q " $leased " "$work/dnsmasq.leases" && break; sleep 0.1; done
expect_match "dnsmasq's lease file" "$(cat "$work/dnsmasq.leases")" " $stack_mac $leased "
expect_match "partial rx checksums completed or trusted by the driver" "$out" "pk0\.rx_csum_(completed|trusted) +[1-9]"
pass "ustack dhcp --iface pk0: $leased, in dnsmasq's lease file for our MAC $stack_mac"
note "dnsmasq's UDP from the router kernel reached us with partial checksums: $(grep -E 'pk0\.rx_csum_(completed|trusted)' <<<"$out" | tr -s ' ')"

# --- HTTP through DHCP, DNS (the sandbox's resolver) and the NAT ---------------------------------------
out=$(ustack get --iface pk0 --stats --pcap "$work/get.pcap" -o "$work/index.html" http://www.domain.com/ 2>&1) ||
  { printf '%s\n' "$out" >&2; fail "ustack get --iface pk0 failed"; }
cmp -s "$work/index.html" "$SANDBOX_DATA/www/index.html" || fail "ustack get: body differs from nginx's index.html"
pass "ustack get --iface pk0 http://www.domain.com/: $(stat -c %s "$work/index.html") bytes, equal to nginx's file"
expect_no_match "no checksum drops (get)" "$out" "drop\.(ipv4|tcp|udp)\.bad_checksum +[1-9]"
note "$(grep -E 'pk0\.(rx_frames|rx_csum_completed|rx_gso_frames|rx_dropped_too_big) ' <<<"$out" | tr -s ' ' | paste -sd ',' -)"

out=$(in_pk "$USTACK_BIN/minibrowser" --iface pk0 --no-color --width 80 http://www.domain.com/ 2>&1) ||
  { printf '%s\n' "$out" >&2; fail "minibrowser --iface pk0 failed"; }
expect_match "minibrowser page" "$out" "^Welcome to www\.domain\.com$"
expect_match "minibrowser page, last link" "$out" "http://www\.domain\.com/missing\.html"
pass "minibrowser --iface pk0 http://www.domain.com/ renders the page (DHCP, DNS, HTTP on the AF_PACKET driver)"

# A bigger transfer: nginx's TSO super-frames cross the router (GSO kept over the veths) and reach
# us whole through PACKET_VNET_HDR; the stack takes them (rx_gso) and the file arrives byte-exact.
web_file="$STATE/www/afpacket-$$.bin"
head -c $((8 * 1024 * 1024 + 4321)) /dev/urandom >"$web_file"
chmod a+r "$web_file"
out=$(ustack get --iface pk0 --ip 10.76.0.52/24 --gateway "$ROUTER_ADDR" --stats --pcap "$work/big.pcap" -o "$work/random.bin" \
  "http://$WEB_ADDR/$(basename "$web_file")" 2>&1) || { rm -f "$web_file"; printf '%s\n' "$out" >&2; fail "ustack get of a random file failed"; }
cmp -s "$work/random.bin" "$web_file" || { rm -f "$web_file"; fail "random file differs ($(stat -c %s "$work/random.bin") bytes)"; }
rm -f "$web_file"
pass "random file, $((8 * 1024 * 1024 + 4321)) bytes, byte-exact: $(grep '^ustack get:' <<<"$out")"
expect_no_match "no checksum drops (random file)" "$out" "drop\.(ipv4|tcp|udp)\.bad_checksum +[1-9]"
note "$(grep -E 'pk0\.(rx_frames|rx_csum_completed|rx_gso_frames|rx_dropped_too_big|rx_kernel_drops) ' <<<"$out" | tr -s ' ' | paste -sd ',' -)"

# --- every program: resolve, and serve to the kernel's curl ----------------------------------------------
out=$(ustack resolve --iface pk0 --ip 10.76.0.54/24 --gateway "$ROUTER_ADDR" --dns 198.51.100.53 www.domain.com 2>&1) ||
  { printf '%s\n' "$out" >&2; fail "ustack resolve --iface pk0 failed"; }
expect_match "resolve" "$out" "203\.0\.113\.80"
pass "ustack resolve --iface pk0 www.domain.com: $(grep -m1 -oE '203\.0\.113\.80' <<<"$out") (the sandbox's resolver, through the NAT)"

mkdir -p "$work/www"
cp "$SANDBOX_DATA/www/index.html" "$work/www/"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$work/www/random.bin"
ip netns exec "$NS_PK" "$USTACK_BIN/ustack" serve --iface pk0 --ip 10.76.0.53/24 --gateway "$ROUTER_ADDR" -q --stats \
  "$work/www" >"$work/serve.log" 2>&1 &
up_pid=$!
for _ in $(seq 50); do grep -q '^ustack serve:' "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^ustack serve:' "$work/serve.log" || { cat "$work/serve.log" >&2; fail "ustack serve --iface pk0 did not start"; }
in_router curl -sS --max-time 20 -o "$work/served.html" http://10.76.0.53/index.html || fail "curl of index.html from ustack serve failed"
cmp -s "$work/served.html" "$work/www/index.html" || fail "served index.html differs"
rate=$(in_router curl -sS --max-time 60 -o "$work/served.bin" -w '%{speed_download}' http://10.76.0.53/random.bin) ||
  fail "curl of random.bin from ustack serve failed"
cmp -s "$work/served.bin" "$work/www/random.bin" || fail "served random.bin differs"
kill -TERM "$up_pid"
rc=0; wait "$up_pid" || rc=$?
((rc == 143)) || fail "ustack serve exited with $rc after SIGTERM (expected 143 = 128 + SIGTERM)"
up_pid=""
pass "ustack serve --iface pk0: the router's curl gets index.html and 4 MiB byte-exact ($((${rate%.*} / 1000)) kB/s)"

# --- the captures read cleanly ------------------------------------------------------------------------
for f in up nat get big; do
  frames=$(tshark -r "$work/$f.pcap" 2>/dev/null | wc -l)
  malformed=$(tshark -r "$work/$f.pcap" -Y '_ws.malformed || _ws.expert.severity >= error' 2>/dev/null | wc -l)
  ((frames > 0)) || fail "$f.pcap has no frames"
  ((malformed == 0)) || fail "$f.pcap: $malformed malformed frame(s): $(tshark -r "$work/$f.pcap" -Y _ws.malformed 2>&1 | head -3)"
  pass "$f.pcap: $frames frames, 0 malformed (tshark)"
done
