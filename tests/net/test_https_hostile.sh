#!/usr/bin/env bash
# https against TLS servers that misbehave on purpose (tools/sandbox.d/hostile-tls-server.py, in the
# sandbox's internet on 203.0.113.80, ports 9001-9008, with the sandbox CA's www.domain.com
# certificate), for `ustack get` and `minibrowser`, next to the kernel client's curl on the same
# path. Each case: the exit code, one line that names the reason, and how our side ended the
# connection as the server saw it (never left open: a RST after a failure half-way).
#   garbage          bytes that are no TLS record instead of a ServerHello      35 (curl 35)
#   hs-truncated     the ServerHello flight cut inside a record, then FIN       35 (curl 35)
#   hs-stall         no answer to the ClientHello, past -m 3                    28 (curl 28)
#   body-truncated   half a record, then FIN without close_notify, mid-body     18 (curl 18)
#   eof-mid-body     FIN without close_notify after 100000 of 200000 bytes      18 (curl 18)
#   notify-mid-body  close_notify then FIN after 100000 of 200000 bytes         18 (curl 18)
#   eof-no-length    a body read until the close, ended without close_notify    56 (curl 0: see below)
#   stall            handshake done, request read, then silence past -m 3       28 (curl 28), RST
# A truncation is never success: with the length known, the framing says what is missing (curl's
# "transfer closed with N bytes remaining", 18); without it, only close_notify proves the body whole
# (RFC 8446 §6.1), so that stays an error (56) where curl 7.88 reports success.
# Addresses 10.77.0.93 (ustack get), 10.77.0.94 (minibrowser).
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"

work=$(mktemp -d /tmp/ustack-https-hostile.XXXXXX)
chmod 0777 "$work"
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true  # killed: 143, which must not become the test's status
  fi
  rm -rf "$work"
}
trap cleanup EXIT

declare -A port=([garbage]=9001 [hs-truncated]=9002 [hs-stall]=9003 [body-truncated]=9004 [eof-mid-body]=9005
  [notify-mid-body]=9006 [eof-no-length]=9007 [stall]=9008)
modes=(garbage hs-truncated hs-stall body-truncated eof-mid-body notify-mid-body eof-no-length stall)
declare -A want=([garbage]=35 [hs-truncated]=35 [hs-stall]=28 [body-truncated]=18 [eof-mid-body]=18
  [notify-mid-body]=18 [eof-no-length]=56 [stall]=28)
# The one line each failure prints (after "ustack get: " / "minibrowser: URL: ").
declare -A reason=(
  [garbage]="TLS handshake failed: wrong version number$"
  [hs-truncated]="TLS handshake: the server closed the connection before the handshake was complete$"
  [hs-stall]="Operation timed out during the TLS handshake with www.domain.com$"
  [body-truncated]="connection closed before the end of the response: got 100000 of 200000 body bytes"
  [eof-mid-body]="connection closed before the end of the response: got 100000 of 200000 body bytes"
  [notify-mid-body]="connection closed before the end of the response: got 100000 of 200000 body bytes"
  [eof-no-length]="TLS: the server closed the connection without close_notify: the response may be truncated"
  [stall]="Operation timed out after 3[0-9]{3} ms with 0 bytes received$")

args=()
for m in "${modes[@]}"; do args+=("$m=${port[$m]}"); done
"$SANDBOX" exec --inet --root python3 "$SANDBOX_DATA/hostile-tls-server.py" 203.0.113.80 \
  "$STATE/pki/www.pem" "$STATE/pki/www.key" 280 "${args[@]}" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do grep -q '^listening' "$work/server.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^listening' "$work/server.log" || { cat "$work/server.log" >&2; fail "the hostile TLS server did not start"; }

# seen MODE: how many connections of MODE the server has finished with.
seen() { grep -c "^conn mode=$1 " "$work/server.log" || true; }
# server_end MODE BEFORE: waits (5 s) for connection number BEFORE+1 of MODE to end; prints its line.
server_end() {
  for _ in $(seq 50); do (($(seen "$1") > $2)) && break; sleep 0.1; done
  grep "^conn mode=$1 " "$work/server.log" | sed -n "$(($2 + 1))p"
}

# --- the kernel's curl: what a mature client does on the same path ------------------------------------
declare -A curl_rc
for m in "${modes[@]}"; do
  rc=0
  timeout 30 "$SANDBOX" exec --client curl -sS -m 3 -o /dev/null "https://www.domain.com:${port[$m]}/" 2>"$work/curl.err" || rc=$?
  curl_rc[$m]=$rc
  note "curl $m: exit $rc $(head -1 "$work/curl.err")"
done

# --- ustack get -------------------------------------------------------------------------------------
for m in "${modes[@]}"; do
  before=$(seen "$m")
  rc=0
  out=$(timeout 30 "$SANDBOX" exec "$USTACK_BIN/ustack" get --ip 10.77.0.93/24 --gateway 10.77.0.1 --dns 198.51.100.53 \
    -m 3 -o "$work/body" "https://www.domain.com:${port[$m]}/" 2>&1) || rc=$?
  ((rc == want[$m])) || { printf '%s\n' "$out" | sed 's/^/     | /' >&2; fail "ustack get, $m: exit $rc, expected ${want[$m]}"; }
  [[ $(wc -l <<<"$out") -eq 1 ]] || fail "ustack get, $m: expected one line, got: $out"
  expect_match "ustack get, $m" "$out" "^ustack get: (Recv failure: )?${reason[$m]}"
  end=$(server_end "$m" "$before")
  [[ -n $end ]] || fail "ustack get, $m: the server never saw the connection end: $(cat "$work/server.log")"
  case $m in
    hs-stall | stall)
      # Abandoned at -m: a RST at about 3 s, so the server lets go at once.
      expect_match "ustack get, $m: RST at -m" "$end" " end=rst at=(2\.[5-9]|3\.|4\.)" ;;
    *) expect_match "ustack get, $m: connection ended" "$end" " end=(rst|fin) " ;;
  esac
  if [[ $m != eof-no-length ]]; then
    ((rc == curl_rc[$m])) || fail "ustack get, $m: exit $rc, but curl exits ${curl_rc[$m]}"
  fi
  pass "ustack get, $m: exit $rc (curl ${curl_rc[$m]}): ${out#ustack get: }; server: ${end#conn }"
done
((curl_rc[eof-no-length] == 0)) && note "eof-no-length: curl 7.88 takes a body ended without close_notify as whole (exit 0); we do not (56)"

# --- minibrowser: the same servers through the pool (its response timeout is 30 s, so only the stall
# after the handshake is waited for; the handshake stall is the same code path as ustack get's). ---
for m in garbage hs-truncated body-truncated eof-mid-body notify-mid-body eof-no-length stall; do
  before=$(seen "$m")
  rc=0
  timeout 60 "$SANDBOX" exec "$USTACK_BIN/minibrowser" --ip 10.77.0.94/24 --gateway 10.77.0.1 --dns 198.51.100.53 \
    "https://www.domain.com:${port[$m]}/" >"$work/page" 2>"$work/mb.err" || rc=$?
  out=$(cat "$work/mb.err")
  want_mb=${want[$m]}
  reason_mb=${reason[$m]}
  [[ $m == stall ]] && reason_mb="no response from 203\.0\.113\.80 in 30 s$"
  ((rc == want_mb)) || { printf '%s\n' "$out" | sed 's/^/     | /' >&2; fail "minibrowser, $m: exit $rc, expected $want_mb"; }
  expect_match "minibrowser, $m" "$out" "^minibrowser: https://www.domain.com:${port[$m]}/: $reason_mb"
  [[ $(wc -l <<<"$out") -eq 1 ]] || fail "minibrowser, $m: expected one line on stderr at level 1, got: $out"
  [[ ! -s $work/page ]] || fail "minibrowser, $m: printed a page from a broken response: $(head -c 200 "$work/page")"
  end=$(server_end "$m" "$before")
  expect_match "minibrowser, $m: connection ended by RST" "$end" " end=rst "
  pass "minibrowser, $m: exit $rc, no page; server: ${end#conn }"
done
