#!/usr/bin/env bash
# The narration says what happened and only that: each claim below is held to the pcap (tshark)
# or to the files the run used. Level 1 is one line; level 3 says why port 80; the resolver is
# "learned from DHCP" only when DHCP gave it; the hosts file is counted as it is; an unreadable
# --hosts is an error; a retransmission names the frame it repeats and the time that really
# passed; a FIN that acknowledges the other FIN is called a three-segment close, one that follows
# a separate ACK a four-segment close; TIME-WAIT is said to end with the program; --ladder and
# --json draw the run's own capture.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin directory of the build}"
work=$(mktemp -d /tmp/ustack-truth-test.XXXXXX)
chmod 0777 "$work"
trap 'rm -rf "$work"' EXIT
mb() { timeout 120 "$SANDBOX" exec "$USTACK_BIN/minibrowser" "$@"; }
tf() { tshark -r "$1" -Y "$2" -T fields "${@:3}" 2>/dev/null; }

# --- 1. one level-7 run with a hosts file that does not name the host -----------------------------
printf '127.0.0.1\tlocalhost box\n10.9.9.9\tother.example\n::1\tlocalhost ip6-localhost\n' >"$work/hosts"
chmod 0644 "$work/hosts"
mb --level 7 --hosts "$work/hosts" --pcap "$work/mb.pcap" --ladder "$work/mb.svg" --json "$work/mb.json" \
  http://www.domain.com/ >"$work/page.txt" 2>"$work/narration.txt" || { cat "$work/narration.txt" >&2; fail "minibrowser failed"; }
unwrap_file "$work/narration.txt"
narration=$(cat "$work/narration.txt")
pcap=$work/mb.pcap

# Level 1: one line, and the page it announces is the 200 the pcap carries.
l1=$(grep -c '^\[L1 ' "$work/narration.txt" || true)
((l1 == 1)) || fail "level 1 said $l1 lines, expected 1"
title=$(sb --client curl -sS http://www.domain.com/ | grep -oE '<title>[^<]*' | sed 's/<title>//')
[[ -n $title ]] || fail "the page has no <title> (curl)"
expect_match "level 1" "$narration" "^\[L1 +[0-9.]+ ms\] you typed http://www\.domain\.com/ → the page appears: \"${title//./\\.}\""
[[ $(tf "$pcap" 'http.request.uri == "/"' -e http.request.method | head -1) == GET ]] || fail "no GET / in the pcap"
[[ $(tf "$pcap" 'http.response.code == 200 && http.response_for.uri == "http://www.domain.com/"' -e frame.number | head -1) =~ ^[0-9]+$ ]] ||
  fail "no 200 for / in the pcap"
one_line=$(timeout 120 "$SANDBOX" exec "$USTACK_BIN/minibrowser" http://www.domain.com/ 2>&1 >/dev/null)
[[ $(wc -l <<<"$one_line") -eq 1 ]] || fail "minibrowser at level 1 printed more than one line: $one_line"
pass "level 1: one line ($one_line), and the pcap has the GET / and its 200"

# Level 3: why port 80, and the SYNs go to port 80.
expect_match "port reason" "$narration" "connecting to 203\.0\.113\.80 port 80 \(http's default port is 80; https's is 443; a port in the URL would override it\)"
ports=$(tf "$pcap" 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -e tcp.dstport | sort -u | tr '\n' ' ')
[[ $ports == "80 " ]] || fail "our SYNs went to port(s) $ports, the narration says 80"
pass "level 3: port 80 is http's default, and every SYN in the pcap goes to 80"

# Level 6: the pool's limit is a setting, not a rule, and the pcap stays within it.
expect_match "pool limit is practice" "$narration" "pool: a limit per host is browser practice \(6 in today's browsers; here --max-per-host, 6\), not a protocol rule: RFC 2616 §8\.1\.4 suggested 2, RFC 9112 §9\.4 sets no number"
syns=$(tf "$pcap" 'ip.dst == 203.0.113.80 && tcp.flags.syn == 1 && tcp.flags.ack == 0' -e tcp.stream | sort -u | wc -l)
((syns >= 1 && syns <= 6)) || fail "the pcap shows $syns connections to the web server; the limit is 6"
pass "level 6: six per host is named browser practice; the pcap opens $syns connection(s)"

# The resolver: learned from DHCP, and it is the DNS option of the DHCPACK in the pcap.
expect_match "resolver from DHCP" "$narration" 'DNS: asking the resolver 198\.51\.100\.53 \(learned from DHCP\)'
dhcp_dns=$(tf "$pcap" 'dhcp.option.dhcp == 5' -e dhcp.option.domain_name_server | head -1)
[[ $dhcp_dns == 198.51.100.53 ]] || fail "the DHCPACK in the pcap gives DNS '$dhcp_dns', the narration 198.51.100.53"
pass "the resolver 198.51.100.53 is the DHCPACK's DNS option (frame $(tf "$pcap" 'dhcp.option.dhcp == 5' -e frame.number | head -1))"

# The hosts file: counted as it is (3 names on 2 IPv4 lines, one IPv6 line), then DNS is asked.
expect_match "hosts count" "$narration" "hosts file: www\.domain\.com is not in ${work//./\\.}/hosts \(3 names on 2 IPv4 lines, 1 IPv6 line\(s\) skipped\); asking DNS"
[[ -n $(tf "$pcap" 'dns.flags.response == 0 && dns.qry.name == "www.domain.com"' -e frame.number) ]] ||
  fail "the narration says DNS was asked, the pcap has no query for www.domain.com"
pass "hosts file: 3 names on 2 IPv4 lines (the file), and the pcap has the DNS query that followed"

# The close, segment by segment: each FIN narrated as a three- or four-segment close is checked
# against the ACK number it carries in the pcap and the FIN it answers.
closes=0
while read -r frame kind; do
  read -r stream ack fin_src < <(tf "$pcap" "frame.number == $frame" -e tcp.stream -e tcp.ack_raw -e ip.src)
  read -r other_seq other_len < <(tf "$pcap" "tcp.stream == $stream && tcp.flags.fin == 1 && ip.src != $fin_src" -e tcp.seq_raw -e tcp.len | head -1)
  [[ -n $other_seq ]] || fail "frame $frame: no earlier FIN from the other side in stream $stream"
  want=$(( (other_seq + other_len + 1) % 4294967296 ))
  acked_before=$(tf "$pcap" "tcp.stream == $stream && ip.src == $fin_src && tcp.ack_raw == $want && tcp.flags.fin == 0 && frame.number < $frame" -e frame.number | head -1)
  if [[ $kind == three ]]; then
    ((ack == want)) || fail "frame $frame is narrated as a three-segment close but acknowledges $ack, not the other FIN ($want)"
    [[ -z $acked_before ]] || fail "frame $frame is narrated as a three-segment close but frame $acked_before acknowledged the FIN before it"
  else
    [[ -n $acked_before ]] || fail "frame $frame is narrated as a four-segment close but no separate ACK of the other FIN precedes it"
  fi
  closes=$((closes + 1))
done < <(grep -oE '\[frame [0-9]+\] [←→] FIN(\+ACK, also acking the other FIN: a three| after a separate ACK of the other FIN: a four)' \
           "$work/narration.txt" | sed -E 's/\[frame ([0-9]+)\].*(three|four)$/\1 \2/')
((closes >= 1)) || fail "no second FIN narrated"
pass "close: $closes second FIN(s) named three- or four-segment as their ACK numbers in the pcap say"

# TIME-WAIT: said for every connection on which we sent the first FIN (the pcap), and said to end
# with the program.
ours_first=0
while read -r stream; do
  first_src=$(tf "$pcap" "tcp.stream == $stream && tcp.flags.fin == 1" -e ip.src | head -1)
  [[ $first_src == 10.77.0.* ]] && ours_first=$((ours_first + 1))
done < <(tf "$pcap" tcp -e tcp.stream | sort -nu)
tw=$(grep -c 'is in TIME-WAIT (we sent the first FIN): .* this program exits when the page is done, so its TIME-WAIT ends with it' "$work/narration.txt" || true)
((tw == ours_first && tw > 0)) || fail "TIME-WAIT narrated for $tw connections; we sent the first FIN on $ours_first (pcap)"
expect_no_match "no claim to hold the entry" "$narration" 'we hold the 4-tuple'
pass "TIME-WAIT: $tw connection(s), as many as we closed first in the pcap; said to end with the program"

expect_match "where the frames are" "$narration" "capture: every frame goes to ${pcap//./\\.}$"
expect_match "where the frames are: [frame N]" "$narration" "capture: \\[frame N\\] below is a frame's number in it, as Wireshark shows it$"

# Levels 6-7 end with the table of connections: one row per TCP stream of the pcap, each with the
# local port of that stream's SYN and the side that sent its first FIN.
rows=$(grep -E '^\[L6 +[0-9.]+ ms\]   #[0-9]+ port [0-9]+: ' "$work/narration.txt" || true)
streams=$(tf "$pcap" tcp -e tcp.stream | sort -u | wc -l)
(( $(wc -l <<<"$rows") == streams )) || fail "the table has $(wc -l <<<"$rows") rows; the pcap has $streams TCP streams"
for port in $(tf "$pcap" 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -e tcp.srcport); do
  grep -qE "port $port: .* first FIN: client," <<<"$rows" || fail "no table row for the connection from port $port closed first by us: $rows"
done
expect_match "steps' times" "$narration" '\] times: DHCP [0-9.]+ ms \(frames [0-9]+-[0-9]+\), DNS [0-9.]+ ms .*handshake #1 [0-9.]+ ms'
pass "the table at the end: $streams rows, one per TCP stream of the pcap, with its port and who closed first"

# --ladder / --json of the run's own capture.
frames=$(tshark -r "$pcap" 2>/dev/null | wc -l)
arrows=$(grep -o 'class="arrow"' "$work/mb.svg" | wc -l || true)
((arrows == frames)) || fail "the run's ladder has $arrows arrows for $frames frames"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["frames"]==int(sys.argv[2]), r["frames"]' "$work/mb.json" "$frames" ||
  fail "the run's JSON record does not count $frames frames"
# Without --pcap, a temporary capture serves and is removed.
before=$(find /tmp -maxdepth 1 -name 'minibrowser-*.pcap' | wc -l)
mb --ladder "$work/nopcap.svg" http://www.domain.com/ >/dev/null 2>&1 || fail "--ladder without --pcap failed"
(( $(grep -o 'class="arrow"' "$work/nopcap.svg" | wc -l || true) > 10 )) || fail "--ladder without --pcap drew no run"
(( $(find /tmp -maxdepth 1 -name 'minibrowser-*.pcap' | wc -l) == before )) || fail "the temporary capture was left behind"
pass "--ladder/--json: $arrows arrows and a JSON record of $frames frames (the pcap's); without --pcap no file left"

# --- 2. --dns with DHCP: the narration names --dns, and the queries go there -------------------------
mb --level 5 --dns 198.51.100.53 --pcap "$work/dns.pcap" http://www.domain.com/ >/dev/null 2>"$work/dns.txt" || fail "minibrowser --dns failed"
expect_match "resolver from --dns" "$(cat "$work/dns.txt")" 'DNS: asking the resolver 198\.51\.100\.53 \(given with --dns\)'
expect_no_match "not from DHCP" "$(cat "$work/dns.txt")" 'learned from DHCP'
[[ $(tf "$work/dns.pcap" 'dns.flags.response == 0 && dns.qry.name == "www.domain.com" && dns.flags.recdesired == 1' -e ip.dst | sort -u) == 198.51.100.53 ]] ||
  fail "the recursive query did not go to 198.51.100.53"
pass "--dns: the narration says so, and the pcap's recursive query goes to 198.51.100.53"

# --- 3. --hosts that cannot be read: one line, exit 2, nothing sent ----------------------------------
rc=0
out=$(mb --pcap "$work/nohosts.pcap" --hosts /nonexistent http://www.domain.com/ 2>&1 >/dev/null) || rc=$?
((rc == 2)) || fail "--hosts /nonexistent exited $rc, expected 2"
[[ $out == 'minibrowser: --hosts: cannot read /nonexistent' ]] || fail "--hosts /nonexistent said: $out"
[[ ! -s $work/nohosts.pcap ]] || fail "--hosts /nonexistent still sent frames"
pass "--hosts /nonexistent: '$out', exit 2, no frame sent"

# --- 4. a retransmission: the frame it repeats and the time that passed, as the pcap says -------------
found=
for seed in 1 2 3 4 5 6 7 8 9 10; do
  mb --level 6 --ip 10.77.0.60/24 --gateway 10.77.0.1 --dns 198.51.100.53 --drop-chance 0.08 --seed "$seed" \
    --pcap "$work/retx.pcap" http://www.domain.com/ >/dev/null 2>"$work/retx.txt" || continue
  unwrap_file "$work/retx.txt"
  line=$(grep -m1 -E 'retransmission of frame [0-9]+ ' "$work/retx.txt" || true)
  if [[ -n $line ]]; then found=$seed; break; fi
done
[[ -n $found ]] || fail "no retransmission in 10 runs at 8 % loss"
frame=$(grep -oE '\[frame [0-9]+\]' <<<"$line" | head -1 | tr -dc 0-9)
orig=$(grep -oE 'retransmission of frame [0-9]+' <<<"$line" | tr -dc 0-9)
said=$(grep -oE 'seq [0-9]+\) [0-9.]+ ms after it' <<<"$line" | awk '{print $3}')
read -r seq_r t_r < <(tf "$work/retx.pcap" "frame.number == $frame" -e tcp.seq_raw -e frame.time_epoch)
read -r seq_o t_o < <(tf "$work/retx.pcap" "frame.number == $orig" -e tcp.seq_raw -e frame.time_epoch)
[[ -n $seq_r && $seq_r == "$seq_o" ]] || fail "frames $frame and $orig do not carry the same sequence number ($seq_r, $seq_o): $line"
python3 -c 'import sys; d=(float(sys.argv[1])-float(sys.argv[2]))*1000; s=float(sys.argv[3]); sys.exit(0 if abs(d-s)<1.0 else 1)' "$t_r" "$t_o" "$said" ||
  fail "the narration says ${said} ms between frames $orig and $frame; the pcap says otherwise: $line"
expect_no_match "no rto from the stack's describe()" "$(cat "$work/retx.txt")" 'retransmit seq [0-9]+ len [0-9]+ \(timeout, rto'
# A timeout names the timer that fired: it ran from the repeated frame or from a later ACK of the
# same connection (an ACK that moves SND.UNA restarts it), and it ended at the retransmission.
rto=$(grep -oE '\(RTO [0-9.]+ ms, counted from the last transmission or the last ACK\)' <<<"$line" | awk '{print $2}' || true)
if [[ -n $rto ]]; then
  stream=$(tf "$work/retx.pcap" "frame.number == $frame" -e tcp.stream)
  # shellcheck disable=SC2046
  python3 - "$t_r" "$rto" "$t_o" $(tf "$work/retx.pcap" "tcp.stream == $stream && ip.src == 203.0.113.80 && frame.number > $orig && frame.number < $frame" -e frame.time_epoch) <<'EOF' ||
import sys
t_r, rto = float(sys.argv[1]), float(sys.argv[2])
assert any(abs((t_r - float(t)) * 1000 - rto) < 20.0 for t in sys.argv[3:]), sys.argv[3:]
EOF
    fail "no transmission or ACK lies ${rto} ms before frame $frame (the RTO the narration names): $line"
fi
pass "retransmission (seed $found): frame $frame repeats frame $orig (same seq $seq_r), ${said} ms later as in the pcap${rto:+; the RTO that fired, $rto ms, ends there as the pcap shows}"
