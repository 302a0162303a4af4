#!/usr/bin/env bash
# End to end: the mini-browser on our stack in the sandbox, every step of docs/levels.md narrated
# at level 7 from real packets; curl-style exit codes for the failures.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin directory of the build}"
work=$(mktemp -d /tmp/ustack-mb-test.XXXXXX)
chmod 0777 "$work"
trap 'rm -rf "$work"' EXIT
hints=$STATE/unbound/root.hints
[[ -r $hints ]] || fail "no root hints at $hints"
mb() { timeout 120 "$SANDBOX" exec "$USTACK_BIN/minibrowser" "$@"; }

# --- the whole walk, level 7 (DHCP: no --ip) -------------------------------------------------------
rc=0
mb --level 7 --width 80 --root-hints "$hints" --pcap "$work/mb.pcap" http://www.domain.com/ \
  >"$work/page.txt" 2>"$work/narration.txt" || rc=$?
unwrap_file "$work/narration.txt"
narration=$(cat "$work/narration.txt")
((rc == 0)) || { cat "$work/narration.txt" >&2; fail "minibrowser exited $rc"; }
expect_match "DHCP lease" "$narration" 'DHCP: we are 10\.77\.0\.1[0-9][0-9]/24, router 10\.77\.0\.1, DNS 198\.51\.100\.53'
expect_match "ARP for the router" "$narration" 'ARP \[frame [0-9]+\] (who-has 10\.77\.0\.1|10\.77\.0\.1 is-at)'
expect_match "hosts file checked" "$narration" 'hosts file: www\.domain\.com is not in /etc/hosts'
expect_match "DNS answer" "$narration" 'www\.domain\.com is 203\.0\.113\.80 \(DNS: TTL [0-9]+ s, from 198\.51\.100\.53'
expect_match "walk: root" "$narration" 'DNS walk \[frames [0-9]+, [0-9]+\] asked a\.root-servers\.net\. \(198\.51\.100\.1\).*referral to com\.'
expect_match "walk: TLD" "$narration" 'DNS walk \[frames [0-9]+, [0-9]+\] asked ns1\.nic\.com\. \(198\.51\.100\.2\).*referral to domain\.com\.'
expect_match "walk: authoritative" "$narration" 'DNS walk \[frames [0-9]+, [0-9]+\] asked ns1\.domain\.com\. \(198\.51\.100\.3\).*answer'
expect_match "NAT explained" "$narration" 'NAT: the router 10\.77\.0\.1 rewrites our source 10\.77\.0\.[0-9]+:[0-9]+ \(to 203\.0\.113\.80:80\)'
expect_match "SYN" "$narration" 'TCP #1 \[frame [0-9]+\] → SYN: our ISN [0-9]+, MSS 1460, SACK ok'
expect_match "SYN+ACK" "$narration" 'TCP #1 \[frame [0-9]+\] ← SYN\+ACK: (their )?ISN [0-9]+, MSS 1460'
expect_match "request" "$narration" '> GET / HTTP/1\.1'
expect_match "response" "$narration" '< HTTP/1\.1 200 OK'
expect_match "subresources" "$narration" 'subresources: 15 of 15'
expect_match "pool limit" "$narration" 'at most [1-6] at once \(limit 6 per host\)'
expect_match "reuse" "$narration" 'reusing connection #[0-9]+ \(keep-alive\)'
expect_match "first FIN" "$narration" 'TCP #1: we send the first FIN: we will be the side in TIME-WAIT'
expect_match "TIME-WAIT" "$narration" 'TCP #[0-9]+ is in TIME-WAIT'
expect_match "handshake ACK" "$narration" 'TCP #1 \[frame [0-9]+\] → ACK \(handshake complete\)'
expect_no_match "no RST from us" "$narration" 'TCP( #[0-9]+)? \[frame [0-9]+\] → RST'
pass "level 7 narration: DHCP, ARP, hosts, DNS + walk, NAT, handshake, HTTP, pool, FIN, TIME-WAIT"
# The values are the ones the sandbox really used: our address is the one in dnsmasq's lease file,
# the router's MAC is the kernel's tap0 address.
ours=$(grep -oE 'DHCP: we are 10\.77\.0\.[0-9]+' <<<"$narration" | head -1 | awk '{print $4}')
grep -qE " ${ours//./\\.} " "$STATE/dnsmasq/dnsmasq.leases" ||
  fail "narrated address $ours is not in dnsmasq's lease file: $(cat "$STATE/dnsmasq/dnsmasq.leases")"
router_mac=$(sb --root ip -o link show tap0 | grep -oE 'link/ether [0-9a-f:]+' | awk '{print $2}')
expect_match "router MAC from the kernel" "$narration" "10\.77\.0\.1 is-at $router_mac"
pass "narrated values match the sandbox: $ours (dnsmasq lease), router MAC $router_mac (kernel)"
page=$(cat "$work/page.txt")
expect_match "rendered title" "$page" '^Welcome to www\.domain\.com$'
expect_match "references" "$page" '^References:'
pass "page rendered: $(wc -l <"$work/page.txt") lines"
malformed=$(tshark -r "$work/mb.pcap" -Y '_ws.malformed || _ws.expert.severity >= error' 2>/dev/null | wc -l)
((malformed == 0)) || fail "the pcap has $malformed malformed/error frames"
pass "pcap: $(tshark -r "$work/mb.pcap" 2>/dev/null | wc -l) frames, 0 malformed"
# The pool limit, from the capture: connections opened to the web server (our SYNs). The pool keeps
# every connection open until the page is done, so the number opened is the most open at once.
syns=$(tshark -r "$work/mb.pcap" -Y 'ip.dst==203.0.113.80 && tcp.flags.syn==1 && tcp.flags.ack==0' 2>/dev/null | wc -l)
streams=$(tshark -r "$work/mb.pcap" -Y 'ip.addr==203.0.113.80 && tcp' -T fields -e tcp.stream 2>/dev/null | sort -u | wc -l)
((syns >= 2 && syns <= 6)) || fail "the pcap shows $syns connections opened to the web server (expected 2..6)"
((streams == syns)) || fail "the pcap shows $streams TCP streams but $syns SYNs"
pass "pcap: $syns connections to www.domain.com for 16 requests (limit 6 per host)"

# --- level 1 is quiet; the redirect is followed; the chunked page renders --------------------------------
out=$(mb --level 1 --no-subresources --ip 10.77.0.80/24 --gateway 10.77.0.1 --dns 198.51.100.53 http://www.domain.com/old 2>&1) ||
  fail "redirect: exit $?: $out"
expect_match "redirect followed" "$out" 'Welcome to www\.domain\.com'
expect_no_match "level 1 hides TCP" "$out" '\[L6 '
pass "/old → 301 → / followed"
out=$(mb --level 3 --no-subresources --ip 10.77.0.80/24 --gateway 10.77.0.1 --dns 198.51.100.53 http://www.domain.com/news.shtml 2>&1) ||
  fail "chunked: exit $?"
expect_match "chunked" "$out" 'response: HTTP/1\.1 200 OK, [0-9]+ bytes \(chunked\)'
pass "chunked response parsed and rendered"

# --- a server that closes idle connections first (nginx: keepalive_timeout 2s under /brief/) ---------------
out=$(mb --level 6 --no-color --no-subresources --linger 6 --ip 10.77.0.80/24 --gateway 10.77.0.1 --dns 198.51.100.53 \
  http://www.domain.com/brief/ 2>&1 >/dev/null | unwrap) || fail "brief: exit $?"
expect_match "server FIN first" "$out" 'TCP #1: the server sent the first FIN: it will be the side in TIME-WAIT'
expect_match "our ACK of its FIN" "$out" '→ ACK of the FIN'
expect_match "then our FIN" "$out" '→ FIN'
expect_match "server in TIME-WAIT" "$out" 'the server closed first, so the server is the one in TIME-WAIT'
expect_no_match "we are not in TIME-WAIT" "$out" 'FIN-WAIT-2 → TIME-WAIT'
pass "the server closed first: FIN / ACK / FIN / ACK, the server holds TIME-WAIT"

# --- read-until-close (no length, no chunking: the server's FIN ends the body) ---------------------------
out=$(mb --level 3 --no-color --no-subresources --ip 10.77.0.80/24 --gateway 10.77.0.1 --dns 198.51.100.53 \
  http://www.domain.com/raw/news.shtml 2>&1) || fail "read-until-close: exit $?"
expect_match "read until close" "$out" 'response: HTTP/1\.1 200 OK, [0-9]+ bytes \(until close\)'
pass "read-until-close response completed by the server's FIN"

# --- failures, with curl's exit codes ------------------------------------------------------------------
rc=0; out=$(mb --ip 10.77.0.80/24 --gateway 10.77.0.1 --dns 198.51.100.53 http://www.nowhere.com/ 2>&1) || rc=$?
((rc == 6)) || fail "NXDOMAIN: expected exit 6, got $rc: $out"
expect_match "NXDOMAIN message" "$out" 'cannot resolve www\.nowhere\.com: no such domain'
rc=0; out=$(mb --fail --no-subresources --ip 10.77.0.80/24 --gateway 10.77.0.1 --dns 198.51.100.53 http://www.domain.com/missing.html 2>&1) || rc=$?
((rc == 22)) || fail "--fail on 404: expected exit 22, got $rc"
rc=0; out=$(mb --ip 10.77.0.80/24 --gateway 10.77.0.1 --dns 198.51.100.53 ftp://www.domain.com/ 2>&1) || rc=$?
((rc == 1)) || fail "ftp: expected exit 1 (curl's unsupported protocol), got $rc"
expect_match "ftp message" "$out" 'only http and https URLs are supported'
pass "exit codes: 6 (NXDOMAIN), 22 (--fail 404), 1 (ftp: not http or https, curl's code; https itself: test_https_browser.sh)"
# (a missing TAP device or no permission, exit 2, is covered by tests/drivers/test_tap_device.cpp:
# as root here, the driver would simply create the device.)
