#!/bin/sh
# shellcheck disable=SC2154  # udhcpc sets interface, ip, subnet, router, dns, lease, ...
# udhcpc event script for the kernel-client tests (busybox udhcpc -s this-file).
# Records every event in $UDHCPC_OUT (one line of key=value) and, on "bound"/"renew", adds the
# leased address next to the client's static one; on "deconfig" removes only an address it added
# (never flushes the interface: the static baseline address must stay).
out=${UDHCPC_OUT:?UDHCPC_OUT not set}
state="$out.addr"
echo "event=$1 interface=$interface ip=$ip subnet=$subnet router=$router dns=$dns lease=$lease serverid=$serverid" >>"$out"
case $1 in
  bound|renew)
    if [ -n "$ip" ]; then
      ip addr replace "$ip/${mask:-24}" dev "$interface" && echo "$ip/${mask:-24}" >"$state"
    fi ;;
  deconfig|leasefail|nak)
    if [ -s "$state" ]; then
      ip addr del "$(cat "$state")" dev "$interface" 2>/dev/null || true
      : >"$state"
    fi ;;
esac
exit 0
