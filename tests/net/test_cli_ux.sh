#!/usr/bin/env bash
# The programs as a user meets them, against the sandbox (each check failed before its fix):
#   --version everywhere, without side effects; a mistyped --tap is an error, never a new TAP;
#   glued short options (-c1 -W1 -m5); ping NAME like iputils; no route / an off-link gateway /
#   loopback refused at once; ustack dhcp -v finishes; a static address is probed first (RFC 5227);
#   curl's exit codes for URLs, redirects and -o; -m and SIGINT abort with a RST (in the pcap, and
#   no connection left on nginx's side); minibrowser --fail prints nothing; a 30000-byte first ping
#   survives ARP; resolve --trace uses the sandbox's root hints; ustack serve answers Range and
#   If-Modified-Since like nginx (curl -r, curl -z).
# Addresses 10.77.0.90-95. One program on tap0 at a time.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"
# shellcheck disable=SC1091
. "$STATE/env"   # TAP_DEV, TAP_USER

work=$(mktemp -d /tmp/ustack-cli-ux.XXXXXX)
chmod 0777 "$work"
bg_pid=""
cleanup() {
  [[ -n $bg_pid ]] && kill "$bg_pid" 2>/dev/null && wait "$bg_pid" 2>/dev/null
  ip -n "$USTACK_SANDBOX-router" link del uxnosuch 2>/dev/null || true
  rm -f "$STATE"/www/ux-70m-*.bin
  rm -rf "$work"
}
trap cleanup EXIT

U="$USTACK_BIN/ustack"
MB="$USTACK_BIN/minibrowser"
net=(--ip 10.77.0.90/24 --gateway 10.77.0.1 --dns 198.51.100.53)
version=$("$U" --version | awk '{print $2}')
[[ -n $version ]] || fail "ustack --version printed no version"
# run_rc VAR CMD...: runs CMD (stdout+stderr into $out), its exit code into VAR.
run_rc() { local __v=$1; shift; local __rc=0; out=$("$@" 2>&1) || __rc=$?; printf -v "$__v" '%s' "$__rc"; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# --- 7. --version: "NAME VERSION", exit 0, no side effects (not even with a bogus --tap) ----------
for sub in ping dhcp resolve serve get up; do
  run_rc rc sb --root "$U" "$sub" --tap uxnosuch --version
  ((rc == 0)) || fail "ustack $sub --version: exit $rc: $out"
  [[ $out == "ustack $sub $version" ]] || fail "ustack $sub --version printed '$out'"
done
run_rc rc "$U" explain --version  # no network options: it reads a capture file
[[ $rc == 0 && $out == "ustack explain $version" ]] || fail "ustack explain --version: exit $rc, '$out'"
run_rc rc "$MB" --version
[[ $rc == 0 && $out == "minibrowser $version" ]] || fail "minibrowser --version: exit $rc, '$out'"
! ip -n "$USTACK_SANDBOX-router" link show uxnosuch >/dev/null 2>&1 || fail "--version created the TAP uxnosuch"
pass "--version: every program and subcommand prints 'NAME $version' and exits 0, touching nothing"

# --- 6. a mistyped --tap: one line, exit 2, no device created (as root, where TUNSETIFF could) ------
t0=$(date +%s%N)
run_rc rc sb --root "$U" dhcp --tap uxnosuch --no-lease-file
took=$(ms_since "$t0")
((rc == 2)) || fail "dhcp --tap uxnosuch: exit $rc (expected 2): $out"
expect_match "missing TAP named" "$out" "uxnosuch does not exist"
((took < 3000)) || fail "dhcp --tap uxnosuch took $took ms"
! ip -n "$USTACK_SANDBOX-router" link show uxnosuch >/dev/null 2>&1 || fail "a TAP uxnosuch was created"
pass "--tap uxnosuch (root): exit 2 in $took ms, nothing created: $out"

# --- 14 + 3. glued short options; ping NAME like iputils --------------------------------------------
run_rc rc sb "$U" ping -c1 -W1 "${net[@]}" www.domain.com
((rc == 0)) || fail "ping -c1 -W1 www.domain.com: exit $rc: $out"
expect_match "iputils header with the name" "$out" '^PING www\.domain\.com \(203\.0\.113\.80\) 56\(84\) bytes of data\.$'
expect_match "one reply" "$out" '^1 packets transmitted, 1 received'
expect_no_match "no tracker numbers" "$out" '#[0-9]'
pass "ping -c1 -W1 www.domain.com: $(grep '^PING' <<<"$out")"

# --- 5. no route, an off-link gateway: refused at once ----------------------------------------------
t0=$(date +%s%N)
run_rc rc sb "$U" ping --ip 10.77.0.90/24 -c 2 203.0.113.80
took=$(ms_since "$t0")
((rc == 2)) || fail "ping without a route: exit $rc (expected 2): $out"
expect_match "unreachable" "$out" 'connect: Network is unreachable'
((took < 3000)) || fail "ping without a route took $took ms"
pass "ping without a route: exit 2 in $took ms: $(grep unreachable <<<"$out")"

run_rc rc sb "$U" ping --ip 10.77.0.90/24 --gateway 10.78.0.1 -c 1 203.0.113.80
((rc == 2)) || fail "--gateway outside --ip: exit $rc: $out"
expect_match "gateway refused" "$out" '--gateway 10\.78\.0\.1 is outside --ip 10\.77\.0\.90/24'
pass "--gateway outside the subnet: exit 2: $out"

t0=$(date +%s%N)
run_rc rc sb "$MB" --ip 10.77.0.90/24 --dns 198.51.100.53 --hosts /dev/null http://203.0.113.80/
took=$(ms_since "$t0")
((rc == 7)) || fail "minibrowser without a route: exit $rc (expected 7): $out"
expect_match "minibrowser unreachable" "$out" 'Network is unreachable'
((took < 3000)) || fail "minibrowser without a route took $took ms"
run_rc rc sb "$U" resolve --ip 10.77.0.90/24 --dns 198.51.100.53 --hosts /dev/null www.domain.com
((rc == 6)) || fail "resolve without a route: exit $rc (expected 6): $out"
expect_match "resolve unreachable" "$out" 'DNS server 198\.51\.100\.53#53: Network is unreachable'
pass "minibrowser (exit 7 in $took ms) and resolve (exit 6) without a route say 'Network is unreachable'"

# --- 10. loopback never leaves ----------------------------------------------------------------------
run_rc rc sb "$U" ping -c 1 --pcap "$work/lo.pcap" "${net[@]}" 127.0.0.1
((rc == 2)) || fail "ping 127.0.0.1: exit $rc: $out"
expect_match "loopback refused" "$out" '127\.0\.0\.1 is a loopback address'
printf '127.0.0.1 localhost\n' >"$work/hosts"
chmod a+r "$work/hosts"
run_rc rc sb "$U" get --hosts "$work/hosts" --pcap "$work/lo2.pcap" "${net[@]}" http://localhost/ -o /dev/null
((rc == 7)) || fail "get http://localhost/: exit $rc (expected 7): $out"
expect_match "get loopback" "$out" 'loopback'
for p in "$work/lo.pcap" "$work/lo2.pcap"; do
  n=$(tshark -r "$p" -Y 'ip.addr == 127.0.0.0/8' 2>/dev/null | wc -l)
  ((n == 0)) || fail "$n frames to or from 127/8 in $p"
done
pass "ping 127.0.0.1 (exit 2) and get http://localhost/ (exit 7) refused; nothing for 127/8 on the wire"

# --- 1. ustack dhcp -v finishes with its lease -------------------------------------------------------
t0=$(date +%s%N)
run_rc rc sb "$U" dhcp -v --no-lease-file --mac 02:00:00:0c:1a:01
took=$(ms_since "$t0")
((rc == 0)) || fail "dhcp -v: exit $rc: $out"
expect_match "lease printed" "$out" '^lease of 10\.77\.0\.1[0-9][0-9] obtained from 10\.77\.0\.1'
((took < 5000)) || fail "dhcp -v took $took ms"
pass "dhcp -v: the lease and exit 0 in $took ms"

# --- 9. a static address in use is refused (RFC 5227 probe) -------------------------------------------
run_rc rc sb "$U" ping -c 1 --ip 10.77.0.1/24 10.77.0.1
((rc == 2)) || fail "--ip 10.77.0.1 (the router's): exit $rc: $out"
expect_match "conflict named" "$out" '10\.77\.0\.1 is already in use by [0-9a-f:]{17}'
pass "--ip of the router's address: exit 2: $out"

# --- 15. curl's exit codes ------------------------------------------------------------------------
run_rc rc sb "$U" get "${net[@]}" 'http://www.domain.com:99999/' -o /dev/null
((rc == 3)) || fail "malformed URL: exit $rc (expected 3): $out"
run_rc rc sb "$U" get "${net[@]}" 'ftp://www.domain.com/' -o /dev/null
((rc == 1)) || fail "ftp://: exit $rc (expected 1): $out"
run_rc rc sb "$U" get "${net[@]}" -s -L --max-redirs 0 'http://203.0.113.80/old' -o /dev/null
((rc == 47)) || fail "too many redirects: exit $rc (expected 47): $out"
run_rc rc sb "$U" get "${net[@]}" -s 'http://203.0.113.80/' -o /nonexistent-dir/x.html
((rc == 23)) || fail "unwritable -o: exit $rc (expected 23): $out"
run_rc rc sb "$U" get "${net[@]}" -s '203.0.113.80/index.html' -o "$work/noscheme.html"
((rc == 0)) || fail "a URL without a scheme: exit $rc: $out"
cmp -s "$work/noscheme.html" "$SANDBOX_DATA/www/index.html" || fail "a URL without a scheme: wrong body"
pass "get: malformed URL 3, ftp:// 1, --max-redirs 0 on a 301 47, unwritable -o 23, no scheme = http://"

# --- 13. minibrowser --fail prints nothing ---------------------------------------------------------
rc=0; page=$(sb "$MB" "${net[@]}" --fail http://203.0.113.80/no-such-page 2>"$work/mb.err") || rc=$?
((rc == 22)) || fail "minibrowser --fail on 404: exit $rc"
[[ -z $page ]] || fail "minibrowser --fail printed the error page: $page"
expect_match "one error line" "$(cat "$work/mb.err")" 'The requested URL returned error: 404'
pass "minibrowser --fail on a 404: exit 22, nothing on stdout"

# --- 11. Content-Type: a GIF is a placeholder line, CSS is printed as it is --------------------------
gif_size=$(stat -c %s "$STATE/www/img/red.gif")
rc=0; page=$(sb "$MB" "${net[@]}" --hosts /dev/null http://203.0.113.80/img/red.gif 2>/dev/null) || rc=$?
((rc == 0)) || fail "minibrowser of a GIF: exit $rc"
[[ $page == "[image/gif, $gif_size bytes] (save it with -o FILE)" ]] || fail "minibrowser of a GIF printed: $(head -c 200 <<<"$page" | od -c | head -3)"
sb "$MB" "${net[@]}" --hosts /dev/null http://203.0.113.80/style.css 2>/dev/null >"$work/style.css" ||
  fail "minibrowser of a stylesheet failed"
cmp -s "$work/style.css" "$SANDBOX_DATA/www/style.css" || fail "text/css was not printed as it is"
pass "minibrowser: image/gif -> '[image/gif, $gif_size bytes] ...', text/css printed byte-exact"

# --- 12. -o streams past the 64 MiB page limit; without -o it is refused at the headers ----------------
big_file="$STATE/www/ux-70m-$$.bin"
head -c $((70 * 1024 * 1024)) /dev/zero >"$big_file"
chmod a+r "$big_file"
t0=$(date +%s%N)
run_rc rc sb "$MB" "${net[@]}" --hosts /dev/null "http://203.0.113.80/$(basename "$big_file")"
took=$(ms_since "$t0")
((rc == 63)) || fail "a 70 MiB page without -o: exit $rc (expected 63): $out"
expect_match "suggests -o" "$out" 'save it with -o FILE'
((took < 5000)) || fail "refusing the 70 MiB page took $took ms (should stop at the headers)"
run_rc rc timeout 120 "$SANDBOX" exec "$MB" "${net[@]}" --hosts /dev/null -o "$work/big.out" "http://203.0.113.80/$(basename "$big_file")"
((rc == 0)) || fail "a 70 MiB page with -o: exit $rc: $out"
[[ $(stat -c %s "$work/big.out") == $((70 * 1024 * 1024)) ]] || fail "-o wrote $(stat -c %s "$work/big.out") bytes, expected 70 MiB"
rm -f "$big_file" "$work/big.out"
pass "70 MiB: refused at the headers without -o (exit 63 in $took ms), streamed whole with -o"

# --- 4. -m and SIGINT: RST sent, nothing left open on the server ----------------------------------
server_conns() { ip netns exec "$USTACK_SANDBOX-inet" ss -Htn state established "( sport = :80 )" | wc -l; }
rsts_from_us() { tshark -r "$1" -Y 'tcp.flags.reset == 1 && tcp.dstport == 80' 2>/dev/null | wc -l; }
run_rc rc sb "$U" get -m 0.5 --pcap "$work/m.pcap" "${net[@]}" http://203.0.113.80/big.bin -o /dev/null
((rc == 28)) || fail "get -m 0.5 of big.bin: exit $rc (expected 28): $out"
(($(rsts_from_us "$work/m.pcap") >= 1)) || fail "get -m 0.5: no RST from us in the pcap"
sleep 0.5
n=$(server_conns)
((n == 0)) || fail "get -m 0.5: nginx still has $n established connection(s) on :80"
pass "get -m 0.5: exit 28, RST in the pcap, no connection left on nginx's side"

"$SANDBOX" exec "$U" get --pcap "$work/int.pcap" "${net[@]}" http://203.0.113.80/big.bin -o /dev/null \
  >"$work/int.out" 2>&1 &
bg_pid=$!
sleep 2
kill -INT "$bg_pid"
rc=0; wait "$bg_pid" || rc=$?
bg_pid=""
((rc == 130)) || { cat "$work/int.out" >&2; fail "get interrupted: exit $rc (expected 130)"; }
expect_match "clean last line" "$(tail -1 "$work/int.out")" 'interrupted \(SIGINT\) after [0-9]+ bytes: connection reset'
(($(rsts_from_us "$work/int.pcap") >= 1)) || fail "get interrupted: no RST from us in the pcap"
sleep 0.5
n=$(server_conns)
((n == 0)) || fail "get interrupted: nginx still has $n established connection(s) on :80"
pass "get + SIGINT: exit 130, RST in the pcap, nginx's side closed; $(tail -1 "$work/int.out")"

"$SANDBOX" exec "$MB" --level 6 --no-color --linger 10 --pcap "$work/mb.pcap" "${net[@]}" http://www.domain.com/ \
  >/dev/null 2>"$work/mb6.err" &
bg_pid=$!
for _ in $(seq 100); do grep -q 'keeping idle connections open' "$work/mb6.err" && break; sleep 0.1; done
grep -q 'keeping idle connections open' "$work/mb6.err" || { cat "$work/mb6.err" >&2; fail "minibrowser never reached --linger"; }
kill -INT "$bg_pid"
rc=0; wait "$bg_pid" || rc=$?
bg_pid=""
((rc == 130)) || { tail -5 "$work/mb6.err" >&2; fail "minibrowser interrupted: exit $rc (expected 130)"; }
# Every FIN and RST of ours the narration names is in the pcap, and an RST was sent.
said_fin=$(grep -c '\] → FIN' "$work/mb6.err" || true)
wire_fin=$(tshark -r "$work/mb.pcap" -Y 'tcp.flags.fin == 1 && tcp.dstport == 80' 2>/dev/null | wc -l)
((said_fin == wire_fin)) || fail "minibrowser narrated $said_fin FIN(s) of ours, the pcap has $wire_fin"
(($(rsts_from_us "$work/mb.pcap") >= 1)) || fail "minibrowser interrupted: no RST in the pcap"
expect_match "last line" "$(tail -1 "$work/mb6.err")" '^minibrowser: interrupted \(SIGINT\)$'
pass "minibrowser --linger + SIGINT: exit 130, RST in the pcap, narrated FINs = pcap FINs ($wire_fin)"

# ustack dhcp interrupted while nothing answers: a clean last line, 130.
"$SANDBOX" exec "$U" dhcp --no-lease-file --drop-chance 1 --mac 02:00:00:0c:1a:02 >"$work/dhcp.out" 2>&1 &
bg_pid=$!
sleep 1.5
kill -INT "$bg_pid"
rc=0; wait "$bg_pid" || rc=$?
bg_pid=""
((rc == 130)) || { cat "$work/dhcp.out" >&2; fail "dhcp interrupted: exit $rc (expected 130)"; }
expect_match "dhcp last line" "$(tail -1 "$work/dhcp.out")" '^ustack dhcp: interrupted \(SIGINT\), no lease$'
[[ $(tail -c 1 "$work/dhcp.out" | od -An -c | tr -d ' ') == '\n' ]] || fail "dhcp output does not end with a newline"
pass "dhcp + SIGINT: exit 130, '$(tail -1 "$work/dhcp.out")'"

# --- 8. a 30000-byte first ping (ARP for the router still pending) --------------------------------------
run_rc rc sb "$U" ping -c 1 -s 30000 -W 3 "${net[@]}" 203.0.113.80
((rc == 0)) || fail "ping -s 30000: exit $rc: $out"
expect_match "whole reply" "$out" '^30008 bytes from 203\.0\.113\.80'
pass "the first ping -s 30000 (21 fragments queued behind ARP) is answered"

# --- 18. ping -q: only the summary (no DHCP line) --------------------------------------------------------
run_rc rc sb "$U" ping -q -c 1 --mac 02:00:00:0c:1a:03 10.77.0.1
((rc == 0)) || fail "ping -q with DHCP: exit $rc: $out"
expect_no_match "no DHCP narration" "$out" 'DISCOVER|REQUEST|ACK'
expect_no_match "no reply line" "$out" 'bytes from'
pass "ping -q: summary only"

# --- 2. resolve --trace walks the sandbox's root (USTACK_ROOT_HINTS from tools/sandbox exec) -------------
t0=$(date +%s%N)
run_rc rc sb "$U" resolve --trace "${net[@]}" www.domain.com
took=$(ms_since "$t0")
((rc == 0)) || fail "resolve --trace: exit $rc: $out"
expect_match "sandbox root" "$out" "root hints \\($STATE/unbound/root.hints\\)"
expect_match "answer" "$out" '^;; ANSWER: www\.domain\.com\. [0-9]+ IN A 203\.0\.113\.80$'
pass "resolve --trace: the sandbox's root hints, answered in $took ms"

# --- 20. ustack serve: Range (206, 416) and If-Modified-Since (304), checked with the kernel's curl -------
mkdir -p "$work/www"
head -c 10000 /dev/urandom >"$work/www/f.bin"
chmod -R a+rX "$work/www"
"$SANDBOX" exec "$U" serve -q --ip 10.77.0.91/24 --gateway 10.77.0.1 --port 8080 "$work/www" >"$work/serve.out" 2>&1 &
bg_pid=$!
for _ in $(seq 50); do sb --root curl -s -o /dev/null --max-time 1 http://10.77.0.91:8080/f.bin && break; sleep 0.1; done
code=$(sb --root curl -s -r 100-199 -o "$work/part.bin" -w '%{http_code}' http://10.77.0.91:8080/f.bin)
[[ $code == 206 ]] || fail "curl -r 100-199: status $code"
cmp -s "$work/part.bin" <(tail -c +101 "$work/www/f.bin" | head -c 100) || fail "curl -r 100-199: wrong bytes"
code=$(sb --root curl -s -r -50 -o "$work/tail.bin" -w '%{http_code}' http://10.77.0.91:8080/f.bin)
[[ $code == 206 ]] && cmp -s "$work/tail.bin" <(tail -c 50 "$work/www/f.bin") || fail "curl -r -50: status $code or wrong bytes"
hdrs=$(sb --root curl -s -r 20000- -D - -o /dev/null http://10.77.0.91:8080/f.bin)
expect_match "416" "$hdrs" '^HTTP/1\.1 416 '
expect_match "416 Content-Range" "$hdrs" 'Content-Range: bytes \*/10000'
code=$(sb --root curl -s -z 'Sun, 01 Jan 2090 00:00:00 GMT' -o /dev/null -w '%{http_code}' http://10.77.0.91:8080/f.bin)
[[ $code == 304 ]] || fail "curl -z (a future date): status $code, expected 304"
code=$(sb --root curl -s -z 'Sat, 01 Jan 2000 00:00:00 GMT' -o /dev/null -w '%{http_code}' http://10.77.0.91:8080/f.bin)
[[ $code == 200 ]] || fail "curl -z (a past date): status $code, expected 200"
kill -INT "$bg_pid"
rc=0; wait "$bg_pid" || rc=$?
bg_pid=""
((rc == 130)) || fail "ustack serve after SIGINT: exit $rc (expected 130)"
pass "serve: curl -r 100-199 and -r -50 -> 206 byte-exact, -r 20000- -> 416, -z -> 304/200; SIGINT -> 130"
