#!/usr/bin/env bash
# TCP on the real wire: `ustack serve` (our TCP as the passive side) against the Linux kernel's
# curl and wget. The sandbox's router forwards LAN/TAP only towards the WAN, so the clients run in
# the router namespace and reach the server on tap0 directly.
#  (c) curl and wget fetch files byte-exact; curl -v shows "Re-using existing connection";
#      404/403/400/405/301, HEAD, HTTP/1.0, pipelining, the idle timeout, an access-log line each;
#  (d) 1000 sequential connections (one curl process each) and 200 concurrent ones (curl -Z with
#      200 transfers in flight) all complete;
#  SIGTERM: exit 0, the stop line and the counters (super-frames sent: transmit offload).
# Address 10.77.0.74.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"

work=$(mktemp -d /tmp/ustack-tcp-serve.XXXXXX)
chmod 0777 "$work"
serve_pid=""
cleanup() {
  [[ -n $serve_pid ]] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# The site: an index, a random binary, a subdirectory, a symlink inside and one pointing out.
www="$work/www"
mkdir -p "$www/sub" "$www/noindex"
printf '<!doctype html><title>ustack</title><h1>served by ustack</h1>\n' >"$www/index.html"
printf 'sub index\n' >"$www/sub/index.html"
printf '{"ok": true}\n' >"$www/data.json"
head -c $((3 * 1024 * 1024 + 4321)) /dev/urandom >"$www/random.bin"
ln -s random.bin "$www/alias.bin"
ln -s /etc/passwd "$www/passwd"
ln -s ../.. "$www/up"            # a relative symlink that climbs out of the root
ln -s sub "$www/subalias"        # a symlinked directory inside it
mkfifo "$www/pipe"               # opening it for reading would block a server that waits
chmod -R a+rX "$www"

base=http://10.77.0.74
"$SANDBOX" exec "$USTACK_BIN/ustack" serve --ip 10.77.0.74/24 --gateway 10.77.0.1 --idle-timeout 3 --stats "$www" \
  >"$work/serve.log" 2>"$work/serve.err" &
serve_pid=$!
for _ in $(seq 50); do grep -q '^ustack serve:' "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^ustack serve:' "$work/serve.log" || { cat "$work/serve.log" "$work/serve.err" >&2; fail "ustack serve did not start"; }
pass "$(head -1 "$work/serve.log")"

r() { timeout 120 "$SANDBOX" exec --root "$@"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# --- (c) real clients, byte-exact ---------------------------------------------------------------------
r curl -sf -o "$work/c.bin" "$base/random.bin" || fail "curl random.bin failed"
[[ $(sha "$work/c.bin") == $(sha "$www/random.bin") ]] || fail "curl: random.bin differs"
r wget -q -O "$work/w.bin" "$base/random.bin" || fail "wget random.bin failed"
[[ $(sha "$work/w.bin") == $(sha "$www/random.bin") ]] || fail "wget: random.bin differs"
pass "curl and wget: random.bin ($(stat -c %s "$www/random.bin") bytes) SHA-256 equal"

out=$(r curl -sv -o /dev/null -o "$work/idx.html" "$base/data.json" "$base/" 2>&1) || fail "curl two URLs failed: $out"
expect_match "keep-alive reuse" "$out" "Re-using existing connection"
expect_match "content type" "$out" "< Content-Type: application/json"
cmp -s "$work/idx.html" "$www/index.html" || fail "index.html for / differs"
pass "curl -v: two requests on one connection (\"Re-using existing connection\"), / serves index.html"

status() { r curl -s -m 10 --path-as-is -o /dev/null -w '%{http_code}' "$@"; }
declare -A want=(
  [/nope]=404 [/passwd]=403 [/alias.bin]=200 [/noindex/]=403 [/sub]=301 [/sub/]=200
  [/../etc/passwd]=400 [/%2e%2e/%2e%2e/etc/passwd]=400 [/sub/../data.json]=200 [//etc/passwd]=404
  [/up/etc/passwd]=403 [/subalias/]=200 [/pipe]=403
)
for path in "${!want[@]}"; do
  got=$(status "$base$path")
  [[ $got == "${want[$path]}" ]] || fail "GET $path: status $got, expected ${want[$path]}"
done
got=$(status -X POST -d x "$base/"); [[ $got == 405 ]] || fail "POST: status $got, expected 405"
hdrs=$(r curl -sI "$base/random.bin")
expect_match "HEAD length" "$hdrs" "Content-Length: $(stat -c %s "$www/random.bin")"
pass "statuses: 404, 403 (symlinks out, absolute or climbing; no index; a FIFO, without blocking), 400 (traversal), 301, 405, HEAD"

reply=$(printf 'GET /data.json HTTP/1.1\r\nHost: a\r\n\r\nGET /sub/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' |
  r socat -t 5 - TCP:10.77.0.74:80)
[[ $(grep -ac '^HTTP/1.1 200 OK' <<<"$reply") == 2 ]] || fail "pipelined requests: $reply"
expect_match "close honoured" "$reply" "Connection: close"
reply=$(printf 'GET /data.json HTTP/1.0\r\n\r\n' | r socat -t 5 - TCP:10.77.0.74:80)
expect_match "HTTP/1.0" "$reply" "^HTTP/1.1 200 OK"
reply=$(printf 'GET / HTTP/1.1\r\n\r\n' | r socat -t 5 - TCP:10.77.0.74:80)
expect_match "1.1 without Host" "$reply" "^HTTP/1.1 400 Bad Request"
pass "pipelining, Connection: close, HTTP/1.0, 400 without Host (socat)"

# TIME-WAIT reuse: on "Connection: close" the server closes first and holds the 4-tuple in
# TIME-WAIT for 60 s; the kernel client reuses its port at once. RFC 6191 lets the newer SYN open a
# new incarnation; before, the SYN got an ACK, the kernel's RST was ignored (RFC 1337), and the
# connect stalled until the SYN retries ran out.
t0=$(date +%s.%N)
for i in 1 2 3; do
  r curl -sf --max-time 5 --local-port 40123 -H 'Connection: close' -o /dev/null "$base/data.json" ||
    fail "curl --local-port 40123 (connection $i) failed: the server's TIME-WAIT blocked the port"
done
reuse=$(awk -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
awk -v t="$reuse" 'BEGIN { exit !(t < 3) }' || fail "three connections on one 4-tuple took ${reuse} s (a SYN waited out a retry)"
pass "three connections on one 4-tuple (server closes first, TIME-WAIT reused): ${reuse} s"

start=$(date +%s.%N)
r socat -u TCP:10.77.0.74:80 - >/dev/null 2>&1 || true   # -u: reads only, sends no FIN
held=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
awk -v h="$held" 'BEGIN { exit !(h >= 2.5 && h < 10) }' || fail "idle connection closed after ${held} s, expected ~3"
pass "an idle connection is closed by the server after ${held} s (--idle-timeout 3)"

# --- (d) many connections ------------------------------------------------------------------------------
t0=$(date +%s.%N)
codes=$(seq 1000 | r xargs -P 1 -I{} curl -s -o /dev/null -w '%{http_code}\n' "$base/data.json?{}" | sort | uniq -c)
t1=$(date +%s.%N)
expect_match "1000 sequential" "$codes" "^ *1000 200$"
pass "1000 sequential connections (a curl process each): all 200 in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f s", b - a }')"

for i in $(seq 1000); do printf 'url = "%s/data.json?%d"\noutput = "/dev/null"\n' "$base" "$i"; done >"$work/par.cfg"
t0=$(date +%s.%N)
res=$(r curl --no-progress-meter -Z --parallel-max 200 --parallel-immediate -K "$work/par.cfg" -w '%{http_code} %{num_connects}\n')
t1=$(date +%s.%N)
[[ $(grep -c '^200 ' <<<"$res") == 1000 ]] || fail "concurrent: $(sort <<<"$res" | uniq -c)"
conns=$(awk '{ s += $2 } END { print s }' <<<"$res")
((conns >= 190)) || fail "concurrent: only $conns connections opened"
pass "1000 requests over $conns concurrent connections (curl -Z, 200 in flight): all 200 in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f s", b - a }')"

# --- stop -------------------------------------------------------------------------------------------------
kill -TERM "$serve_pid"
rc=0; wait "$serve_pid" || rc=$?
serve_pid=""
((rc == 143)) || fail "ustack serve exited with $rc after SIGTERM (expected 143 = 128 + SIGTERM)"
log=$(cat "$work/serve.log")
expect_match "access log" "$log" '^10\.77\.0\.1 - - \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8} \+0000\] "GET /random.bin HTTP/1.1" 200 3150049$'
expect_match "max concurrent" "$log" 'serve.max_concurrent +([2-9][0-9]|1[0-9][0-9]|200)$'
expect_no_match "no connection errors" "$log" 'serve.connection_errors +[1-9]'
expect_match "TIME-WAIT reused" "$log" 'tcp\.time_wait_reused +([2-9]|[1-9][0-9]+)$'
expect_no_match "no checksum drops" "$log" 'bad_checksum +[1-9]'
# Transmit offload: the responses left as super-frames the kernel cut back into wire segments
# (and the SHA-256 checks above say every byte arrived as sent).
expect_match "transmit offload" "$log" '\.tx_gso_frames +[1-9]'
pass "SIGTERM: exit 143; $(grep -c '^10\.77\.0\.1 - - ' <<<"$log") access-log lines; $(cat "$work/serve.err" | tail -1)"
note "$(grep -E 'serve\.(max_concurrent|requests_reusing)' <<<"$log" | tr -s ' ' | paste -sd ';')"
