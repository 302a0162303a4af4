#!/usr/bin/env bash
# The mini-browser over https against nginx: the page and its subresources through the pool over
# TLS (verified against the sandbox CA from SSL_CERT_FILE, which `tools/sandbox exec` sets); the
# level-6 TLS narration names the frames the pcap shows; the later pool connections resume the
# session (no Certificate in the pcap, decrypted with the key log); level 3 says why 443 (and
# that a port in the URL overrides it); http -> https redirect; exit 60 and -k.
# Address 10.77.0.92. One program on tap0 at a time, so everything runs in sequence.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"

work=$(mktemp -d /tmp/ustack-https-browser.XXXXXX)
chmod 0777 "$work"
trap 'rm -rf "$work"' EXIT

net=(--ip 10.77.0.92/24 --gateway 10.77.0.1 --dns 198.51.100.53 --no-color)
mb() { timeout 120 "$SANDBOX" exec "$USTACK_BIN/minibrowser" "${net[@]}" "$@"; }
ts() { tshark -r "$work/mb.pcap" -o "tls.keylog_file:$work/keys.log" "$@" 2>/dev/null; }

# --- the page over https, level 6 ------------------------------------------------------------------
rc=0
mb --level 6 --pcap "$work/mb.pcap" --keylog "$work/keys.log" https://www.domain.com/ >"$work/page.txt" 2>"$work/narration.txt" || rc=$?
unwrap_file "$work/narration.txt"
narration=$(cat "$work/narration.txt")
((rc == 0)) || { sed 's/^/     | /' "$work/narration.txt" >&2; fail "minibrowser https://www.domain.com/: exit $rc"; }
grep -q "Welcome to www.domain.com" "$work/page.txt" || fail "the page was not rendered"
expect_match "port reason" "$narration" "connecting to 203\.0\.113\.80 port 443 \(https's default port is 443; http's is 80; a port in the URL would override it\. TLS first, then HTTP inside it\)"
expect_match "trust" "$narration" "TLS: certificates are checked against SSL_CERT_FILE=$STATE/pki/ca.pem"
expect_match "ClientHello" "$narration" "TLS: connection #1: \[frame [0-9]+\] → ClientHello \(offers TLS 1\.2 and 1\.3, SNI www\.domain\.com, ALPN http/1\.1\)"
expect_match "ServerHello" "$narration" "TLS: connection #1: \[frame [0-9]+\] ← ServerHello \(chooses TLSv1\.3, "
expect_match "certificate" "$narration" "TLS: connection #1:   certificate \[0\] CN=www\.domain\.com, issued by CN=ustack sandbox CA"
expect_match "verified" "$narration" "TLS: connection #1:   verified: DNS:www\.domain\.com matches www\.domain\.com, and the chain ends at CN=ustack sandbox CA"
expect_match "Finished" "$narration" "TLS: connection #1: \[frame [0-9]+\] → Finished"
expect_match "full" "$narration" "TLS: connection #1: full handshake in [0-9.]+ ms: TLSv1\.3"
expect_match "resumed" "$narration" "TLS: connection #[2-6]: resumed handshake in [0-9.]+ ms"
expect_match "decrypted view" "$narration" "response: HTTP/1\.1 200 OK, .*\(the decrypted view: on the wire these were TLS records\)"
expect_match "close_notify" "$narration" "TLS close_notify, then FIN"
pass "https page: level 3 says why 443, level 6 narrates ClientHello → ServerHello → certificate → verified → Finished, full then resumed"

# The frame numbers the narration gives are the pcap's.
hello_frame=$(sed -nE 's/.*TLS: connection #1: \[frame ([0-9]+)\] → ClientHello.*/\1/p' "$work/narration.txt")
server_frame=$(sed -nE 's/.*TLS: connection #1: \[frame ([0-9]+)\] ← ServerHello.*/\1/p' "$work/narration.txt")
[[ $(ts -Y "frame.number == $hello_frame && tls.handshake.type == 1" | wc -l) == 1 ]] ||
  fail "narration says the ClientHello is frame $hello_frame; the pcap disagrees: $(ts -Y 'tls.handshake.type == 1' | head -1)"
[[ $(ts -Y "frame.number == $server_frame && tls.handshake.type == 2" | wc -l) == 1 ]] ||
  fail "narration says the ServerHello is frame $server_frame; the pcap disagrees: $(ts -Y 'tls.handshake.type == 2' | head -1)"
pass "the narrated frames $hello_frame (ClientHello) and $server_frame (ServerHello) are those in the pcap"

# Resumption, seen in the pcap: Certificate on one TCP stream only; the others offer a PSK.
streams=$(ts -Y 'tls.handshake.type == 1' -T fields -e tcp.stream | sort -u | wc -l)
certs=$(ts -Y 'tls.handshake.type == 11' -T fields -e tcp.stream | sort -u | wc -l)
psk=$(ts -Y 'tls.handshake.type == 1 && tls.handshake.extension.type == 41' -T fields -e tcp.stream | sort -u | wc -l)
((streams >= 2)) || fail "expected several pool connections, the pcap has $streams ClientHello(s)"
((certs == 1)) || fail "expected a Certificate on the first connection only, the pcap has it on $certs"
((psk == streams - 1)) || fail "expected the $((streams - 1)) later connections to offer a session (pre_shared_key), saw $psk"
gets=$(ts -Y http.request -T fields -e http.request.uri | wc -l)
((gets >= 16)) || fail "the key log should let tshark see the page's 16 GETs, it saw $gets"
pass "pool: $streams TLS connections, Certificate on 1, $psk resumed (pre_shared_key); tshark with the key log sees $gets GETs"

# --- a port in the URL overrides 443 --------------------------------------------------------------------
rc=0; out=$(mb --level 3 --no-subresources https://www.domain.com:4412/ 2>&1 >/dev/null) || rc=$?
((rc == 0)) || fail "https://www.domain.com:4412/: exit $rc"
expect_match "port override" "$out" "port 4412 \(the URL names port 4412, overriding https's default 443\)"
pass "level 3: a port in the URL overrides https's 443"

# --- http -> https redirect -----------------------------------------------------------------------------
rc=0; out=$(mb --level 3 --no-subresources http://www.domain.com/secure 2>&1 >/dev/null) || rc=$?
((rc == 0)) || { printf '%s\n' "$out" >&2; fail "http://www.domain.com/secure: exit $rc"; }
expect_match "redirect" "$out" "redirect 301 → https://www.domain.com/"
expect_match "port 80 then 443" "$out" "port 443 \(https's default port"
pass "http://www.domain.com/secure → 301 → https://www.domain.com/, followed"

# --- bad certificates, -k ---------------------------------------------------------------------------------
rc=0; out=$(mb --no-subresources https://expired.domain.com/ 2>&1 >/dev/null) || rc=$?
((rc == 60)) || fail "expired: expected exit 60, got $rc: $out"
expect_match "expired" "$out" "^minibrowser: https://expired\.domain\.com/: SSL certificate problem: certificate has expired: expired on 2020-01-02"
rc=0; out=$(mb --no-subresources -k https://wrong.domain.com/ 2>&1 >/dev/null) || rc=$?
((rc == 0)) || fail "-k wrong name: exit $rc: $out"
expect_match "-k warning" "$out" "WARNING: --insecure: the certificate of wrong\.domain\.com is NOT verified: SSL: name mismatch: certificate is for DNS:other\.domain\.com, not wrong\.domain\.com"
pass "exit 60 for an expired certificate with its date; -k goes on with a warning naming the problem"
