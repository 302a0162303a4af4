#!/usr/bin/env bash
# Under load: ApacheBench from the kernel side of the TAP (the router namespace) against
# `ustack serve`. Without keep-alive the server closes first, so every connection ends in
# TIME-WAIT on our side: 20,000 of them at concurrency 200 must all complete (the TIME-WAIT
# records live outside the socket table), then 20,000 keep-alive requests at concurrency 200.
# Bounded in time; the figures are printed, never asserted (benchmarks live in tools/bench).
# Address 10.77.0.86.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"
command -v ab >/dev/null || fail "ab (apache2-utils) is not installed; tools/test installs it"

work=$(mktemp -d /tmp/ustack-serve-load.XXXXXX)
chmod 0777 "$work"
serve_pid=""
cleanup() {
  [[ -n $serve_pid ]] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

www="$work/www"
mkdir -p "$www"
head -c 20480 /dev/urandom >"$www/f.bin"
chmod -R a+rX "$www"

"$SANDBOX" exec "$USTACK_BIN/ustack" serve --ip 10.77.0.86/24 --gateway 10.77.0.1 --stats "$www" \
  >"$work/serve.log" 2>"$work/serve.err" &
serve_pid=$!
for _ in $(seq 50); do grep -q '^ustack serve:' "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^ustack serve:' "$work/serve.log" || { cat "$work/serve.log" "$work/serve.err" >&2; fail "ustack serve did not start"; }

ab_run() {  # name, ab arguments...
  local name=$1; shift
  local out
  out=$(timeout 300 "$SANDBOX" exec --root ab -q -r -s 20 "$@" 2>&1) || { printf '%s\n' "$out" >&2; fail "$name: ab failed"; }
  local complete failed rps
  complete=$(awk '/^Complete requests:/ { print $3 }' <<<"$out")
  failed=$(awk '/^Failed requests:/ { print $3 }' <<<"$out")
  rps=$(awk '/^Requests per second:/ { print $4 }' <<<"$out")
  [[ $complete == 20000 && $failed == 0 ]] || { printf '%s\n' "$out" >&2; fail "$name: $complete complete, $failed failed"; }
  pass "$name: 20000 requests complete, 0 failed ($rps requests/s)"
}

ab_run "20000 short connections, concurrency 200, the server closing first" -n 20000 -c 200 http://10.77.0.86/f.bin
ab_run "20000 keep-alive requests, concurrency 200" -k -n 20000 -c 200 http://10.77.0.86/f.bin

kill -TERM "$serve_pid"
rc=0; wait "$serve_pid" || rc=$?
serve_pid=""
((rc == 0 || rc == 143)) || fail "ustack serve exited with $rc after SIGTERM"
log=$(cat "$work/serve.log")
# Every short connection went through TIME-WAIT on our side, as a record, and none was refused.
expect_match "TIME-WAIT records kept" "$log" 'tcp\.time_wait_records +[1-9][0-9]{3,}$'
expect_no_match "no SYN refused for a full socket table" "$log" 'tcp\.drop\.socket_table_full +[1-9]'
expect_no_match "no SYN refused for a full accept queue" "$log" 'tcp\.drop\.accept_queue_full +[1-9]'
note "$(grep -E 'tcp\.(time_wait_[a-z]+|syncookies_sent)|serve\.max_concurrent' <<<"$log" | tr -s ' ' | paste -sd ';')"
