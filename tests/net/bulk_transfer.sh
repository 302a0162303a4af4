#!/usr/bin/env bash
# Bulk TCP against the kernel, one cell of the offload matrix per run (tests/CMakeLists.txt
# registers the cells as net.bulk.*):
#
#   bulk_transfer.sh tap|af_packet offload|no-offload download|upload [--mib N] [--faults|--loss] [--wire-check]
#
# download: `ustack get http://PEER:9107/` from an HTTP source of the kernel's; upload:
# `ustack get -T /dev/stdin tcp://PEER:9107` into a kernel sink. The bytes are AES-CTR keystream
# under a fresh key (tools/sandbox.d/bulk-peer.py): incompressible, streamed on both sides, never
# written to disk; byte-exact means the SHA-256 and the count of what arrived equal the source's.
#
#   tap:       our stack on the sandbox's TAP in the router namespace, the peer (bulk-peer.py) in
#              the sandbox's internet on 203.0.113.80, through the router's NAT.
#   af_packet: our stack on "bk0" (--iface, AF_PACKET) in a namespace of its own; the kernel on
#              the veth peer "bk1" 10.74.0.1/24 in another (bulk-peer.py there). bk0 transmits
#              with its offloads off (ethtool -K bk0 tso off gso off tx off): each super-frame we
#              hand the kernel is segmented and checksummed by the kernel in software, as a NIC
#              without TSO needs; bk1 receives with checksum offload off (rx off), so the
#              kernel's TCP verifies every segment's checksum itself. bk1 transmits with its
#              defaults (TSO, checksum offload): what we download arrives as super-frames with
#              partial checksums, with --no-offload too (the driver completes and cuts them).
#
# Checks, every cell: exit 0, SHA-256 and length equal; with offload, an upload sent super-frames
# (DEV.tx_gso_frames > 0); with --no-offload none went either way (DEV.tx_gso_frames 0,
# DEV.rx_gso_frames 0); AF_PACKET --no-offload download: partial checksums completed through
# PACKET_AUXDATA (DEV.rx_csum_completed > 0) and super-frames cut (DEV.rx_gso_cut > 0); AF_PACKET
# upload: the kernel counted no bad checksum (TcpInCsumErrors did not move; under --faults, no more
# than our injector corrupted). --faults: our fault
# injector drops 1 %, corrupts 0.1 % and reorders 1 % of the frames each way (fixed seed, so a
# failure replays); it must have dropped and corrupted something, and the retransmission counters
# are reported; with transmit offload a frame the injector corrupted leaves alone, never joined into a
# super-frame whose checksums the kernel would compute afresh over the damaged bytes (an upload's
# SHA-256 would then differ). --loss: the same without the corruption. --wire-check (af_packet, offload, upload): tcpdump on bk1 takes every frame
# the kernel put on the wire and tshark reads them: every data segment from us at most the MSS
# of our SYN and at most 1514 bytes, every IPv4 and TCP checksum good, no retransmission; the
# segments equal, one for one (sequence number, length, IPv4 identification, flags), those our
# stack made (its --pcap); and super-frames were sent (DEV.tx_gso_frames > 0, more segments than
# super-frames). Figures: MB/s of the transfer, the TCP counters.
# Needs python3 and openssl (the peer and the bytes); af_packet also ethtool, --wire-check tcpdump
# and tshark.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
: "${USTACK_BIN:?USTACK_BIN must point at the bin/ directory of the build}"

(($# >= 3)) || fail "usage: $0 tap|af_packet offload|no-offload download|upload [--mib N] [--faults|--loss] [--wire-check]"
device=$1 mode=$2 direction=$3
shift 3
mib=1024 faulted=0 wire_check=0
while (($#)); do
  case $1 in
    --mib) mib=$2; shift 2 ;;
    --faults) faulted=1; shift ;;
    --loss) faulted=2; shift ;;
    --wire-check) wire_check=1; shift ;;
    *) fail "unknown option $1" ;;
  esac
done
[[ $device == tap || $device == af_packet ]] || fail "device: tap or af_packet, not $device"
[[ $mode == offload || $mode == no-offload ]] || fail "mode: offload or no-offload, not $mode"
[[ $direction == download || $direction == upload ]] || fail "direction: download or upload, not $direction"
if ((wire_check)); then
  [[ $device == af_packet && $mode == offload && $direction == upload ]] || fail "--wire-check is for af_packet offload upload"
fi
TEST_NAME="bulk $device $mode $direction"
((faulted)) && TEST_NAME+=" faults"
((faulted == 2)) && TEST_NAME+=" (loss)"
size=$((mib * 1024 * 1024))

opts=(--stats)
[[ $mode == no-offload ]] && opts+=(--no-offload)
((faulted)) && opts+=(--drop-chance 0.01 --reorder-chance 0.01 --seed 11)
((faulted == 1)) && opts+=(--corrupt-chance 0.001)
PEER_PY="$SANDBOX_DATA/bulk-peer.py"
PORT=9107
key=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

work=$(mktemp -d /tmp/ustack-bulk.XXXXXX)
chmod 0777 "$work"
NS_US="" NS_PEER="" peer_pid="" cap_pid=""
cleanup() {
  set +e
  [[ -n $cap_pid ]] && kill "$cap_pid" 2>/dev/null && wait "$cap_pid" 2>/dev/null
  [[ -n $peer_pid ]] && kill "$peer_pid" 2>/dev/null && wait "$peer_pid" 2>/dev/null
  [[ -n $NS_US ]] && ip netns del "$NS_US" 2>/dev/null
  [[ -n $NS_PEER ]] && ip netns del "$NS_PEER" 2>/dev/null
  rm -rf "$work"
  return 0
}
trap cleanup EXIT

# --- the link -----------------------------------------------------------------------------------------
if [[ $device == tap ]]; then
  require_sandbox
  PEER_NET="$USTACK_SANDBOX-inet"
  PEER_ADDR=203.0.113.80
  OUR_ADDR=10.77.0.79
  us() { timeout 1500 "$SANDBOX" exec "$USTACK_BIN/ustack" "$@" --ip "$OUR_ADDR/24" --gateway 10.77.0.1; }
else
  [[ $(id -u) -eq 0 ]] || fail "net tests run as root (they enter network namespaces)"
  command -v ethtool >/dev/null || fail "ethtool is needed (apt-get install ethtool)"
  NS_US="$USTACK_SANDBOX-bku$$"
  NS_PEER="$USTACK_SANDBOX-bkp$$"
  PEER_NET=$NS_PEER
  PEER_ADDR=10.74.0.1
  OUR_ADDR=10.74.0.50
  ip netns add "$NS_US"
  ip netns add "$NS_PEER"
  for ns in "$NS_US" "$NS_PEER"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
  done
  ip -n "$NS_US" link add bk0 type veth peer name bk1 netns "$NS_PEER"
  ip netns exec "$NS_US" ethtool -K bk0 tso off gso off tx off >/dev/null
  ip netns exec "$NS_PEER" ethtool -K bk1 rx off >/dev/null
  ip -n "$NS_PEER" addr add "$PEER_ADDR/24" dev bk1
  ip -n "$NS_PEER" link set bk1 up
  ip -n "$NS_US" link set bk0 up
  us() { timeout 1500 ip netns exec "$NS_US" "$USTACK_BIN/ustack" "$@" --iface bk0 --ip "$OUR_ADDR/24"; }
  pass "veth bk0 ($NS_US, our stack, tso/gso/tx checksum off) <-> bk1 ($NS_PEER, kernel $PEER_ADDR, rx checksum off)"
fi
in_peer() { ip netns exec "$PEER_NET" "$@"; }
# The peer kernel's TCP counter $1 (/proc/net/snmp: InCsumErrors, RetransSegs).
# shellcheck disable=SC2016 # awk's own $ fields
peer_tcp() { in_peer awk -v f="$1" '$1 == "Tcp:" && !h { for (i = 1; i <= NF; i++) col[$i] = i; h = 1; next }
                                   $1 == "Tcp:" { print $col[f] }' /proc/net/snmp; }

# --- the kernel's end ----------------------------------------------------------------------------------
want=$(python3 "$PEER_PY" gen "$size" "$key" | sha256sum | cut -d' ' -f1)
if [[ $direction == download ]]; then
  setsid ip netns exec "$PEER_NET" python3 "$PEER_PY" source "$PEER_ADDR" "$PORT" "$size" "$key" \
    </dev/null >"$work/peer.out" 2>"$work/peer.err" &
else
  setsid ip netns exec "$PEER_NET" python3 "$PEER_PY" sink "$PEER_ADDR" "$PORT" </dev/null >"$work/peer.out" 2>"$work/peer.err" &
fi
peer_pid=$!   # setsid and ip netns exec both exec: python's own PID
for _ in $(seq 100); do grep -q '^listening' "$work/peer.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^listening' "$work/peer.out" || { cat "$work/peer.err" >&2; fail "bulk-peer.py $direction did not start"; }

if ((wire_check)); then
  opts+=(--pcap "$work/ours.pcap")
  setsid ip netns exec "$NS_PEER" tcpdump -i bk1 -n -s 0 -U -B 65536 -w "$work/wire.pcap" "tcp port $PORT" \
    </dev/null >/dev/null 2>"$work/tcpdump.err" &
  cap_pid=$!
  for _ in $(seq 100); do grep -q 'listening on' "$work/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
  grep -q 'listening on' "$work/tcpdump.err" || { cat "$work/tcpdump.err" >&2; fail "tcpdump did not start"; }
fi

# --- the transfer --------------------------------------------------------------------------------------
errors_before=$(peer_tcp InCsumErrors) retrans_before=$(peer_tcp RetransSegs)
t0=$(date +%s.%N)
set +e
if [[ $direction == download ]]; then
  got=$(us get "${opts[@]}" "http://$PEER_ADDR:$PORT/bulk" -o - 2>"$work/ustack.err" | sha256sum | cut -d' ' -f1)
  rc=${PIPESTATUS[0]}
else
  python3 "$PEER_PY" gen "$size" "$key" | us get "${opts[@]}" -T /dev/stdin "tcp://$PEER_ADDR:$PORT" \
    >/dev/null 2>"$work/ustack.err"
  rc=${PIPESTATUS[1]}
fi
set -e
t1=$(date +%s.%N)
show() { sed 's/^/     | /' "$work/ustack.err" | tail -60 >&2; }
((rc == 0)) || { show; kill "$peer_pid" 2>/dev/null; fail "ustack get exited $rc"; }
for _ in $(seq 300); do kill -0 "$peer_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$peer_pid" 2>/dev/null && { show; fail "bulk-peer.py still runs 30 s after the transfer: $(cat "$work/peer.out")"; }
wait "$peer_pid" || { cat "$work/peer.err" >&2; peer_pid=""; fail "bulk-peer.py failed"; }
peer_pid=""
if [[ $direction == upload ]]; then
  read -r what count got < <(grep -E '^received ' "$work/peer.out")
  [[ $what == received && $count == "$size" ]] || { show; fail "the sink received ${count:-nothing}, not $size bytes"; }
fi
[[ $got == "$want" ]] || { show; fail "SHA-256 of what arrived $got, of the source $want"; }
rate=$(awk -v s="$t0" -v e="$t1" -v n="$size" 'BEGIN { printf "%.1f", n / (e - s) / 1e6 }')
pass "$mib MiB $direction byte-exact (SHA-256 $want) at $rate MB/s: $(grep -E '^ustack get:' "$work/ustack.err" || true)"

# --- the counters --------------------------------------------------------------------------------------
stats=$(cat "$work/ustack.err")
# The device's counters are DEV.name (tap0.tx_frames, bk0.rx_gso_cut), the fault injector's DEV.fault.name.
dev() { awk -v n="$1" '$1 ~ ("^[a-z0-9]+\\." n "$") { print $2; exit }' <<<"$stats"; }
tcp() { awk -v n="tcp.$1" '$1 == n { print $2; exit }' <<<"$stats"; }
gso_tx=$(dev tx_gso_frames) gso_segs=$(dev tx_gso_segments) gso_rx=$(dev rx_gso_frames)
[[ -n $gso_tx && -n $gso_rx ]] || { show; fail "the device's counters are missing from --stats"; }
if [[ $mode == offload && $direction == upload ]]; then
  ((gso_tx > 0)) || { show; fail "no super-frame sent with transmit offload (DEV.tx_gso_frames 0)"; }
fi
if [[ $mode == no-offload ]]; then
  ((gso_tx == 0 && gso_rx == 0)) || { show; fail "--no-offload: DEV.tx_gso_frames $gso_tx, DEV.rx_gso_frames $gso_rx"; }
fi
if [[ $device == af_packet && $mode == no-offload && $direction == download ]]; then
  completed=$(dev rx_csum_completed) cut=$(dev rx_gso_cut)
  ((completed > 0)) || { show; fail "--no-offload on a veth: no partial checksum completed (DEV.rx_csum_completed 0)"; }
  ((cut > 0)) || { show; fail "--no-offload on a veth: no super-frame cut (DEV.rx_gso_cut 0)"; }
  note "AF_PACKET without vnet_hdr: rx_csum_completed $completed, rx_gso_cut $cut, rx_dropped_too_big $(dev rx_dropped_too_big)"
fi
if [[ $device == af_packet && $direction == upload ]]; then
  csum_errors=$(($(peer_tcp InCsumErrors) - errors_before))
  # Under --faults the frames our injector corrupted on the way out are the only bad ones.
  corrupted_out=$(dev fault.tx_corrupted)
  ((csum_errors <= ${corrupted_out:-0})) ||
    fail "the kernel counted $csum_errors TCP checksum errors (TcpInCsumErrors), our injector corrupted ${corrupted_out:-0} frames"
  note "the peer's kernel verified every checksum (bk1 rx checksum offload off): $csum_errors bad (TcpInCsumErrors), ${corrupted_out:-0} corrupted by our injector"
fi
if ((faulted)); then
  dropped=$(awk '$1 ~ /fault\.(rx|tx)_dropped$/ { s += $2 } END { print s + 0 }' <<<"$stats")
  corrupted=$(awk '$1 ~ /fault\.(rx|tx)_corrupted$/ { s += $2 } END { print s + 0 }' <<<"$stats")
  ((dropped > 0 && (corrupted > 0 || faulted == 2))) || { show; fail "the fault injector dropped $dropped and corrupted $corrupted frames"; }
  note "faults: $(grep -E 'fault\.(rx|tx)_(dropped|corrupted|delayed) ' <<<"$stats" | tr -s ' ' | paste -sd ',' -)"
fi
note "DEV: tx_gso_frames $gso_tx, tx_gso_segments ${gso_segs:-?}, rx_gso_frames $gso_rx, rx_csum_completed $(dev rx_csum_completed)$([[ $device == af_packet ]] && printf ", rx_kernel_drops %s" "$(dev rx_kernel_drops)")"
[[ $direction == download ]] && note "the peer's kernel retransmitted $(($(peer_tcp RetransSegs) - retrans_before)) segments (RetransSegs)"
note "tcp: retransmitted $(tcp retransmitted), fast_retransmits $(tcp fast_retransmits), rto_expired $(tcp rto_expired), segments_in $(tcp segments_in), segments_out $(tcp segments_out)"

# --- what the kernel put on the wire -------------------------------------------------------------------
if ((wire_check)); then
  # tcpdump may lag behind the wire on a busy machine, and frames still in its socket buffer at
  # SIGINT are neither written nor counted as dropped: stop it once its file (written per packet,
  # -U) has not grown for a second, 30 s at most.
  last_size=-1
  for _ in $(seq 60); do
    size=$(stat -c %s "$work/wire.pcap" 2>/dev/null || echo 0)
    if [[ $size == "$last_size" ]]; then
      sleep 0.5
      [[ $(stat -c %s "$work/wire.pcap" 2>/dev/null || echo 0) == "$size" ]] && break
    fi
    last_size=$size
    sleep 0.5
  done
  kill -INT "$cap_pid"
  wait "$cap_pid" || true
  cap_pid=""
  kdrops=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$work/tcpdump.err")
  [[ $kdrops == 0 ]] || fail "tcpdump lost frames (${kdrops:-?} dropped by kernel): the capture is not the whole wire"
  tsk() { tshark -n -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE -o tcp.relative_sequence_numbers:FALSE "$@" 2>/dev/null; }
  filter="ip.src == $OUR_ADDR && tcp.len > 0"
  mss=$(tsk -r "$work/wire.pcap" -Y "ip.src == $OUR_ADDR && tcp.flags.syn == 1" -T fields -e tcp.options.mss_val | head -1)
  [[ -n $mss ]] || fail "no SYN of ours with an MSS in the capture"
  read -r segs largest_frame largest_len bad_ip bad_tcp < <(tsk -r "$work/wire.pcap" -Y "$filter" -T fields \
    -e frame.len -e tcp.len -e ip.checksum.status -e tcp.checksum.status |
    awk '{ n++; if ($1 > f) f = $1; if ($2 > l) l = $2; if ($3 != 1) bi++; if ($4 != 1) bt++ }
         END { print n + 0, f + 0, l + 0, bi + 0, bt + 0 }')
  ((segs > 0)) || fail "no data segment of ours in the capture"
  ((largest_len <= mss && largest_frame <= 1514)) ||
    fail "a segment on the wire is larger than the MSS $mss or 1514 bytes: largest payload $largest_len, largest frame $largest_frame"
  ((bad_ip == 0 && bad_tcp == 0)) || fail "checksums on the wire not good (tshark): $bad_ip IPv4, $bad_tcp TCP of $segs segments"
  retrans=$(tsk -r "$work/wire.pcap" -Y "$filter && tcp.analysis.retransmission" | wc -l)
  ((retrans == 0)) || fail "$retrans retransmissions on a link that loses nothing"
  ((gso_tx > 0 && gso_segs > gso_tx)) || fail "super-frames: tx_gso_frames $gso_tx, tx_gso_segments $gso_segs"
  fields=(-T fields -e tcp.seq -e tcp.len -e ip.id -e tcp.flags)
  tsk -r "$work/ours.pcap" -Y "$filter" "${fields[@]}" >"$work/ours.txt"
  tsk -r "$work/wire.pcap" -Y "$filter" "${fields[@]}" >"$work/wire.txt"
  cmp -s "$work/ours.txt" "$work/wire.txt" ||
    fail "the wire's segments differ from the ones our stack made: $(diff "$work/ours.txt" "$work/wire.txt" | head -5 | paste -sd ' ' -)"
  pass "wire (tcpdump on bk1): $segs data segments, each <= MSS $mss (largest $largest_len payload, $largest_frame bytes), IPv4 and TCP checksums good, no retransmission"
  pass "the same $segs segments as our --pcap (seq, length, IPv4 id, flags), from $gso_tx super-frames carrying $gso_segs segments"
fi
