#!/usr/bin/env bash
# https with `ustack get` against nginx through the NAT: TLS over our own TCP, verified against the
# sandbox CA (which `tools/sandbox exec` puts in SSL_CERT_FILE).
#  - TLS 1.3-only and TLS 1.2-only server blocks (ports 4413, 4412) and the default 443;
#  - each bad certificate gives curl's exit 60 with its reason in one line (expired, name
#    mismatch, self-signed), -k passes with a warning, --cacert with another CA fails (60);
#  - http://www.domain.com/secure redirects to https (-L follows it);
#  - a 64 MiB random file byte-exact over https, clean and under --drop-chance 0.02;
#  - the key log lets tshark decrypt the pcap and show the GET inside the TLS records;
#  - --repeat: the later connections resume the TLS session (pcap: no Certificate message).
# Addresses 10.77.0.90. One program on tap0 at a time, so everything runs in sequence.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"

work=$(mktemp -d /tmp/ustack-https-get.XXXXXX)
chmod 0777 "$work"
web_file="$STATE/www/https-get-$$.bin"
cleanup() {
  rm -f "$web_file"
  rm -rf "$work"
}
trap cleanup EXIT

net=(--ip 10.77.0.90/24 --gateway 10.77.0.1 --dns 198.51.100.53)
get() { timeout 180 "$SANDBOX" exec "$USTACK_BIN/ustack" get "${net[@]}" "$@"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
# run_get EXPECTED_RC LABEL ARGS...: sets $out; fails unless the exit code is EXPECTED_RC.
run_get() {
  local want=$1 label=$2; shift 2
  rc=0; out=$(get "$@" 2>&1) || rc=$?
  ((rc == want)) || { printf '%s\n' "$out" | sed 's/^/     | /' >&2; fail "$label: exit $rc, expected $want"; }
}

# --- versions ------------------------------------------------------------------------------------
for v in 443:TLSv1.3 4413:TLSv1.3 4412:TLSv1.2; do
  port=${v%%:*} version=${v#*:}
  run_get 0 "https port $port" -v -o "$work/page.html" "https://www.domain.com:$port/"
  expect_match "version on $port" "$out" "TLS handshake in [0-9]+ ms: $version / "
  expect_match "ALPN on $port" "$out" "ALPN http/1.1"
  expect_match "verified on $port" "$out" "SSL certificate verify ok: DNS:www.domain.com matches www.domain.com, chain ends at .*ustack sandbox CA"
  cmp -s "$work/page.html" "$STATE/www/index.html" || fail "port $port: the page differs from the web root's index.html"
done
pass "https on 443 (TLSv1.3), 4413 (1.3 only), 4412 (1.2 only): verified against the sandbox CA, ALPN http/1.1, page byte-exact"

# An IP-literal URL is checked against the certificate's IP SAN (and sends no SNI).
run_get 0 "https by IP" -v -o /dev/null "https://203.0.113.80/"
expect_match "IP SAN" "$out" "SSL certificate verify ok: IP:203.0.113.80 matches 203.0.113.80"
pass "https://203.0.113.80/ matches the IP SAN"

# --- certificates that cannot be verified: exit 60 and the reason ----------------------------------
run_get 60 "expired" -o /dev/null https://expired.domain.com/
expect_match "expired reason" "$out" "^ustack get: SSL certificate problem: certificate has expired: expired on 2020-01-02 00:00:00 UTC \(CN=expired.domain.com\)$"
run_get 60 "wrong name" -o /dev/null https://wrong.domain.com/
expect_match "mismatch reason" "$out" "^ustack get: SSL: name mismatch: certificate is for DNS:other.domain.com, not wrong.domain.com$"
run_get 60 "self-signed" -o /dev/null https://selfsigned.domain.com/
expect_match "self-signed reason" "$out" "^ustack get: SSL certificate problem: self-signed certificate \(CN=selfsigned.domain.com\)$"
[[ $(wc -l <<<"$out") -eq 1 ]] || fail "self-signed: expected one line, got: $out"
pass "exit 60 with one line each: expired (on its date), name mismatch (names the certificate's SAN), self-signed"

run_get 0 "-k" -k -o "$work/k.html" https://selfsigned.domain.com/
expect_match "-k warning" "$out" "warning: --insecure: the certificate of selfsigned.domain.com is not verified \(SSL certificate problem: self-signed certificate"
cmp -s "$work/k.html" "$STATE/www/index.html" || fail "-k: the page differs"
pass "-k fetches from the self-signed server and says what it skipped"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/other.key" -out "$work/other.pem" \
  -subj "/CN=another CA" -days 2 >/dev/null 2>&1
chmod a+r "$work/other.pem"
run_get 60 "--cacert other CA" --cacert "$work/other.pem" -o /dev/null https://www.domain.com/
expect_match "unknown issuer" "$out" "unknown issuer: .*ustack sandbox CA.* is not in --cacert $work/other.pem"
run_get 0 "--cacert sandbox CA" --cacert "$STATE/pki/ca.pem" -o /dev/null https://www.domain.com/
run_get 77 "--cacert missing" --cacert "$work/nonexistent.pem" -o /dev/null https://www.domain.com/
pass "--cacert: another CA fails (60, unknown issuer), the sandbox CA passes, a missing file is exit 77"

# --- redirect http -> https --------------------------------------------------------------------------
run_get 0 "redirect" -L -v -o "$work/r.html" http://www.domain.com/secure
expect_match "followed" "$out" "Following redirect to https://www.domain.com/"
expect_match "TLS after redirect" "$out" "TLS handshake in"
cmp -s "$work/r.html" "$STATE/www/index.html" || fail "redirect: the page differs"
pass "http://www.domain.com/secure -> 301 -> https://www.domain.com/ with -L"

# --- 64 MiB random, byte-exact, clean and with 2 % loss; key log; pcap ---------------------------------
head -c $((64 * 1024 * 1024)) /dev/urandom >"$web_file"
chmod a+r "$web_file"
url="https://www.domain.com/$(basename "$web_file")"
run_get 0 "64 MiB" --keylog "$work/keys.log" --pcap "$work/big.pcap" -o "$work/big.bin" "$url"
[[ $(sha "$work/big.bin") == $(sha "$web_file") ]] || fail "64 MiB over https: SHA-256 differs"
pass "64 MiB over https, SHA-256 equal: $(grep '^ustack get:' <<<"$out")"
rm -f "$work/big.bin"
run_get 0 "64 MiB, 2 % loss" --drop-chance 0.02 --seed 7 -o "$work/big.bin" "$url"
[[ $(sha "$work/big.bin") == $(sha "$web_file") ]] || fail "64 MiB over https with 2 % loss: SHA-256 differs"
pass "64 MiB over https with --drop-chance 0.02, SHA-256 equal: $(grep '^ustack get:' <<<"$out")"
rm -f "$work/big.bin"

grep -q '^CLIENT_TRAFFIC_SECRET_0 ' "$work/keys.log" || fail "the key log has no CLIENT_TRAFFIC_SECRET_0 line"
req=$(tshark -r "$work/big.pcap" -o "tls.keylog_file:$work/keys.log" -Y http.request -T fields -e http.request.uri 2>"$work/tshark.err") ||
  fail "tshark failed: $(cat "$work/tshark.err")"
[[ $req == "/$(basename "$web_file")" ]] || fail "tshark with the key log: expected the GET of /$(basename "$web_file"), got: $req"
plain=$(tshark -r "$work/big.pcap" -Y http.request -T fields -e http.request.uri 2>/dev/null)
[[ -z $plain ]] || fail "without the key log tshark should see no HTTP, got: $plain"
pass "the key log lets tshark decrypt the pcap: GET /$(basename "$web_file") (nothing without it)"

# --- resumption: --repeat 3 ------------------------------------------------------------------------
SSLKEYLOGFILE="$work/repeat.keys" run_get 0 "repeat" --repeat 3 --pcap "$work/repeat.pcap" -o /dev/null https://www.domain.com/
certs=$(tshark -r "$work/repeat.pcap" -o "tls.keylog_file:$work/repeat.keys" -Y 'tls.handshake.type == 11' -T fields -e tcp.stream 2>/dev/null | sort -u | wc -l)
hellos=$(tshark -r "$work/repeat.pcap" -Y 'tls.handshake.type == 1' -T fields -e tcp.stream 2>/dev/null | wc -l)
psk=$(tshark -r "$work/repeat.pcap" -Y 'tls.handshake.type == 1 && tls.handshake.extension.type == 41' -T fields -e tcp.stream 2>/dev/null | wc -l)
((hellos == 3)) || fail "--repeat 3: expected 3 ClientHellos, saw $hellos"
((certs == 1)) || fail "--repeat 3: expected a Certificate on the first connection only, saw it on $certs"
((psk == 2)) || fail "--repeat 3: expected 2 ClientHellos offering a session (pre_shared_key), saw $psk"
pass "--repeat 3 over https: 3 handshakes, Certificate only on the first, the later two resume (pre_shared_key), via SSLKEYLOGFILE"
expect_match "--repeat summary counts the resumed handshakes" "$out" "TLS handshakes 3 \(2 resumed\)"

# --- --no-sessionid: every connection a full handshake (what tools/bench measures as "full") --------
run_get 0 "repeat, no session" --repeat 3 --no-sessionid --pcap "$work/full.pcap" -o /dev/null https://www.domain.com/
psk=$(tshark -r "$work/full.pcap" -Y 'tls.handshake.type == 1 && tls.handshake.extension.type == 41' -T fields -e tcp.stream 2>/dev/null | wc -l)
((psk == 0)) || fail "--no-sessionid: $psk ClientHellos offered a session"
expect_match "--no-sessionid summary" "$out" "TLS handshakes 3 \(0 resumed\)"
pass "--repeat 3 --no-sessionid: 3 full handshakes, no ClientHello offers a session"
