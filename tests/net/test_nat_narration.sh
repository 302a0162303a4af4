#!/usr/bin/env bash
# minibrowser's level 7 names each connection's real source port in its NAT line (held to the SYNs
# of the pcap), and, where the router's connection table can be read (the sandbox: the program runs
# in the router's namespace, as root), both sides of each mapping: the public side it names is the
# one nginx logged for the requests and the one `conntrack -L` shows, and "kept our source port" is
# said exactly when the public port is ours.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin directory of the build}"
work=$(mktemp -d /tmp/ustack-nat-narration.XXXXXX)
chmod 0777 "$work"
trap 'rm -rf "$work"' EXIT
tf() { tshark -r "$1" -Y "$2" -T fields "${@:3}" 2>/dev/null; }

timeout 120 "$SANDBOX" exec --root "$USTACK_BIN/minibrowser" --no-color --level 7 --pcap "$work/nat.pcap" \
  "http://www.domain.com/?nat-narration-$$" >/dev/null 2>"$work/nat.txt" || { cat "$work/nat.txt" >&2; fail "minibrowser failed"; }
unwrap_file "$work/nat.txt"
n=$(cat "$work/nat.txt")
us=$(tf "$work/nat.pcap" 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -e ip.src | sort -u)
[[ $us =~ ^10\.77\.0\.[0-9]+$ ]] || fail "the SYNs come from '$us', expected one address in 10.77.0.0/24"
ports=$(tf "$work/nat.pcap" 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -e tcp.srcport | sort -un)
count=0
for p in $ports; do
  expect_match "NAT line for port $p" "$n" "NAT: the router 10\.77\.0\.1 rewrites our source ${us//./\\.}:$p \(to 203\.0\.113\.80:80\)"
  count=$((count + 1))
done
[[ $(grep -c 'NAT: the router 10\.77\.0\.1 rewrites our source' <<<"$n") -eq $count ]] || fail "more NAT lines than SYN source ports ($count)"
expect_no_match "no placeholder" "$n" '<port>'
pass "one NAT line per connection, each with the source port of its SYN in the pcap ($count: $(tr '\n' ' ' <<<"$ports"))"

ct=$(sb --router --root conntrack -L -p tcp --orig-src "$us" 2>/dev/null)
for p in $ports; do
  line=$(grep -E "NAT: ${us//./\\.}:$p → 203\.0\.113\.80:80 left the router as " <<<"$n") || { printf '%s\n' "$n" >&2; fail "no mapping line for port $p"; }
  public=$(grep -oE 'left the router as [0-9.]+:[0-9]+' <<<"$line" | awk '{print $5}')
  [[ ${public%:*} == 192.0.2.2 ]] || fail "port $p: public side $public, expected the router's WAN address 192.0.2.2"
  grep -q "^$public \"GET " "$STATE/logs/nginx-access.log" || fail "port $p: nginx logged no request from $public"
  expect_match "conntrack agrees for $p" "$ct" "src=${us//./\\.} dst=203\.0\.113\.80 sport=$p dport=80 .*src=203\.0\.113\.80 dst=192\.0\.2\.2 sport=80 dport=${public##*:}( |$)"
  if [[ ${public##*:} == "$p" ]]; then
    [[ $line == *"Linux kept our source port" ]] || fail "port $p kept, but the line says: $line"
  else
    [[ $line == *"Linux gave it another source port" ]] || fail "port $p became ${public##*:}, but the line says: $line"
  fi
done
pass "each mapping's public side is the one nginx logged and conntrack -L shows; kept/changed said as the ports are"
