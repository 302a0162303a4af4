#!/usr/bin/env bash
# `ustack explain --keylog` on https fetches the Linux kernel made: curl in the client namespace
# (its key log from SSLKEYLOGFILE) against the sandbox's nginx, tcpdump capturing there; once in
# TLS 1.3 and once in TLS 1.2 (--tls-max 1.2). The narration shows the request line and the status
# curl saw, marked decrypted; tshark reading the same pcap with the same key log agrees on the
# request URI, the status, the version, the cipher suite and the ServerHello's frame. Without a key
# log nothing inside is told; with another session's key log, or one whose secrets were altered,
# one line says why the connection was not decrypted.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin directory of the build}"
work=$(mktemp -d /tmp/ustack-explain-https.XXXXXX)
chmod 0777 "$work"
tcpdump_pid=
cleanup() {
  if [[ -n $tcpdump_pid ]]; then kill "$tcpdump_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
explain() { timeout 60 "$USTACK_BIN/ustack" explain "$@"; }
tsf() { tshark -r "$1" -o "tls.keylog_file:$2" -Y "$3" -T fields -e "$4" 2>/dev/null | head -1; }

# capture NAME CURL-ARGS...: $work/NAME.pcap, NAME.keys (curl's key log), NAME.body, NAME.code (the status curl saw).
capture() {
  local name=$1
  shift
  ip netns exec "$USTACK_SANDBOX-client" tcpdump -i lan0 --immediate-mode -U -n -w "$work/$name.pcap" 'tcp port 443' \
    2>"$work/$name.tcpdump.err" &
  tcpdump_pid=$!
  for _ in $(seq 50); do grep -q 'listening on' "$work/$name.tcpdump.err" && break; sleep 0.1; done
  sb --client env SSLKEYLOGFILE="$work/$name.keys" curl -sS --http1.1 --max-time 10 -o "$work/$name.body" \
    -w '%{http_code}' "$@" >"$work/$name.code" || fail "$name: curl in the client namespace failed"
  sleep 0.5
  kill "$tcpdump_pid"
  wait "$tcpdump_pid" 2>/dev/null || true
  tcpdump_pid=
  [[ -s $work/$name.keys ]] || fail "$name: curl wrote no key log"
}

check() {  # check NAME VERSION URI
  local name=$1 version=$2 uri=$3
  local pcap=$work/$name.pcap keys=$work/$name.keys
  local code bytes narration
  code=$(cat "$work/$name.code")
  bytes=$(stat -c %s "$work/$name.body")
  [[ $code == 200 ]] || fail "$name: curl saw status $code"
  narration=$(explain "$pcap" --keylog "$keys" --json "$work/$name.json") || fail "$name: explain --keylog failed"
  # The key log line counts what the file holds: the lines with the labels we use.
  local used
  used=$(grep -cE '^(CLIENT_RANDOM|CLIENT_HANDSHAKE_TRAFFIC_SECRET|SERVER_HANDSHAKE_TRAFFIC_SECRET|CLIENT_TRAFFIC_SECRET_0|SERVER_TRAFFIC_SECRET_0) ' "$keys")
  expect_match "$name: key log line" "$narration" "^key log $keys: $used secret\(s\) for 1 TLS session\(s\)$"
  # What curl asked for and saw, in our narration.
  local re_uri=${uri//\?/\\?}
  expect_match "$name: level 1" "$narration" "asked for https://www\.domain\.com$re_uri \(read from the TLS records with the key log\) → the page came back \($code OK, $bytes bytes\)"
  expect_match "$name: request" "$narration" "TCP #1 > GET $re_uri HTTP/1\.1 \(Host: www\.domain\.com\) \[decrypted\]$"
  expect_match "$name: status" "$narration" "TCP #1 < $code OK \[decrypted\]$"
  # tshark with the same key log: the same URI and status.
  local t_uri t_code
  t_uri=$(tsf "$pcap" "$keys" http.request http.request.uri)
  t_code=$(tsf "$pcap" "$keys" http.response http.response.code)
  [[ $t_uri == "$uri" ]] || fail "$name: tshark reads the request URI as '$t_uri', curl asked for '$uri'"
  [[ $t_code == "$code" ]] || fail "$name: tshark reads status '$t_code', curl saw $code"
  # The ServerHello: its frame, the version and the suite, as tshark reads them.
  local hello_frame suite_hex suite_name
  hello_frame=$(tsf "$pcap" "$keys" 'tls.handshake.type == 2' frame.number)
  suite_hex=$(tsf "$pcap" "$keys" 'tls.handshake.type == 2' tls.handshake.ciphersuite)
  suite_name=$(tshark -r "$pcap" -Y 'tls.handshake.type == 2' -V 2>/dev/null | sed -nE 's/^ *Cipher Suite: ([A-Z0-9_]+) \(0x.*/\1/p' | head -1)
  [[ -n $hello_frame && -n $suite_name ]] || fail "$name: tshark finds no ServerHello"
  expect_match "$name: ServerHello" "$narration" "\[frame $hello_frame\] TCP #1 ← ServerHello: $version, $suite_name: decrypted with the key log$"
  python3 - "$work/$name.json" "$t_uri" "$t_code" "$version" "$suite_name" <<'EOF' || fail "$name: the JSON record disagrees with tshark"
import json, sys
r = json.load(open(sys.argv[1]))
c, h = r["connections"][0], r["http"][0]
assert c["tls"] and c["tls_decrypted"] and c["tls_problem"] is None, c
assert c["tls_version"] == sys.argv[4] and c["tls_cipher"] == sys.argv[5], c
assert h["decrypted"] and h["target"] == sys.argv[2] and h["status"] == int(sys.argv[3]), h
EOF
  expect_no_match "$name: no problem line" "$narration" "not decrypted|decryption stops"
  pass "$name: $version $suite_name ($suite_hex), GET $uri → $code ($bytes bytes): ours and tshark's agree, frame $hello_frame is the ServerHello"

  # Without the key log: the connection stays encrypted, nothing inside is told.
  local plain
  plain=$(explain "$pcap") || fail "$name: explain without a key log failed"
  expect_no_match "$name: no key log" "$plain" "\[decrypted\]|GET |ServerHello"
  expect_match "$name: no key log, level 1" "$plain" "1 encrypted \(TLS\) connection\(s\): the pages inside cannot be read without the keys"
}

capture tls13 --tlsv1.3 "https://www.domain.com/?via=tls13"
check tls13 "TLS 1.3" "/?via=tls13"
capture tls12 --tls-max 1.2 "https://www.domain.com/?via=tls12"
check tls12 "TLS 1.2" "/?via=tls12"

# Another session's key log: the client random is not in it (the line names its first 8 bytes,
# which are the ClientHello's, as tshark reads them).
random=$(tshark -r "$work/tls13.pcap" -Y 'tls.handshake.type == 1' -T fields -e tls.handshake.random 2>/dev/null | head -1 | tr -d ':')
[[ ${#random} -eq 64 ]] || fail "tshark finds no ClientHello random in the TLS 1.3 capture"
out=$(explain "$work/tls13.pcap" --keylog "$work/tls12.keys") || fail "explain with another session's key log failed"
expect_match "another key log" "$out" "TCP #1: not decrypted: the key log has no secrets for this connection \(client random ${random:0:16}…\)$"
expect_no_match "another key log: nothing told" "$out" "\[decrypted\]"
pass "another session's key log: one line, naming the ClientHello's random ${random:0:16}…"

# Secrets altered (the last hex digit of each), two malformed lines added: the tag check fails and
# says so; the malformed lines are counted.
sed -E 's/0$/X/; s/[1-9a-f]$/0/; s/X$/1/' "$work/tls12.keys" >"$work/bad.keys"
cmp -s "$work/bad.keys" "$work/tls12.keys" && fail "the altered key log is unchanged"
printf 'CLIENT_RANDOM nothex\nnonsense\n' >>"$work/bad.keys"
out=$(explain "$work/tls12.pcap" --keylog "$work/bad.keys") || fail "explain with an altered key log failed"
expect_match "altered key log: skipped lines" "$out" ", 2 malformed line\(s\) skipped$"
expect_match "altered key log" "$out" "TCP #1: not decrypted: record 1 from the client does not decrypt: the authentication tag does not match"
expect_no_match "altered key log: nothing told" "$out" "\[decrypted\]"
pass "an altered key log: the client's first protected record fails its tag check, in one line; 2 malformed lines counted"

out=$(explain "$work/tls12.pcap" --keylog "$work/missing.keys" 2>&1) && fail "a missing key log was accepted"
[[ $out == "ustack explain: $work/missing.keys: cannot read the key log" ]] || fail "a missing key log: $out"
pass "a missing key log: exit 1, one line"
