#!/usr/bin/env bash
# TCP on the real wire: our TCP as the active side against the Linux kernel, through the NAT.
#  (a) `ustack get` downloads from nginx byte-exact: a random file (SHA-256 against the web root)
#      and a 48 MiB Range of the 1 GiB big.bin (the whole GiB of random bytes is
#      test_tcp_gigabyte.sh; the Release figures are in tools/bench);
#  (b) `ustack get -T FILE tcp://10.77.0.1:PORT` uploads to socat in the router byte-exact;
#  curl's exit codes: 7 refused, 7 no ARP answer, 22 with -f on 404, 28 on -m, 6 unknown name;
#  the pcap of a download reads cleanly in tshark.
# Addresses 10.77.0.72-73. One program on tap0 at a time, so everything runs in sequence.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"

work=$(mktemp -d /tmp/ustack-tcp-get.XXXXXX)
chmod 0777 "$work"
web_file="$STATE/www/tcp-get-$$.bin"
socat_pid=""
cleanup() {
  [[ -n $socat_pid ]] && kill "$socat_pid" 2>/dev/null && wait "$socat_pid" 2>/dev/null
  rm -f "$web_file"
  rm -rf "$work"
}
trap cleanup EXIT

net=(--ip 10.77.0.72/24 --gateway 10.77.0.1)
get() { timeout 120 "$SANDBOX" exec "$USTACK_BIN/ustack" get "${net[@]}" "$@"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# --- (a) downloads from nginx through the NAT ------------------------------------------------------
head -c $((12 * 1024 * 1024 + 12345)) /dev/urandom >"$web_file"
chmod a+r "$web_file"
out=$(get --pcap "$work/get.pcap" --stats "http://203.0.113.80/$(basename "$web_file")" -o "$work/random.bin" 2>&1) ||
  { printf '%s\n' "$out" >&2; fail "ustack get of a random file failed"; }
[[ $(sha "$work/random.bin") == $(sha "$web_file") ]] || fail "random file: SHA-256 differs ($(stat -c %s "$work/random.bin") bytes)"
pass "random file, $(stat -c %s "$web_file") bytes, SHA-256 equal: $(grep '^ustack get:' <<<"$out")"
expect_no_match "no checksum drops" "$out" "bad_checksum +[1-9]"

range_start=$((1024 * 1024 * 1024 - 48 * 1024 * 1024))
range_end=$((1024 * 1024 * 1024 - 1))
out=$(get -v -r "$range_start-$range_end" http://203.0.113.80/big.bin -o "$work/range.bin" 2>&1) ||
  { printf '%s\n' "$out" | grep -v '^[<>]' >&2; fail "ustack get -r of big.bin failed"; }
expect_match "206 for a Range" "$out" "^< HTTP/1.1 206 Partial Content"
expect_match "Content-Range" "$out" "^< Content-Range: bytes $range_start-$range_end/1073741824"
want=$(tail -c $((range_end - range_start + 1)) "$STATE/www/big.bin" | sha256sum | cut -d' ' -f1)
[[ $(sha "$work/range.bin") == "$want" ]] || fail "big.bin range: SHA-256 differs ($(stat -c %s "$work/range.bin") bytes)"
pass "big.bin bytes $range_start-$range_end (48 MiB) SHA-256 equal: $(grep '^ustack get:' <<<"$out")"

# The pcap holds the whole transfer: the TCP payload from port 80 adds up to at least the file.
# With receive offloads (the default) the kernel hands over TCP super-frames, so the pcap shows
# frames above the wire's 1514 bytes, like a capture on a NIC with GRO; with --no-offload every
# frame is wire-sized.
pcap_stats() { # pcap_stats FILE -> "frames payload_bytes largest_frame"
  tshark -r "$1" -T fields -e frame.len -e tcp.len -e tcp.srcport 2>/dev/null |
    awk '{ n++; if ($1 > max) max = $1; if ($3 == 80) b += $2 } END { print n + 0, b + 0, max + 0 }'
}
size=$(stat -c %s "$web_file")
read -r frames bytes largest < <(pcap_stats "$work/get.pcap")
malformed=$(tshark -r "$work/get.pcap" -Y '_ws.malformed || _ws.expert.severity >= error' 2>/dev/null | wc -l)
((bytes >= size)) || fail "get.pcap carries only $bytes payload bytes from the server, the file has $size"
((largest > 1514)) || fail "get.pcap: no frame above 1514 bytes although receive offloads are on"
((malformed == 0)) || fail "get.pcap: $malformed malformed frame(s)"
pass "get.pcap: $frames frames (largest $largest bytes: offload super-frames), $bytes payload bytes, 0 malformed (tshark)"

out=$(get --no-offload --pcap "$work/plain.pcap" "http://203.0.113.80/$(basename "$web_file")" -o "$work/plain.bin" 2>&1) ||
  { printf '%s\n' "$out" >&2; fail "ustack get --no-offload failed"; }
[[ $(sha "$work/plain.bin") == $(sha "$web_file") ]] || fail "--no-offload: SHA-256 differs"
read -r frames bytes largest < <(pcap_stats "$work/plain.pcap")
((largest <= 1514 && bytes >= size && frames > size / 1460)) ||
  fail "--no-offload pcap: $frames frames, largest $largest, $bytes payload bytes"
pass "--no-offload: SHA-256 equal, $frames wire-sized frames (largest $largest): $(grep '^ustack get:' <<<"$out")"

# --- (b) upload to the kernel -----------------------------------------------------------------------
head -c $((8 * 1024 * 1024 + 777)) /dev/urandom >"$work/upload.bin"
"$SANDBOX" exec --root timeout 120 socat -u TCP-LISTEN:9075,bind=10.77.0.1,reuseaddr OPEN:"$work/received.bin",creat,trunc \
  >"$work/socat.log" 2>&1 &
socat_pid=$!
for _ in $(seq 50); do "$SANDBOX" exec --root ss -ltn 2>/dev/null | grep -q '10.77.0.1:9075' && break; sleep 0.1; done
out=$(get -T "$work/upload.bin" tcp://10.77.0.1:9075 2>&1) || { printf '%s\n' "$out" >&2; fail "ustack get -T failed"; }
wait "$socat_pid" || fail "socat exited with $? ($(cat "$work/socat.log"))"
socat_pid=""
[[ $(sha "$work/received.bin") == $(sha "$work/upload.bin") ]] ||
  fail "upload: SHA-256 differs ($(stat -c %s "$work/received.bin") of $(stat -c %s "$work/upload.bin") bytes arrived)"
pass "upload of $(stat -c %s "$work/upload.bin") bytes to socat byte-exact: $(grep '^ustack get:' <<<"$out")"

# --- exit codes, in curl's numbering ----------------------------------------------------------------
rc=0; out=$(get http://10.77.0.1:9/ -o "$work/x" 2>&1) || rc=$?
((rc == 7)) || fail "refused: exit $rc, expected 7 ($out)"
expect_match "refused" "$out" "Connection refused"
pass "port 9 on the router: exit 7, $(tail -1 <<<"$out")"

rc=0; out=$(get --connect-timeout 20 http://10.77.0.79/ -o "$work/x" 2>&1) || rc=$?
((rc == 7)) || fail "absent neighbour: exit $rc, expected 7 ($out)"
expect_match "no ARP reply" "$out" "no ARP reply from 10.77.0.79"
pass "absent neighbour: exit 7, $(tail -1 <<<"$out")"

rc=0; out=$(get -f http://203.0.113.80/no-such-page -o "$work/x" 2>&1) || rc=$?
((rc == 22)) || fail "-f on 404: exit $rc, expected 22 ($out)"
rc=0; get -s http://203.0.113.80/no-such-page -o "$work/x" 2>/dev/null || rc=$?
((rc == 0)) || fail "404 without -f: exit $rc, expected 0"
pass "404: exit 22 with -f, 0 without"

rc=0; out=$(get -m 1.5 http://203.0.113.80/big.bin -o /dev/null 2>&1) || rc=$?
((rc == 28)) || fail "-m 1.5 on 1 GiB: exit $rc, expected 28 ($out)"
pass "-m 1.5 on big.bin: exit 28, $(tail -1 <<<"$out")"

rc=0; out=$(get --hosts /dev/null http://nowhere.invalid/ -o "$work/x" 2>&1) || rc=$?
((rc == 6)) || fail "unknown name without DNS: exit $rc, expected 6 ($out)"
pass "a name with no hosts entry and no DNS server: exit 6"

printf '203.0.113.80 www.example.test\n' >"$work/hosts"
out=$(get --hosts "$work/hosts" -L http://www.example.test/old -o "$work/index.html" 2>&1) ||
  { printf '%s\n' "$out" >&2; fail "get -L through --hosts failed"; }
cmp -s "$work/index.html" "$STATE/www/index.html" || fail "-L /old did not end at index.html"
pass "--hosts name and -L (301 /old -> /): $(tail -1 <<<"$out")"
