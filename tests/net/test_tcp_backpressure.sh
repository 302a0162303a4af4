#!/usr/bin/env bash
# Back-pressure from the device: `ustack get -T` uploads through AF_PACKET (--iface) on a veth
# whose queue is a token bucket (tc tbf) far slower than the stack can write. The kernel refuses
# writes when that queue (or the packet socket's send buffer behind it) is full: sendmsg()
# returns ENOBUFS or EAGAIN. The driver must keep the refused frames and write them again when
# there is room, and TCP must wait for it meanwhile, not lose frames and retransmit them.
#
#   <inst>-bpk<pid>  "bp0"  10.75.0.50/24: our stack, --iface bp0 (the kernel has no address here)
#        | veth, egress of bp0: tbf 40 Mbit/s, a 256 KiB queue
#   <inst>-bpr<pid>  "bp1"  10.75.0.1/24: the kernel, socat writing what arrives to a file
#
# Checks, with transmit offload (the default): the 8 MiB file arrives byte-exact; the driver held
# refused frames (DEV.tx_held > 0) and dropped none (tx_dropped_backlog_full 0); TCP held its data
# for the link (tcp.link_busy_holds > 0) and lost nothing. The veth loses nothing, so a
# retransmission is either a frame our side dropped or a spurious one; and the veth does reorder:
# frames the qdisc releases from its timer on one CPU and from our write on the other enter
# different CPUs' backlogs, and RACK's reordering window (a quarter of a minimum RTT of tens of
# microseconds, RFC 8985 §6.2) can take a reordered frame for a lost one. So every retransmission
# must have reached the peer twice: its kernel counts each duplicate it answers with a D-SACK
# (RFC 2883; TcpExtTCPDSACKOldSent, TcpExtTCPDSACKOfoSent). The same with
# --no-offload (one frame per write): the veth peer's ACKs carry partial checksums (its checksum
# offload), which the driver learns of from PACKET_AUXDATA and completes.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
[[ $(id -u) -eq 0 ]] || fail "net tests run as root (they enter network namespaces)"
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"

NS_US="$USTACK_SANDBOX-bpk$$"
NS_PEER="$USTACK_SANDBOX-bpr$$"
work=$(mktemp -d /tmp/ustack-backpressure-test.XXXXXX)
sink_pid=""
cleanup() {
  [[ -n $sink_pid ]] && kill "$sink_pid" 2>/dev/null && wait "$sink_pid" 2>/dev/null
  ip netns del "$NS_US" 2>/dev/null
  ip netns del "$NS_PEER" 2>/dev/null
  rm -rf "$work"
  return 0
}
trap cleanup EXIT

ip netns add "$NS_US"
ip netns add "$NS_PEER"
for ns in "$NS_US" "$NS_PEER"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
done
ip -n "$NS_US" link add bp0 type veth peer name bp1 netns "$NS_PEER"
ip -n "$NS_PEER" addr add 10.75.0.1/24 dev bp1
ip -n "$NS_PEER" link set bp1 up
ip -n "$NS_US" link set bp0 up
# A slow, short queue on our side's egress: 40 Mbit/s, 256 KiB of backlog, and a burst above the
# largest super-frame (tbf cuts a larger one into segments and drops the ones that do not fit
# without telling the sender, which would be loss, not back-pressure).
ip netns exec "$NS_US" tc qdisc add dev bp0 root tbf rate 40mbit burst 128kb limit 256kb
pass "veth bp0 ($NS_US, our stack) <-> bp1 ($NS_PEER, kernel 10.75.0.1); bp0's queue: tbf 40mbit, limit 256kb"

head -c $((8 << 20)) /dev/urandom >"$work/upload.bin"

# Duplicate segments the peer's kernel received so far (each answered with a D-SACK).
peer_duplicates() {
  ip netns exec "$NS_PEER" nstat -az TcpExtTCPDSACKOldSent TcpExtTCPDSACKOfoSent | awk '/^TcpExt/ {n += $2} END {print n + 0}'
}

# One upload; $1: what it is, then extra options for ustack get.
upload() {
  local label=$1; shift
  rm -f "$work/received.bin"
  setsid ip netns exec "$NS_PEER" socat -u TCP-LISTEN:9000,reuseaddr OPEN:"$work/received.bin",creat,trunc \
    </dev/null >"$work/socat.log" 2>&1 &
  sink_pid=$!
  for _ in $(seq 50); do
    ip netns exec "$NS_PEER" ss -Htln 'sport = :9000' | grep -q . && break
    sleep 0.1
  done
  local out rc dups_before dups_after
  dups_before=$(peer_duplicates)
  set +e
  out=$(timeout 120 ip netns exec "$NS_US" "$USTACK_BIN/ustack" get --iface bp0 --ip 10.75.0.50/24 --stats "$@" \
    -T "$work/upload.bin" tcp://10.75.0.1:9000 2>&1)
  rc=$?
  set -e
  ((rc == 0)) || kill "$sink_pid" 2>/dev/null   # socat would wait for a connection for ever
  wait "$sink_pid" 2>/dev/null || true
  sink_pid=""
  ((rc == 0)) || { printf '%s\n' "$out" | sed 's/^/     | /' >&2; fail "$label: ustack get -T exited $rc"; }
  cmp -s "$work/upload.bin" "$work/received.bin" || fail "$label: the file did not arrive byte-exact"
  local held dropped holds retrans
  held=$(awk '$1 == "bp0.tx_held" {print $2}' <<<"$out")
  dropped=$(awk '$1 == "bp0.tx_dropped_backlog_full" {print $2}' <<<"$out")
  holds=$(awk '$1 == "tcp.link_busy_holds" {print $2}' <<<"$out")
  retrans=$(awk '$1 == "tcp.retransmitted" {print $2}' <<<"$out")
  [[ -n $held && -n $dropped && -n $holds && -n $retrans ]] || { printf '%s\n' "$out" | sed 's/^/     | /' >&2; fail "$label: counters missing from --stats"; }
  ((held > 0)) || { printf '%s\n' "$out" | sed 's/^/     | /' >&2; fail "$label: the queue never refused a write (bp0.tx_held 0): the test did not test"; }
  ((dropped == 0)) || fail "$label: $dropped frames dropped with the backlog full"
  ((holds > 0)) || fail "$label: TCP never held its data for the link (tcp.link_busy_holds 0)"
  dups_after=$(peer_duplicates)
  local dups=$((dups_after - dups_before))
  ((retrans <= dups)) || { printf '%s\n' "$out" | sed 's/^/     | /' >&2; fail "$label: $retrans segments retransmitted, the peer received only $dups twice: frames were lost on a link that loses nothing"; }
  pass "$label: 8 MiB byte-exact; bp0.tx_held $held, tx_dropped_backlog_full 0, tcp.link_busy_holds $holds, tcp.retransmitted $retrans (the peer received $dups segments twice: none was lost)"
}

upload "with transmit offload (super-frames)"
upload "without offload (one frame per write)" --no-offload
