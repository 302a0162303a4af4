#!/usr/bin/env bash
# TCP under faults: the same real peers with our fault injector dropping 2 % and reordering
# (holding back 0-5 ms) 2 % of the frames in each direction (--drop-chance 0.02 --reorder-chance 0.02,
# fixed seeds, so a failure replays).
#  - `ustack get` of a random file from nginx through the NAT, byte-exact;
#  - `ustack serve`: curl byte-exact, 1000 sequential connections (a curl process each) and 1000
#    requests over 200 concurrent connections, all complete; the retransmission counters moved.
# The sequential part takes about 100 s: each lost SYN or SYN-ACK costs the kernel's 1 s initial
# RTO, and sequentially those seconds add up.
# Addresses 10.77.0.75-76.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"

work=$(mktemp -d /tmp/ustack-tcp-faults.XXXXXX)
chmod 0777 "$work"
web_file="$STATE/www/tcp-faults-$$.bin"
serve_pid=""
cleanup() {
  [[ -n $serve_pid ]] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  rm -f "$web_file"
  rm -rf "$work"
}
trap cleanup EXIT

faults=(--drop-chance 0.02 --reorder-chance 0.02)
sha() { sha256sum "$1" | cut -d' ' -f1; }
r() { timeout 150 "$SANDBOX" exec --root "$@"; }
counter() { grep -E "^$1 " <<<"$2" | awk '{ print $2 }'; }

# --- our client, nginx's server ---------------------------------------------------------------------
head -c $((6 * 1024 * 1024 + 99)) /dev/urandom >"$web_file"
chmod a+r "$web_file"
out=$(timeout 150 "$SANDBOX" exec "$USTACK_BIN/ustack" get --ip 10.77.0.75/24 --gateway 10.77.0.1 "${faults[@]}" --seed 5 \
  --stats "http://203.0.113.80/$(basename "$web_file")" -o "$work/got.bin" 2>&1) ||
  { printf '%s\n' "$out" >&2; fail "ustack get under faults failed"; }
[[ $(sha "$work/got.bin") == $(sha "$web_file") ]] || fail "get under faults: SHA-256 differs"
dropped=$(grep -E '\.(rx|tx)_dropped ' <<<"$out" | awk '{ s += $2 } END { print s + 0 }')
((dropped > 0)) || fail "the fault injector dropped nothing: $(grep -E 'dropped|delayed|reorder' <<<"$out")"
pass "ustack get under faults: $(stat -c %s "$web_file") bytes byte-exact, $dropped frames dropped; $(grep '^ustack get:' <<<"$out")"

# --- the kernel's clients, our server -----------------------------------------------------------------
www="$work/www"
mkdir -p "$www"
head -c $((2 * 1024 * 1024 + 5)) /dev/urandom >"$www/random.bin"
printf 'small\n' >"$www/small.txt"
chmod -R a+rX "$www"
base=http://10.77.0.76
"$SANDBOX" exec "$USTACK_BIN/ustack" serve -q --ip 10.77.0.76/24 --gateway 10.77.0.1 "${faults[@]}" --seed 7 --stats "$www" \
  >"$work/serve.log" 2>"$work/serve.err" &
serve_pid=$!
for _ in $(seq 50); do grep -q '^ustack serve:' "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^ustack serve:' "$work/serve.log" || { cat "$work/serve.log" "$work/serve.err" >&2; fail "ustack serve did not start"; }

r curl -sf --retry 0 -o "$work/c.bin" "$base/random.bin" || fail "curl random.bin under faults failed"
[[ $(sha "$work/c.bin") == $(sha "$www/random.bin") ]] || fail "curl under faults: random.bin differs"
pass "curl from ustack serve under faults: $(stat -c %s "$www/random.bin") bytes byte-exact"

t0=$(date +%s.%N)
codes=$(seq 1000 | r xargs -P 1 -I{} curl -s -m 30 -o /dev/null -w '%{http_code}\n' "$base/small.txt?{}" | sort | uniq -c)
t1=$(date +%s.%N)
expect_match "1000 sequential under faults" "$codes" "^ *1000 200$"
pass "1000 sequential connections under faults: all 200 in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f s", b - a }')"

for i in $(seq 1000); do printf 'url = "%s/small.txt?%d"\noutput = "/dev/null"\n' "$base" "$i"; done >"$work/par.cfg"
t0=$(date +%s.%N)
res=$(r curl --no-progress-meter -m 60 -Z --parallel-max 200 --parallel-immediate -K "$work/par.cfg" -w '%{http_code} %{num_connects}\n')
t1=$(date +%s.%N)
[[ $(grep -c '^200 ' <<<"$res") == 1000 ]] || fail "concurrent under faults: $(sort <<<"$res" | uniq -c)"
conns=$(awk '{ s += $2 } END { print s }' <<<"$res")
pass "1000 requests over $conns concurrent connections under faults: all 200 in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f s", b - a }')"

kill -TERM "$serve_pid"
rc=0; wait "$serve_pid" || rc=$?
serve_pid=""
((rc == 143)) || fail "ustack serve exited with $rc after SIGTERM (expected 143 = 128 + SIGTERM)"
log=$(cat "$work/serve.log")
rtx=$(counter tcp.retransmitted "$log")
((rtx > 0)) || fail "no retransmissions counted under 2 % loss"
pass "server counters: tcp.retransmitted $rtx, tcp.fast_retransmits $(counter tcp.fast_retransmits "$log"), tcp.rto_expired $(counter tcp.rto_expired "$log")"
