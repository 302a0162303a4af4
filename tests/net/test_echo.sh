#!/usr/bin/env bash
# ustack echo (RFC 862) against the kernel's socat in the router namespace (on tap0): a UDP
# datagram comes back to its sender, 1 MiB of random bytes over TCP comes back byte-exact, the
# client's half-close is answered by our FIN, and SIGTERM ends the server with 143.
# Address 10.77.0.98. One program on tap0 at a time.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"

work=$(mktemp -d /tmp/ustack-echo.XXXXXX)
chmod 0777 "$work"
pid=""
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$SANDBOX" exec "$USTACK_BIN/ustack" echo --ip 10.77.0.98/24 --gateway 10.77.0.1 --no-acd --for 60 >"$work/out" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q "UDP port 7" "$work/out" 2>/dev/null && break; sleep 0.1; done
grep -q "UDP port 7, TCP port 7" "$work/out" || fail "ustack echo did not start: $(cat "$work/out")"

udp=$(printf 'hello over udp\n' | sb --root socat -t 2 - UDP:10.77.0.98:7)
[[ $udp == "hello over udp" ]] || fail "UDP echo: got '$udp'"
pass "UDP: the datagram came back to socat"

head -c $((1024 * 1024)) /dev/urandom >"$work/in.bin"
chmod 0644 "$work/in.bin"
sb --root socat -t 10 - TCP:10.77.0.98:7 <"$work/in.bin" >"$work/back.bin" || fail "socat over TCP failed"
[[ $(sha256sum <"$work/in.bin") == $(sha256sum <"$work/back.bin") ]] ||
  fail "TCP echo: $(stat -c %s "$work/back.bin") bytes back, not the 1048576 sent"
pass "TCP: 1 MiB came back byte-exact, and our FIN ended socat"

kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pid=""
((rc == 143)) || fail "SIGTERM: exit $rc (expected 143): $(cat "$work/out")"
expect_match "summary" "$(cat "$work/out")" 'ustack echo: 1 datagrams, 1048576 TCP bytes echoed'
pass "SIGTERM: exit 143, and the summary counts 1 datagram and 1048576 bytes"
