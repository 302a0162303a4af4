#!/usr/bin/env bash
# Level 6 says each handshake and close segment in plain words that fit a 100-column terminal
# ("SYN: our ISN 268684781, MSS 1460, SACK ok, window scale 2, TS"), each held to its frame in the
# pcap (sequence number, options, the ACK of the handshake); the tcpdump-format line comes only
# with -v, right after its gloss, for the same frame.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin directory of the build}"
work=$(mktemp -d /tmp/ustack-glosses.XXXXXX)
chmod 0777 "$work"
trap 'rm -rf "$work"' EXIT
mb() { timeout 120 "$SANDBOX" exec "$USTACK_BIN/minibrowser" --no-color --level 6 "$@"; }
tf() { tshark -r "$1" -Y "$2" -T fields "${@:3}" 2>/dev/null; }

mb --pcap "$work/g.pcap" http://www.domain.com/ >/dev/null 2>"$work/g.txt" || { cat "$work/g.txt" >&2; fail "minibrowser failed"; }
tcp_lines=$(grep -E '^\[L6 .*\] TCP( #[0-9]+)? \[frame [0-9]+\]' "$work/g.txt")
[[ -n $tcp_lines ]] || fail "no TCP frame lines"
wide=$(LC_ALL=C.UTF-8 bash -c 'while IFS= read -r l; do ((${#l} > 100)) && printf "%s\n" "$l"; done; true' <<<"$tcp_lines")
[[ -z $wide ]] || { printf '%s\n' "$wide" >&2; fail "TCP lines wider than 100 columns"; }
expect_no_match "no tcpdump line without -v" "$tcp_lines" 'Flags \['
pass "$(wc -l <<<"$tcp_lines") TCP frame lines, none wider than 100 columns, no tcpdump format without -v"

pcap=$work/g.pcap
syns=0
while read -r frame arrow kind isn opts; do
  read -r src seq mss sack shift tsval < <(tf "$pcap" "frame.number == $frame" -e ip.src -e tcp.seq_raw -e tcp.options.mss_val \
    -e tcp.options.sack_perm -e tcp.options.wscale.shift -e tcp.options.timestamp.tsval | tr '\t' ' ' | sed 's/  */ /g')
  [[ $seq == "$isn" ]] || fail "frame $frame: narrated ISN $isn, the pcap's sequence number is $seq"
  if [[ $arrow == → ]]; then [[ $src =~ ^10\.77\.0\. ]] || fail "frame $frame is narrated as ours (→) but comes from $src"
  else [[ $src == 203.0.113.80 ]] || fail "frame $frame is narrated as theirs (←) but comes from $src"; fi
  [[ $opts == *"MSS $mss"* ]] || fail "frame $frame: options '$opts', the pcap's MSS is $mss"
  [[ $opts != *"SACK ok"* || -n $sack ]] || fail "frame $frame: SACK ok narrated, not in the pcap"
  [[ $opts != *"window scale"* || $opts == *"window scale $shift"* ]] || fail "frame $frame: '$opts', the pcap's shift is $shift"
  [[ $opts != *", TS"* || -n $tsval ]] || fail "frame $frame: TS narrated, no timestamps option in the pcap"
  syns=$((syns + 1))
done < <(grep -oE '\[frame [0-9]+\] [←→] SYN(\+ACK)?: (our |their )?ISN [0-9]+.*' <<<"$tcp_lines" |
  sed -E 's/^\[frame ([0-9]+)\] ([←→]) (SYN(\+ACK)?): (our |their )?ISN ([0-9]+)(.*)$/\1 \2 \3 \6 \7/')
want=$(tf "$pcap" 'tcp.flags.syn == 1' -e frame.number | wc -l)
((syns == want)) || fail "$syns SYN/SYN+ACK glosses, the pcap has $want SYN segments"
pass "$syns SYN and SYN+ACK glosses: ISN, direction, MSS, SACK, window scale and timestamps as in the pcap"

# The handshake's ACK acknowledges their ISN + 1.
acks=0
for frame in $(grep -oE '\[frame [0-9]+\] → ACK \(handshake complete\): acknowledges their ISN \+ 1' <<<"$tcp_lines" | sed -E 's/^\[frame ([0-9]+)\].*/\1/'); do
  read -r stream ack < <(tf "$pcap" "frame.number == $frame" -e tcp.stream -e tcp.ack_raw)
  their=$(tf "$pcap" "tcp.stream == $stream && tcp.flags.syn == 1 && tcp.flags.ack == 1" -e tcp.seq_raw | head -1)
  ((ack == (their + 1) % 4294967296)) || fail "frame $frame acknowledges $ack, their ISN is $their"
  acks=$((acks + 1))
done
((acks == $(tf "$pcap" 'tcp.flags.syn == 1 && tcp.flags.ack == 1' -e frame.number | wc -l))) || fail "$acks handshake ACKs narrated"
pass "$acks handshake ACKs, each acknowledging the SYN+ACK's ISN + 1 in the pcap"

# -v: the tcpdump line follows its gloss, for the same frame.
mb -v --no-subresources http://www.domain.com/ >/dev/null 2>"$work/v.txt" || { cat "$work/v.txt" >&2; fail "minibrowser -v failed"; }
v=$(grep -E '^\[L6 .*\] TCP( #[0-9]+)? \[frame [0-9]+\]' "$work/v.txt")
pairs=$(awk '
  { match($0, /\[frame [0-9]+\]/); f = substr($0, RSTART, RLENGTH); rest = substr($0, RSTART + RLENGTH) }
  rest ~ /^   IP / { if (f != prev || prevkind != "gloss") { print "orphan " f; exit 1 } n++; prevkind = "dump"; next }
  { prev = f; prevkind = "gloss" }
  END { print n }' <<<"$v") || fail "-v: a tcpdump line does not follow its gloss: $pairs"
((pairs >= 5)) || { printf '%s\n' "$v" >&2; fail "-v: only $pairs tcpdump lines"; }
expect_match "-v SYN" "$v" 'TCP #1 \[frame [0-9]+\]   IP 10\.77\.0\.[0-9]+\.[0-9]+ > 203\.0\.113\.80\.80: Flags \[S\], seq [0-9]+'
pass "-v: $pairs tcpdump lines, each right after the gloss of its frame"
