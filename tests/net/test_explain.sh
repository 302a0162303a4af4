#!/usr/bin/env bash
# `ustack explain` on two real captures, each held to tshark's reading of the same file: the
# mini-browser's own pcap (DHCP, ARP, DNS and its walk, six connections) and a capture the Linux
# kernel made with tcpdump while curl fetched the page in the client namespace. The ladder has one
# arrow per frame, the JSON record agrees with tshark, and headless Chromium draws the ladder
# (a screenshot that is not blank).
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin directory of the build}"
work=$(mktemp -d /tmp/ustack-explain-test.XXXXXX)
chmod 0777 "$work"
tcpdump_pid=
cleanup() {
  if [[ -n $tcpdump_pid ]]; then kill "$tcpdump_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
hints=$STATE/unbound/root.hints
explain() { timeout 60 "$USTACK_BIN/ustack" explain "$@"; }
ts() { tshark -r "$1" -Y "$2" -T fields -e frame.number 2>/dev/null | tr '\n' ' ' | sed 's/ $//'; }

# check_capture LABEL PCAP NARRATION SVG JSON: what every explained capture must agree on with tshark.
check_capture() {
  local label=$1 pcap=$2 narration=$3 svg=$4 json=$5
  local frames arrows syns gets
  frames=$(tshark -r "$pcap" 2>/dev/null | wc -l)
  arrows=$(grep -o 'class="arrow"' "$svg" | wc -l || true)
  ((frames > 0 && arrows == frames)) || fail "$label: the ladder has $arrows arrows for $frames frames"
  # Every SYN, first FIN and request tshark sees is cited with its frame number.
  syns=$(ts "$pcap" 'tcp.flags.syn==1 && tcp.flags.ack==0')
  [[ -n $syns ]] || fail "$label: tshark sees no SYN"
  for f in $syns; do expect_match "$label: SYN frame $f" "$narration" "\[frame $f\] TCP #[0-9]+ → SYN: client ISN"; done
  gets=$(ts "$pcap" 'http.request.method == "GET"')
  for f in $gets; do expect_match "$label: GET frame $f" "$narration" "\[frame $f\] TCP #[0-9]+ > GET "; done
  # Who closed first: per TCP stream, the first FIN's frame and its sender (tshark), against ours.
  local stream first src want_side
  while read -r stream; do
    first=$(tshark -r "$pcap" -Y "tcp.stream == $stream && tcp.flags.fin == 1" -T fields -e frame.number -e ip.src 2>/dev/null | head -1)
    [[ -n $first ]] || continue
    src=${first#*$'\t'}
    first=${first%%$'\t'*}
    want_side=server
    if [[ $src == "$us" ]]; then want_side=client; fi
    expect_match "$label: first FIN of stream $stream" "$narration" "\[frame $first\] TCP #[0-9]+: the $want_side ${src//./\\.} sends the first FIN"
  done < <(tshark -r "$pcap" -Y tcp -T fields -e tcp.stream 2>/dev/null | sort -nu)
  # The JSON record: parseable, one connection per tshark stream, one HTTP exchange per GET.
  local retrans
  retrans=$(tshark -r "$pcap" -Y 'tcp.analysis.retransmission || tcp.analysis.fast_retransmission' 2>/dev/null | wc -l)
  python3 - "$json" "$(tshark -r "$pcap" -Y tcp -T fields -e tcp.stream 2>/dev/null | sort -u | wc -l)" \
    "$(wc -w <<<"$gets")" "$frames" "$retrans" <<'EOF' || fail "$label: the JSON record disagrees with tshark"
import json, sys
rec = json.load(open(sys.argv[1]))
streams, gets, frames, retrans = (int(x) for x in sys.argv[2:6])
ours = sum(c["retransmissions"] for c in rec["connections"])
assert ours == retrans, f"retransmitted segments: ours {ours}, tshark {retrans}"
assert rec["frames"] == frames, (rec["frames"], frames)
assert len(rec["connections"]) == streams, (len(rec["connections"]), streams)
assert sum(1 for x in rec["http"] if x["method"] == "GET") == gets, rec["http"]
for c in rec["connections"]:
    assert c["handshake"]["syn_frame"] is not None, c
EOF
  pass "$label: $frames frames, $arrows arrows; SYNs ($syns), GETs, first FINs and the JSON agree with tshark"
}

# --- 1. our own capture: the mini-browser at level 7 with the walk -------------------------------
timeout 120 "$SANDBOX" exec "$USTACK_BIN/minibrowser" --level 7 --root-hints "$hints" --pcap "$work/mb.pcap" \
  http://www.domain.com/ >/dev/null 2>"$work/mb-narration.txt" || { cat "$work/mb-narration.txt" >&2; fail "minibrowser failed"; }
narration=$(explain "$work/mb.pcap" --ladder "$work/mb.svg" --json "$work/mb.json") || fail "explain failed on our own pcap"
us=$(tshark -r "$work/mb.pcap" -Y 'tcp.flags.syn==1 && tcp.flags.ack==0' -T fields -e ip.src 2>/dev/null | head -1)
check_capture "our pcap" "$work/mb.pcap" "$narration" "$work/mb.svg" "$work/mb.json"
ack=$(ts "$work/mb.pcap" 'dhcp.option.dhcp == 5')
[[ -n $ack ]] || fail "tshark finds no DHCPACK in our pcap"
expect_match "DHCPACK frame" "$narration" "\[frame ${ack%% *}\] DHCP: DHCPACK from 10\.77\.0\.1: ${us//./\\.}"
expect_match "DNS resolver" "$narration" 'DNS: asked resolver 198\.51\.100\.53 \(recursion desired'
# The root's name is in the root hints, not in the capture: the capture names it by address.
expect_match "walk: root" "$narration" 'DNS walk: asked root 198\.51\.100\.1 \(no recursion\)'
expect_match "walk: TLD named by the root's glue" "$narration" 'DNS walk: asked TLD ns1\.nic\.com\. 198\.51\.100\.2 \(no recursion\)'
expect_match "walk: TLD referral" "$narration" 'DNS: TLD answered in [0-9.]+ ms: NOERROR, a referral to domain\.com\.'
expect_match "walk: authoritative" "$narration" 'DNS: authoritative answered in [0-9.]+ ms: NOERROR, 203\.0\.113\.80, TTL [0-9]+ s \(authoritative\)'
expect_match "TIME-WAIT" "$narration" 'is in TIME-WAIT from here'
expect_match "level 1" "$(explain "$work/mb.pcap" --level 1 | tail -n +2)" '^\[L1 +[0-9.]+ ms\] 10\.77\.0\.[0-9]+ asked for http://www\.domain\.com/ → the page came back \(200 OK'
((  $(explain "$work/mb.pcap" --level 1 | wc -l) == 2 )) || fail "level 1 is more than one line (after the file line)"
grep -q 'TIME-WAIT #1' "$work/mb.svg" || fail "the ladder does not draw TIME-WAIT"
explain "$work/mb.pcap" --level 1 --ladder "$work/mb.html" >/dev/null || fail "explain --ladder FILE.html failed"
grep -q '^<!DOCTYPE html>' "$work/mb.html" || fail "the .html ladder is not an HTML page"
(( $(grep -o 'class="arrow"' "$work/mb.html" | wc -l) == $(grep -o 'class="arrow"' "$work/mb.svg" | wc -l) )) ||
  fail "the .html ladder has not the same arrows as the SVG"
for col in '>us<' '>router<' '>resolver<' '>root<' '>TLD<' '>authoritative<' '>web server #1<'; do
  grep -q -- "$col" "$work/mb.svg" || fail "the ladder has no column $col"
done
pass "our pcap: DHCP, the resolver, the walk (root, TLD, authoritative), TIME-WAIT; ladder columns us..web server"

# --- 2. a kernel-made capture: tcpdump in the client namespace while curl fetches the page -------
ip netns exec "$USTACK_SANDBOX-client" tcpdump -i lan0 --immediate-mode -U -n -w "$work/curl.pcap" 'not ip6' 2>"$work/tcpdump.err" &
tcpdump_pid=$!
for _ in $(seq 50); do grep -q 'listening on' "$work/tcpdump.err" && break; sleep 0.1; done
ip netns exec "$USTACK_SANDBOX-client" ip neigh flush dev lan0 2>/dev/null || true
sb --client curl -sS --max-time 10 -o /dev/null http://www.domain.com/ || fail "curl in the client namespace failed"
sleep 0.5
kill "$tcpdump_pid"; wait "$tcpdump_pid" 2>/dev/null || true; tcpdump_pid=
narration=$(explain "$work/curl.pcap" --ladder "$work/curl.svg" --json "$work/curl.json") || fail "explain failed on the kernel's capture"
us=10.78.0.10
check_capture "kernel capture" "$work/curl.pcap" "$narration" "$work/curl.svg" "$work/curl.json"
expect_match "curl's DNS" "$narration" 'DNS: asked resolver 198\.51\.100\.53 .*A\? www\.domain\.com\.'
expect_match "curl's GET" "$narration" 'TCP #1 > GET / HTTP/1\.1 \(Host: www\.domain\.com\)'
expect_match "the page" "$narration" 'TCP #1 < 200 OK'
pass "kernel capture of curl: $(tshark -r "$work/curl.pcap" 2>/dev/null | wc -l) frames explained"

# --- 3. broken captures: one line, exit 1, never a crash -----------------------------------------
head -c 100 "$work/mb.pcap" >"$work/cut.pcap"
out=$(explain "$work/cut.pcap" 2>&1) && fail "a cut capture was accepted"
[[ $(wc -l <<<"$out") -eq 1 ]] || fail "a cut capture gave more than one line: $out"
expect_match "cut capture" "$out" 'cut\.pcap: record 1 .*the capture was cut off'
printf 'not a capture\n' >"$work/text.pcap"
out=$(explain "$work/text.pcap" 2>&1) && fail "a text file was accepted"
expect_match "not a capture" "$out" 'not a pcap or pcapng file'
pass "a cut capture and a text file: one line each"

# --- 4. the ladder in headless Chromium: a screenshot that is not blank --------------------------
chrome=$(command -v chromium-headless-shell || command -v chromium || true)
[[ -n $chrome ]] || fail "no chromium-headless-shell or chromium (tools/test installs Debian's chromium-headless-shell)"
timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1000 \
  --screenshot="$work/ladder.png" "file://$work/mb.svg" >/dev/null 2>&1 || fail "chromium could not render the ladder"
python3 - "$work/ladder.png" <<'EOF' || fail "the screenshot of the ladder is blank"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, w, h = 8, b"", 0, 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, colour = struct.unpack(">IIBB", body[:10])
        assert depth == 8 and colour in (2, 6), (depth, colour)
        bpp = 3 if colour == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
dark = 0
colours = set()
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]
        c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        px = tuple(line[x:x + 3])
        colours.add(px)
        if sum(px) < 600: dark += 1
    prev = line
print(f"{w}x{h}, {dark} drawn pixels, {len(colours)} colours")
assert dark > 2000 and len(colours) > 8
EOF
pass "headless Chromium drew the ladder: the screenshot is not blank"
