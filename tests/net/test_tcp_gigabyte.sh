#!/usr/bin/env bash
# TCP's bulk bar on the real wire: `ustack get` downloads 1 GiB of random bytes from nginx
# through the router's NAT, and the SHA-256 of what arrived equals the SHA-256 of the source.
# Random content (not the sandbox's sparse big.bin, which is all zeros) so that a reordered,
# duplicated or misplaced segment anywhere changes the digest. The body streams straight into
# sha256sum (-o -), nothing is written to disk on our side. Figures: MB/s for our stack, and for
# the kernel's curl fetching the same file from the kernel client namespace (side by side; the
# sanitizer build runs several times slower than Release — tools/bench has the Release figures).
# Address 10.77.0.78.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"

web_file="$STATE/www/gigabyte-$$.bin"
work=$(mktemp -d /tmp/ustack-gigabyte.XXXXXX)
chmod 0777 "$work"
cleanup() { rm -f "$web_file"; rm -rf "$work"; }
trap cleanup EXIT

size=$((1024 * 1024 * 1024))
want=$(head -c "$size" /dev/urandom | tee "$web_file" | sha256sum | cut -d' ' -f1)
chmod a+r "$web_file"
url="http://203.0.113.80/$(basename "$web_file")"

t0=$(date +%s.%N)
set +e
got=$(timeout 800 "$SANDBOX" exec "$USTACK_BIN/ustack" get --ip 10.77.0.78/24 --gateway 10.77.0.1 --stats \
  "$url" -o - 2>"$work/get.err" | sha256sum | cut -d' ' -f1)
rc=${PIPESTATUS[0]}
set -e
t1=$(date +%s.%N)
((rc == 0)) || { tail -40 "$work/get.err" >&2; fail "ustack get of 1 GiB exited $rc"; }
[[ $got == "$want" ]] || { tail -40 "$work/get.err" >&2; fail "1 GiB: SHA-256 $got, source $want"; }
ours=$(awk -v s="$t0" -v e="$t1" -v n="$size" 'BEGIN { printf "%.1f", n / (e - s) / 1e6 }')
pass "1 GiB of random bytes through the NAT, SHA-256 equal ($want): $(grep '^ustack get:' "$work/get.err")"
note "$(grep -E '^ *tcp\.(retransmitted|fast_retransmits|rto_expired|segments_in) ' "$work/get.err" | tr -s ' ' | paste -sd ';')"

t0=$(date +%s.%N)
kernel=$(timeout 300 "$SANDBOX" exec --client curl -sf "$url" | sha256sum | cut -d' ' -f1)
t1=$(date +%s.%N)
[[ $kernel == "$want" ]] || fail "the kernel's curl got a different SHA-256 (sandbox problem?)"
theirs=$(awk -v s="$t0" -v e="$t1" -v n="$size" 'BEGIN { printf "%.1f", n / (e - s) / 1e6 }')
note "ustack get ${ours} MB/s (this build), kernel curl ${theirs} MB/s, same file, same router"
