#!/usr/bin/env bash
# tools/demo itself, with the test's programs and sandbox (--bin, --sandbox-up: no install, no
# Release build, the sandbox left up) and its files in the test's directory (--out): it shows the
# classic DHCP exchange (DISCOVER, OFFER, REQUEST, ACK, each line citing the frame tshark finds
# with that message type), the router's side of the NAT for each connection of its run (against
# the SYNs in its capture and the router's conntrack entries), and writes the ladder (one arrow per
# frame of its capture) and the JSON record; then its https run and the capture read back with
# the key log. Bounded in time: the whole script in 240 s.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin directory of the build}"
work=$(mktemp -d /tmp/ustack-demo-test.XXXXXX)
chmod 0777 "$work"
trap 'rm -rf "$work"' EXIT
tf() { tshark -r "$1" -Y "$2" -T fields "${@:3}" 2>/dev/null; }

rc=0
start=$(date +%s)
timeout 240 "$USTACK_SOURCE/tools/demo" --bin "$USTACK_BIN" --sandbox-up --out "$work/out" http://www.domain.com/ \
  >"$work/demo.raw" 2>&1 || rc=$?
secs=$(($(date +%s) - start))
# Without the terminal's bold: the demo's own lines, the browser's narration joined back (unwrap).
sed 's/\x1b\[[0-9;]*m//g' "$work/demo.raw" | unwrap >"$work/demo.txt"
out=$(cat "$work/demo.txt")
((rc == 0)) || { cat "$work/demo.txt" >&2; fail "tools/demo exited $rc after $secs s"; }
expect_match "no build" "$out" "^==> build: using the programs in .*--bin: nothing installed or built"
expect_match "sandbox kept" "$out" "^==> sandbox: using instance '$USTACK_SANDBOX', already up"
expect_no_match "no teardown" "$out" 'tearing down'
[[ -d $STATE ]] || fail "the demo took the sandbox down"
pcap=$work/out/demo.pcap
[[ -s $pcap ]] || fail "no capture at $pcap"

# --- the classic DHCP exchange, each message its frame ------------------------------------------------
prev=0
for step in 'DISCOVER:→:1' 'OFFER:←:2' 'REQUEST:→:3' 'ACK:←:5'; do
  IFS=: read -r msg arrow type <<<"$step"
  line=$(grep -m1 -E "^\[L7 +[0-9.]+ ms\] DHCP \[frame [0-9]+\] $arrow ${msg}[ ,]" <<<"$out") ||
    { printf '%s\n' "$out" >&2; fail "no DHCP $msg line"; }
  frame=$(grep -oE '\[frame [0-9]+\]' <<<"$line" | tr -dc 0-9)
  [[ $(tf "$pcap" "frame.number == $frame" -e dhcp.option.dhcp) == "$type" ]] ||
    fail "DHCP $msg is narrated at frame $frame; tshark's message type there is '$(tf "$pcap" "frame.number == $frame" -e dhcp.option.dhcp)'"
  ((frame > prev)) || fail "DHCP $msg (frame $frame) does not follow the message before (frame $prev)"
  prev=$frame
done
expect_no_match "no rapid commit" "$out" 'with Rapid Commit \(RFC 4039\)'
pass "the classic DHCP exchange: DISCOVER, OFFER, REQUEST, ACK, each at the frame tshark reads as that type"

# --- the router's side of the NAT: one line per connection of the run ---------------------------------
syns=$(tf "$pcap" 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -e ip.src -e tcp.srcport | tr '\t' ':')
[[ -n $syns ]] || fail "no SYN in the demo's capture"
nat=$(sed -n "/^==> the router's side of the NAT/,/^==> /p" <<<"$out" | grep -E ' -> 203\.0\.113\.80:80  left the router as ' || true)
ct=$(sb --root conntrack -L -p tcp 2>/dev/null || true)
for s in $syns; do
  line=$(grep -F "    $s -> 203.0.113.80:80  left the router as " <<<"$nat") || { printf '%s\n' "$out" >&2; fail "no NAT line for $s"; }
  public=$(grep -oE 'left the router as [0-9.]+:[0-9]+' <<<"$line" | awk '{print $5}')
  [[ ${public%:*} == 192.0.2.2 ]] || fail "$s left as $public, not from the router's wan address"
  grep -qE "src=${s%:*} dst=203\.0\.113\.80 sport=${s#*:} dport=80 .*src=203\.0\.113\.80 dst=192\.0\.2\.2 sport=80 dport=${public#*:}( |$)" <<<"$ct" ||
    fail "conntrack has no entry $s -> 203.0.113.80:80 as $public"
  if [[ ${public#*:} == "${s#*:}" ]]; then want='Linux kept our source port'; else want='Linux gave it another source port'; fi
  grep -qF "($want)" <<<"$line" || fail "NAT line for $s: '$line', expected ($want)"
  # The browser reads the same table itself when it runs as root (tools/sandbox exec runs it as the
  # user who ran sudo, when there is one; then it says it cannot read it).
  if ! grep -q 'which this program cannot read (root only)' <<<"$out"; then
    expect_match "browser's own NAT line for $s" "$out" "NAT: ${s//./\\.} → 203\.0\.113\.80:80 left the router as ${public//./\\.} "
  fi
done
(($(wc -l <<<"$nat") == $(wc -l <<<"$syns"))) || { printf '%s\n' "$nat" >&2; fail "$(wc -l <<<"$nat") NAT lines for $(wc -l <<<"$syns") connections"; }
pass "NAT: $(wc -l <<<"$nat") line(s), one per SYN of the run, each as the router's conntrack has it"

# --- the ladder and the JSON record of the run ---------------------------------------------------------
svg=$work/out/demo-ladder.svg
[[ -s $svg ]] || fail "no ladder at $svg"
expect_match "ladder named" "$out" "the ladder: ${svg//./\\.} "
frames=$(tshark -r "$pcap" 2>/dev/null | wc -l)
arrows=$(grep -o 'class="arrow"' "$svg" | wc -l || true)
((frames > 0 && arrows == frames)) || fail "the ladder has $arrows arrows for the $frames frames of the capture"
python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); assert r["frames"] == int(sys.argv[2]), r["frames"]' \
  "$work/out/demo.json" "$frames" || fail "the JSON record disagrees with the capture's $frames frames"
expect_match "explain's level 1" "$out" '^    \[L1 +[0-9.]+ ms\] 10\.77\.0\.[0-9]+ asked for http://www\.domain\.com/ → the page came back'
pass "the ladder: $arrows arrows for $frames frames; the JSON record: $frames frames"

# --- https: the capture read without and with the key log ----------------------------------------------
expect_match "kernel curl" "$out" '^    curl: HTTP 200, [0-9]+ bytes'
[[ -s $work/out/demo-https.pcap && -s $work/out/demo-https.keys ]] || fail "no https capture or key log"
dec=$(sed -n '/^==> the same capture decrypted with the key log/,$p' <<<"$out")
expect_match "decrypted GET" "$dec" '^    [0-9]+	GET / HTTP/1\.1'
pass "tools/demo ran in $secs s (the https capture decrypted with its key log shows the GET)"
