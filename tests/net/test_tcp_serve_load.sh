#!/usr/bin/env bash
# Under load: ApacheBench from the kernel side of the TAP (the router namespace) against
# `ustack serve`. Without keep-alive the server closes first, so every connection ends in
# TIME-WAIT on our side: 20,000 of them at concurrency 200 must all complete (the TIME-WAIT
# records live outside the socket table), then 20,000 keep-alive requests at concurrency 200.
# Then the same through the fault injector (--drop-chance 0.01, both directions), with TIME-WAIT
# shortened to 5 s (--time-wait) so the test can watch it end: 0 failed requests, the process's
# RSS after the run within 10 % of its RSS after the first 1,000 requests, and every connection
# gone after its TIME-WAIT (tcp.time_wait_records 0, tcp.sockets 0, read with SIGUSR1).
# Bounded in time (about a minute in the sanitizer build); the rates are printed, never asserted
# (benchmarks live in tools/bench). Address 10.77.0.86.
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
url=http://10.77.0.86/f.bin

# start_serve LOG ARGS...: ustack serve on 10.77.0.86 with --stats; sets serve_pid (the program's
# own PID: tools/sandbox exec execs into it). Under AddressSanitizer, freed memory waits in a
# quarantine of up to 256 MiB before reuse, which would hide the process's own RSS curve: 8 MiB
# here (use-after-free is still caught within it; without ASan the option is ignored).
start_serve() {
  local log=$1; shift
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8" \
    "$SANDBOX" exec "$USTACK_BIN/ustack" serve -q --ip 10.77.0.86/24 --gateway 10.77.0.1 --stats "$@" "$www" \
    >"$log" 2>"$log.err" &
  serve_pid=$!
  for _ in $(seq 50); do grep -q '^ustack serve:' "$log" 2>/dev/null && break; sleep 0.1; done
  grep -q '^ustack serve:' "$log" || { cat "$log" "$log.err" >&2; fail "ustack serve did not start"; }
}
# stop_serve LOG: SIGTERM, exit 143 (not in a subshell: it waits for its child).
stop_serve() {
  kill -TERM "$serve_pid"
  local rc=0
  wait "$serve_pid" || rc=$?
  serve_pid=""
  ((rc == 143)) || { cat "$1.err" >&2; fail "ustack serve exited with $rc after SIGTERM"; }
}
# last_block LOG: the last "--- server ---" block of LOG (the counters of one SIGUSR1 or the exit).
last_block() { awk '/^--- server ---$/ { b = "" } { b = b $0 "\n" } END { printf "%s", b }' "$1"; }
# stats_now LOG: SIGUSR1 and the block it printed (serve answers within its 500 ms loop turn).
stats_now() {
  local before
  before=$(grep -c '^host\.event_listeners' "$1" || true)
  kill -USR1 "$serve_pid"
  for _ in $(seq 100); do
    (($(grep -c '^host\.event_listeners' "$1" || true) > before)) && { last_block "$1"; return; }
    sleep 0.05
  done
  fail "ustack serve printed no counters within 5 s of SIGUSR1"
}
counter() { awk -v n="$1" '$1 == n { print $2 }' <<<"$2"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$serve_pid/status"; }

# ab_run NAME N ab-arguments...: N requests, all complete, none failed.
ab_run() {
  local name=$1 n=$2; shift 2
  local out
  out=$(timeout 300 "$SANDBOX" exec --root ab -q -r -s 20 -n "$n" "$@" "$url" 2>&1) || { printf '%s\n' "$out" >&2; fail "$name: ab failed"; }
  local complete failed rps
  complete=$(awk '/^Complete requests:/ { print $3 }' <<<"$out")
  failed=$(awk '/^Failed requests:/ { print $3 }' <<<"$out")
  rps=$(awk '/^Requests per second:/ { print $4 }' <<<"$out")
  [[ $complete == "$n" && $failed == 0 ]] || { printf '%s\n' "$out" >&2; fail "$name: $complete complete, $failed failed"; }
  pass "$name: $n requests complete, 0 failed ($rps requests/s)"
}

# --- 1. a clean link, TIME-WAIT 60 s as Linux -----------------------------------------------------
start_serve "$work/clean.log"
ab_run "short connections, concurrency 200, the server closing first" 20000 -c 200
ab_run "keep-alive requests, concurrency 200" 20000 -k -c 200
stop_serve "$work/clean.log"
log=$(last_block "$work/clean.log")
# Every short connection went through TIME-WAIT on our side, as a record, and none was refused.
expect_match "TIME-WAIT records kept" "$log" 'tcp\.time_wait_records +[1-9][0-9]{3,}$'
expect_no_match "no SYN refused for a full socket table" "$log" 'tcp\.drop\.socket_table_full +[1-9]'
expect_no_match "no SYN refused for a full accept queue" "$log" 'tcp\.drop\.accept_queue_full +[1-9]'
expect_match "no TIME-WAIT record evicted" "$log" 'tcp\.time_wait_evicted +0$'
note "$(grep -E 'tcp\.(time_wait_[a-z]+|syncookies_sent)|serve\.max_concurrent' <<<"$log" | tr -s ' ' | paste -sd ';')"

# --- 2. 1 % of the frames dropped each way, TIME-WAIT 5 s -----------------------------------------
start_serve "$work/lossy.log" --drop-chance 0.01 --seed 7 --time-wait 5
ab_run "lossy: the first 1000 short connections" 1000 -c 200
rss_first=$(rss_kib)
ab_run "lossy: short connections, concurrency 200, the server closing first" 20000 -c 200
now=$(stats_now "$work/lossy.log")
[[ $(counter tcp.time_wait_records "$now") -gt 0 ]] || { printf '%s\n' "$now" >&2; fail "no TIME-WAIT record right after the short connections"; }
note "right after them: tcp.time_wait_records $(counter tcp.time_wait_records "$now"), tcp.sockets $(counter tcp.sockets "$now")"
ab_run "lossy: keep-alive requests, concurrency 200" 20000 -k -c 200
rss_after=$(rss_kib)
((rss_after * 10 <= rss_first * 11)) ||
  fail "RSS grew from $rss_first KiB after the first 1000 requests to $rss_after KiB after 41000 (more than 10 %)"
pass "RSS $rss_first KiB after the first 1000 requests, $rss_after KiB after 41000 ($(awk -v a="$rss_first" -v b="$rss_after" 'BEGIN { printf "%+.1f", (b - a) * 100 / a }') %)"
# Every connection gone once its TIME-WAIT (5 s) has passed: keep-alive connections end in
# LAST-ACK on our side, the short ones in TIME-WAIT; lost FINs and ACKs are retransmitted first.
t0=$SECONDS
while :; do
  now=$(stats_now "$work/lossy.log")
  [[ $(counter tcp.time_wait_records "$now") == 0 && $(counter tcp.sockets "$now") == 0 ]] && break
  ((SECONDS - t0 < 60)) || { printf '%s\n' "$now" >&2; fail "connections still held 60 s after the run"; }
  sleep 1
done
pass "every connection gone $((SECONDS - t0)) s after the run: tcp.time_wait_records 0, tcp.sockets 0, serve.connections_open $(counter serve.connections_open "$now")"
stop_serve "$work/lossy.log"
log=$(last_block "$work/lossy.log")
expect_match "frames were dropped on the way in" "$log" 'tap0\.fault\.rx_dropped +[1-9]'
expect_match "frames were dropped on the way out" "$log" 'tap0\.fault\.tx_dropped +[1-9]'
expect_match "still nothing held at exit" "$log" 'tcp\.time_wait_records +0$'
expect_match "no socket left at exit" "$log" 'tcp\.sockets +0$'
expect_no_match "no SYN refused for a full socket table" "$log" 'tcp\.drop\.socket_table_full +[1-9]'
expect_match "no TIME-WAIT record evicted" "$log" 'tcp\.time_wait_evicted +0$'
note "$(grep -E 'tap0\.fault\.(rx|tx)_dropped |tcp\.(retransmitted|rto_expired|fast_retransmits|time_wait_reused)' <<<"$log" | tr -s ' ' | paste -sd ';')"
