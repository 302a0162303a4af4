#!/usr/bin/env bash
# NAT is real: a request from the kernel client (10.78.0.10) arrives at the web server from the
# router's WAN address 192.0.2.2, the router's connection tracking shows the mapping, and the
# internet namespace has no way back to the private networks except through that mapping.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox

token="nat-probe-$$-$RANDOM"
code=$(sb --client curl -s -o /dev/null --max-time 5 -w '%{http_code} %{local_ip}:%{local_port}' \
  "http://www.domain.com/?$token") || fail "curl from the kernel client failed"
read -r status client_end <<<"$code"
[[ $status == 200 ]] || fail "request got $status"
client_ip=${client_end%:*} client_port=${client_end##*:}
[[ $client_ip == 10.78.0.10 ]] || fail "the client's source address was $client_ip, expected 10.78.0.10"

# nginx logs $remote_addr:$remote_port first: the router's public side, not the client's address.
line=""
for _ in $(seq 20); do line=$(grep -F "$token" "$STATE/logs/nginx-access.log" || true); [[ -n $line ]] && break; sleep 0.1; done
[[ -n $line ]] || fail "the request with $token is not in nginx's access log"
seen=${line%% *}
[[ ${seen%:*} == 192.0.2.2 ]] || fail "nginx saw the request from $seen, expected 192.0.2.2 (NAT); log: $line"
pass "client $client_ip:$client_port -> nginx saw $seen (the router's WAN address)"

# The router's side of the mapping, from its connection tracking table.
if command -v conntrack >/dev/null; then
  ct=$(sb --router --root conntrack -L -p tcp --orig-src 10.78.0.10 --orig-port-src "$client_port" 2>/dev/null || true)
  expect_match "conntrack mapping" "$ct" "src=10\.78\.0\.10 dst=203\.0\.113\.80 sport=$client_port dport=80 .*src=203\.0\.113\.80 dst=192\.0\.2\.2 sport=80 dport=${seen##*:}"
  pass "router conntrack: 10.78.0.10:$client_port <-> 192.0.2.2:${seen##*:} -> 203.0.113.80:80"
else
  note "conntrack(8) not installed: mapping shown from nginx's side only (apt-get install conntrack)"
fi

# No way back except through NAT: the internet namespace has no route to the private networks.
for dst in 10.77.0.1 10.77.0.150 10.78.0.1 10.78.0.10; do
  if sb --inet ip route get "$dst" >/dev/null 2>&1; then
    fail "the internet namespace has a route to $dst: $(sb --inet ip route get "$dst" 2>&1)"
  fi
done
out=$(sb --inet ping -c 1 -W 1 10.78.0.10 2>&1 || true)
expect_no_match "ping from the internet to the client" "$out" '1 received'
pass "the internet namespace has no route to 10.77.0.0/24 or 10.78.0.0/24"

# And the client reaches the internet through the router for ICMP too (NAT of ping).
sb --client ping -c 1 -W 2 203.0.113.80 >/dev/null || fail "the kernel client cannot ping 203.0.113.80"
pass "the kernel client pings 203.0.113.80 through the router"
