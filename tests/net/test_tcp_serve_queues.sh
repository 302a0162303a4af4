#!/usr/bin/env bash
# `ustack serve --queues 2`: two stacks, one thread and one queue each, on a multi-queue TAP of
# this test's own (made here in the router namespace, as the sandbox makes tap0, and deleted at
# the end; tap0 stays single-queue for every other test). The kernel in the router namespace is
# the client:
#  (a) refusals: --queues 2 on a TAP made without multi_queue says how to make one (and exits 2);
#      --queues 2 without --ip (DHCP) is a usage error; without --queues, one queue of the
#      multi-queue TAP serves a file byte-exact;
#  (b) ApacheBench, 4000 short connections at concurrency 50: all complete, none failed;
#  (c) 200 curl downloads in parallel (curl -Z) of a 300 KiB random file, each byte-exact;
#  (d) SIGINT: exit 130; --stats shows both queues served connections (serve.queueK.*), the
#      requests add up, and the neighbour the kernel's ARP taught one queue was posted to the
#      other (arp_seeds_*); --pcap wrote one file per queue.
# Address 10.74.0.2 on a TAP with 10.74.0.1/24 on the kernel's side.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"
command -v ab >/dev/null || fail "ab (apache2-utils) is not installed; tools/test installs it"

ns="$USTACK_SANDBOX-router"
mq="mq-$USTACK_SANDBOX" sq="sq-$USTACK_SANDBOX"
mq=${mq:0:15} sq=${sq:0:15}
# The user tools/sandbox exec runs programs as (its invoking user).
if [[ -n ${SUDO_USER:-} && $SUDO_USER != root ]]; then user=$SUDO_USER; else user=$(id -un); fi

work=$(mktemp -d /tmp/ustack-serve-queues.XXXXXX)
chmod 0777 "$work"
serve_pid=""
cleanup() {
  [[ -n $serve_pid ]] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  ip -n "$ns" link del "$mq" 2>/dev/null || true
  ip -n "$ns" link del "$sq" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip -n "$ns" link del "$mq" 2>/dev/null || true
ip -n "$ns" link del "$sq" 2>/dev/null || true
ip -n "$ns" tuntap add dev "$mq" mode tap multi_queue user "$user"
ip -n "$ns" addr add 10.74.0.1/24 dev "$mq"
ip -n "$ns" link set "$mq" up
ip -n "$ns" tuntap add dev "$sq" mode tap user "$user"

www="$work/www"
mkdir -p "$www"
head -c 20480 /dev/urandom >"$www/f.bin"
head -c 307200 /dev/urandom >"$www/big.bin"
chmod -R a+rX "$www"

# --- (a) refusals -----------------------------------------------------------------------------------
rc=0
out=$("$SANDBOX" exec "$USTACK_BIN/ustack" serve --tap "$sq" --queues 2 --ip 10.74.0.3/24 "$www" 2>&1) || rc=$?
((rc == 2)) || fail "--queues 2 on a single-queue TAP: exit $rc, expected 2 ($out)"
expect_match "single-queue TAP refused" "$out" "$sq was made without multi_queue"
expect_match "says how to make one" "$out" "ip tuntap add dev $sq mode tap multi_queue user"
pass "single-queue TAP refused: $out"
rc=0
out=$("$SANDBOX" exec "$USTACK_BIN/ustack" serve --tap "$mq" --queues 2 "$www" 2>&1) || rc=$?
((rc == 2)) || fail "--queues 2 without --ip: exit $rc, expected 2 ($out)"
expect_match "no DHCP with queues" "$out" "needs a static --ip"
pass "without --ip: $out"

# One queue (the default) on the multi-queue TAP: the same program, attached as its only queue.
"$SANDBOX" exec "$USTACK_BIN/ustack" serve -q --tap "$mq" --ip 10.74.0.2/24 --gateway 10.74.0.1 "$www" \
  >"$work/one.log" 2>"$work/one.err" &
serve_pid=$!
for _ in $(seq 100); do grep -q '^ustack serve:' "$work/one.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^ustack serve:' "$work/one.log" || { cat "$work/one.log" "$work/one.err" >&2; fail "ustack serve (one queue) did not start on $mq"; }
timeout 60 "$SANDBOX" exec --root curl -sf -o "$work/one.bin" http://10.74.0.2/f.bin || fail "curl from one queue failed"
cmp -s "$work/one.bin" "$www/f.bin" || fail "one queue: f.bin differs"
kill -INT "$serve_pid"
rc=0
wait "$serve_pid" || rc=$?
serve_pid=""
((rc == 130)) || fail "ustack serve (one queue) exited with $rc after SIGINT"
pass "one queue (no --queues) on the multi-queue TAP: f.bin byte-exact, exit 130 on SIGINT"

# --- (b) ApacheBench ---------------------------------------------------------------------------------
"$SANDBOX" exec "$USTACK_BIN/ustack" serve -q --tap "$mq" --queues 2 --ip 10.74.0.2/24 --gateway 10.74.0.1 \
  --stats --pcap "$work/mq.pcap" "$www" >"$work/serve.log" 2>"$work/serve.err" &
serve_pid=$!
for _ in $(seq 100); do grep -q '^ustack serve:' "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^ustack serve:' "$work/serve.log" || { cat "$work/serve.log" "$work/serve.err" >&2; fail "ustack serve did not start"; }
expect_match "start line" "$(head -1 "$work/serve.log")" "2 queues of $mq, one thread each"
pass "$(head -1 "$work/serve.log")"

n=4000
out=$(timeout 240 "$SANDBOX" exec --root ab -q -r -s 20 -n $n -c 50 http://10.74.0.2/f.bin 2>&1) ||
  { printf '%s\n' "$out" >&2; fail "ab failed"; }
complete=$(awk '/^Complete requests:/ { print $3 }' <<<"$out")
failed=$(awk '/^Failed requests:/ { print $3 }' <<<"$out")
rps=$(awk '/^Requests per second:/ { print $4 }' <<<"$out")
[[ $complete == "$n" && $failed == 0 ]] || { printf '%s\n' "$out" >&2; fail "ab: $complete complete, $failed failed"; }
pass "ab: $n short connections at concurrency 50, all complete, 0 failed ($rps requests/s)"

# --- (c) curl in parallel, byte-exact -----------------------------------------------------------------
want=$(sha256sum "$www/big.bin" | cut -d' ' -f1)
mkdir -p "$work/got"
chmod 0777 "$work/got"
args=()
for i in $(seq 200); do args+=(-o "$work/got/$i.bin" http://10.74.0.2/big.bin); done
timeout 240 "$SANDBOX" exec --root curl -sfZ --parallel-max 40 "${args[@]}" || fail "curl -Z: a download failed"
bad=0
for i in $(seq 200); do
  [[ $(sha256sum "$work/got/$i.bin" | cut -d' ' -f1) == "$want" ]] || bad=$((bad + 1))
done
((bad == 0)) || fail "$bad of 200 parallel downloads differ from big.bin"
pass "curl -Z: 200 parallel downloads of big.bin (307200 bytes), every one SHA-256 equal"

# --- (d) SIGINT, the counters -------------------------------------------------------------------------
kill -INT "$serve_pid"
rc=0
wait "$serve_pid" || rc=$?
serve_pid=""
((rc == 130)) || { cat "$work/serve.err" >&2; fail "ustack serve exited with $rc after SIGINT, expected 130"; }
stats=$(cat "$work/serve.log")
c() { awk -v n="$1" '$1 == n { print $2 }' <<<"$stats"; }
q0=$(c serve.queue0.connections_accepted) q1=$(c serve.queue1.connections_accepted)
[[ -n $q0 && -n $q1 ]] || { printf '%s\n' "$stats" >&2; fail "no per-queue counters in --stats"; }
((q0 > 0 && q1 > 0)) || fail "both queues should have served connections: queue 0 $q0, queue 1 $q1"
(($(c serve.connections_accepted) == q0 + q1)) || fail "serve.connections_accepted $(c serve.connections_accepted) is not $q0 + $q1"
(($(c serve.status_200) == n + 200)) || fail "serve.status_200 $(c serve.status_200), expected $((n + 200))"
(($(c serve.queue0.requests) + $(c serve.queue1.requests) == n + 200)) || fail "the queues' requests do not add up to $((n + 200))"
expect_match "queue count" "$stats" '^serve\.queues +2$'
expect_match "no connection errors" "$stats" '^serve\.connection_errors +0$'
expect_match "the summed device counters" "$stats" "^$mq\\.rx_frames +[1-9]"
seeds_sent=$(($(c serve.queue0.arp_seeds_sent) + $(c serve.queue1.arp_seeds_sent)))
seeds_got=$(($(c serve.queue0.arp_seeds_received) + $(c serve.queue1.arp_seeds_received)))
((seeds_sent >= 1 && seeds_got >= 1)) || fail "no neighbour posted between the queues (sent $seeds_sent, received $seeds_got)"
expect_match "the stop line" "$(cat "$work/serve.err")" "stopped; $((q0 + q1)) connections, $((n + 200)) requests .*connections by queue: $q0 $q1$"
pass "SIGINT: exit 130; connections by queue: $q0 and $q1, $((n + 200)) requests; ARP posts sent $seeds_sent, received $seeds_got"
for k in 0 1; do
  f="$work/mq.q$k.pcap"
  if [[ ! -s $f ]] || (($(stat -c %s "$f") <= 24)); then fail "--pcap: $f is missing or holds no frame"; fi
done
pass "--pcap: one file per queue ($(stat -c %s "$work/mq.q0.pcap") and $(stat -c %s "$work/mq.q1.pcap") bytes)"
