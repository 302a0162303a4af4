#!/usr/bin/env bash
# DHCP, ARP and DNS lines cite their frames as the TCP lines do ("DHCP [frame 3] ← OFFER from …"),
# and every cited number is the pcap's: the frame is of the kind the line says (the DHCP message
# type and direction, the ARP operation and addresses, the DNS query or reply with its server, name
# and address; a walk step's query and the reply with the same ID), every DHCP and DNS frame and
# every ARP frame we broadcast or were answered with is cited, and no line cites a frame that is
# not its own kind. Without a capture nothing is cited; with --pcap at level 5 the first line says
# where the capture is and the DNS lines cite it. A truncated answer asked again over TCP: each line
# cites its segment (the SYN, the SYN+ACK, the query, the segment that completes the answer, our
# FIN), as tshark reads them.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin directory of the build}"
work=$(mktemp -d /tmp/ustack-frame-cite.XXXXXX)
chmod 0777 "$work"
trap 'rm -rf "$work"' EXIT
mb() { timeout 120 "$SANDBOX" exec "$USTACK_BIN/minibrowser" --no-color --no-subresources "$@"; }
state=/run/ustack-sandbox/$USTACK_SANDBOX

# --- 1. level 7: every DHCP, ARP and DNS line against its frame ----------------------------------
pcap=$work/run.pcap
mb --level 7 --fresh --no-rapid-commit --pcap "$pcap" --root-hints "$state/unbound/root.hints" http://www.domain.com/ \
  >/dev/null 2>"$work/n.txt" || { cat "$work/n.txt" >&2; fail "minibrowser failed"; }
unwrap_file "$work/n.txt"
n=$(cat "$work/n.txt")
# One row per frame: number|srcport|dhcp type|arp op|arp sender ip|arp target ip|arp sender mac|eth dst|ip src|ip dst|dns id|response|qname|first A
declare -A row
while IFS= read -r line; do row[${line%%|*}]=$line; done < <(
  tshark -r "$pcap" -T fields -E separator='|' -E occurrence=f -e frame.number -e udp.srcport -e dhcp.option.dhcp \
    -e arp.opcode -e arp.src.proto_ipv4 -e arp.dst.proto_ipv4 -e arp.src.hw_mac -e eth.dst -e ip.src -e ip.dst \
    -e dns.id -e dns.flags.response -e dns.qry.name -e dns.a 2>/dev/null)
((${#row[@]} > 10)) || fail "tshark read ${#row[@]} frames from $pcap"
field() {  # field FRAME COLUMN (tshark prints the DNS QR flag as 1/0 or True/False, by version)
  local r=${row[$1]:-} v
  [[ -n $r ]] || fail "the narration cites frame $1; the pcap has no such frame"
  v=$(cut -d'|' -f"$2" <<<"$r")
  if [[ $2 == 12 ]]; then case $v in 1) v=True ;; 0) v=False ;; esac; fi
  printf '%s\n' "$v"
}
declare -A cited
cite() { cited[$1]=$(( ${cited[$1]:-0} + 1 )); }

# The lines' shapes (bash regular expressions, kept in variables so that spaces need no escapes).
re_dhcp='DHCP \[frame ([0-9]+)\] (→|←) (DISCOVER|OFFER|REQUEST|ACK|NAK)( from ([0-9.]+))?'
re_probe='DHCP \[frame ([0-9]+)\] → ARP probe(: who has| [0-9]+ for) ([0-9.]+)'
re_whohas='ARP \[frame ([0-9]+)\] who-has ([0-9.]+)\?'
re_isat='ARP \[frame ([0-9]+)\] (reply )?([0-9.]+) is-at ([0-9a-f:]+)'
re_announce='ARP \[frame ([0-9]+)\] gratuitous announcement of ([0-9.]+)'
re_answered='ARP \[frame ([0-9]+)\] answered ([0-9.]+)'
re_query='DNS \[frame ([0-9]+)\] asking ([0-9.]+) for ([^ ]+) '
re_answer='DNS \[frame ([0-9]+)\] ([^ ]+) A ([0-9.]+) .* from ([0-9.]+) in'
re_walk='DNS walk \[frames? ([0-9]+)(, ([0-9]+))?\] asked [^ ]+ \(([0-9.]+)\) for ([^ ]+) '
re_any='\[frames? [0-9]'
dhcp_code() { case $1 in DISCOVER) echo 1 ;; OFFER) echo 2 ;; REQUEST) echo 3 ;; ACK) echo 5 ;; NAK) echo 6 ;; esac; }
checked=0
while IFS= read -r l; do
  if [[ $l =~ $re_dhcp ]]; then
    f=${BASH_REMATCH[1]} dir=${BASH_REMATCH[2]} kind=${BASH_REMATCH[3]} from=${BASH_REMATCH[5]}
    [[ $(field "$f" 3) == "$(dhcp_code "$kind")" ]] || fail "'$l': frame $f is DHCP type '$(field "$f" 3)'"
    if [[ $dir == → ]]; then [[ $(field "$f" 2) == 68 ]] || fail "'$l': frame $f is not from the client port"
    else [[ $(field "$f" 2) == 67 ]] || fail "'$l': frame $f is not from a server"; fi
    [[ -z $from || $(field "$f" 9) == "$from" ]] || fail "'$l': frame $f comes from $(field "$f" 9)"
  elif [[ $l =~ $re_probe ]]; then
    f=${BASH_REMATCH[1]} ip=${BASH_REMATCH[3]}
    [[ $(field "$f" 4) == 1 && $(field "$f" 5) == 0.0.0.0 && $(field "$f" 6) == "$ip" ]] ||
      fail "'$l': frame $f is not an ARP probe for $ip (${row[$f]})"
  elif [[ $l =~ $re_whohas ]]; then
    f=${BASH_REMATCH[1]} ip=${BASH_REMATCH[2]}
    [[ $(field "$f" 4) == 1 && $(field "$f" 6) == "$ip" && $(field "$f" 8) == ff:ff:ff:ff:ff:ff && $(field "$f" 5) =~ ^10\.77\.0\. ]] ||
      fail "'$l': frame $f is not our broadcast who-has $ip (${row[$f]})"
  elif [[ $l =~ $re_isat ]]; then
    f=${BASH_REMATCH[1]} ip=${BASH_REMATCH[3]} mac=${BASH_REMATCH[4]}
    [[ $(field "$f" 5) == "$ip" && $(field "$f" 7) == "$mac" ]] || fail "'$l': frame $f is not from $ip at $mac (${row[$f]})"
    [[ -z ${BASH_REMATCH[2]} || $(field "$f" 4) == 2 ]] || fail "'$l': frame $f is not a reply"
  elif [[ $l =~ $re_announce ]]; then
    f=${BASH_REMATCH[1]} ip=${BASH_REMATCH[2]}
    [[ $(field "$f" 4) == 1 && $(field "$f" 5) == "$ip" && $(field "$f" 6) == "$ip" ]] || fail "'$l': frame $f is not an announcement of $ip"
  elif [[ $l =~ $re_answered ]]; then
    f=${BASH_REMATCH[1]} ip=${BASH_REMATCH[2]}
    [[ $(field "$f" 4) == 2 && $(field "$f" 6) == "$ip" ]] || fail "'$l': frame $f is not our reply to $ip"
  elif [[ $l =~ $re_query ]]; then
    f=${BASH_REMATCH[1]} server=${BASH_REMATCH[2]} name=${BASH_REMATCH[3]}
    [[ $(field "$f" 12) == False && $(field "$f" 10) == "$server" && $(field "$f" 13) == "$name" ]] ||
      fail "'$l': frame $f is not a query to $server for $name (${row[$f]})"
  elif [[ $l =~ $re_answer ]]; then
    f=${BASH_REMATCH[1]} name=${BASH_REMATCH[2]} addr=${BASH_REMATCH[3]} server=${BASH_REMATCH[4]}
    [[ $(field "$f" 12) == True && $(field "$f" 9) == "$server" && $(field "$f" 13) == "$name" && $(field "$f" 14) == "$addr" ]] ||
      fail "'$l': frame $f is not $server's answer $addr for $name (${row[$f]})"
  elif [[ $l =~ $re_walk ]]; then
    q=${BASH_REMATCH[1]} r=${BASH_REMATCH[3]} server=${BASH_REMATCH[4]} name=${BASH_REMATCH[5]%.}
    [[ $(field "$q" 12) == False && $(field "$q" 10) == "$server" && $(field "$q" 13) == "$name" ]] ||
      fail "'$l': frame $q is not a query to $server for $name (${row[$q]})"
    if [[ -z $r ]]; then  # no reply came (a timeout): the line says so
      [[ $l == *"no reply"* ]] || fail "'$l': one frame cited, but the line does not say the reply never came"
      f=$q
    else
      [[ $(field "$r" 12) == True && $(field "$r" 9) == "$server" && $(field "$r" 11) == "$(field "$q" 11)" ]] ||
        fail "'$l': frame $r is not $server's reply to frame $q (${row[$r]})"
      ((r > q)) || fail "'$l': the reply's frame comes before the query's"
      cite "$q"
      f=$r
    fi
  elif [[ $l =~ $re_any && ! $l =~ (TCP|TLS) ]]; then
    fail "a cited line this test does not know: '$l'"
  else
    continue
  fi
  cite "$f"
  checked=$((checked + 1))
done <<<"$n"
((checked >= 12)) || { printf '%s\n' "$n" >&2; fail "only $checked DHCP/ARP/DNS lines cite a frame"; }
pass "$checked DHCP, ARP and DNS lines cite frames, each of the kind, direction, addresses and name the line says"

# Every DHCP and DNS frame is cited, and every ARP frame we broadcast or that answered us; no
# frame is cited by two lines except an ARP reply (its "reply" line and its "resolved" line).
missing=()
while read -r f; do [[ -n ${cited[$f]:-} ]] || missing+=("$f"); done < <(
  tshark -r "$pcap" -Y 'dhcp || dns || (arp && eth.dst == ff:ff:ff:ff:ff:ff && arp.src.proto_ipv4 != 10.77.0.1) || arp.opcode == 2' \
    -T fields -e frame.number 2>/dev/null)
((${#missing[@]} == 0)) || fail "frames never cited: ${missing[*]} ($(for f in "${missing[@]}"; do printf '[%s] ' "${row[$f]}"; done))"
for f in "${!cited[@]}"; do
  ((cited[$f] == 1)) || [[ $(field "$f" 4) == 2 ]] || fail "frame $f is cited by ${cited[$f]} lines"
done
pass "every DHCP and DNS frame of the pcap is cited, and every ARP frame we broadcast or were answered with; none twice"

# --- 2. level 5: no capture, no numbers; --pcap: the first line says where, the DNS lines cite it ---
mb --level 5 --root-hints "$state/unbound/root.hints" http://www.domain.com/ >/dev/null 2>"$work/l5.txt" ||
  { cat "$work/l5.txt" >&2; fail "level 5 failed"; }
expect_no_match "no capture, no numbers" "$(cat "$work/l5.txt")" '\[frames? [0-9]'
expect_no_match "no capture line" "$(cat "$work/l5.txt")" 'capture: '
mb --level 5 --pcap "$work/l5.pcap" --root-hints "$state/unbound/root.hints" http://www.domain.com/ >/dev/null 2>"$work/l5p.txt" ||
  { cat "$work/l5p.txt" >&2; fail "level 5 --pcap failed"; }
l5p=$(cat "$work/l5p.txt")
expect_match "capture line" "$l5p" "capture: every frame goes to ${work//./\\.}/l5\.pcap$"
expect_match "capture line: [frame N]" "$l5p" "capture: \\[frame N\\] below is a frame's number in it, as Wireshark shows it$"
q=$(sed -nE 's/.*DNS \[frame ([0-9]+)\] asking 198\.51\.100\.53 for www\.domain\.com A$/\1/p' <<<"$l5p" | head -1)
[[ -n $q ]] || { printf '%s\n' "$l5p" >&2; fail "level 5 --pcap: the query line cites no frame"; }
[[ $(tshark -r "$work/l5.pcap" -Y "frame.number == $q && dns.flags.response == 0 && ip.dst == 198.51.100.53" -T fields -e dns.qry.name 2>/dev/null) == www.domain.com ]] ||
  fail "level 5 --pcap: frame $q is not the query for www.domain.com"
pass "level 5: nothing cited without a capture; with --pcap the capture is named and the query cites frame $q, as the pcap has it"

# --- 3. a truncated answer asked again over TCP (RFC 7766): each line cites its segment -------------
# big.domain.com has 100 A records (tests/net/test_resolve_tcp.sh): the resolver's UDP answer has
# TC=1 and the query goes again over our TCP. Its addresses (198.18.0.0/15) lead nowhere: the page
# itself is not the point (its SYNs go unanswered): the run is stopped after 6 s (SIGTERM; the
# capture is written as the program exits) and only its DNS lines are read.
rc=0
timeout 6 "$SANDBOX" exec "$USTACK_BIN/minibrowser" --no-color --no-subresources --level 5 --pcap "$work/tc.pcap" \
  --ip 10.77.0.72/24 --gateway 10.77.0.1 --dns 198.51.100.53 http://big.domain.com/ >/dev/null 2>"$work/tc.txt" || rc=$?
tc=$(cat "$work/tc.txt")
[[ -s $work/tc.pcap ]] || { printf '%s\n' "$tc" >&2; fail "big.domain.com: no capture (exit $rc)"; }
# cite_of LABEL REGEX: the frame number the line matching REGEX (after "DNS [frame N] ") cites.
cite_of() {
  local n
  n=$(sed -nE "s/^\[L5 +[0-9.]+ ms\] DNS \[frame ([0-9]+)\] $2/\1/p" <<<"$tc" | head -1)
  [[ -n $n ]] || { printf '%s\n' "$tc" >&2; fail "big.domain.com: no cited line for $1"; }
  printf '%s' "$n"
}
is_frame() {  # is_frame LABEL FRAME FILTER: FRAME is the only frame FILTER selects, as tshark reads it
  local got
  got=$(tshark -r "$work/tc.pcap" -Y "$3" -T fields -e frame.number 2>/dev/null | tr '\n' ' ')
  [[ $got == "$2 " ]] || fail "big.domain.com: $1 cites frame $2; tshark finds '$got' for $3"
}
peer='ip.addr == 198.51.100.53 && ip.addr == 10.77.0.72'
f=$(cite_of "TC=1" 'answer truncated \(TC=1\) from 198\.51\.100\.53 for big\.domain\.com: retrying over TCP$')
is_frame "TC=1" "$f" "$peer && udp.srcport == 53 && dns.flags.truncated == 1"
f=$(cite_of "connecting" 'connecting to 198\.51\.100\.53:53 over TCP \(RFC 7766\)$')
is_frame "connecting" "$f" "$peer && tcp.dstport == 53 && tcp.flags.syn == 1 && tcp.flags.ack == 0"
f=$(cite_of "established" 'TCP connection to 198\.51\.100\.53:53 established in [0-9.]+ ms$')
is_frame "established" "$f" "$peer && tcp.srcport == 53 && tcp.flags.syn == 1 && tcp.flags.ack == 1"
f=$(cite_of "query over TCP" 'asking 198\.51\.100\.53 for big\.domain\.com A over TCP$')
is_frame "query over TCP" "$f" "$peer && tcp.dstport == 53 && dns.flags.response == 0 && dns.qry.name == \"big.domain.com\""
f=$(cite_of "answer over TCP" 'big\.domain\.com A 198\.18\.0\.[0-9]+ .* from 198\.51\.100\.53 over TCP in [0-9.]+ ms$')
is_frame "answer over TCP" "$f" "$peer && tcp.srcport == 53 && dns.flags.response == 1 && dns.count.answers == 100"
segs=$(tshark -r "$work/tc.pcap" -Y "$peer && tcp.srcport == 53 && tcp.len > 0" 2>/dev/null | wc -l)
f=$(cite_of "closing" 'closing the TCP connection to 198\.51\.100\.53:53$')
is_frame "closing" "$f" "$peer && tcp.dstport == 53 && tcp.flags.fin == 1"
# The walk's step to ns1.domain.com, truncated too and asked again over TCP: the UDP query and its
# TC=1 reply, then the segment with the query over TCP and the one that completes the reply.
walk=$(grep -E '^\[L5 +[0-9.]+ ms\] DNS walk \[frames [0-9, ]+\] asked ns1\.domain\.com\. \(198\.51\.100\.3\) for big\.domain\.com\.' <<<"$tc") ||
  { printf '%s\n' "$tc" >&2; fail "big.domain.com: no cited walk step to ns1.domain.com"; }
read -r wq wtc wtq wta <<<"$(grep -oE '\[frames [0-9, ]+\]' <<<"$walk" | tr -dc '0-9 ')"
wpeer='ip.addr == 198.51.100.3 && ip.addr == 10.77.0.72'
is_frame "the walk's UDP query" "$wq" "$wpeer && udp.dstport == 53 && dns.qry.name == \"big.domain.com\""
is_frame "the walk's TC=1 reply" "$wtc" "$wpeer && udp.srcport == 53 && dns.flags.truncated == 1"
is_frame "the walk's query over TCP" "$wtq" "$wpeer && tcp.dstport == 53 && dns.flags.response == 0"
is_frame "the walk's answer over TCP" "$wta" "$wpeer && tcp.srcport == 53 && dns.flags.response == 1 && dns.count.answers == 100"
pass "big.domain.com: TC=1, then over TCP the SYN, SYN+ACK, query, answer (in $segs data segment(s); the cited one completes it) and our FIN, each cited with its frame; the walk's step to ns1.domain.com cites frames $wq, $wtc, $wtq, $wta"
