#!/usr/bin/env bash
# A subresource that completes after the mini-browser stopped waiting for it (120 s): the page is
# shown without it, and when its last byte arrives later (while the connections close) its
# callback must find its tally alive — no write into the stack frame of a function that returned
# (ASan's stack-use-after-return, switched on here). The narration says what happened: the
# summary counts it as not complete after 120 s, and its own line comes late and says so, which the
# pcap confirms (the last byte arrived more than 120 s after the request).
# A server in the sandbox's internet (203.0.113.80 port 9031) serves a page with one image and
# sends the image's 13 bytes one every 10 s, the last at 122 s. The test takes about 2 minutes.
# Address 10.77.0.57.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"

work=$(mktemp -d /tmp/ustack-subresource-late.XXXXXX)
chmod 0777 "$work"
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/slow.py" <<'EOF'
import socket, sys, threading, time
PAGE = b"<html><head><title>late</title></head><body><p>one image</p><img src=\"/slow.gif\"></body></html>"
def serve(conn):
    buf = b""
    with conn:
        while True:
            while b"\r\n\r\n" not in buf:
                got = conn.recv(4096)
                if not got:
                    return
                buf += got
            head, buf = buf.split(b"\r\n\r\n", 1)
            path = head.split(b" ")[1]
            if path == b"/slow.gif":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/gif\r\nContent-Length: 13\r\n\r\n")
                print("slow: started", flush=True)
                for i in range(12):
                    conn.sendall(b"G")
                    time.sleep(10)
                time.sleep(2)
                conn.sendall(b"!")
                print("slow: done", flush=True)
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(PAGE) + PAGE)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(8)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
"$SANDBOX" exec --inet --root python3 "$work/slow.py" 203.0.113.80 9031 >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do grep -q '^listening' "$work/server.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^listening' "$work/server.log" || { cat "$work/server.log" >&2; fail "the slow server did not start"; }

rc=0
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_stack_use_after_return=1" \
  timeout 200 "$SANDBOX" exec "$USTACK_BIN/minibrowser" --no-color --level 6 --max-per-host 1 \
  --ip 10.77.0.57/24 --gateway 10.77.0.1 --pcap "$work/late.pcap" http://203.0.113.80:9031/ \
  >"$work/page.txt" 2>"$work/n.txt" || rc=$?
unwrap_file "$work/n.txt"
n=$(cat "$work/n.txt")
if grep -q 'AddressSanitizer' <<<"$n"; then
  grep -A12 'AddressSanitizer' <<<"$n" >&2
  fail "the late subresource's callback touched memory that was gone"
fi
((rc == 0)) || { printf '%s\n' "$n" >&2; fail "minibrowser exited with $rc"; }
grep -q 'one image' "$work/page.txt" || fail "the page was not shown: $(cat "$work/page.txt")"
grep -q '^slow: done' "$work/server.log" || fail "the server never sent the last byte: $(cat "$work/server.log")"

summary=$(grep -nE 'subresources: 0 of 1, 0 bytes in [0-9.]+ ms; 1 not complete after 120 s: the page is shown without waiting longer$' <<<"$n") ||
  { printf '%s\n' "$n" >&2; fail "no summary saying the image was not complete after 120 s"; }
late=$(grep -nE '  image /slow\.gif → 200, 13 bytes on connection #1 \(reused\) \(after the wait for the subresources had ended\)$' <<<"$n") ||
  { printf '%s\n' "$n" >&2; fail "no late line for /slow.gif"; }
((${late%%:*} > ${summary%%:*})) || fail "the late line comes before the summary"
pass "a subresource completed after the 120 s wait: counted as not complete, its late line said after the summary, no use of a dead stack frame"

# The pcap: the request for /slow.gif, and its last byte more than 120 s later.
req=$(tshark -r "$work/late.pcap" -Y 'http.request.uri == "/slow.gif"' -T fields -e frame.time_epoch 2>/dev/null | head -1)
last=$(tshark -r "$work/late.pcap" -Y 'tcp.srcport == 9031 && tcp.len == 1' -T fields -e frame.time_epoch 2>/dev/null | tail -1)
[[ -n $req && -n $last ]] || fail "the pcap lacks the request ($req) or the image's bytes ($last)"
gap=$(awk -v a="$req" -v b="$last" 'BEGIN { printf "%.1f", b - a }')
awk -v g="$gap" 'BEGIN { exit !(g > 120) }' || fail "the image's last byte came $gap s after its request: not after the 120 s wait"
pass "the pcap: /slow.gif's last byte arrived $gap s after its request"

# The connection that carried it is closed with our FIN once the response is in, not left open.
closing=$(grep -nE 'pool: closing connection #1 \(the browser is done\)$' <<<"$n" | tail -1) ||
  { printf '%s\n' "$n" >&2; fail "connection #1 was never closed"; }
((${closing%%:*} > ${late%%:*})) || fail "connection #1 was closed before its late response was complete"
fin=$(tshark -r "$work/late.pcap" -Y 'tcp.dstport == 9031 && tcp.flags.fin == 1' -T fields -e frame.time_epoch 2>/dev/null | head -1)
[[ -n $fin ]] || fail "the pcap has no FIN of ours to port 9031"
awk -v f="$fin" -v l="$last" 'BEGIN { exit !(f >= l) }' || fail "our FIN left before the image's last byte arrived"
pass "after the late response, connection #1 is closed with our FIN, as the pcap shows"
