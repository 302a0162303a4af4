// TcpSocket: construction, opening, the user calls (RFC 9293 §3.10.1–§3.10.5) and printing.
#include "stack/socket/tcp_socket.hpp"

#include <algorithm>

namespace stack::socket {

const char* to_string(TcpState s) {
  switch (s) {
    case TcpState::Closed: return "CLOSED";
    case TcpState::Listen: return "LISTEN";
    case TcpState::SynSent: return "SYN-SENT";
    case TcpState::SynReceived: return "SYN-RECEIVED";
    case TcpState::Established: return "ESTABLISHED";
    case TcpState::FinWait1: return "FIN-WAIT-1";
    case TcpState::FinWait2: return "FIN-WAIT-2";
    case TcpState::CloseWait: return "CLOSE-WAIT";
    case TcpState::Closing: return "CLOSING";
    case TcpState::LastAck: return "LAST-ACK";
    case TcpState::TimeWait: return "TIME-WAIT";
  }
  return "?";
}

const char* to_string(TcpError e) {
  switch (e) {
    case TcpError::Refused: return "connection refused";
    case TcpError::Reset: return "connection reset by peer";
    case TcpError::TimedOut: return "connection timed out";
    case TcpError::Unreachable: return "destination unreachable";
  }
  return "?";
}

namespace {
struct DropName { const char* text; const char* counter; };
constexpr DropName kDropNames[kTcpDropCount] = {
    {"malformed TCP header", "tcp.drop.malformed"},
    {"bad TCP checksum", "tcp.drop.bad_checksum"},
    {"bad TCP address or port", "tcp.drop.bad_address"},
    {"no socket (RST sent)", "tcp.drop.no_socket"},
    {"non-SYN to a listener", "tcp.drop.listen_not_syn"},
    {"accept queue full", "tcp.drop.accept_queue_full"},
    {"SYN queue full (SYN cookies off)", "tcp.drop.syn_queue_full"},
    {"socket table full", "tcp.drop.socket_table_full"},
    {"SYN-SENT: unacceptable ACK", "tcp.drop.syn_sent_bad_ack"},
    {"SYN-SENT: neither SYN nor RST", "tcp.drop.syn_sent_no_syn"},
    {"segment outside the receive window", "tcp.drop.out_of_window"},
    {"PAWS: old timestamp", "tcp.drop.paws"},
    {"RST outside the window", "tcp.drop.rst_out_of_window"},
    {"RST in window but not exact (challenge ACK)", "tcp.drop.rst_not_exact"},
    {"SYN on a synchronized connection (challenge ACK)", "tcp.drop.syn_in_window"},
    {"segment without ACK", "tcp.drop.no_ack"},
    {"ACK for data never sent", "tcp.drop.ack_unsent"},
    {"ACK too old (blind injection check)", "tcp.drop.ack_too_old"},
    {"SYN-RECEIVED: unacceptable ACK (RST sent)", "tcp.drop.syn_received_bad_ack"},
    {"out-of-order queue full", "tcp.drop.reassembly_full"},
    {"data after close", "tcp.drop.data_after_close"},
    {"RST in TIME-WAIT ignored (RFC 1337)", "tcp.drop.time_wait_rst"},
    {"old SYN in TIME-WAIT (RFC 6191)", "tcp.drop.time_wait_old_syn"},
    {"RST rate limit", "tcp.drop.rst_rate_limited"},
    {"challenge ACK rate limit", "tcp.drop.challenge_ack_limited"},
    {"ICMP error not about data in flight", "tcp.drop.icmp_not_in_window"},
    {"FIN beyond the receive window (ignored)", "tcp.drop.fin_beyond_window"},
};
}  // namespace

const char* to_string(TcpDrop d) { return kDropNames[static_cast<std::size_t>(d)].text; }
const char* counter_name(TcpDrop d) { return kDropNames[static_cast<std::size_t>(d)].counter; }

std::string describe(const TcpEvent& e) {
  using namespace tcp_event;
  auto sock = [](SocketId id) { return "TCP #" + std::to_string(id) + ": "; };
  return std::visit(
      [&](const auto& ev) -> std::string {
        using T = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<T, StateChanged>) {
          return sock(ev.id) + to_string(ev.from) + " -> " + to_string(ev.to);
        } else if constexpr (std::is_same_v<T, Retransmitted>) {
          const char* why = ev.cause == RetransmitCause::Timeout          ? "timeout"
                            : ev.cause == RetransmitCause::FastRetransmit ? "fast retransmit"
                            : ev.cause == RetransmitCause::SackRecovery   ? "SACK recovery"
                            : ev.cause == RetransmitCause::RackLoss       ? "RACK"
                            : ev.cause == RetransmitCause::TailLossProbe  ? "tail loss probe"
                                                                          : "partial ACK";
          return sock(ev.id) + "retransmit seq " + std::to_string(ev.seq.raw) + " len " + std::to_string(ev.len) +
                 " (" + why + ", rto " + ev.rto.describe() + ")";
        } else if constexpr (std::is_same_v<T, WindowProbe>) {
          return sock(ev.id) + "zero-window probe at seq " + std::to_string(ev.seq.raw);
        } else if constexpr (std::is_same_v<T, PeerWindow>) {
          return sock(ev.id) + (ev.window == 0 ? "peer window closed" : "peer window reopened: " + std::to_string(ev.window));
        } else if constexpr (std::is_same_v<T, FinSent>) {
          return sock(ev.id) + (ev.first ? "we close first (FIN sent)" : "FIN sent after the peer's");
        } else if constexpr (std::is_same_v<T, FinReceived>) {
          return sock(ev.id) + (ev.first ? "peer closes first (FIN received)" : "peer's FIN received");
        } else if constexpr (std::is_same_v<T, RstSent>) {
          return (ev.id ? sock(*ev.id) : std::string("TCP: ")) + "RST sent: " + ev.reason;
        } else if constexpr (std::is_same_v<T, RstReceived>) {
          return sock(ev.id) + "RST received in " + to_string(ev.in);
        } else if constexpr (std::is_same_v<T, ChallengeAck>) {
          return sock(ev.id) + "challenge ACK: " + ev.reason;
        } else {
          return (ev.id ? sock(*ev.id) : std::string("TCP: ")) + "dropped: " + to_string(ev.reason);
        }
      },
      e);
}

TcpSocket::TcpSocket(SocketId id, const TcpConfig& config)
    : id_(id),
      config_(config),
      snd_(config.send_buffer, config.nodelay),
      rcv_(config.recv_buffer, config.max_ooo_ranges),
      keepalive_(config.keepalive),
      rtt_(config.min_rto),
      cc_(config.congestion, 536, config.initial_window_segments) {}

void TcpSocket::set_state(TcpContext& ctx, TcpState to) {
  if (to == state_) return;
  const TcpState from = state_;
  state_ = to;
  // RFC 1122 §4.2.3.6: with keepalive configured on (off by default, MUST-25) the idle timer
  // starts when the connection is established.
  if (to == TcpState::Established && keepalive_ && !timers_.keepalive) timers_.keepalive = ctx.now + config_.keepalive_idle;
  if (to == TcpState::Established) quickacks_left_ = config_.quick_acks;
  ctx.event(tcp_event::StateChanged{id_, from, to});
}

// Our receive window scale: the smallest shift that lets the buffer be advertised in 16 bits
// (RFC 7323 §2.2), at most 14.
static std::uint8_t window_shift_for(std::size_t buffer) {
  std::uint8_t shift = 0;
  while (shift < wire::tcp::kMaxWindowScale && (buffer >> shift) > 0xffff) ++shift;
  return shift;
}

void TcpSocket::open_active(TcpContext& ctx, TcpEndpoint local, TcpEndpoint remote, SeqNum iss,
                            std::uint32_t ts_offset) {
  local_ = local;
  remote_ = remote;
  snd_.iss = iss;
  snd_.una = snd_.nxt = snd_.max = iss;
  rec_.recover = iss;  // RFC 6582 §3.2 step 1: "recover" starts at the ISS
  ts_offset_ = ts_offset;
  rcv_.set_wscale(config_.window_scaling ? window_shift_for(std::max(config_.recv_buffer, config_.recv_buffer_max)) : 0);
  ++ctx.counters.active_opens;
  // RFC 9293 §3.10.1: "A SYN segment of the form <SEQ=ISS><CTL=SYN> is sent. Set SND.UNA to ISS,
  // SND.NXT to ISS+1, enter SYN-SENT state". The SYN leaves on the next dispatch().
  set_state(ctx, TcpState::SynSent);
}

void TcpSocket::take_syn_options(const Repr& syn) {
  // RFC 9293 §3.7.1 MUST-15: without an MSS option assume 536. docs/hostile-inputs.md #39: clamp tiny
  // values to a floor so a peer cannot make us send 8-byte segments; cap at our own MTU.
  // (The floor never exceeds our own MSS: std::clamp with lo > hi is undefined.)
  const std::uint16_t ours = static_cast<std::uint16_t>(std::max<int>(config_.mtu, 68) - 40);
  snd_.mss = std::clamp<std::uint16_t>(syn.mss.value_or(536), std::min<std::uint16_t>(88, ours), ours);
  // RFC 7323 §2.2: scaling only when both SYNs carry the option; §2.3 clamp to 14.
  if (syn.window_scale && config_.window_scaling) {
    snd_.wscale = std::min(*syn.window_scale, wire::tcp::kMaxWindowScale);
  } else {
    snd_.wscale = 0;
    rcv_.set_wscale(0);
  }
  sack_ok_ = syn.sack_permitted && config_.sack;
  // RFC 7323 §3.2: timestamps are used only when both SYNs carried them.
  ts_ok_ = syn.timestamps.has_value() && config_.timestamps;
  if (ts_ok_) ts_recent_ = syn.timestamps->first;
  cc_.set_mss(payload_cap(), true);
}

void TcpSocket::open_passive(TcpContext& ctx, TcpEndpoint local, TcpEndpoint remote, const Repr& syn, SeqNum iss,
                             std::uint32_t ts_offset, SocketId listener) {
  local_ = local;
  remote_ = remote;
  listener_ = listener;
  state_ = TcpState::Listen;  // born from the listener: the narrator sees LISTEN -> SYN-RECEIVED
  ++ctx.counters.passive_opens;
  // RFC 9293 §3.10.7.2 third: "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ ... ISS should be
  // selected and a SYN segment sent of the form <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. SND.NXT is
  // set to ISS+1 and SND.UNA to ISS. The connection state should be changed to SYN-RECEIVED."
  rcv_.on_syn(syn.seq);
  snd_.iss = iss;
  snd_.una = snd_.nxt = snd_.max = iss;
  rec_.recover = iss;  // RFC 6582 §3.2 step 1: "recover" starts at the ISS
  ts_offset_ = ts_offset;
  rcv_.set_wscale(config_.window_scaling ? window_shift_for(std::max(config_.recv_buffer, config_.recv_buffer_max)) : 0);
  take_syn_options(syn);
  ts_recent_age_ = ctx.now;
  // The window in a SYN is never scaled (RFC 7323 §2.2).
  snd_.wnd = syn.window_raw;
  snd_.max_wnd = snd_.wnd;
  snd_.wl1 = syn.seq;
  set_state(ctx, TcpState::SynReceived);
}

void TcpSocket::release_handle(TcpContext& ctx) {
  user_released_ = true;
  if (state_ == TcpState::FinWait2 && !timers_.fin_wait2) timers_.fin_wait2 = ctx.now + config_.fin_wait2_timeout;
}

void TcpSocket::syn_ack_sent_as_cookie() {
  snd_.nxt = snd_.max = snd_.iss + 1;
  last_ack_sent_ = rcv_.nxt();
  // The cookie SYN-ACK advertised what a SYN-ACK from here advertises (unscaled, RFC 7323 §2.2):
  // that right edge is ours now, so data on the completing ACK is inside the window.
  (void)rcv_.syn_window();
}

// --- user calls ---

std::size_t TcpSocket::send(std::span<const std::byte> data) {
  // RFC 9293 §3.10.2: data may be queued in SYN-SENT/SYN-RECEIVED and in ESTABLISHED/CLOSE-WAIT.
  if (snd_.fin_queued) return 0;
  switch (state_) {
    case TcpState::SynSent:
    case TcpState::SynReceived:
    case TcpState::Established:
    case TcpState::CloseWait: {
      std::size_t n = snd_.buffer.push(data);
      if (n < data.size() && snd_.grow(cc_.cwnd(), config_.send_buffer_max)) n += snd_.buffer.push(data.subspan(n));
      return n;
    }
    default:
      return 0;
  }
}

std::size_t TcpSocket::recv(Instant now, std::span<std::byte> out) {
  const std::size_t n = rcv_.read(out);
  // The round trip: the sender's estimate when there is one (from the handshake on), else the
  // receiver's own (a connection that only receives); until either exists, the buffer keeps its
  // size. A buffer that grew opens the window on the next ACK or window update.
  auto rtt = rtt_.srtt();
  if (!rtt) rtt = rcv_.rtt_estimate();
  if (rtt && config_.recv_buffer_max > config_.recv_buffer && rcv_.wscale() > 0)
    rcv_.autotune(now, *rtt, snd_.mss, config_.recv_buffer_max);
  return n;
}

bool TcpSocket::readable() const { return !rcv_.empty() || rcv_.fin_received() || error_.has_value(); }

bool TcpSocket::writable() const {
  return !snd_.fin_queued && snd_.buffer.free() > 0 &&
         (state_ == TcpState::Established || state_ == TcpState::CloseWait);
}

void TcpSocket::shutdown(TcpContext& ctx) {
  // RFC 9293 §3.10.4 CLOSE: queue a FIN after the data already queued.
  switch (state_) {
    case TcpState::SynSent:
      // "Delete the TCB and return 'error: closing' responses to any queued SENDs"
      set_state(ctx, TcpState::Closed);
      break;
    case TcpState::SynReceived:
    case TcpState::Established:
      if (!snd_.fin_queued) {
        snd_.fin_queued = true;
        if (!peer_closed_first_) we_closed_first_ = true;
        // SYN-RECEIVED: the FIN waits until the handshake completes (RFC 9293 §3.10.4).
        if (state_ == TcpState::Established) set_state(ctx, TcpState::FinWait1);
      }
      break;
    case TcpState::CloseWait:
      if (!snd_.fin_queued) {
        snd_.fin_queued = true;
        set_state(ctx, TcpState::LastAck);
      }
      break;
    default:
      break;  // already closing: "error: connection closing"
  }
}

void TcpSocket::abort(TcpContext& ctx) {
  // RFC 9293 §3.10.5 ABORT: in SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT "send a reset
  // segment: <SEQ=SND.NXT><CTL=RST>"; other states just delete the TCB.
  switch (state_) {
    case TcpState::SynReceived:
    case TcpState::Established:
    case TcpState::FinWait1:
    case TcpState::FinWait2:
    case TcpState::CloseWait:
      send_rst(ctx, snd_.max, "abort");
      break;
    default:
      break;
  }
  reset_connection(ctx, std::nullopt);
}

void TcpSocket::set_keepalive(TcpContext& ctx, bool on) {
  keepalive_ = on;
  timers_.keepalive = on ? std::optional(ctx.now + config_.keepalive_idle) : std::nullopt;
  keepalive_sent_ = 0;
}

void TcpSocket::end_time_wait(TcpContext& ctx) {
  if (state_ != TcpState::TimeWait) return;
  // The TCB is deleted as if the 2*MSL timer had fired (RFC 9293 §3.10.8); the 4-tuple belongs
  // to the new incarnation from now on.
  reset_connection(ctx, std::nullopt);
}

// A reset <SEQ=seq><CTL=RST> on this connection's 4-tuple, without an ACK (RFC 9293 §3.10.7.3,
// §3.10.7.4 and ABORT §3.10.5), queued with the layer's other RSTs and counted.
void TcpSocket::send_rst(TcpContext& ctx, SeqNum seq, const char* reason) {
  Repr rst;
  rst.src_port = local_.port;
  rst.dst_port = remote_.port;
  rst.seq = seq;
  rst.flags.rst = true;
  ctx.rst_queue.push_back(TcpOutgoing{local_.addr, remote_.addr, rst});
  ++ctx.counters.rst_sent;
  ctx.event(tcp_event::RstSent{id_, reason});
}

void TcpSocket::reset_connection(TcpContext& ctx, std::optional<TcpError> error) {
  if (error && !error_) error_ = error;
  timers_.cancel_all();
  tlp_due_ = false;
  ack_now_ = false;
  rec_.retransmit_first = false;
  set_state(ctx, TcpState::Closed);
}

void TcpSocket::icmp_error(TcpContext& ctx, SeqNum seq, IcmpKind kind, std::uint16_t mtu) {
  // RFC 5927 §4.1: act only if the quoted sequence number is for data in flight,
  // SND.UNA <= SEQ < SND.NXT; otherwise it may be a blind attack.
  if (!seq.in_range(snd_.una, seq_max(snd_.max, snd_.una + 1))) {
    ctx.drop(id_, TcpDrop::IcmpNotInWindow);
    return;
  }
  switch (kind) {
    case IcmpKind::FragmentationNeeded: {
      // RFC 1191 §6.2 (PMTUD): lower the MSS; the lost segment is resent by the next timeout.
      // RFC 5927 §7.2 limits the damage of a forged message: never below 536 + 40 here.
      const auto mss = static_cast<std::uint16_t>(std::max<int>(mtu, 576) - 40);
      snd_.mss = std::min(snd_.mss, mss);
      // Congestion control counts in segments of SMSS (RFC 5681 §3.1): tell it the new size.
      cc_.set_mss(payload_cap(), false);
      break;
    }
    case IcmpKind::ProtocolUnreachable:
    case IcmpKind::PortUnreachable:
      // RFC 1122 §4.2.3.9: these are hard errors and "SHOULD abort the connection". RFC 5461
      // recommends treating them as soft in synchronized states; we abort only in SYN-SENT.
      if (state_ == TcpState::SynSent) {
        reset_connection(ctx, TcpError::Unreachable);
        return;
      }
      soft_error_ = TcpError::Unreachable;
      break;
    default:
      // Soft errors (RFC 1122 §4.2.3.9 "MUST NOT abort"): remembered, reported on timeout.
      soft_error_ = TcpError::Unreachable;
      break;
  }
}

std::optional<Instant> TcpSocket::poll_at(Instant now) const {
  if (wants_dispatch()) return now;
  return timers_.earliest();
}

}  // namespace stack::socket
