#!/usr/bin/env bash
# A client that offers a tiny window, on the real wire, against `ustack serve` on tap0.
# The client is made by hand (tools/sandbox.d/tiny-window-peer.py: an AF_PACKET socket on the
# kernel's side of the TAP, with an address the kernel does not own), because no real TCP stack
# advertises an 8-byte window on purpose.
#  (a) after a 4000-byte first window, the client ACKs everything with window 8: our server must
#      keep sending 8-byte segments (the SWS override timer, RFC 1122 §4.2.3.4 / RFC 9293
#      §3.8.6.2.1), each within about one RTO; before the fix nothing was ever sent again;
#  (b) a client that answers every zero-window probe but never opens its window: serve's idle
#      timeout covers a response that makes no progress, and the connection ends with RST;
#  (c) serve's --stats: the override sends and the stalled response are counted.
# Address 10.77.0.75 (the fake client is 10.77.0.9).
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"

work=$(mktemp -d /tmp/ustack-tiny-window.XXXXXX)
chmod 0777 "$work"
serve_pid=""
cleanup() {
  [[ -n $serve_pid ]] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/www"
head -c $((256 * 1024)) /dev/urandom >"$work/www/big.bin"
chmod -R a+rX "$work/www"

"$SANDBOX" exec "$USTACK_BIN/ustack" serve --ip 10.77.0.75/24 --gateway 10.77.0.1 --idle-timeout 3 --stats \
  "$work/www" >"$work/serve.log" 2>"$work/serve.err" &
serve_pid=$!
for _ in $(seq 50); do grep -q '^ustack serve:' "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^ustack serve:' "$work/serve.log" || { cat "$work/serve.log" "$work/serve.err" >&2; fail "ustack serve did not start"; }

peer() { timeout 60 "$SANDBOX" exec --root env "$@" python3 "$SANDBOX_DATA/tiny-window-peer.py" tap0 10.77.0.75 80 /big.bin; }

# --- (a) window 8 -----------------------------------------------------------------------------
out=$(peer WINDOW=8 WANT_SMALL=6 DEADLINE=10) || fail "tiny-window peer failed: $out"
expect_match "handshake" "$out" "^handshake=ok"
expect_match "first window taken" "$out" "^first_window=[1-9][0-9]{3}$"
expect_match "data keeps flowing through an 8-byte window" "$out" "^result=flowing"
# Each 8-byte segment comes about one RTO (200 ms floor) after the previous ACK: well under 1.5 s.
while read -r gap; do
  awk -v g="$gap" 'BEGIN { exit !(g < 1.5) }' || fail "a small segment took ${gap} s: $out"
done < <(awk -F'[ =]' '/^small_segment=/ { print $4 - prev; prev = $4 }' <<<"$out")
expect_no_match "segments fit the window" "$out" "len=(9|[1-9][0-9]+)$"
pass "window 8: $(grep -c '^small_segment=' <<<"$out") segments of 8 bytes, $(grep '^small_segment=6' <<<"$out" | sed 's/.*at=//;s/ .*//') s for the sixth"

# --- (b) a window that never opens ----------------------------------------------------------------
out=$(peer WINDOW=0 DEADLINE=12) || fail "zero-window peer failed: $out"
expect_match "probes answered" "$out" "^probe at="
expect_match "stalled response ended by RST" "$out" "^rst_at="
rst_at=$(sed -n 's/^rst_at=//p' <<<"$out")
awk -v t="$rst_at" 'BEGIN { exit !(t >= 2.5 && t < 8) }' || fail "RST at ${rst_at} s, expected after the 3 s idle timeout: $out"
pass "window 0 for ever: $(grep -c '^probe ' <<<"$out") probes answered, RST after ${rst_at} s (idle timeout 3 s)"

# --- (c) the counters ----------------------------------------------------------------------------
kill -TERM "$serve_pid"
wait "$serve_pid" || true
serve_pid=""
stats=$(cat "$work/serve.log")
overrides=$(awk '$1 == "tcp.sws_overrides" { print $2 }' <<<"$stats")
stalled=$(awk '$1 == "serve.aborted_stalled" { print $2 }' <<<"$stats")
[[ ${overrides:-0} -ge 6 ]] || { printf '%s\n' "$stats" >&2; fail "tcp.sws_overrides ${overrides:-missing}, expected >= 6"; }
[[ ${stalled:-0} -eq 1 ]] || { printf '%s\n' "$stats" >&2; fail "serve.aborted_stalled ${stalled:-missing}, expected 1"; }
pass "--stats: tcp.sws_overrides $overrides, serve.aborted_stalled $stalled"
