// One TCP connection: the transmission control block (RFC 9293 §3.3.1) and its timers.
//
// Read first: RFC 9293 §3.3 (sequence variables), §3.10 (event processing); RFC 6298 (RTO);
// RFC 5681 + RFC 6582 (congestion control, NewReno); RFC 7323 (window scale, timestamps, PAWS);
// RFC 2018 + RFC 6675 (SACK); RFC 8985 (RACK-TLP loss detection); RFC 5961 (blind-attack
// mitigations).
//
// The socket is driven by TcpLayer (tcp_layer.hpp), which owns demultiplexing, listeners, ISNs
// and ports. Input lives in tcp_input.cpp (RFC 9293 "SEGMENT ARRIVES"), output and timers in
// tcp_output.cpp, the user calls (SEND, RECEIVE, CLOSE, ABORT) in tcp_socket.cpp. The TCB's
// parts, each with its own state and tests: tcp_sender.hpp (SND.*, the send buffer, SWS
// avoidance and Nagle), tcp_receiver.hpp (RCV.*, reassembly, the advertised window),
// tcp_timers.hpp, tcp_recovery.hpp (fast recovery, RFC 6675), tcp_sack.hpp (the scoreboard),
// tcp_rack.hpp (RACK-TLP), tcp_congestion.hpp, tcp_rtt.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "stack/socket/tcp_congestion.hpp"
#include "stack/socket/tcp_rack.hpp"
#include "stack/socket/tcp_receiver.hpp"
#include "stack/socket/tcp_recovery.hpp"
#include "stack/socket/tcp_rtt.hpp"
#include "stack/socket/tcp_sack.hpp"
#include "stack/socket/tcp_sender.hpp"
#include "stack/socket/tcp_timers.hpp"
#include "stack/time.hpp"
#include "stack/util/ring_buffer.hpp"
#include "stack/wire/ip_address.hpp"
#include "stack/wire/tcp.hpp"

namespace stack::socket {

using SocketId = std::uint32_t;
using wire::tcp::SeqNum;

// RFC 9293 §3.3.2: the eleven states. Printed with the RFC spelling ("SYN-SENT").
enum class TcpState {
  Closed, Listen, SynSent, SynReceived, Established, FinWait1, FinWait2, CloseWait, Closing, LastAck, TimeWait
};
const char* to_string(TcpState s);

// Why a connection ended badly, as the application sees it.
enum class TcpError {
  Refused,      // RST in answer to our SYN (RFC 9293 §3.10.7.3)
  Reset,        // RST on a synchronized connection (ECONNRESET)
  TimedOut,     // retransmissions or keepalive probes went unanswered (RFC 9293 §3.8.3 R2)
  Unreachable,  // ICMP hard error, or the timeout followed ICMP soft errors (RFC 1122 §4.2.3.9)
};
const char* to_string(TcpError e);

// Every reason the TCP layer discards an incoming segment. Stable counter names in stats().
enum class TcpDrop {
  Malformed,            // header or options do not parse (docs/hostile-inputs.md §F)
  BadChecksum,          // RFC 9293 MUST-3: drop silently
  BadAddress,           // broadcast/multicast/unspecified endpoint, or port 0
  NoSocket,             // answered with RST (RFC 9293 §3.10.7.1)
  ListenNotSyn,         // non-SYN to a listener (§3.10.7.2)
  AcceptQueueFull,      // handshakes completed and not yet accepted fill the listen() backlog
  SynQueueFull,         // half-open + accept queue at the backlog, SYN cookies off (docs/hostile-inputs.md #57)
  SocketTableFull,      // the layer's max_sockets reached: no new connection of any kind
  SynSentBadAck,        // §3.10.7.3 first: ACK outside (ISS, SND.NXT]
  SynSentNoSyn,         // §3.10.7.3 fifth: neither SYN nor RST
  OutOfWindow,          // §3.10.7.4 first: unacceptable segment (answered with an ACK)
  PawsRejected,         // RFC 7323 §5.3 R1
  RstOutOfWindow,       // RFC 5961 §3.2: silently dropped
  RstNotExact,          // RFC 5961 §3.2: challenge ACK instead
  SynInWindow,          // RFC 5961 §4: challenge ACK instead
  NoAck,                // §3.10.7.4 fifth: "if the ACK bit is off, drop the segment"
  AckUnsent,            // SEG.ACK > SND.NXT: ACK and drop
  AckTooOld,            // RFC 5961 §5.2: SEG.ACK < SND.UNA - MAX.SND.WND
  SynReceivedBadAck,    // §3.10.7.4 fifth, SYN-RECEIVED: answered with RST
  ReassemblyFull,       // out-of-order range limit reached (docs/hostile-inputs.md #58)
  DataAfterClose,       // text after our user closed or after the peer's FIN
  TimeWaitRst,          // RFC 1337: RST ignored in TIME-WAIT
  TimeWaitOldSyn,       // RFC 6191 §2: a SYN in TIME-WAIT that is not newer is silently dropped
  RstQueueFull,         // RST generation rate limit (RFC 9293 §3.10.7.1)
  ChallengeAckLimited,  // RFC 5961 §7: challenge ACK suppressed
  IcmpNotInWindow,      // RFC 5927 §4.1: ICMP error whose sequence number is not in flight
  FinBeyondWindow,      // a FIN at or past the right window edge (zero window): FIN ignored, ACK kept
  Count_
};
inline constexpr std::size_t kTcpDropCount = static_cast<std::size_t>(TcpDrop::Count_);
const char* to_string(TcpDrop d);     // "out of window"
const char* counter_name(TcpDrop d);  // "tcp.drop.out_of_window"

// Traffic counters besides drops.
struct TcpCounters {
  std::uint64_t segments_in = 0;
  std::uint64_t segments_out = 0;
  std::uint64_t retransmitted = 0;
  std::uint64_t rto_expired = 0;
  std::uint64_t fast_retransmits = 0;
  std::uint64_t sack_recoveries = 0;
  std::uint64_t spurious_retransmits = 0;  // fast retransmits undone (RFC 3522 / RFC 4015)
  std::uint64_t rst_sent = 0;
  std::uint64_t rst_received = 0;
  std::uint64_t challenge_acks = 0;
  std::uint64_t active_opens = 0;
  std::uint64_t passive_opens = 0;
  std::uint64_t window_probes = 0;
  std::uint64_t sack_reneged = 0;          // a timeout found the segment at SND.UNA SACKed (RFC 2018 §8)
  std::uint64_t sws_overrides = 0;         // SWS avoidance overridden by the persist timer (RFC 1122 §4.2.3.4)
  std::uint64_t orphans_timed_out = 0;     // closed by the application, no progress (Linux tcp_orphan_retries)
  std::uint64_t keepalive_probes = 0;
  std::uint64_t time_wait_reused = 0;      // a new SYN ended a TIME-WAIT early (RFC 6191)
  std::uint64_t time_wait_evicted = 0;     // the TIME-WAIT table was full: its oldest record went
  std::uint64_t syncookies_sent = 0;       // SYN-ACKs sent statelessly, the SYN queue full (RFC 4987 §3.6)
  std::uint64_t syncookies_validated = 0;  // ACKs whose cookie checked out: a connection made from it
  std::uint64_t syncookies_failed = 0;     // ACKs to a listener whose cookie did not check out (RST)
  std::uint64_t syncookies_superseded = 0; // half-open connections replaced by the cookie their peer ACKed
  std::uint64_t rack_lost = 0;             // segments RACK declared lost (RFC 8985 §6.2 step 5)
  std::uint64_t tlp_probes = 0;            // tail loss probes sent (RFC 8985 §7.3)
  std::uint64_t tlp_recoveries = 0;        // losses a probe repaired: the original was lost (§7.4)
  std::uint64_t dsacks_received = 0;       // ACKs whose first SACK block was a D-SACK (RFC 2883)
  std::uint64_t dsack_undos = 0;           // recoveries undone: every retransmission D-SACKed (RFC 3708)
  std::uint64_t link_busy_holds = 0;       // turns a connection held its data: the device's queue was full
  std::uint64_t rto_held = 0;              // timeouts held back: what they cover had not left this host
  std::array<std::uint64_t, kTcpDropCount> drops{};
};

// What happened, for the narrator (docs/architecture.md "Narration from events").
namespace tcp_event {
struct StateChanged { SocketId id; TcpState from; TcpState to; };
// RetransmitCause: tcp_recovery.hpp.
struct Retransmitted { SocketId id; SeqNum seq; std::uint32_t len; Duration rto; RetransmitCause cause; };
struct WindowProbe { SocketId id; SeqNum seq; };
struct PeerWindow { SocketId id; std::uint32_t window; };  // the peer's window became 0 or reopened
struct FinSent { SocketId id; bool first; };                // first: we closed before the peer
struct FinReceived { SocketId id; bool first; };
struct RstSent { std::optional<SocketId> id; std::string reason; };
struct RstReceived { SocketId id; TcpState in; };
struct ChallengeAck { SocketId id; std::string reason; };
struct Dropped { std::optional<SocketId> id; TcpDrop reason; };
}  // namespace tcp_event
using TcpEvent = std::variant<tcp_event::StateChanged, tcp_event::Retransmitted, tcp_event::WindowProbe,
                              tcp_event::PeerWindow, tcp_event::FinSent, tcp_event::FinReceived, tcp_event::RstSent,
                              tcp_event::RstReceived, tcp_event::ChallengeAck, tcp_event::Dropped>;
// One line in the narrator's words ("TCP #3: SYN-SENT -> ESTABLISHED").
std::string describe(const TcpEvent& e);

// Settings shared by every socket of a layer.
struct TcpConfig {
  std::uint16_t mtu = 1500;                       // IP MTU; our MSS = mtu - 40 (RFC 9293 §3.7.1)
  // The buffers a connection starts with, and how far each may grow: the receive buffer with
  // what the application reads per round trip (dynamic right-sizing, tcp_receiver.cpp), the send
  // buffer with the congestion window (twice it, so the window can keep growing while the
  // application refills). The caps are Linux's defaults (tcp_rmem[2], tcp_wmem[2]); a cap at
  // or below the starting size turns growth off. The window scale we offer is sized for the cap.
  std::size_t send_buffer = 64 * 1024;
  std::size_t recv_buffer = 64 * 1024;
  std::size_t send_buffer_max = 4 * 1024 * 1024;
  std::size_t recv_buffer_max = 6 * 1024 * 1024;
  std::size_t max_ooo_ranges = 32;                // docs/hostile-inputs.md #58
  CongestionAlgorithm congestion = CongestionAlgorithm::Cubic;
  // DEVIATION(RFC 5681 §3.1, IW of at most 4380 bytes): the initial window is 10 segments, as
  // RFC 6928 (Experimental) allows and Linux has done by default since 2011. A 20 KiB response
  // then leaves in two round trips instead of four, with half the frames. 0: RFC 5681's IW.
  std::uint32_t initial_window_segments = 10;
  bool nodelay = false;                           // Nagle on by default (RFC 1122 §4.2.3.4)
  bool sack = true;                               // offer SACK-permitted (RFC 2018)
  bool timestamps = true;                         // offer timestamps (RFC 7323)
  bool window_scaling = true;                     // offer window scale (RFC 7323 §2)
  // RFC 8985: RACK-TLP loss detection when SACK is negotiated (on by default, like Linux's
  // tcp_recovery = 1); off, losses are found by RFC 6675's DupThresh and the RTO alone.
  bool rack = true;
  // RFC 8985 §7.2 WCDelAckT: how long a peer may hold back the ACK of a lone segment.
  Duration tlp_max_ack_delay = Duration::from_millis(200);
  // RFC 4987 §3.6: when a listener's SYN queue is full, answer SYNs with a SYN-ACK whose ISN is a
  // cookie and keep no state (on by default, like Linux's tcp_syncookies = 1).
  bool syn_cookies = true;
  // RFC 1122 §4.2.3.2: "the delay MUST be less than 0.5 seconds". Linux uses 40..200 ms.
  Duration delayed_ack = Duration::from_millis(200);
  // Data segments ACKed at once after the handshake before delaying starts (Linux's quickack
  // mode allows up to 16); 0 delays from the first segment.
  std::uint32_t quick_acks = 16;
  // DEVIATION(RFC 6298 §2.4, "SHOULD be rounded up to 1 second"): 200 ms, Linux's TCP_RTO_MIN
  // (RFC 8961 §4 allows it). On a LAN or through the sandbox's NAT (RTT < 1 ms) every tail loss
  // otherwise costs a full second; in the lossy sim it took 1 % loss from 8.0 s to 2.8 s per
  // 2 MiB. Timeline tests that check the RFC's own instants set 1 s.
  Duration min_rto = Duration::from_millis(200);
  int max_syn_retries = 6;                        // 1+2+4+8+16+32+64 s: ~127 s like Linux
  int max_retries = 15;                           // R2 for data (Linux tcp_retries2)
  Duration time_wait = Duration::from_secs(60);   // 2*MSL, like Linux (RFC 9293 §3.4.2 MSL 2 min)
  Duration fin_wait2_timeout = Duration::from_secs(60);
  // Persist expiries without progress after which a connection the application has closed
  // (FIN-WAIT-1, CLOSING, LAST-ACK with data or the FIN held by the peer's window) is dropped;
  // Linux's tcp_orphan_retries default (0) means 8.
  int orphan_retries = 8;
  bool keepalive = false;                         // RFC 1122 §4.2.3.6 MUST-25: off by default
  Duration keepalive_idle = Duration::from_secs(7200);  // MUST-28: at least two hours
  Duration keepalive_interval = Duration::from_secs(75);
  int keepalive_probes = 9;
  // RFC 5961 §7: at most one challenge ACK (or ACK to an unacceptable segment) per interval.
  Duration challenge_ack_interval = Duration::from_millis(500);
};

// A segment ready to leave, with its addresses. `repr.payload` is valid during the emit call.
struct TcpOutgoing {
  wire::Ipv4Address src;
  wire::Ipv4Address dst;
  wire::tcp::Repr repr;
};

// What a socket needs from its layer while handling one event.
struct TcpContext {
  Instant now;
  const TcpConfig& config;
  TcpCounters& counters;
  const std::function<void(const TcpEvent&)>& on_event;
  std::deque<TcpOutgoing>& rst_queue;  // one-off RSTs not tied to the socket's own sequence space
  // The device under us holds frames it could not write yet (its queue is full): send no data
  // and hold the retransmission timer until it drains (TcpLayer::set_link_busy). A reference to
  // the layer's flag, read live: the device may fill up in the middle of a socket's burst, and
  // the burst stops there (the driver's backlog is bounded; a window's worth would overflow it).
  const bool& link_busy;

  void event(const TcpEvent& e) const {
    if (on_event) on_event(e);
  }
  void drop(std::optional<SocketId> id, TcpDrop reason) const {
    ++counters.drops[static_cast<std::size_t>(reason)];
    event(tcp_event::Dropped{id, reason});
  }
};

// RFC 6191 §2 (RFC 9293 §3.10.7.4 MAY-2): may a SYN for a 4-tuple in TIME-WAIT open a new
// incarnation? Only when it is provably newer: a greater timestamp (when both incarnations use
// timestamps), or, with equal or no timestamps, a sequence number beyond the old RCV.NXT ("the
// last sequence number seen", which counts the peer's FIN).
bool syn_opens_new_incarnation(SeqNum old_rcv_nxt, std::optional<std::uint32_t> old_ts_recent,
                               const wire::tcp::Repr& syn, bool new_uses_timestamps);

// What TIME-WAIT still needs once the connection's socket, buffers and congestion state are
// freed: enough to ACK a retransmitted FIN, to judge a new SYN by RFC 6191, and the expiry.
struct TimeWaitState {
  SeqNum snd_nxt;             // our sequence number after our FIN
  SeqNum rcv_nxt;             // past the peer's FIN
  std::uint32_t ts_recent = 0;
  std::uint32_t ts_offset = 0;
  Instant expires;
  std::uint16_t window = 0;   // the window field of our last ACK
  bool ts_ok = false;
};

struct TcpEndpoint {
  wire::Ipv4Address addr;
  std::uint16_t port = 0;
  auto operator<=>(const TcpEndpoint&) const = default;
};

class TcpSocket {
 public:
  using Emit = std::function<void(const TcpOutgoing&)>;

  TcpSocket(SocketId id, const TcpConfig& config);

  // --- opening (called by the layer) ---
  // OPEN active (RFC 9293 §3.10.1): send SYN, enter SYN-SENT.
  void open_active(TcpContext& ctx, TcpEndpoint local, TcpEndpoint remote, SeqNum iss, std::uint32_t ts_offset);
  // A SYN reached a listener (RFC 9293 §3.10.7.2 third): enter SYN-RECEIVED and answer SYN-ACK.
  void open_passive(TcpContext& ctx, TcpEndpoint local, TcpEndpoint remote, const wire::tcp::Repr& syn, SeqNum iss,
                    std::uint32_t ts_offset, SocketId listener);

  // SYN cookies (RFC 4987 §3.6): a connection rebuilt from a valid cookie was opened with
  // open_passive() from the SYN the cookie encodes; its SYN-ACK already went out, statelessly, so
  // SND.NXT moves past the ISS and the ACK that carried the cookie completes the handshake.
  void syn_ack_sent_as_cookie();

  // --- events ---
  void process(TcpContext& ctx, const wire::tcp::Repr& seg);  // tcp_input.cpp
  void dispatch(TcpContext& ctx, std::vector<std::byte>& scratch, const Emit& emit);  // tcp_output.cpp
  // Earliest deadline; an instant at or before `now` means "call dispatch now" (output pending).
  std::optional<Instant> poll_at(Instant now) const;
  // ICMP error about this connection (RFC 1122 §4.2.3.9, RFC 5927). `mtu` for "frag needed".
  enum class IcmpKind { NetUnreachable, HostUnreachable, ProtocolUnreachable, PortUnreachable, FragmentationNeeded,
                        AdminProhibited, TimeExceeded };
  void icmp_error(TcpContext& ctx, SeqNum seq, IcmpKind kind, std::uint16_t mtu);

  // --- user calls (RFC 9293 §3.10.2 - §3.10.5) ---
  std::size_t send(std::span<const std::byte> data);
  std::size_t recv(Instant now, std::span<std::byte> out);  // and tunes the receive buffer
  void shutdown(TcpContext& ctx);  // CLOSE in the RFC's sense: "no more data to send"
  void abort(TcpContext& ctx);     // ABORT: RST if synchronized, then CLOSED
  void forget(TcpContext& ctx) { reset_connection(ctx, std::nullopt); }  // CLOSED, no segment sent
  void set_nodelay(bool on) { snd_.nodelay = on; }
  void set_keepalive(TcpContext& ctx, bool on);

  // --- observers ---
  SocketId id() const { return id_; }
  TcpState state() const { return state_; }
  const TcpEndpoint& local() const { return local_; }
  const TcpEndpoint& remote() const { return remote_; }
  std::optional<TcpError> error() const { return error_; }
  std::optional<SocketId> listener() const { return listener_; }
  bool readable() const;                    // data to read, or EOF to report
  bool at_eof() const { return rcv_.fin_received() && rcv_.empty(); }
  bool writable() const;
  std::size_t send_space() const { return snd_.buffer.free(); }
  std::size_t send_queued() const { return snd_.buffer.size(); }  // written, not yet acknowledged
  std::size_t recv_queued() const { return rcv_.queued(); }
  // Storage held for the send and receive rings (taken on the first byte, given back when empty).
  bool send_buffer_allocated() const { return snd_.buffer.allocated(); }
  bool recv_buffer_allocated() const { return rcv_.buffer_allocated(); }
  // The application closed its handle (or never had one): nobody will read, write or close it
  // again, and the layer frees it once CLOSED (an "orphan" while it still closes).
  bool user_released() const { return user_released_; }
  void release_handle() { user_released_ = true; }
  // The same when the application closes a socket that is already past its own CLOSE: a
  // connection that was shut down earlier and reached FIN-WAIT-2 starts the orphan's FIN-WAIT-2
  // timeout now (it was not armed while someone held the handle).
  void release_handle(TcpContext& ctx);
  bool fin_queued() const { return snd_.fin_queued; }

  // The RFC variables, for tests and the narrator (RFC 9293 §3.3.1).
  SeqNum iss() const { return snd_.iss; }
  SeqNum irs() const { return rcv_.irs(); }
  SeqNum snd_una() const { return snd_.una; }
  SeqNum snd_nxt() const { return snd_.nxt; }
  SeqNum snd_max() const { return snd_.max; }
  std::uint32_t snd_wnd() const { return snd_.wnd; }
  SeqNum rcv_nxt() const { return rcv_.nxt(); }
  std::uint32_t rcv_wnd() const { return rcv_.window(); }
  std::uint16_t snd_mss() const { return snd_.mss; }
  std::uint8_t snd_wscale() const { return snd_.wscale; }
  std::uint8_t rcv_wscale() const { return rcv_.wscale(); }
  bool sack_ok() const { return sack_ok_; }
  bool ts_ok() const { return ts_ok_; }
  Duration rto() const { return rtt_.rto(); }
  std::optional<Duration> srtt() const { return rtt_.srtt(); }
  const CongestionControl& congestion() const { return cc_; }
  int dupthresh() const { return rec_.dupthresh; }
  bool in_recovery() const { return rec_.in_recovery; }
  std::optional<Instant> rto_at() const { return timers_.rto; }
  std::optional<Instant> tlp_at() const { return timers_.loss_probe; }
  const SentLog& sent_log() const { return sent_; }
  const Rack& rack() const { return rack_; }
  std::optional<Instant> time_wait_at() const { return timers_.time_wait; }

  // RFC 6191 §2 (RFC 9293 §3.10.7.4 MAY-2): may this SYN, arriving for the 4-tuple this socket
  // holds in TIME-WAIT, open a new incarnation? True when it is provably newer: a greater
  // timestamp, or (equal or no timestamps) a sequence number beyond the old RCV.NXT.
  // `new_uses_timestamps`: the new incarnation would negotiate timestamps.
  bool time_wait_accepts_syn(const wire::tcp::Repr& syn, bool new_uses_timestamps) const;
  // Ends TIME-WAIT at once (the 4-tuple goes to a new incarnation); the socket becomes CLOSED.
  void end_time_wait(TcpContext& ctx);
  // In TIME-WAIT: what the layer keeps once it frees this socket.
  TimeWaitState time_wait_state() const;

 private:
  using Repr = wire::tcp::Repr;

  // tcp_input.cpp
  void process_syn_sent(TcpContext& ctx, const Repr& seg);
  bool process_ack(TcpContext& ctx, const Repr& seg);
  void process_new_ack(TcpContext& ctx, const Repr& seg, std::uint32_t acked);
  void process_duplicate_ack(TcpContext& ctx, const Repr& seg);
  void process_text(TcpContext& ctx, const Repr& seg);
  void process_fin(TcpContext& ctx);  // the receiver took the FIN: ACK it, change state
  void update_send_window(TcpContext& ctx, const Repr& seg);
  void update_ts_recent(TcpContext& ctx, const Repr& seg);
  void take_syn_options(const Repr& syn);
  void challenge_ack(TcpContext& ctx, const char* reason);
  void enter_time_wait(TcpContext& ctx);
  void enter_quickack();
  // RFC 6675 §5 (with RFC 5681 §3.2): start fast recovery, the loss found by DupThresh or RACK.
  void enter_fast_recovery(TcpContext& ctx);
  // RACK-TLP's part of one ACK (RFC 8985 §6.2 steps 1-3, D-SACK), before the cumulative ACK is
  // applied; returns the D-SACK block the ACK carried, if any.
  std::optional<wire::tcp::SackBlock> rack_take_ack(TcpContext& ctx, const Repr& seg);
  // Steps 4-5 after the ACK: the reordering window, marking losses, starting recovery; then the
  // probe's outcome (§7.4).
  void rack_after_ack(TcpContext& ctx, const Repr& seg, std::optional<wire::tcp::SackBlock> dsack,
                      bool una_advanced);
  void rack_detect_loss(TcpContext& ctx);
  void reset_connection(TcpContext& ctx, std::optional<TcpError> error);
  void send_rst(TcpContext& ctx, SeqNum seq, const char* reason);

  // tcp_output.cpp
  void on_timers(TcpContext& ctx);
  void on_retransmit_timeout(TcpContext& ctx);
  bool orphan_gives_up(TcpContext& ctx);
  // Builds and emits one segment starting at `seq` with up to `max_len` data bytes (plus SYN/FIN
  // when they fall there); returns the sequence space it used (0 for a pure ACK).
  std::uint32_t send_segment(TcpContext& ctx, std::vector<std::byte>& scratch, const Emit& emit, SeqNum seq,
                             std::uint32_t max_len, bool ack_only = false);
  bool wants_dispatch() const;
  std::optional<std::uint32_t> next_data_len() const;
  SackScoreboard::LossRule loss_rule() const { return rec_.loss_rule(payload_cap()); }
  std::uint32_t flight() const;
  std::uint32_t payload_cap() const;
  bool window_update_due() const;
  void send_loss_probe(TcpContext& ctx, std::vector<std::byte>& scratch, const Emit& emit);
  void arm_loss_probe(TcpContext& ctx);

  // tcp_socket.cpp
  void set_state(TcpContext& ctx, TcpState to);
  std::uint32_t ts_now(Instant now) const { return static_cast<std::uint32_t>(now.millis()) + ts_offset_; }

  SocketId id_;
  const TcpConfig& config_;
  TcpState state_ = TcpState::Closed;
  TcpEndpoint local_;
  TcpEndpoint remote_;
  std::optional<SocketId> listener_;  // set for passive opens (RFC 9293 MUST-11: remember origin)
  std::optional<TcpError> error_;
  std::optional<TcpError> soft_error_;  // last ICMP soft error, reported if we later time out

  // The TCB in parts (RFC 9293 §3.3.1): the sending half (SND.*, the send buffer, the FIN we
  // queue; tcp_sender.hpp), the receiving half (RCV.*, reassembly, the window we advertise, the
  // SACK/D-SACK blocks we report, the peer's FIN; tcp_receiver.hpp), the timers
  // (tcp_timers.hpp), loss recovery (tcp_recovery.hpp, with RACK-TLP below) and congestion
  // control (tcp_congestion.hpp).
  TcpSender snd_;
  TcpReceiver rcv_;
  TcpTimers timers_;
  LossRecovery rec_;

  // Options negotiated in the handshake (RFC 7323 §2.2, §3.2; RFC 2018 §2).
  bool sack_ok_ = false;
  bool ts_ok_ = false;
  std::uint32_t ts_offset_ = 0;     // RFC 7323 §5.4: a random offset per connection
  std::uint32_t ts_recent_ = 0;     // RFC 7323 §4.3 TS.Recent
  Instant ts_recent_age_;
  SeqNum last_ack_sent_;

  bool we_closed_first_ = false;
  bool peer_closed_first_ = false;
  bool keepalive_ = false;
  bool user_released_ = false;

  // What the timers' expiries left to do, and their counts.
  int retries_ = 0;
  int keepalive_sent_ = 0;
  bool keepalive_probe_due_ = false;
  bool window_probe_due_ = false;
  bool probing_ = false;  // a zero-window probe is outstanding (RFC 9293 §3.8.6.1)
  int orphan_probes_ = 0;  // persist expiries since SND.UNA last moved, counted once orphaned

  // ACK generation (RFC 1122 §4.2.3.2, RFC 5681 §4.2).
  bool ack_now_ = false;
  int full_segments_unacked_ = 0;
  std::uint32_t quickacks_left_ = 0;  // data segments still ACKed at once (set on ESTABLISHED)
  std::optional<Instant> last_challenge_ack_;

  // RTT measurement (RFC 6298) and congestion control.
  RttEstimator rtt_;
  std::optional<std::pair<SeqNum, Instant>> timed_;  // Karn: one timed segment, never a retransmission
  // Karn's rule with timestamps: the TSval of our latest retransmission. An ACK echoing an older
  // TSval may have been triggered by the retransmission arriving as a duplicate (the receiver
  // echoes TS.Recent, RFC 7323 §4.3), so its "RTT" would include our timeout.
  std::optional<std::uint32_t> ts_rtx_floor_;
  bool ts_sample_ok(std::uint32_t tsecr) const {
    return !ts_rtx_floor_ || static_cast<std::int32_t>(tsecr - *ts_rtx_floor_) >= 0;
  }
  CongestionControl cc_;

  // RACK-TLP (RFC 8985, tcp_rack.hpp), when SACK was negotiated and config_.rack; its two
  // timers are in timers_.
  bool rack_on() const { return sack_ok_ && config_.rack; }
  SentLog sent_;                   // every segment in flight, with its send time and marks
  Rack rack_;
  std::optional<Duration> rack_rtt_sample_;  // from the log, for the ACK being processed
  bool tlp_due_ = false;
  bool tlp_rearm_ = false;         // new data sent or new data ACKed: PTO starts again (§7.2)
  struct TlpEpisode { SeqNum end_seq; bool is_retrans; };
  std::optional<TlpEpisode> tlp_;  // TLP.end_seq and TLP.is_retrans (§7.1)
};

}  // namespace stack::socket
