#!/usr/bin/env bash
# The level-6 narration and its summary agree on retransmissions, and both agree with the pcap:
# every segment the pcap shows sent again (data that starts before the bytes its side had already
# sent in order, or a SYN, SYN+ACK or FIN seen before) has its own line — ours from the stack's
# retransmission event ("→ retransmission of frame M"), the server's from the frame ("← retransmission
# of frame M") — and the summary's "#n retransmitted: … by the client (frames …), … by the server
# (frames …)" counts exactly those lines. The set is computed here from tshark's fields with the
# same rule, each frame is one tshark itself calls a retransmission, and no line names a frame
# that is not one. Runs with the fault injector dropping 8 % of the frames each way (fixed seeds).
# Address 10.77.0.58.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"
work=$(mktemp -d /tmp/ustack-retx-truth.XXXXXX)
chmod 0777 "$work"
trap 'rm -rf "$work"' EXIT

# frames_by_rule PCAP: "frame side" for each segment sent again, side "client" or "server".
frames_by_rule() {
  tshark -r "$1" -Y tcp -T fields -E separator=' ' -e frame.number -e tcp.stream -e ip.src -e tcp.seq -e tcp.len \
    -e tcp.flags.syn -e tcp.flags.fin -e tcp.flags.ack -e tcp.srcport 2>/dev/null | awk '
    function t(v) { return v == "1" || v == "True" }
    {
      f = $1; k = $2 SUBSEP $3; seq = $4 + 0; len = $5 + 0; syn = t($6); fin = t($7); ack = t($8)
      if (syn && !ack) client[$2] = $3
      side = (client[$2] == $3) ? "client" : "server"
      again = 0
      if (syn) { if (k in synseen) again = 1; synseen[k] = 1 }
      if (len > 0) {
        b = seq - 1; e = b + len; n = nxt[k] + 0
        if (b < n) again = 1
        if (b <= n && e > n) {
          nxt[k] = e
          do { moved = 0; for (a in ahead) { split(a, p, SUBSEP); if (p[1] SUBSEP p[2] == k && p[3] <= nxt[k]) {
                 if (ahead[a] > nxt[k]) nxt[k] = ahead[a]; delete ahead[a]; moved = 1 } } } while (moved)
        } else if (b > n) {
          if (ahead[k, b] < e) ahead[k, b] = e
        }
      }
      if (fin) {
        fs = seq + len
        if (len == 0 && (k in finseq) && finseq[k] == fs) again = 1
        if (!(k in finseq)) finseq[k] = fs
      }
      if (again) print f, side
    }'
}

runs=0 ours_total=0 theirs_total=0
for seed in 1 2 3 4 5 6 7 8; do
  pcap=$work/run$seed.pcap
  timeout 120 "$SANDBOX" exec "$USTACK_BIN/minibrowser" --no-color --level 6 --ip 10.77.0.58/24 --gateway 10.77.0.1 \
    --dns 198.51.100.53 --drop-chance 0.08 --seed "$seed" --pcap "$pcap" http://www.domain.com/ \
    >/dev/null 2>"$work/n$seed.txt" || continue
  unwrap_file "$work/n$seed.txt"
  n=$(cat "$work/n$seed.txt")
  runs=$((runs + 1))
  # A retransmission of ours that names no frame would escape the comparison.
  expect_no_match "seed $seed: every retransmission of ours cites its frame" "$n" 'TCP( #[0-9]+)?: retransmission of seq '
  ours=$(sed -nE 's/.*TCP( #[0-9]+)? \[frame ([0-9]+)\] → retransmission of frame [0-9]+ .*/\2 client/p' <<<"$n")
  theirs=$(sed -nE 's/.*TCP( #[0-9]+)? \[frame ([0-9]+)\] ← (SYN\+ACK again: |FIN again: )?retransmission of (frame [0-9]+|data we already had).*/\2 server/p' <<<"$n")
  said=$(printf '%s\n%s\n' "$ours" "$theirs" | sed '/^$/d' | sort -n)
  want=$(frames_by_rule "$pcap" | sort -n)
  [[ $said == "$want" ]] || {
    printf '%s\n' "$n" | grep -E 'retransm' >&2
    fail "seed $seed: the narration's retransmissions ($(tr '\n' ' ' <<<"$said")) are not the pcap's ($(tr '\n' ' ' <<<"$want"))"
  }
  # Each is one tshark calls a retransmission too (of any kind).
  while read -r f _; do
    [[ -z $f ]] && continue
    flagged=$(tshark -r "$pcap" -Y "frame.number == $f && (tcp.analysis.retransmission || tcp.analysis.fast_retransmission || tcp.analysis.spurious_retransmission)" -T fields -e frame.number 2>/dev/null)
    [[ $flagged == "$f" ]] || fail "seed $seed: frame $f is narrated as a retransmission; tshark does not call it one"
  done <<<"$said"
  # The summary: per side, the count and the frames it lists are the lines'.
  # (awk, not grep: a pattern that matches nothing is no error here)
  c_sum=$(awk 'match($0, /retransmitted: [0-9]+ segments? by the client/) { split(substr($0, RSTART + 15), w, " "); s += w[1] }
               END { print s + 0 }' <<<"$n")
  s_sum=$(awk '/retransmitted: / && match($0, /[0-9]+( segments?)? by the server/) { split(substr($0, RSTART), w, " "); s += w[1] }
               END { print s + 0 }' <<<"$n")
  c_said=$(grep -c ' client$' <<<"$said" || true)
  s_said=$(grep -c ' server$' <<<"$said" || true)
  [[ $c_sum == "$c_said" && $s_sum == "$s_said" ]] || {
    grep -E 'retransm' <<<"$n" >&2
    fail "seed $seed: the summary counts $c_sum by the client and $s_sum by the server; the lines say $c_said and $s_said"
  }
  if ((c_said + s_said == 0)); then
    expect_no_match "seed $seed: no retransmission, none in the summary" "$n" 'retransmitted'
  fi
  listed=$(awk '/ retransmitted: / { while (match($0, /\(frames? [0-9, …]+\)/)) { t = substr($0, RSTART, RLENGTH); gsub(/[^0-9]+/, " ", t);
               print t; $0 = substr($0, RSTART + RLENGTH) } }' <<<"$n" | tr ' ' '\n' | sed '/^$/d' | sort -n)
  for f in $listed; do grep -qE "^$f " <<<"$said" || fail "seed $seed: the summary lists frame $f, which no line narrates as a retransmission"; done
  ours_total=$((ours_total + c_said)) theirs_total=$((theirs_total + s_said))
  note "seed $seed: $c_said retransmission(s) by us, $s_said by the server, as the pcap has them"
done
((runs >= 5)) || fail "only $runs of 8 runs at 8 % loss completed"
((ours_total > 0)) || fail "no retransmission of ours in $runs runs at 8 % loss: the comparison was not exercised"
((theirs_total > 0)) || fail "no retransmission by the server in $runs runs at 8 % loss: the comparison was not exercised"
pass "$runs runs at 8 % loss: $ours_total retransmission(s) of ours and $theirs_total of the server's, each narrated with its frame, counted by the summary, and the pcap's"
