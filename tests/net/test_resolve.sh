#!/usr/bin/env bash
# DNS on the real wire: `ustack resolve` on the sandbox's tap0 against unbound and nsd.
#  - the stub (c-ares over our UDP sockets) asks unbound 198.51.100.53: www.domain.com with its
#    TTL, a CNAME chain, NXDOMAIN with exit 6 and the message;
#  - without --ip, DHCP's option 6 names the server;
#  - a hosts-file hit answers without DNS;
#  - --trace walks root (198.51.100.1) -> com. -> domain.com. -> the answer, RD=0 on the wire;
#  - c-ares opened no kernel socket: strace shows no socket/connect/send syscall after c-ares'
#    initialisation (its /dev/urandom read), and no /etc/resolv.conf or /etc/hosts read;
#  - figures: resolution time through unbound (cold, warm) next to dig from the kernel client.
# Addresses 10.77.0.60-69 (other tests use .50-.59). One process on tap0 at a time: sequential.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"

work=$(mktemp -d /tmp/ustack-resolve-test.XXXXXX)
chmod 0777 "$work"   # the stack runs as the invoking user inside the sandbox
trap 'rm -rf "$work"' EXIT

# resolve IP_SUFFIX ARGS...: our stack at 10.77.0.<suffix>; output (stdout+stderr) and exit code.
resolve() {
  local ip=$1
  shift
  set +e
  out=$(sb "$USTACK_BIN/ustack" resolve --ip "10.77.0.$ip/24" --gateway 10.77.0.1 "$@" 2>&1)
  rc=$?
  set -e
}
ms_of() { sed -nE 's/^;; from [0-9.]+ in ([0-9.]+) ms.*/\1/p' <<<"$1" | head -1; }

# --- the stub, through the ISP's resolver ---------------------------------------------------------
# A name unbound has not been asked yet in this sandbox (the apex's A record): a cold cache walk.
resolve 60 --hosts /dev/null --dns 198.51.100.53 domain.com
((rc == 0)) || { printf '%s\n' "$out" >&2; fail "ustack resolve domain.com exited $rc"; }
expect_match "apex answer" "$out" '^;; ANSWER: domain\.com\. [0-9]+ IN A 203\.0\.113\.80$'
cold=$(ms_of "$out")

resolve 60 --hosts /dev/null --dns 198.51.100.53 www.domain.com
((rc == 0)) || { printf '%s\n' "$out" >&2; fail "ustack resolve www.domain.com exited $rc"; }
expect_match "narration" "$out" '^DNS: asking 198\.51\.100\.53 for www\.domain\.com A$'
expect_match "answer with TTL" "$out" '^;; ANSWER: www\.domain\.com\. [0-9]+ IN A 203\.0\.113\.80$'
expect_match "server and time" "$out" '^;; from 198\.51\.100\.53 in [0-9.]+ ms$'
expect_match "host-style line" "$out" '^www\.domain\.com has address 203\.0\.113\.80$'
pass "ustack resolve --dns 198.51.100.53 www.domain.com: $(grep '^;; ANSWER' <<<"$out")"

warm=()
for _ in 1 2 3; do
  resolve 60 --hosts /dev/null --dns 198.51.100.53 www.domain.com
  warm+=("$(ms_of "$out")")
done
set +e
dig_out=$(sb --client dig +tries=1 +time=2 @198.51.100.53 www.domain.com A 2>&1)
set -e
dig_ms=$(sed -nE 's/^;; Query time: ([0-9]+) msec.*/\1/p' <<<"$dig_out")
note "through unbound: cold ${cold} ms, warm ${warm[*]} ms (ours, incl. ARP for the gateway); dig from the kernel client: ${dig_ms} ms"

resolve 61 --hosts /dev/null --dns 198.51.100.53 web.domain.com
((rc == 0)) || { printf '%s\n' "$out" >&2; fail "ustack resolve web.domain.com exited $rc"; }
expect_match "cname record" "$out" '^;; ANSWER: web\.domain\.com\. [0-9]+ IN CNAME www\.domain\.com\.$'
expect_match "cname target" "$out" '^;; ANSWER: www\.domain\.com\. [0-9]+ IN A 203\.0\.113\.80$'
expect_match "alias line" "$out" '^web\.domain\.com is an alias for www\.domain\.com\.$'
pass "ustack resolve web.domain.com follows the CNAME"

resolve 62 --hosts /dev/null --dns 198.51.100.53 www.nowhere.com
((rc == 6)) || { printf '%s\n' "$out" >&2; fail "NXDOMAIN: expected exit 6, got $rc"; }
expect_match "NXDOMAIN message" "$out" 'cannot resolve www\.nowhere\.com: no such domain \(NXDOMAIN from 198\.51\.100\.53\)$'
pass "www.nowhere.com: exit 6, $(grep -o 'cannot resolve.*' <<<"$out")"

# Without --ip: DHCP gives the address and, in option 6, the DNS server.
set +e
out=$(sb "$USTACK_BIN/ustack" resolve --hosts /dev/null www.domain.com 2>&1)
rc=$?
set -e
((rc == 0)) || { printf '%s\n' "$out" >&2; fail "resolve with DHCP exited $rc"; }
expect_match "DHCP exchange" "$out" 'ACK'
expect_match "server from DHCP" "$out" '^;; from 198\.51\.100\.53 in [0-9.]+ ms$'
pass "without --ip: DHCP, then the server from option 6 answers ($(grep -m1 'ACK' <<<"$out"))"

# --- the hosts file first ---------------------------------------------------------------------------
printf '# test hosts\n127.0.0.1 localhost\n10.1.2.3  www.example.test  www   # alias\n::1 localhost6\nbogus line\n' >"$work/hosts"
chmod 0644 "$work/hosts"
resolve 63 --hosts "$work/hosts" --dns 198.51.100.53 WWW.Example.Test --pcap "$work/hosts.pcap"
((rc == 0)) || { printf '%s\n' "$out" >&2; fail "hosts hit exited $rc"; }
expect_match "hosts answer" "$out" "^WWW\\.Example\\.Test has address 10\\.1\\.2\\.3 \\(from $work/hosts\\)\$"
expect_match "hosts narration" "$out" 'DNS not asked'
expect_match "junk line warned" "$out" "warning: $work/hosts:5: ignored"
expect_no_match "no DNS query" "$out" '^DNS: asking'
[[ ! -s $work/hosts.pcap ]] || fail "a hosts-file hit touched the network ($(stat -c %s "$work/hosts.pcap") bytes of pcap)"
pass "a hosts-file hit answers without DNS (nothing sent), and the junk line is named"

# --- the iterative walk -------------------------------------------------------------------------------
printf '; the sandbox root\na.root-servers.net. 198.51.100.1\n' >"$work/root.hints"
chmod 0644 "$work/root.hints"
resolve 64 --trace --root-hints "$work/root.hints" --pcap "$work/trace.pcap" www.domain.com
((rc == 0)) || { printf '%s\n' "$out" >&2; fail "--trace exited $rc"; }
expect_match "root referral" "$out" '^com\.\s+[0-9]+\s+IN\s+NS\s+ns1\.nic\.com\.$'
expect_match "root glue" "$out" '^ns1\.nic\.com\.\s+[0-9]+\s+IN\s+A\s+198\.51\.100\.2$'
expect_match "from the root" "$out" '^;; Received [0-9]+ bytes from 198\.51\.100\.1#53\(a\.root-servers\.net\) in [0-9.]+ ms$'
expect_match "com referral" "$out" '^domain\.com\.\s+[0-9]+\s+IN\s+NS\s+ns1\.domain\.com\.$'
expect_match "from com" "$out" '^;; Received [0-9]+ bytes from 198\.51\.100\.2#53\(ns1\.nic\.com\) in [0-9.]+ ms$'
expect_match "the answer" "$out" '^www\.domain\.com\.\s+3600\s+IN\s+A\s+203\.0\.113\.80$'
expect_match "from domain.com" "$out" '^;; Received [0-9]+ bytes from 198\.51\.100\.3#53\(ns1\.domain\.com\) in [0-9.]+ ms$'
expect_match "summary" "$out" '^;; ANSWER: www\.domain\.com\. 3600 IN A 203\.0\.113\.80$'
order=$(grep -oE 'from 198\.51\.100\.[0-9]+#53' <<<"$out" | tr '\n' ' ')
[[ $order == "from 198.51.100.1#53 from 198.51.100.2#53 from 198.51.100.3#53 " ]] || fail "trace order: $order"
# On the wire: three queries, RD clear (tcpdump prints no '+' after the ID).
wire=$(tcpdump -n -r "$work/trace.pcap" udp port 53 2>/dev/null)
queries=$(grep -cE '\.53: [0-9]+ \[1au\] A\? www\.domain\.com\.' <<<"$wire" || true)
((queries == 3)) || { printf '%s\n' "$wire" >&2; fail "expected 3 non-recursive queries on the wire, saw $queries"; }
pass "--trace: root -> com. -> domain.com. -> 203.0.113.80, 3 queries with RD=0 ($(grep '^;; from' <<<"$out"))"

resolve 65 --trace --root-hints "$work/root.hints" www.nowhere.com
((rc == 6)) || { printf '%s\n' "$out" >&2; fail "--trace NXDOMAIN: expected exit 6, got $rc"; }
expect_match "trace NXDOMAIN" "$out" 'no such domain \(NXDOMAIN for www\.nowhere\.com from 198\.51\.100\.2#53\(ns1\.nic\.com\)\)'
pass "--trace www.nowhere.com: NXDOMAIN from com.'s server, exit 6"

# --- no kernel socket for DNS -------------------------------------------------------------------------
# The TAP driver opens AF_UNIX/AF_INET sockets for its ioctls before the stack starts; c-ares
# initialises after that (its one read of /dev/urandom). From there on, no socket(), connect()
# or send to the kernel may appear, and c-ares must not read the resolver configuration files.
set +e
sb env ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=socket,connect,sendto,sendmsg,openat -o "$work/strace.txt" \
  "$USTACK_BIN/ustack" resolve --ip 10.77.0.66/24 --gateway 10.77.0.1 --dns 198.51.100.53 --hosts "$work/hosts" \
  www.domain.com >"$work/strace.out" 2>&1
rc=$?
set -e
((rc == 0)) || { cat "$work/strace.out" "$work/strace.txt" >&2; fail "resolve under strace exited $rc"; }
grep -q 'openat(.*"/dev/urandom"' "$work/strace.txt" || { cat "$work/strace.txt" >&2; fail "c-ares' initialisation not seen"; }
after=$(sed -n '/openat(.*"\/dev\/urandom"/,$p' "$work/strace.txt" | grep -E 'socket\(|connect\(|sendto\(|sendmsg\(' || true)
[[ -z $after ]] || fail "kernel sockets used after c-ares started: $after"
if grep -qE 'connect\(' "$work/strace.txt"; then fail "a connect() syscall: $(grep -E 'connect\(' "$work/strace.txt")"; fi
if grep -qE '"/etc/(resolv\.conf|hosts|nsswitch\.conf)"' "$work/strace.txt"; then
  fail "read a system resolver file: $(grep -E '"/etc/(resolv|hosts|nsswitch)' "$work/strace.txt")"
fi
expect_match "answer under strace" "$(cat "$work/strace.out")" '^;; ANSWER: www\.domain\.com\.'
pass "strace: no socket/connect/send syscall after c-ares started, no /etc/resolv.conf or /etc/hosts read ($(grep -cE 'socket\(' "$work/strace.txt") driver socket(s) before)"
