#!/usr/bin/env bash
# Parity with curl and dig, side by side with the kernel's own tools in the sandbox:
#   ustack get -w FORMAT (curl's variables, also after a failure), the progress meter and -# bar on
#   a terminal (script(1) gives the program one), -s silencing it, nothing of it without a terminal;
#   ustack resolve -t MX|TXT|NS|SOA|CNAME|AAAA, -x ADDR and +short, each answer equal to the kernel
#   client's dig +short against the same resolver.
# Addresses 10.77.0.96-97. One program on tap0 at a time.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"

work=$(mktemp -d /tmp/ustack-parity.XXXXXX)
chmod 0777 "$work"
big="parity-$$.bin"   # 8 MiB on the web server: long enough for the meter, short for ASan
head -c $((8 * 1024 * 1024)) /dev/urandom >"$STATE/www/$big"
chmod 0644 "$STATE/www/$big"
trap 'rm -rf "$work" "$STATE/www/$big"' EXIT
U="$USTACK_BIN/ustack"
net=(--ip 10.77.0.96/24 --gateway 10.77.0.1 --dns 198.51.100.53 --no-acd)
run_rc() { local __v=$1; shift; local __rc=0; out=$("$@" 2>"$work/err") || __rc=$?; printf -v "$__v" '%s' "$__rc"; }

# --- get -w: curl's variables -----------------------------------------------------------------------
fmt='code=%{http_code} size=%{size_download} dns=%{time_namelookup} connect=%{time_connect} tls=%{time_appconnect} start=%{time_starttransfer} total=%{time_total} speed=%{speed_download} ip=%{remote_ip}:%{remote_port} url=%{url_effective} redirects=%{num_redirects} type=%{content_type}\n'
run_rc rc sb "$U" get -s -L -o "$work/page.html" -w "$fmt" "${net[@]}" http://www.domain.com/old
((rc == 0)) || fail "get -w: exit $rc: $(cat "$work/err")"
note "get -w: $out"
expect_match "-w http_code and redirect" "$out" '^code=200 size=[0-9]+ .* ip=203\.0\.113\.80:80 url=http://www\.domain\.com/ redirects=1 type=text/html'
got_size=$(sed -nE 's/.* size=([0-9]+) .*/\1/p' <<<"$out")
[[ $got_size == $(stat -c %s "$work/page.html") ]] || fail "size_download $got_size, but the file has $(stat -c %s "$work/page.html") bytes"
read -r dns connect tls start total < <(sed -nE 's/.* dns=([0-9.]+) connect=([0-9.]+) tls=([0-9.]+) start=([0-9.]+) total=([0-9.]+) .*/\1 \2 \3 \4 \5/p' <<<"$out")
awk -v a="$dns" -v b="$connect" -v c="$start" -v d="$total" -v t="$tls" \
  'BEGIN { exit !(a > 0 && a <= b && b <= c && c <= d && t == 0 && d < 10) }' ||
  fail "times out of order: namelookup $dns connect $connect appconnect $tls starttransfer $start total $total"
pass "get -w: http_code, size_download = the file, namelookup <= connect <= starttransfer <= total, appconnect 0 for http"

# https: time_appconnect is the TLS handshake, between connect and starttransfer (curl's order).
run_rc rc sb "$U" get -s -o /dev/null -w '%{scheme} %{time_connect} %{time_appconnect} %{time_starttransfer}' "${net[@]}" https://www.domain.com/
((rc == 0)) || fail "get -w https: exit $rc: $(cat "$work/err")"
read -r scheme connect tls start <<<"$out"
[[ $scheme == HTTPS ]] || fail "scheme: '$scheme'"
awk -v b="$connect" -v t="$tls" -v c="$start" 'BEGIN { exit !(b > 0 && b < t && t <= c) }' ||
  fail "https times out of order: connect $connect appconnect $tls starttransfer $start"
pass "get -w https: connect $connect < appconnect $tls <= starttransfer $start"

# After a failure too, as curl: 000 and the exit code.
run_rc rc sb "$U" get -s -o /dev/null -w '%{http_code} %{exitcode}\n' "${net[@]}" http://203.0.113.80:81/
((rc == 7)) || fail "get of a closed port: exit $rc (expected 7)"
[[ $out == "000 7" ]] || fail "-w after a refused connection printed '$out' (curl: '000 7')"
curl_out=$(sb --client curl -s -o /dev/null -w '%{http_code} %{exitcode}' http://203.0.113.80:81/ || true)
[[ $curl_out == "000 7" ]] || note "the kernel's curl printed '$curl_out'"
pass "get -w after a refused connection: '$out', as the kernel's curl: '$curl_out'"

# --- the progress meter: on a terminal only ------------------------------------------------------------
# script(1) runs the program on a pseudo-terminal; its stdout/stderr are what a user would see.
on_tty() { sb script -qec "$*" /dev/null; }
meter=$(on_tty "$U get ${net[*]} -o $work/big1.bin http://www.domain.com/$big" | tr '\r' '\n')
expect_match "meter header" "$meter" '% Total +% Received % Xferd +Average Speed +Time +Time +Time +Current'
expect_match "meter last line" "$meter" '^100 +[0-9.]+[kMG]? +100 +[0-9.]+[kMG]? +0 +0 +[0-9.]+[kMG]? +0 '
pass "progress meter on a terminal: curl's header and a last line at 100 %"
bar=$(on_tty "$U get -# ${net[*]} -o $work/big2.bin http://www.domain.com/$big" | tr '\r' '\n')
expect_match "bar" "$bar" '^#{20,} +100\.0%'
expect_no_match "no meter with -#" "$bar" '% Total'
silent=$(on_tty "$U get -s ${net[*]} -o $work/big3.bin http://www.domain.com/$big")
expect_no_match "-s silences" "$silent" '% Total|#####'
piped=$(sb "$U" get "${net[@]}" -o "$work/big4.bin" http://www.domain.com/$big 2>&1)
expect_no_match "no meter without a terminal" "$piped" '% Total'
pass "-# draws the bar to 100.0 %, -s silences it, and without a terminal there is none"

# --- resolve -t / -x / +short against dig from the kernel client ------------------------------------
check_type() {
  local type=$1 name=$2 ours theirs rc=0
  ours=$(sb "$U" resolve "${net[@]}" -t "$type" "$name" +short 2>"$work/err") || rc=$?
  ((rc == 0)) || fail "resolve -t $type $name +short: exit $rc: $(cat "$work/err")"
  theirs=$(sb --client dig +short +tries=1 +time=2 @198.51.100.53 "$name" "$type")
  [[ -n $theirs ]] || fail "dig +short $name $type answered nothing"
  [[ $(sort <<<"$ours") == $(sort <<<"$theirs") ]] ||
    fail "resolve -t $type $name +short: '$ours'; dig +short: '$theirs'"
  pass "resolve -t $type $name +short = dig +short: $(tr '\n' ' ' <<<"$ours")"
}
check_type MX domain.com
check_type TXT domain.com
check_type NS domain.com
check_type SOA domain.com
check_type CNAME web.domain.com
check_type A web.domain.com

ours=$(sb "$U" resolve "${net[@]}" -x 203.0.113.80 +short)
theirs=$(sb --client dig +short +tries=1 +time=2 @198.51.100.53 -x 203.0.113.80)
[[ $ours == "$theirs" && $ours == www.domain.com. ]] || fail "resolve -x 203.0.113.80 +short: '$ours'; dig -x: '$theirs'"
pass "resolve -x 203.0.113.80 +short = dig -x: $ours"

# Without +short: host(1)'s sentences, after the DNS narration.
run_rc rc sb "$U" resolve "${net[@]}" -t MX domain.com
((rc == 0)) || fail "resolve -t MX: exit $rc"
expect_match "host-style MX" "$out" '^domain\.com mail is handled by 10 www\.domain\.com\.$'
expect_match "the question" "$out" 'domain\.com MX'
# A type the name has not: NODATA, exit 6, named.
run_rc rc sb "$U" resolve "${net[@]}" -t AAAA www.domain.com
((rc == 6)) || fail "resolve -t AAAA www.domain.com: exit $rc (expected 6)"
expect_match "no AAAA" "$(cat "$work/err")" 'no AAAA record'
run_rc rc sb "$U" resolve "${net[@]}" -t BOGUS www.domain.com
((rc == 2)) || fail "-t BOGUS: exit $rc"
pass "resolve -t MX prints host's sentence; -t AAAA of a name without one is exit 6 (no AAAA record); -t BOGUS is a usage error"
