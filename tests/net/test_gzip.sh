#!/usr/bin/env bash
# gzip from a real server: nginx with `gzip on` compresses what we ask for (Accept-Encoding:
# gzip, deflate), the mini-browser decodes the page and narrates both sizes, `ustack get
# --compressed -o` writes a 64 MiB compressible file byte-exact (decoded as it streams), and a
# compression bomb (128 MiB of zeros in a 128 KiB gzip, served by gzip_static) is refused with
# curl's codes (minibrowser 63 over its 64 MiB body bound, ustack get --max-filesize 63), never
# held in memory.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin directory of the build}"
work=$(mktemp -d /tmp/ustack-gzip-test.XXXXXX)
chmod 0777 "$work"
www=$STATE/www
trap 'rm -rf "$work" "$www/gz"' EXIT
mkdir -p "$www/gz"
net=(--ip 10.77.0.82/24 --gateway 10.77.0.1 --dns 198.51.100.53)

# The files: the site's page, 64 MiB of compressible text, the bomb (only as .gz).
cp "$SANDBOX_DATA/www/index.html" "$www/gz/index.html"
awk 'BEGIN { for (i = 0; i < 1200000; i++) printf "line %08d of a compressible file, the same words again\n", i }' \
  >"$www/gz/big.txt"
truncate -s $((64 << 20)) "$www/gz/big.txt"  # 1200000 lines are 69 MB: exactly 64 MiB of them
head -c $((128 << 20)) /dev/zero | gzip -9 >"$www/gz/bomb.html.gz"
chmod -R a+rX "$www/gz"
want=$(sha256sum <"$www/gz/big.txt" | cut -d' ' -f1)

# 1. The page: nginx compresses it because we asked; the narration says both sizes.
rc=0
timeout 60 "$SANDBOX" exec "$USTACK_BIN/minibrowser" --level 3 --no-color --no-subresources "${net[@]}" \
  http://www.domain.com/gz/index.html >"$work/page.txt" 2>"$work/narration.txt" || rc=$?
narration=$(cat "$work/narration.txt")
((rc == 0)) || { cat "$work/narration.txt" >&2; fail "minibrowser exited $rc"; }
expect_match "asked for gzip" "$narration" '> Accept-Encoding: gzip, deflate'
expect_match "got gzip" "$narration" '< Content-Encoding: gzip'
expect_match "both sizes" "$narration" 'content encoding: gzip, [0-9]+ bytes on the wire became [0-9]+ bytes'
expect_match "rendered" "$(cat "$work/page.txt")" 'Welcome to www\.domain\.com'
pass "minibrowser: $(grep -oE 'content encoding: .*' <<<"$narration")"

# 2. 64 MiB compressible, decoded as it streams to the file, byte-exact.
rc=0
timeout 300 "$SANDBOX" exec "$USTACK_BIN/ustack" get --compressed "${net[@]}" -o "$work/big.txt" \
  http://www.domain.com/gz/big.txt 2>"$work/get.txt" || rc=$?
((rc == 0)) || { cat "$work/get.txt" >&2; fail "ustack get --compressed exited $rc"; }
got=$(sha256sum <"$work/big.txt" | cut -d' ' -f1)
[[ $got == "$want" ]] || fail "64 MiB file differs after decoding (sha256 $got, want $want)"
summary=$(cat "$work/get.txt")
expect_match "wire size shown" "$summary" 'bytes \(gzip: [0-9]+ bytes on the wire\)'
pass "ustack get --compressed: 64 MiB byte-exact: $(grep -oE '[0-9]+ bytes \(gzip: [0-9]+ bytes on the wire\)' <<<"$summary")"
# Without --compressed, ustack get asks for identity (curl's default) and gets the file as is.
rc=0
timeout 300 "$SANDBOX" exec "$USTACK_BIN/ustack" get "${net[@]}" -o "$work/plain.txt" -v \
  http://www.domain.com/gz/big.txt 2>"$work/plain.log" || rc=$?
((rc == 0)) || fail "ustack get exited $rc"
expect_no_match "no gzip without --compressed" "$(grep '^<' "$work/plain.log")" 'Content-Encoding'
cmp -s "$work/plain.txt" "$www/gz/big.txt" || fail "the identity download differs"
pass "ustack get without --compressed: identity, byte-exact"

# 3. The bomb: refused, named, curl's exit code, memory bounded.
rc=0
timeout 60 "$SANDBOX" exec "$USTACK_BIN/minibrowser" --no-subresources "${net[@]}" \
  http://www.domain.com/gz/bomb.html >/dev/null 2>"$work/bomb.txt" || rc=$?
((rc == 63)) || { cat "$work/bomb.txt" >&2; fail "minibrowser on the bomb exited $rc, expected 63"; }
expect_match "bomb named" "$(cat "$work/bomb.txt")" 'decoded body too large'
rc=0
timeout 60 "$SANDBOX" exec "$USTACK_BIN/ustack" get --compressed \
  --max-filesize $((16 << 20)) "${net[@]}" -o "$work/bomb.out" http://www.domain.com/gz/bomb.html 2>"$work/bomb-get.txt" || rc=$?
((rc == 63)) || { cat "$work/bomb-get.txt" >&2; fail "ustack get on the bomb exited $rc, expected 63"; }
written=$(stat -c %s "$work/bomb.out" 2>/dev/null || echo 0)
((written <= (16 << 20))) || fail "ustack get wrote $written bytes of the bomb, over --max-filesize"
pass "bomb (128 MiB in $(stat -c %s "$www/gz/bomb.html.gz") bytes): minibrowser exit 63, ustack get --max-filesize 16M exit 63 after $written bytes"
