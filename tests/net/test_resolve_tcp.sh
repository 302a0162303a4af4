#!/usr/bin/env bash
# DNS on the real wire, the two cases test_resolve.sh leaves out:
#  - the TCP fallback (RFC 7766 §5, RFC 1035 §4.2.1): big.domain.com has 100 A records (~1.6 KB),
#    more than the 1232-octet EDNS payload we offer, so unbound answers over UDP with TC=1 and
#    c-ares asks again over OUR TCP (no kernel socket). Checked in our pcap: the TC=1 datagram, a
#    handshake with 198.51.100.53:53, the answer over TCP, our FIN (a graceful close, no RST);
#    the 100 addresses equal `dig +tcp` from the kernel client; strace: no socket()/connect()
#    after c-ares started; --trace (our own walk, not c-ares) does the same with nsd;
#  - the resolver unreachable: --dns 198.51.100.99 (routed through the NAT, nobody there, no ICMP)
#    ends with exit 6 and "timed out (no reply from 198.51.100.99 after 2 tries)" after c-ares'
#    schedule: timeout T, then 2T (it doubles per pass over the servers) = 3T.
# Addresses 10.77.0.67-69 (test_resolve.sh uses .60-.66). One process on tap0 at a time.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"

work=$(mktemp -d /tmp/ustack-resolve-tcp-test.XXXXXX)
chmod 0777 "$work"   # the stack runs as the invoking user inside the sandbox
trap 'rm -rf "$work"' EXIT

resolve() {
  local ip=$1
  shift
  set +e
  out=$(sb env ASAN_OPTIONS=detect_leaks=0 "$USTACK_BIN/ustack" resolve --ip "10.77.0.$ip/24" --gateway 10.77.0.1 \
    --hosts /dev/null "$@" 2>&1)
  rc=$?
  set -e
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# --- the truncated answer, asked again over our TCP ---------------------------------------------------
resolve 67 --dns 198.51.100.53 --pcap "$work/big.pcap" big.domain.com
((rc == 0)) || { printf '%s\n' "$out" >&2; fail "ustack resolve big.domain.com exited $rc"; }
expect_match "UDP query" "$out" '^DNS: asking 198\.51\.100\.53 for big\.domain\.com A$'
expect_match "TC=1 narrated" "$out" '^DNS: answer truncated \(TC=1\) from 198\.51\.100\.53 for big\.domain\.com: retrying over TCP$'
expect_match "connecting" "$out" '^DNS: connecting to 198\.51\.100\.53:53 over TCP \(RFC 7766\)$'
expect_match "established" "$out" '^DNS: TCP connection to 198\.51\.100\.53:53 established in [0-9.]+ ms$'
expect_match "TCP query" "$out" '^DNS: asking 198\.51\.100\.53 for big\.domain\.com A over TCP$'
expect_match "closing" "$out" '^DNS: closing the TCP connection to 198\.51\.100\.53:53$'
expect_match "over TCP" "$out" '^;; from 198\.51\.100\.53 in [0-9.]+ ms over TCP$'
ours=$(sed -nE 's/^big\.domain\.com has address ([0-9.]+)$/\1/p' <<<"$out" | sort -V)
n=$(grep -c . <<<"$ours" || true)
((n == 100)) || { printf '%s\n' "$out" >&2; fail "expected 100 addresses, got $n"; }
ttls=$(sed -nE 's/^;; ANSWER: big\.domain\.com\. ([0-9]+) IN A .*/\1/p' <<<"$out" | sort -u | wc -l)
((ttls >= 1)) || fail "no TTL in the ANSWER lines"
set +e
kernel=$(sb --client dig +tcp +short +tries=1 +time=3 @198.51.100.53 big.domain.com A 2>&1 | sort -V)
set -e
[[ $ours == "$kernel" ]] || { diff <(echo "$ours") <(echo "$kernel") >&2; fail "our 100 addresses differ from dig +tcp's"; }
pass "big.domain.com: TC=1 over UDP, then over our TCP: $n addresses, equal to dig +tcp from the kernel client"
# Figures: the whole fallback (UDP query, TC=1, handshake, TCP query, answer) next to dig from
# the kernel client doing the same (UDP with a 1232-octet buffer, "Truncated, retrying in TCP mode").
ours_ms=$(sed -nE 's/^;; from [0-9.]+ in ([0-9.]+) ms over TCP$/\1/p' <<<"$out")
set +e
dig_out=$(sb --client dig +bufsize=1232 +tries=1 +time=3 @198.51.100.53 big.domain.com A 2>&1)
set -e
grep -q 'Truncated, retrying in TCP mode' <<<"$dig_out" || note "(dig did not see TC=1: $(grep -m1 'flags' <<<"$dig_out"))"
dig_ms=$(sed -nE 's/^;; Query time: ([0-9]+) msec.*/\1/p' <<<"$dig_out")
note "UDP + TC=1 + TCP fallback: ours ${ours_ms} ms (incl. ARP for the gateway); dig from the kernel client: ${dig_ms} ms (TCP part only)"

# The wire, as our pcap saw it.
tc=$(tshark -r "$work/big.pcap" -Y 'udp.srcport == 53 && ip.src == 198.51.100.53 && dns.flags.truncated == 1' 2>/dev/null | wc -l)
((tc == 1)) || { tshark -r "$work/big.pcap" >&2 2>/dev/null; fail "expected 1 truncated UDP answer in the pcap, saw $tc"; }
syn=$(tshark -r "$work/big.pcap" -Y 'ip.src == 10.77.0.67 && ip.dst == 198.51.100.53 && tcp.dstport == 53 && tcp.flags.syn == 1 && tcp.flags.ack == 0' 2>/dev/null | wc -l)
synack=$(tshark -r "$work/big.pcap" -Y 'ip.src == 198.51.100.53 && tcp.srcport == 53 && tcp.flags.syn == 1 && tcp.flags.ack == 1' 2>/dev/null | wc -l)
((syn == 1 && synack == 1)) || { tshark -r "$work/big.pcap" >&2 2>/dev/null; fail "handshake with 198.51.100.53:53: $syn SYN, $synack SYN+ACK"; }
answers=$(tshark -r "$work/big.pcap" -Y 'tcp.srcport == 53 && dns.flags.response == 1 && dns.count.answers == 100' 2>/dev/null | wc -l)
((answers == 1)) || { tshark -r "$work/big.pcap" >&2 2>/dev/null; fail "expected the 100-record answer over TCP in the pcap, saw $answers"; }
fin=$(tshark -r "$work/big.pcap" -Y 'ip.src == 10.77.0.67 && tcp.dstport == 53 && tcp.flags.fin == 1' 2>/dev/null | wc -l)
rst=$(tshark -r "$work/big.pcap" -Y 'tcp.flags.reset == 1' 2>/dev/null | wc -l)
((fin == 1 && rst == 0)) || { tshark -r "$work/big.pcap" >&2 2>/dev/null; fail "close: $fin FIN from us, $rst RST (want 1 and 0)"; }
segs=$(tshark -r "$work/big.pcap" -Y 'ip.src == 198.51.100.53 && tcp.srcport == 53 && tcp.len > 0 && !tcp.analysis.retransmission' 2>/dev/null | wc -l)
malformed=$(tshark -r "$work/big.pcap" -Y '_ws.malformed || _ws.expert.severity >= error' 2>/dev/null | wc -l)
((malformed == 0)) || fail "$malformed malformed frames in the pcap"
pass "pcap: 1 TC=1 datagram, SYN/SYN+ACK with 198.51.100.53:53, the answer in $segs data segment(s), our FIN, no RST"

# No kernel socket for the TCP fallback either.
set +e
sb env ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=socket,connect,sendto,sendmsg,openat -o "$work/strace.txt" \
  "$USTACK_BIN/ustack" resolve --ip 10.77.0.68/24 --gateway 10.77.0.1 --dns 198.51.100.53 --hosts /dev/null \
  big.domain.com >"$work/strace.out" 2>&1
rc=$?
set -e
((rc == 0)) || { cat "$work/strace.out" "$work/strace.txt" >&2; fail "resolve under strace exited $rc"; }
grep -q 'openat(.*"/dev/urandom"' "$work/strace.txt" || { cat "$work/strace.txt" >&2; fail "c-ares' initialisation not seen"; }
after=$(sed -n '/openat(.*"\/dev\/urandom"/,$p' "$work/strace.txt" | grep -E 'socket\(|connect\(|sendto\(|sendmsg\(' || true)
[[ -z $after ]] || fail "kernel sockets used after c-ares started: $after"
grep -q 'over TCP$' "$work/strace.out" || { cat "$work/strace.out" >&2; fail "the strace run did not go over TCP"; }
pass "strace: the TCP fallback opened no kernel socket (no socket/connect/send syscall after c-ares started)"

# --- the iterative walk: ns1.domain.com truncates over UDP, asked again over our TCP -------------------
printf '; the sandbox root\na.root-servers.net. 198.51.100.1\n' >"$work/root.hints"
chmod 0644 "$work/root.hints"
resolve 68 --trace --root-hints "$work/root.hints" --pcap "$work/trace.pcap" big.domain.com
((rc == 0)) || { printf '%s\n' "$out" >&2; fail "--trace big.domain.com exited $rc"; }
expect_match "trace TC note" "$out" '^;; truncated reply \(TC=1\) from 198\.51\.100\.3; asking again over TCP \(RFC 7766\)$'
expect_match "trace answer" "$out" '^;; Received [0-9]+ bytes from 198\.51\.100\.3#53\(ns1\.domain\.com\) in [0-9.]+ ms$'
expect_match "trace summary" "$out" '^;; from 198\.51\.100\.3 in [0-9.]+ ms, 4 queries$'
walked=$(sed -nE 's/^;; ANSWER: big\.domain\.com\. [0-9]+ IN A ([0-9.]+)$/\1/p' <<<"$out" | sort -V)
[[ $walked == "$kernel" ]] || { diff <(echo "$walked") <(echo "$kernel") >&2; fail "--trace: the addresses differ from dig +tcp's"; }
syn=$(tshark -r "$work/trace.pcap" -Y 'ip.dst == 198.51.100.3 && tcp.dstport == 53 && tcp.flags.syn == 1 && tcp.flags.ack == 0' 2>/dev/null | wc -l)
fin=$(tshark -r "$work/trace.pcap" -Y 'ip.src == 10.77.0.68 && tcp.dstport == 53 && tcp.flags.fin == 1' 2>/dev/null | wc -l)
rst=$(tshark -r "$work/trace.pcap" -Y 'tcp.flags.reset == 1' 2>/dev/null | wc -l)
((syn == 1 && fin == 1 && rst == 0)) || { tshark -r "$work/trace.pcap" >&2 2>/dev/null; fail "--trace TCP: $syn SYN to 198.51.100.3:53, $fin FIN, $rst RST"; }
pass "--trace big.domain.com: TC=1 from ns1.domain.com, asked again over our TCP (1 SYN, our FIN, no RST), the same 100 addresses"

# --- the resolver unreachable -------------------------------------------------------------------------
# 198.51.100.99 is routed (our gateway, then the NAT) but nobody has it and the far side sends no
# ICMP: every try times out. --timeout 400 --tries 2: c-ares waits 400 ms, then 800 ms.
t0=$(now_ms)
resolve 69 --dns 198.51.100.99 --timeout 400 --tries 2 --pcap "$work/dead.pcap" www.domain.com
t1=$(now_ms)
elapsed=$((t1 - t0))
((rc == 6)) || { printf '%s\n' "$out" >&2; fail "unreachable resolver: expected exit 6, got $rc"; }
expect_match "timeout message" "$out" '^ustack resolve: cannot resolve www\.domain\.com: timed out \(no reply from 198\.51\.100\.99 after 2 tries\)$'
expect_match "second try narrated" "$out" '^DNS: asking 198\.51\.100\.99 for www\.domain\.com A \(try 2\)$'
queries=$(tshark -r "$work/dead.pcap" -Y 'ip.dst == 198.51.100.99 && udp.dstport == 53 && dns.flags.response == 0' 2>/dev/null | wc -l)
((queries == 2)) || { tshark -r "$work/dead.pcap" >&2 2>/dev/null; fail "expected 2 queries to 198.51.100.99, saw $queries"; }
# The first try's timer, on the wire: the second query leaves 400 ms after c-ares sent the first
# (which waited behind ARP for the gateway before it reached the wire: a few ms less here).
gap=$(tshark -r "$work/dead.pcap" -Y 'ip.dst == 198.51.100.99 && udp.dstport == 53' -T fields -e frame.time_relative 2>/dev/null |
  awk 'NR == 1 { a = $1 } NR == 2 { printf "%d", ($1 - a) * 1000 }')
((gap >= 340 && gap <= 600)) || fail "second query $gap ms after the first (want ~400: the first try's timeout)"
# The schedule is 400 + 800 = 1200 ms after the first query; the process also brings the stack
# up (ARP announcement, ARP for the gateway) and exits: allow 1200..2700 ms wall time.
((elapsed >= 1200 && elapsed <= 2700)) || fail "gave up after $elapsed ms (want 1200..2700: 400 ms + 800 ms)"
pass "--dns 198.51.100.99 (nobody there): exit 6 after $elapsed ms wall (c-ares: 400 + 800 ms; 2nd query $gap ms after the 1st), '$(grep -o 'timed out.*' <<<"$out")'"
