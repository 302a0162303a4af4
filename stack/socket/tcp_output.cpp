// TCP output and timers: what to send now (RFC 9293 §3.8.6 windows and SWS avoidance, RFC
// 1122 §4.2.3.4 Nagle, RFC 5681/6582/6675 loss recovery) and what to do when a deadline passes
// (RFC 6298 retransmission timeout, persist, keepalive, TIME-WAIT).
#include <algorithm>

#include "stack/socket/tcp_socket.hpp"

namespace stack::socket {

namespace {
constexpr std::uint32_t kTimestampsLen = 12;  // nop, nop, kind 8, length 10
bool data_state(TcpState s) {
  switch (s) {
    case TcpState::Established:
    case TcpState::FinWait1:
    case TcpState::CloseWait:
    case TcpState::Closing:
    case TcpState::LastAck:
      return true;
    default:
      return false;
  }
}
}  // namespace

// Data bytes per segment: RFC 9293 §3.7.1, the MSS excludes TCP options, so a sender using
// timestamps puts 12 fewer data bytes in each segment ("SendMSS = MIN(SendMSS, ...) - options").
std::uint32_t TcpSocket::payload_cap() const { return snd_.mss - (ts_ok_ ? kTimestampsLen : 0u); }

std::uint32_t TcpSocket::flight() const {
  // RACK's marks make the pipe exact at all times (Linux's packets_in_flight): sent, minus SACKed,
  // minus lost and not yet sent again.
  if (rack_on()) return sent_.in_flight();
  if (rec_.in_recovery && sack_ok_) return rec_.scoreboard.pipe(snd_.una, snd_.max, rec_.high_rxt, loss_rule());
  return seq_len(snd_.una, seq_max(snd_.nxt, snd_.una));
}

bool TcpSocket::window_update_due() const {
  // A window update is worth a segment when the right edge can move by two segments or half
  // the buffer (RFC 9293 §3.8.6.2.2; RFC 1122 §4.2.3.3), above all after a zero window.
  if (state_ != TcpState::Established && state_ != TcpState::FinWait1 && state_ != TcpState::FinWait2) return false;
  return rcv_.window_update_due(snd_.mss);
}

bool TcpSocket::wants_dispatch() const {
  if (state_ == TcpState::Closed || state_ == TcpState::Listen) return false;
  if (ack_now_ || rec_.retransmit_first || window_probe_due_ || keepalive_probe_due_) return true;
  if ((state_ == TcpState::SynSent || state_ == TcpState::SynReceived) && snd_.nxt == snd_.iss) return true;
  if (window_update_due()) return true;
  return data_state(state_) && next_data_len().has_value();
}

// How much new data goes next: the sender's rules (window, SWS avoidance, Nagle, a lone FIN;
// tcp_sender.cpp) within the room congestion control leaves.
std::optional<std::uint32_t> TcpSocket::next_data_len() const {
  const std::uint32_t cap = payload_cap();
  const std::uint32_t in_flight = flight();
  // RFC 3042 (Limited Transmit): on the first two duplicate ACKs one new segment each may go
  // beyond cwnd, so that a small window still produces the duplicate ACKs fast retransmit needs.
  const std::uint32_t limited = rec_.in_recovery ? 0u : static_cast<std::uint32_t>(std::min(rec_.dupacks, 2)) * cap;
  const std::uint32_t cwnd = cc_.cwnd() + limited;
  const std::uint32_t cwnd_room = cwnd > in_flight ? cwnd - in_flight : 0;
  return snd_.next_segment_len(cap, cwnd_room);
}

// --- timers ---

void TcpSocket::on_timers(TcpContext& ctx) {
  const Instant now = ctx.now;
  if (timers_.time_wait && now >= *timers_.time_wait) {
    // RFC 9293 §3.10.8: "If the time-wait timeout expires on a connection, delete the TCB, enter
    // the CLOSED state, and return."
    reset_connection(ctx, std::nullopt);
    return;
  }
  if (timers_.fin_wait2 && now >= *timers_.fin_wait2) {
    // RFC 9293 leaves FIN-WAIT-2 unbounded; like Linux (tcp_fin_timeout) an orphaned connection
    // gives up after a while (docs/hostile-inputs.md #64).
    reset_connection(ctx, std::nullopt);
    return;
  }
  if (timers_.delayed_ack && now >= *timers_.delayed_ack) {
    timers_.delayed_ack.reset();
    ack_now_ = true;
  }
  if (timers_.reordering && now >= *timers_.reordering) {
    // RFC 8985 §6.2 step 5: RACK's reordering timer; segments whose patience ran out are lost.
    timers_.reordering.reset();
    rack_detect_loss(ctx);
  }
  if (timers_.loss_probe && now >= *timers_.loss_probe) {
    // RFC 8985 §7.3: the probe timeout. The probe goes out in dispatch(); the retransmission
    // timer starts again from now, so the probe gets its chance before a timeout.
    timers_.loss_probe.reset();
    tlp_due_ = true;
    timers_.rto = now + rtt_.rto();
  }
  if (timers_.rto && now >= *timers_.rto) {
    if (ctx.link_busy) {
      // Back-pressure: the device under us holds frames it could not write yet, so what this
      // timer covers may not have left the host, let alone been lost on the path. The timeout
      // waits one more RTO (nothing resent, no backoff) instead of firing.
      timers_.rto = now + rtt_.rto();
      ++ctx.counters.rto_held;
    } else {
      on_retransmit_timeout(ctx);
    }
  }
  if (timers_.persist && now >= *timers_.persist) {
    timers_.persist.reset();
    // An orphan (the application closed, RFC 9293 §3.10.4) that makes no progress is not kept
    // for ever by a peer that answers probes with a closed or tiny window: like Linux
    // (tcp_orphan_retries), it gives up after a few persist expiries without SND.UNA moving.
    if (orphan_gives_up(ctx)) return;
    window_probe_due_ = true;
  }
  if (timers_.keepalive && now >= *timers_.keepalive) {
    // RFC 1122 §4.2.3.6 / RFC 9293 §3.8.4: probes after an idle period; the connection is
    // dropped only after several go unanswered (MUST-29: tolerate lost keepalive ACKs).
    if (keepalive_sent_ >= config_.keepalive_probes) {
      reset_connection(ctx, TcpError::TimedOut);
      return;
    }
    timers_.keepalive = now + config_.keepalive_interval;
    if ((state_ == TcpState::Established || state_ == TcpState::CloseWait) && snd_.una == snd_.max) {
      keepalive_probe_due_ = true;
      ++keepalive_sent_;
    }
  }
}

// Each persist expiry, and each retransmission of a zero-window probe, of a connection the
// application has closed counts against config_.orphan_retries until SND.UNA moves again.
bool TcpSocket::orphan_gives_up(TcpContext& ctx) {
  if (!user_released_ || ++orphan_probes_ <= config_.orphan_retries) return false;
  ++ctx.counters.orphans_timed_out;
  reset_connection(ctx, TcpError::TimedOut);
  return true;
}

void TcpSocket::on_retransmit_timeout(TcpContext& ctx) {
  timers_.rto.reset();
  const bool handshake = state_ == TcpState::SynSent || state_ == TcpState::SynReceived;
  // RFC 9293 §3.8.3: give up after R2 (here a number of retransmissions, ~2 min for a SYN as in
  // Linux). DEVIATION(RFC 9293 §3.8.3 MUST-23): R2 for a SYN "MUST be at least 3 minutes";
  // Linux's 127 s default is kept so a failing connect() reports the same delay as the kernel.
  if (retries_ >= (handshake ? config_.max_syn_retries : config_.max_retries)) {
    if (listener_ && handshake) user_released_ = true;
    reset_connection(ctx, soft_error_ ? *soft_error_ : TcpError::TimedOut);
    return;
  }
  ++retries_;
  // RFC 6298 §5.5: "The host MUST set RTO <- RTO * 2 ("back off the timer")".
  rtt_.backoff();
  if (probing_ && snd_.wnd == 0 && !handshake) {
    if (orphan_gives_up(ctx)) return;
    // The zero-window probe's timer (RFC 9293 §3.8.6.1): send the probe again, the interval
    // doubling each time (SHLD-29/30, capped at 60 s). Nothing was lost, so congestion state and
    // the SACK scoreboard stay as they are.
    ++ctx.counters.window_probes;
    ctx.event(tcp_event::WindowProbe{id_, snd_.una});
    snd_.nxt = snd_.una;
    rec_.retransmit(tcp_event::RetransmitCause::Timeout);
    return;
  }
  ++ctx.counters.rto_expired;
  // RFC 5681 §3.1 eq. 4 and the loss window; RFC 6582 §4: recover = highest sequence sent.
  cc_.on_timeout(seq_len(snd_.una, snd_.max));
  tlp_.reset();
  timers_.loss_probe.reset();
  tlp_due_ = false;
  timers_.reordering.reset();
  rec_.undo.reset();
  if (rack_on() && !handshake) {
    // RFC 8985 §6.3: after a timeout every segment not SACKed is lost, and the recovery
    // retransmits them in order as slow start opens cwnd, skipping what the peer holds; RACK
    // then finds a lost retransmission from the SACKs of later ones instead of by another
    // timeout. The SACK marks are kept (as Linux keeps them) unless the timer fires again
    // without progress: the receiver may have reneged (RFC 2018 §8), so then all goes again.
    // A SACK mark on the segment at SND.UNA is proof of reneging at once: a receiver that held
    // it would have acknowledged it cumulatively. Kept, it would leave nothing to retransmit and
    // no timer running (the segment, or our FIN, SACKed and never ACKed: a connection stuck for
    // ever). RFC 2018 §8: "the data sender MUST NOT discard data before it is acknowledged by a
    // cumulative ACK" and, after a timeout, SHOULD "ignore prior SACK information".
    const bool reneged = sent_.head_sacked();
    if (reneged) ++ctx.counters.sack_reneged;
    const bool forget_sacks = retries_ > 1 || reneged;
    sent_.mark_all_lost(forget_sacks);
    if (forget_sacks) rec_.scoreboard.clear();
    rec_.begin_after_timeout(snd_.una, snd_.max);
    timed_.reset();
    return;
  }
  rec_.in_recovery = false;
  rec_.spurious_check.reset();
  rec_.dupacks = 0;
  rec_.recover = snd_.max;
  // RFC 6675 §5.1: after a timeout the SACK scoreboard SHOULD be cleared (the receiver may
  // have reneged, RFC 2018 §8).
  rec_.scoreboard.clear();
  rec_.high_rxt = snd_.una;
  timed_.reset();  // Karn: the retransmission will not be timed
  rec_.retransmit_cause = tcp_event::RetransmitCause::Timeout;
  if (handshake) {
    snd_.nxt = snd_.iss;  // resend SYN or SYN-ACK
  } else {
    // Go-back-N from SND.UNA (RFC 5681 §3.1: "retransmit the earliest segment that has not
    // been acknowledged"), then slow start refills the pipe.
    snd_.nxt = snd_.una;
    rec_.retransmit_first = true;
  }
}

// --- output ---

std::uint32_t TcpSocket::send_segment(TcpContext& ctx, std::vector<std::byte>& scratch, const Emit& emit, SeqNum seq,
                                      std::uint32_t max_len, bool ack_only) {
  Repr r;
  r.src_port = local_.port;
  r.dst_port = remote_.port;
  r.seq = seq;
  const bool syn = !ack_only && !snd_.syn_acked && seq == snd_.iss &&
                   (state_ == TcpState::SynSent || state_ == TcpState::SynReceived);
  if (state_ != TcpState::SynSent) r.ack = rcv_.nxt();
  if (syn) {
    r.flags.syn = true;
    // RFC 9293 §3.7.1: advertise MSS = MTU - 40 (IPv4 and TCP headers without options).
    r.mss = static_cast<std::uint16_t>(config_.mtu - 40);
    const bool active = state_ == TcpState::SynSent || !listener_;
    if (active ? config_.window_scaling : rcv_.wscale() > 0 || snd_.wscale > 0) r.window_scale = rcv_.wscale();
    if (active && !listener_ && state_ == TcpState::SynSent) {
      r.sack_permitted = config_.sack;
      if (config_.timestamps) r.timestamps = std::pair{ts_now(ctx.now), 0u};
    } else {
      r.sack_permitted = sack_ok_;
      if (ts_ok_) r.timestamps = std::pair{ts_now(ctx.now), ts_recent_};
    }
    // RFC 7323 §2.2: "The window field in a segment where the SYN bit is set ... MUST NOT be
    // scaled."
    r.window_raw = rcv_.syn_window();
  } else {
    if (ts_ok_) r.timestamps = std::pair{ts_now(ctx.now), ts_recent_};
    r.window_raw = rcv_.advertise(snd_.mss);
    // RFC 2018 §4: report out-of-order data, the block holding the latest segment first.
    // RFC 2883 §4: a D-SACK block, when there is one, goes before all of them, once. With
    // timestamps only three blocks fit in the 40 option bytes (RFC 2018 §3).
    if (sack_ok_ && rcv_.has_sack_blocks()) rcv_.fill_sack_blocks(r.sack_blocks, ts_ok_ ? 3u : 4u);
  }

  // Payload from the send buffer, within what the header leaves of the MSS.
  std::uint32_t data_len = 0;
  if (!syn && !ack_only && snd_.syn_acked && snd_.buffer_start() <= seq) {
    const std::uint32_t offset = seq_len(snd_.buffer_start(), seq);
    const std::uint32_t available = offset < snd_.buffer.size() ? static_cast<std::uint32_t>(snd_.buffer.size()) - offset : 0;
    const auto options = static_cast<std::uint32_t>(r.header_len() - wire::tcp::kMinHeaderLen);
    const std::uint32_t room = snd_.mss > options ? snd_.mss - options : 1;
    data_len = std::min({max_len, available, room});
    // The payload is read in place from the send ring when it lies in one piece there (the
    // frame is built before the ring changes again); only a run that wraps is copied out.
    r.payload = snd_.buffer.contiguous(offset, data_len);
    if (r.payload.size() < data_len) {
      scratch.resize(data_len);
      data_len = static_cast<std::uint32_t>(snd_.buffer.peek(offset, scratch));
      r.payload = std::span<const std::byte>(scratch.data(), data_len);
    }
    // The FIN follows the last byte of data (RFC 9293 §3.10.4).
    if (snd_.fin_queued && !snd_.fin_acked && seq + data_len == snd_.buffer_end() && data_state(state_)) r.flags.fin = true;
    if (data_len > 0 && seq + data_len == snd_.buffer_end()) r.flags.psh = true;
  }

  emit(TcpOutgoing{local_.addr, remote_.addr, r});
  ++ctx.counters.segments_out;

  const std::uint32_t used = r.segment_len();
  if (r.ack) {
    last_ack_sent_ = rcv_.nxt();
    ack_now_ = false;
    timers_.delayed_ack.reset();
    full_segments_unacked_ = 0;
  }
  if (used > 0) {
    const SeqNum end = seq + used;
    if (rack_on() && !r.flags.syn) sent_.on_transmit(seq, end, ctx.now);  // RFC 8985 §6.1 xmit_ts
    if (seq >= snd_.max) tlp_rearm_ = true;  // RFC 8985 §7.2: new data restarts the probe timeout
    if (seq < snd_.max) {
      ++ctx.counters.retransmitted;
      if (rec_.undo) ++rec_.undo->retrans;
      if (ts_ok_) ts_rtx_floor_ = ts_now(ctx.now);
      ctx.event(tcp_event::Retransmitted{id_, seq, used, rtt_.rto(), rec_.retransmit_cause});
      if (timed_ && seq <= timed_->first && timed_->first < end) timed_.reset();  // Karn
    } else if (!timed_) {
      timed_ = std::pair{seq, ctx.now};
    }
    if (r.flags.fin && snd_.max <= seq + data_len) ctx.event(tcp_event::FinSent{id_, we_closed_first_});
    snd_.max = seq_max(snd_.max, end);
    // RFC 6298 §5.1: "Every time a packet containing data is sent (including a retransmission),
    // if the timer is not running, start it running so that it will expire after RTO seconds".
    if (!timers_.rto) timers_.rto = ctx.now + rtt_.rto();
  }
  return used;
}

void TcpSocket::dispatch(TcpContext& ctx, std::vector<std::byte>& scratch, const Emit& emit) {
  on_timers(ctx);
  if (state_ == TcpState::Closed || state_ == TcpState::Listen) return;

  // SYN (RFC 9293 §3.10.1) or SYN-ACK (§3.10.7.2), first time or after a timeout.
  if ((state_ == TcpState::SynSent || state_ == TcpState::SynReceived) && snd_.nxt == snd_.iss) {
    snd_.nxt = snd_.iss + send_segment(ctx, scratch, emit, snd_.iss, 0);
    return;
  }

  // Back-pressure: while the device's queue is full (TcpContext::link_busy), data,
  // retransmissions and probes wait for it to drain, as Linux's TCP stops when the queue
  // discipline refuses a segment; the ACKs below still go. The turn after it drains sends them.
  // The flag is read live: when the device fills up during this burst, the burst stops there.
  const auto holding = [&] {
    return ctx.link_busy && data_state(state_) && (rec_.retransmit_first || window_probe_due_ || tlp_due_ || next_data_len());
  };
  const bool held_before = holding();
  if (held_before) ++ctx.counters.link_busy_holds;

  // Bounded loop: each pass sends one segment or stops.
  for (int budget = 0; !ctx.link_busy && budget < 4096 && data_state(state_); ++budget) {
    const std::uint32_t cap = payload_cap();
    if (rec_.retransmit_first) {
      // Fast retransmit (RFC 5681 §3.2 step 3), partial ACK (RFC 6582 §3.2 step 5) or timeout:
      // the segment at SND.UNA (with RACK: the first one marked lost), whatever the windows say.
      rec_.retransmit_first = false;
      SeqNum at = snd_.una;
      std::uint32_t len = std::min(cap, seq_len(snd_.una, snd_.max));
      // A zero-window probe's own timer resends the probe at SND.UNA (RFC 9293 §3.8.6.1): nothing
      // was lost, so RACK has nothing marked, and the probe goes out all the same.
      const bool probe = probing_ && snd_.wnd == 0;
      if (rack_on() && !probe) {
        const SentSegment* lost = sent_.first_lost();
        if (lost == nullptr) continue;
        at = lost->start;
        len = std::min(cap, lost->len());
      }
      const std::uint32_t used = send_segment(ctx, scratch, emit, at, len);
      rec_.high_rxt = seq_max(rec_.high_rxt, at + used);
      if (!rack_on() || probe) snd_.nxt = seq_max(snd_.nxt, at + used);
      if (rec_.in_recovery && sack_ok_ && !rec_.rto_recovery) rec_.retransmit_cause = tcp_event::RetransmitCause::SackRecovery;
      if (rack_on() && !rec_.rto_recovery && !probe) rec_.retransmit_cause = tcp_event::RetransmitCause::RackLoss;
      continue;
    }
    if (rack_on()) {
      // RFC 8985 with RFC 6675 §5 (C): while the pipe leaves room for a segment, what RACK
      // marked lost goes first, in sequence order; then new data below.
      // A lost segment the peer's window no longer covers (it shrank, or closed) waits like new
      // data would: the receiver could only drop it (RFC 9293 §3.8.6).
      const SentSegment* lost = sent_.first_lost();
      if (lost != nullptr && sent_.in_flight() + cap <= cc_.cwnd() && lost->start.in_window(snd_.una, snd_.wnd)) {
        const SeqNum at = lost->start;
        const std::uint32_t used = send_segment(ctx, scratch, emit, at, std::min(cap, lost->len()));
        if (used == 0) break;
        rec_.high_rxt = seq_max(rec_.high_rxt, at + used);
        continue;
      }
    } else if (rec_.in_recovery && sack_ok_ && rec_.scoreboard.pipe(snd_.una, snd_.max, rec_.high_rxt, loss_rule()) + cap <= cc_.cwnd()) {
      // RFC 6675 §5 (C): "while (cwnd - pipe) >= 1 SMSS", retransmit the next hole.
      if (auto hole = rec_.scoreboard.next_hole(snd_.una, rec_.high_rxt, loss_rule(), payload_cap())) {
        const std::uint32_t used = send_segment(ctx, scratch, emit, hole->first, hole->second);
        if (used == 0) break;
        rec_.high_rxt = hole->first + used;
        continue;
      }
    }
    // New data (or go-back-N after a timeout) at SND.NXT.
    const auto len = next_data_len();
    if (!len) break;
    const std::uint32_t used = send_segment(ctx, scratch, emit, snd_.nxt, *len);
    if (used == 0) break;
    if (snd_.nxt >= snd_.max) snd_.sent_new(std::min(used, *len), payload_cap());
    snd_.nxt += used;
  }
  if (!held_before && holding()) ++ctx.counters.link_busy_holds;  // the device filled up mid-burst

  const bool hold = ctx.link_busy;
  if (window_probe_due_ && !hold) {
    window_probe_due_ = false;
    if (snd_.wnd == 0 && snd_.nxt == snd_.una && (snd_.nxt < snd_.buffer_end() || snd_.fin_pending())) {
      // RFC 9293 §3.8.6.1: "The sending TCP must regularly retransmit to the receiving TCP even
      // when the window is zero" — one byte of new data (or the FIN, when no data is left); if
      // refused, the retransmission timer resends it. RFC 1122 §4.2.2.17 (MUST-36): the probe
      // interval increases exponentially from the first one, so the probe's own timer is
      // already backed off once (Linux: 0.2, 0.4, 0.8 s ...). NOT a keepalive: the byte is data.
      ++ctx.counters.window_probes;
      ctx.event(tcp_event::WindowProbe{id_, snd_.nxt});
      rtt_.backoff();
      snd_.nxt += send_segment(ctx, scratch, emit, snd_.nxt, 1);
      probing_ = true;
    } else if (snd_.wnd > 0 && snd_.nxt == snd_.una && data_state(state_) && snd_.nxt < snd_.buffer_end()) {
      // The override timeout of sender SWS avoidance (RFC 1122 §4.2.3.4, RFC 9293 §3.8.6.2.1:
      // "send ... if ... the override timeout occurs"): the peer offers a window smaller than a
      // segment and than half its largest one, nothing is in flight, so no ACK will ever come
      // to change that. Send what fits; the retransmission timer covers it from here on.
      const SeqNum right = snd_.una + snd_.wnd;
      const std::uint32_t room = snd_.nxt < right ? seq_len(snd_.nxt, right) : 0;
      const std::uint32_t len = std::min({seq_len(snd_.nxt, snd_.buffer_end()), payload_cap(), room});
      if (len > 0) {
        ++ctx.counters.sws_overrides;
        snd_.nxt += send_segment(ctx, scratch, emit, snd_.nxt, len);
      }
    }
  }
  if (tlp_due_ && !hold) {
    tlp_due_ = false;
    send_loss_probe(ctx, scratch, emit);
  }
  if (keepalive_probe_due_) {
    keepalive_probe_due_ = false;
    // RFC 9293 §3.8.4: "<SEQ=SND.NXT-1><ACK=RCV.NXT>" with no data elicits an ACK.
    ++ctx.counters.keepalive_probes;
    (void)send_segment(ctx, scratch, emit, snd_.nxt - 1, 0, true);
  }
  if (state_ != TcpState::Closed && (ack_now_ || window_update_due())) {
    // A bare ACK carries SND.MAX, not SND.NXT (as BSD does): after a timeout SND.NXT goes back to
    // SND.UNA, and the peer, which may hold everything up to SND.MAX, finds SEG.SEQ < RCV.NXT,
    // discards the ACK as unacceptable (RFC 9293 §3.10.7.4) and never learns what we received.
    (void)send_segment(ctx, scratch, emit, snd_.max, 0, true);
  }

  // Persist timer (RFC 9293 §3.8.6.1, MUST-35), which is also the SWS override timer: armed
  // whenever data (or the FIN) waits and no retransmission timer runs — then no ACK and no
  // retransmission will ever come, and only the window can be holding it back (zero, or too
  // small for SWS avoidance, RFC 9293 §3.8.6.2.1). Without it a tiny window stalls the
  // connection for good. ("No timer" rather than "SND.UNA = SND.MAX": when a window opens after
  // a zero-window probe, SND.NXT goes back over the unacknowledged probe byte and its timer is
  // cancelled; fuzz_tcp_conn found that stall.)
  // RFC 6298 §5.1 and §5.6: while anything sent is outstanding (SND.UNA < SND.NXT), the
  // retransmission timer runs, also when a timeout found nothing it could resend.
  if (data_state(state_) && snd_.una < snd_.nxt && !timers_.rto) timers_.rto = ctx.now + rtt_.rto();
  if (data_state(state_) && !timers_.rto && (snd_.nxt < snd_.buffer_end() || snd_.fin_pending())) {
    if (!timers_.persist) timers_.persist = ctx.now + rtt_.rto();
  } else {
    timers_.persist.reset();
  }
  arm_loss_probe(ctx);
}

// RFC 8985 §7.2: after new data is sent or new data is ACKed, a probe timeout of about two
// round trips, unless a recovery, a probe episode or a zero window is under way.
void TcpSocket::arm_loss_probe(TcpContext& ctx) {
  const bool rearm = tlp_rearm_;
  tlp_rearm_ = false;
  if (!rack_on() || !data_state(state_) || rec_.in_recovery || tlp_ || probing_ || snd_.wnd == 0 || !timers_.rto ||
      snd_.una == snd_.max || sent_.sacked_segments() > 0) {
    timers_.loss_probe.reset();
    return;
  }
  if (timers_.loss_probe && !rearm) return;
  const bool one_segment = seq_len(snd_.una, snd_.max) <= payload_cap();
  const Duration rto_left = *timers_.rto > ctx.now ? *timers_.rto - ctx.now : Duration::zero();
  timers_.loss_probe = ctx.now + tlp_timeout(rtt_.srtt(), one_segment, config_.tlp_max_ack_delay, rto_left);
}

// RFC 8985 §7.3: the probe is a new segment when one may be sent, else the last segment sent
// again; either way it asks the peer for a SACK that shows what is missing.
void TcpSocket::send_loss_probe(TcpContext& ctx, std::vector<std::byte>& scratch, const Emit& emit) {
  if (!rack_on() || !data_state(state_) || rec_.in_recovery || tlp_ || snd_.una == snd_.max || sent_.empty()) return;
  const std::uint32_t cap = payload_cap();
  const SeqNum right = snd_.una + snd_.wnd;
  const std::uint32_t unsent = snd_.nxt < snd_.buffer_end() ? seq_len(snd_.nxt, snd_.buffer_end()) : 0;
  const std::uint32_t wnd_room = snd_.nxt < right ? seq_len(snd_.nxt, right) : 0;
  ++ctx.counters.tlp_probes;
  if (unsent > 0 && wnd_room > 0 && snd_.nxt == snd_.max) {
    snd_.nxt += send_segment(ctx, scratch, emit, snd_.nxt, std::min({unsent, cap, wnd_room}));
    tlp_ = TlpEpisode{snd_.nxt, false};
    return;
  }
  const SentSegment& last = *sent_.last();
  const std::uint32_t len = std::min(cap, last.len());
  const SeqNum at = last.end - len;
  const auto cause = rec_.retransmit_cause;
  rec_.retransmit_cause = tcp_event::RetransmitCause::TailLossProbe;
  (void)send_segment(ctx, scratch, emit, at, len);
  rec_.retransmit_cause = cause;
  tlp_ = TlpEpisode{snd_.max, true};
}

}  // namespace stack::socket
