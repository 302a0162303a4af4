// TCP input: RFC 9293 §3.10.7 "SEGMENT ARRIVES", step by step.
//
// The layer (tcp_layer.cpp) handles the CLOSED (§3.10.7.1) and LISTEN (§3.10.7.2) cases; this
// file handles SYN-SENT (§3.10.7.3) and every other state (§3.10.7.4), with the RFC's step
// numbers as banners. The RFC 5961 blind-attack checks (RST, SYN, ACK) and RFC 7323 PAWS are
// woven in where those RFCs place them.
#include <algorithm>
#include <cassert>

#include "stack/socket/tcp_socket.hpp"

namespace stack::socket {

namespace {
// RFC 7323 §5.5: TS.Recent older than 24 days is invalid ("idle connection" exception).
constexpr Duration kPawsIdle = Duration::from_secs(24 * 24 * 3600);
// Upper bound for the adaptive DupThresh (Linux's tcp_max_reordering is 300; our windows are
// smaller, and a larger threshold only delays the recovery of real losses).
constexpr int kMaxDupThresh = 32;
}  // namespace

void TcpSocket::process(TcpContext& ctx, const Repr& seg) {
  switch (state_) {
    case TcpState::Closed:
    case TcpState::Listen:
      return;  // the layer routes these (§3.10.7.1, §3.10.7.2)
    case TcpState::SynSent:
      process_syn_sent(ctx, seg);
      return;
    default:
      break;
  }

  // A retransmitted SYN in SYN-RECEIVED means our SYN-ACK was lost: send it again
  // (RFC 9293 §3.8.1: a retransmitted SYN is answered like the first one).
  if (state_ == TcpState::SynReceived && seg.flags.syn && !seg.ack && !seg.flags.rst && seg.seq == rcv_.irs()) {
    snd_.nxt = snd_.iss;
    return;
  }

  // RFC 7323 §5.3 R1 (PAWS), before the sequence check: "If there is a Timestamps option in the
  // arriving segment, SEG.TSval < TS.Recent, TS.Recent is valid, and the RST bit is not set,
  // then treat the arriving segment as not acceptable: Send an acknowledgment in reply as
  // specified in RFC 793 page 69 and drop the segment."
  if (ts_ok_ && seg.timestamps && !seg.flags.rst && ctx.now - ts_recent_age_ < kPawsIdle &&
      static_cast<std::int32_t>(seg.timestamps->first - ts_recent_) < 0) {
    ctx.drop(id_, TcpDrop::PawsRejected);
    if (!seg.payload.empty()) ack_now_ = true; else challenge_ack(ctx, "PAWS: old timestamp");
    return;
  }

  // ---- first, check sequence number (RFC 9293 §3.10.7.4, Table 6) ----
  if (!rcv_.acceptable(seg.seq, seg.segment_len())) {  // RFC 9293 §3.10.7.4 Table 6
    if (seg.flags.rst) {
      // RFC 5961 §3.2: "If the RST bit is set and the sequence number is outside the current
      // receive window, silently drop the segment."
      ctx.drop(id_, TcpDrop::RstOutOfWindow);
      return;
    }
    ctx.drop(id_, TcpDrop::OutOfWindow);
    // RFC 2883 §4.1.1: a segment that is wholly old is reported as a D-SACK block.
    const auto len = static_cast<std::uint32_t>(seg.payload.size());
    if (sack_ok_ && len > 0 && seg.seq + len <= rcv_.nxt()) rcv_.report_duplicate(seg.seq, seg.seq + len);
    if (len > 0 && seg.seq + len <= rcv_.nxt()) enter_quickack();
    if (state_ == TcpState::TimeWait && seg.flags.fin) {
      // "The only thing that can arrive in this state is a retransmission of the remote FIN.
      // Acknowledge it, and restart the 2 MSL timeout."
      timers_.time_wait = ctx.now + config_.time_wait;
      ack_now_ = true;
      return;
    }
    // "If an incoming segment is not acceptable, an acknowledgment should be sent in reply".
    // Data-bearing segments (our ACK was probably lost) are answered at once; bare ones go
    // through the RFC 5961 §7 rate limit so two confused peers cannot ping-pong forever.
    if (!seg.payload.empty() || seg.flags.fin) ack_now_ = true; else challenge_ack(ctx, "unacceptable segment");
    return;
  }
  // Trim to the window: bytes before RCV.NXT were already received, bytes beyond the right
  // edge are not accepted (docs/hostile-inputs.md #50, #59).
  Repr s = seg;
  if (s.seq < rcv_.nxt()) {
    const std::uint32_t old = std::min<std::uint32_t>(seq_len(s.seq, rcv_.nxt()), static_cast<std::uint32_t>(s.payload.size()));
    // RFC 2883 §4.1.1: the already-received head of a partly new segment is a duplicate too.
    if (sack_ok_ && old > 0) rcv_.report_duplicate(s.seq, s.seq + old);
    s.payload = s.payload.subspan(old);
    s.seq = s.seq + old;
  }
  const SeqNum right = rcv_.right_edge();
  if (!s.payload.empty() && s.seq + static_cast<std::uint32_t>(s.payload.size()) > right) {
    const std::uint32_t fits = s.seq < right ? seq_len(s.seq, right) : 0;
    s.payload = s.payload.first(fits);
    s.flags.fin = false;  // a FIN beyond the window is not accepted either
    ack_now_ = true;      // re-advertise the window (docs/hostile-inputs.md #59)
  }
  // The FIN occupies one sequence number of its own (RFC 9293 §3.3): it is taken only when that
  // number is inside the window. Into a zero window (or right at the edge) it is ignored and the
  // window re-advertised, as Linux and gVisor do; the ACK it carries is still processed. Taking
  // it would move RCV.NXT past the right edge we advertised.
  if (s.flags.fin && !(s.seq + static_cast<std::uint32_t>(s.payload.size()) < right)) {
    s.flags.fin = false;
    ack_now_ = true;
    ctx.drop(id_, TcpDrop::FinBeyondWindow);
  }
  if (keepalive_) {
    timers_.keepalive = ctx.now + config_.keepalive_idle;
    keepalive_sent_ = 0;
  }

  // ---- second, check the RST bit (RFC 9293 §3.10.7.4; RFC 5961 §3.2) ----
  if (s.flags.rst) {
    if (s.seq != rcv_.nxt()) {
      // "If the RST bit is set and the sequence number does not exactly match the next expected
      // sequence value, yet is within the current receive window, TCP endpoints MUST send an
      // acknowledgment (challenge ACK)".
      ctx.drop(id_, TcpDrop::RstNotExact);
      challenge_ack(ctx, "RST not at RCV.NXT");
      return;
    }
    ++ctx.counters.rst_received;
    ctx.event(tcp_event::RstReceived{id_, state_});
    switch (state_) {
      case TcpState::SynReceived:
        // "If this connection was initiated with a passive OPEN ... return this connection to
        // the LISTEN state". The listener never stopped listening: the child just goes away.
        // "If this connection was initiated with an active OPEN ... connection refused".
        if (listener_) {
          user_released_ = true;
          reset_connection(ctx, std::nullopt);
        } else {
          reset_connection(ctx, TcpError::Refused);
        }
        return;
      case TcpState::Established:
      case TcpState::FinWait1:
      case TcpState::FinWait2:
      case TcpState::CloseWait:
        // "any outstanding RECEIVEs and SEND should receive 'reset' responses".
        reset_connection(ctx, TcpError::Reset);
        return;
      case TcpState::Closing:
      case TcpState::LastAck:
        reset_connection(ctx, std::nullopt);
        return;
      case TcpState::TimeWait:
        // DEVIATION(RFC 9293 §3.10.7.4): the RFC closes on an RST in TIME-WAIT; we follow
        // RFC 1337 §3 ("ignore RST segments in TIME-WAIT state") against TIME-WAIT
        // assassination, like Linux with tcp_rfc1337=1.
        ctx.drop(id_, TcpDrop::TimeWaitRst);
        return;
      default:
        return;
    }
  }

  // ---- third, check security ----
  // NOT IMPLEMENTED(RFC 9293 §3.10.7.4 third): IP security compartments (RFC 791 option) are not
  // supported; every segment has the default compartment.

  // ---- fourth, check the SYN bit (RFC 9293 §3.10.7.4; RFC 5961 §4) ----
  if (s.flags.syn) {
    if (state_ == TcpState::SynReceived && listener_) {
      // "If the connection was initiated with a passive OPEN, then return this connection to
      // the LISTEN state and return."
      user_released_ = true;
      reset_connection(ctx, std::nullopt);
      return;
    }
    // "In synchronized states, if the SYN bit is set, irrespective of the sequence number, TCP
    // endpoints MUST send a 'challenge ACK'". A SYN that may reopen a TIME-WAIT connection
    // (RFC 9293 §3.10.7.4 MAY-2, RFC 6191) never gets here: the layer hands it to the listener
    // before this socket sees it (TcpLayer::process), or drops it when it is not newer.
    ctx.drop(id_, TcpDrop::SynInWindow);
    challenge_ack(ctx, "SYN on a synchronized connection");
    return;
  }

  // ---- fifth, check the ACK field ----
  if (!s.ack) {
    // "if the ACK bit is off, drop the segment and return" (docs/hostile-inputs.md #42).
    ctx.drop(id_, TcpDrop::NoAck);
    return;
  }
  update_ts_recent(ctx, s);
  if (!process_ack(ctx, s)) return;

  // ---- sixth, check the URG bit ----
  // NOT IMPLEMENTED(RFC 9293 §3.8.5): urgent mode. RFC 6093 §4 recommends against it; urgent
  // bytes are delivered in line and the pointer is never used as an offset (docs/hostile-inputs.md #43).

  // ---- seventh, process the segment text ----
  process_text(ctx, s);

  // ---- eighth, check the FIN bit ----
  if (s.flags.fin) {
    const SeqNum fin_at = s.seq + static_cast<std::uint32_t>(s.payload.size());
    switch (rcv_.on_fin(fin_at)) {
      case TcpReceiver::FinResult::Taken:
        process_fin(ctx);
        break;
      case TcpReceiver::FinResult::Held:
        // A FIN ahead of missing data: it takes effect when the gap fills. Only the earliest
        // one is believed (docs/hostile-inputs.md #51).
        ack_now_ = true;
        break;
      case TcpReceiver::FinResult::Ignored:
        break;
    }
  }
}

// RFC 9293 §3.10.7.3: SEGMENT ARRIVES in SYN-SENT.
void TcpSocket::process_syn_sent(TcpContext& ctx, const Repr& seg) {
  // ---- first, check the ACK bit ----
  if (seg.ack) {
    // "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is set, if so
    // drop the segment and return) <SEQ=SEG.ACK><CTL=RST> and discard the segment."
    if (!seg.ack->in_range(snd_.iss + 1, snd_.max + 1)) {  // ISS < SEG.ACK =< SND.NXT
      ctx.drop(id_, TcpDrop::SynSentBadAck);
      if (!seg.flags.rst) {
        send_rst(ctx, *seg.ack, "SYN-SENT: unacceptable ACK");
      }
      return;
    }
  }
  // ---- second, check the RST bit ----
  if (seg.flags.rst) {
    // "If the ACK was acceptable, then signal to the user 'error: connection reset', drop the
    // segment, enter CLOSED state ... Otherwise (no ACK), drop the segment and return." RFC 5961
    // §3.2 would have us also check SEG.SEQ; a RST answering our SYN carries SEQ=0 per
    // §3.10.7.1, so the ACK check above is the one that matters.
    if (seg.ack) {
      ++ctx.counters.rst_received;
      ctx.event(tcp_event::RstReceived{id_, state_});
      reset_connection(ctx, TcpError::Refused);
    } else {
      ctx.drop(id_, TcpDrop::SynSentBadAck);
    }
    return;
  }
  // ---- third, check the security ---- (not implemented, see §3.10.7.4 above)

  // ---- fourth, check the SYN bit ----
  if (!seg.flags.syn) {
    // ---- fifth, if neither of the SYN or RST bits is set, then drop the segment and return ----
    ctx.drop(id_, TcpDrop::SynSentNoSyn);
    return;
  }
  // "RCV.NXT is set to SEG.SEQ+1, IRS is set to SEG.SEQ."
  rcv_.on_syn(seg.seq);
  take_syn_options(seg);
  ts_recent_age_ = ctx.now;
  snd_.wnd = seg.window_raw;  // never scaled in a SYN (RFC 7323 §2.2)
  snd_.max_wnd = snd_.wnd;
  snd_.wl1 = seg.seq;
  ack_now_ = true;
  if (seg.ack) {
    // "SND.UNA should be advanced to equal SEG.ACK ... If SND.UNA > ISS (our SYN has been
    // ACKed), change the connection state to ESTABLISHED, form an ACK segment".
    snd_.wl2 = *seg.ack;
    if (ts_ok_ && seg.timestamps && seg.timestamps->second != 0) {
      if (ts_sample_ok(seg.timestamps->second))
        rtt_.sample(Duration::from_millis(static_cast<std::int32_t>(ts_now(ctx.now) - seg.timestamps->second)));
    } else if (timed_) {
      rtt_.sample(ctx.now - timed_->second);
    }
    timed_.reset();
    snd_.una = *seg.ack;
    snd_.syn_acked = true;
    retries_ = 0;
    timers_.rto.reset();
    set_state(ctx, TcpState::Established);
    // NOT IMPLEMENTED(RFC 9293 §3.10.7.3 fourth): data carried on a SYN-ACK is not queued; it
    // is not acknowledged, so the peer retransmits it.
  } else {
    // Simultaneous open (RFC 9293 §3.5 Figure 7): "enter SYN-RECEIVED, form a SYN,ACK segment
    // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and send it."
    snd_.nxt = snd_.iss;
    set_state(ctx, TcpState::SynReceived);
  }
}

// RFC 6191 §2, "Proposed Algorithm", for a SYN (no ACK, no RST) arriving in TIME-WAIT.
// "If the previous incarnation of the connection used Timestamps, then:
//   - If TCP Timestamps would be enabled for the new incarnation ... and the timestamp contained in
//     the incoming SYN segment is greater than the last timestamp seen on the previous
//     incarnation ..., honor the connection request.
//   - If ... the timestamp ... is equal to the last timestamp seen ... and the Sequence Number of
//     the incoming SYN segment is greater than the last sequence number seen ..., honor the
//     connection request.
//   - If TCP Timestamps would not be enabled for the new incarnation ..., but the Sequence Number
//     of the incoming SYN segment is greater than the last sequence number seen ..., honor the
//     connection request.
//   - Otherwise, silently drop the incoming SYN segment, thus leaving the previous incarnation of
//     the connection in the TIME-WAIT state.
//  If the previous incarnation of the connection did not use Timestamps, then: If the Sequence
//  Number of the incoming SYN segment is greater than the last sequence number seen on the
//  previous incarnation ..., honor the connection request. Otherwise, silently drop ..."
// "The last sequence number seen" is RCV.NXT: it already counts the peer's FIN.
bool syn_opens_new_incarnation(SeqNum old_rcv_nxt, std::optional<std::uint32_t> old_ts_recent, const wire::tcp::Repr& syn,
                               bool new_uses_timestamps) {
  if (!syn.flags.syn || syn.ack || syn.flags.rst) return false;
  const bool seq_newer = syn.seq > old_rcv_nxt;
  if (old_ts_recent && new_uses_timestamps && syn.timestamps) {
    const auto diff = static_cast<std::int32_t>(syn.timestamps->first - *old_ts_recent);
    if (diff > 0) return true;
    return diff == 0 && seq_newer;
  }
  return seq_newer;
}

bool TcpSocket::time_wait_accepts_syn(const Repr& syn, bool new_uses_timestamps) const {
  if (state_ != TcpState::TimeWait) return false;
  return syn_opens_new_incarnation(rcv_.nxt(), ts_ok_ ? std::optional{ts_recent_} : std::nullopt, syn,
                                   new_uses_timestamps);
}

TimeWaitState TcpSocket::time_wait_state() const {
  TimeWaitState t;
  t.snd_nxt = snd_.max;
  t.rcv_nxt = rcv_.nxt();
  t.ts_recent = ts_recent_;
  t.ts_offset = ts_offset_;
  t.expires = timers_.time_wait.value_or(Instant{});
  t.window = static_cast<std::uint16_t>(std::min<std::uint32_t>(rcv_.window() >> rcv_.wscale(), 0xffff));
  t.ts_ok = ts_ok_;
  return t;
}

void TcpSocket::update_ts_recent(TcpContext& ctx, const Repr& seg) {
  // RFC 7323 §4.3 (2): "If SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent, then SEG.TSval
  // is copied to TS.Recent" (the segment covers the left edge we acknowledged last).
  if (!ts_ok_ || !seg.timestamps) return;
  if (static_cast<std::int32_t>(seg.timestamps->first - ts_recent_) >= 0 && seg.seq <= last_ack_sent_) {
    ts_recent_ = seg.timestamps->first;
    ts_recent_age_ = ctx.now;
  }
}

// Step five for every synchronized state. Returns false when the segment is finished with.
bool TcpSocket::process_ack(TcpContext& ctx, const Repr& seg) {
  const SeqNum ack = *seg.ack;
  if (state_ == TcpState::SynReceived) {
    // RFC 9293 §3.10.7.4 fifth, SYN-RECEIVED: "If SND.UNA < SEG.ACK =< SND.NXT, then enter
    // ESTABLISHED state and continue processing"; "If the segment acknowledgment is not
    // acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST> and send it." Any unacceptable ACK,
    // above SND.NXT or below SND.UNA: the RFC 5961 §5.2 checks below (a challenge ACK) are for
    // synchronized connections. An old duplicate SYN answered by its peer's stale ACK is thus
    // reset as in RFC 9293 Figure 8, instead of holding its SYN-queue slot until it times out.
    if (!ack.in_range(snd_.una + 1, snd_.max + 1)) {
      ctx.drop(id_, TcpDrop::SynReceivedBadAck);
      send_rst(ctx, ack, "SYN-RECEIVED: unacceptable ACK");
      return false;
    }
  }
  // RFC 9293: "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then send an ACK,
  // drop the segment, and return" (docs/hostile-inputs.md #48).
  if (ack > snd_.max) {
    ctx.drop(id_, TcpDrop::AckUnsent);
    challenge_ack(ctx, "ACK for data never sent");
    return false;
  }
  // RFC 5961 §5.2: acceptable only if (SND.UNA - MAX.SND.WND) =< SEG.ACK; "All incoming segments
  // whose ACK value doesn't satisfy the above condition MUST be discarded and an ACK sent back."
  if (ack < snd_.una - std::max(snd_.max_wnd, 1u)) {
    ctx.drop(id_, TcpDrop::AckTooOld);
    challenge_ack(ctx, "ACK too old");
    return false;
  }

  if (state_ == TcpState::SynReceived) {
    set_state(ctx, TcpState::Established);
    // The window in this ACK is the first scaled one (RFC 7323 §2.2).
    snd_.wnd = static_cast<std::uint32_t>(seg.window_raw) << snd_.wscale;
    snd_.max_wnd = std::max(snd_.max_wnd, snd_.wnd);
    snd_.wl1 = seg.seq;
    snd_.wl2 = ack;
    if (snd_.fin_queued) set_state(ctx, TcpState::FinWait1);  // CLOSE during SYN-RECEIVED
  }

  // RFC 9293 §3.8.6.1 / RFC 1122 §4.2.2.17: while the peer answers our zero-window probes the
  // connection stays open, however long the window stays shut (MUST-37).
  if (probing_) retries_ = 0;

  if (sack_ok_) rec_.scoreboard.update(seg.sack_blocks, snd_.una, snd_.max);
  const bool rack = rack_on();
  const std::optional<wire::tcp::SackBlock> dsack = rack ? rack_take_ack(ctx, seg) : std::nullopt;
  const bool una_advanced = snd_.una < ack;
  if (una_advanced) {
    process_new_ack(ctx, seg, seq_len(snd_.una, ack));
  } else if (ack == snd_.una) {
    process_duplicate_ack(ctx, seg);
  }
  if (rack && state_ != TcpState::Closed) rack_after_ack(ctx, seg, dsack, una_advanced);
  // "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated."
  update_send_window(ctx, seg);
  if (rack && state_ != TcpState::Closed) arm_loss_probe(ctx);

  switch (state_) {
    case TcpState::FinWait1:
      // "In addition to the processing for the ESTABLISHED state, if the FIN segment is now
      // acknowledged, then enter FIN-WAIT-2 and continue processing in that state."
      if (snd_.fin_acked) {
        set_state(ctx, TcpState::FinWait2);
        if (user_released_) timers_.fin_wait2 = ctx.now + config_.fin_wait2_timeout;
      }
      break;
    case TcpState::Closing:
      // "if the ACK acknowledges our FIN, then enter the TIME-WAIT state".
      if (snd_.fin_acked) enter_time_wait(ctx);
      break;
    case TcpState::LastAck:
      // "The only thing that can arrive in this state is an acknowledgment of our FIN. If our FIN
      // is now acknowledged, delete the TCB, enter the CLOSED state, and return."
      if (snd_.fin_acked) {
        reset_connection(ctx, std::nullopt);
        return false;
      }
      break;
    default:
      break;
  }
  return true;
}

void TcpSocket::process_new_ack(TcpContext& ctx, const Repr& seg, std::uint32_t acked) {
  const SeqNum ack = *seg.ack;
  // Release acknowledged bytes from the send buffer; the SYN and FIN occupy one number each.
  const SeqNum base = snd_.buffer_start();
  const SeqNum end_of_data = snd_.buffer_end();
  if (base < ack) snd_.buffer.consume(std::min<std::size_t>(seq_len(base, ack), snd_.buffer.size()));
  // Everything sent is acknowledged: an idle connection holds no send-buffer memory. (A bulk
  // sender keeps it: its buffer never drains while the application keeps writing.)
  if (snd_.buffer.empty()) snd_.buffer.release();
  if (snd_.fin_queued && ack == end_of_data + 1) snd_.fin_acked = true;
  snd_.syn_acked = true;
  snd_.una = ack;
  orphan_probes_ = 0;  // progress: an orphan that still moves data is not timed out
  if (snd_.nxt < snd_.una) snd_.nxt = snd_.una;  // after go-back-N the ACK can pass SND.NXT
  retries_ = 0;
  // Everything acknowledged also cancels a retransmission still pending (in FIN-WAIT-2 nothing
  // would ever send it, and it kept poll_at() at "now": a busy event loop).
  if (snd_.una == snd_.max) rec_.retransmit_first = false;

  // RTT sample. RFC 7323 §4.2 (RTTM): with timestamps, from the TSecr of an ACK that advances
  // SND.UNA. The echoed TSval identifies a transmission, but not always the one that made the
  // receiver answer: a retransmission that arrives as a duplicate is answered with TS.Recent,
  // the TSval of an *earlier* segment (RFC 7323 §4.3 (2) only updates TS.Recent for acceptable
  // segments). Such a sample includes our timeout; taking it inflates SRTT, the next RTO is
  // longer, the next inflated sample longer still — at 20 % loss the RTO sat at its 60 s cap.
  // So Karn's rule (RFC 6298 §3) applies to timestamps too: no sample from a TSecr older than
  // our latest retransmission. Without timestamps: only a never-retransmitted segment is timed.
  if (rack_on()) {
    if (rack_rtt_sample_) rtt_.sample(*rack_rtt_sample_);
  } else if (ts_ok_ && seg.timestamps && seg.timestamps->second != 0) {
    const auto ms = static_cast<std::int32_t>(ts_now(ctx.now) - seg.timestamps->second);
    if (ms >= 0 && ts_sample_ok(seg.timestamps->second)) rtt_.sample(Duration::from_millis(ms));
  } else if (timed_ && timed_->first < ack) {
    rtt_.sample(ctx.now - timed_->second);
  }
  if (timed_ && timed_->first < ack) timed_.reset();

  // Drop SACK information the cumulative ACK now covers.
  rec_.scoreboard.advance(snd_.una);

  if (rec_.in_recovery && rec_.spurious_check && ts_ok_ && seg.timestamps) {
    // RFC 3522 §3.2 (Eifel detection): the first ACK for the retransmitted data echoes the
    // original's TSval, older than the retransmission's: the original was not lost, only late.
    // RFC 4015 §4 (response): restore the congestion state from before the fast retransmit,
    // end recovery, and (like Linux's tcp_reordering) wait for more duplicate ACKs next time —
    // as many as this reordering produced, up to a bound.
    // Without timestamps, the peer's D-SACKs prove the same (RFC 3708, rack_take_ack()).
    const bool spurious = static_cast<std::int32_t>(seg.timestamps->second - rec_.spurious_check->ts_rtx) < 0;
    if (spurious) {
      cc_ = rec_.spurious_check->cc_before;
      rec_.dupthresh = std::clamp(rec_.dupacks + 1, rec_.dupthresh, kMaxDupThresh);
      rec_.in_recovery = false;
      ++ctx.counters.spurious_retransmits;
    }
    rec_.spurious_check.reset();
    if (spurious) {
      rec_.dupacks = 0;
      if (snd_.una == snd_.max) timers_.rto.reset(); else timers_.rto = ctx.now + rtt_.rto();
      return;
    }
  }
  rec_.spurious_check.reset();
  tlp_rearm_ = true;  // RFC 8985 §7.2: an ACK of new data restarts the probe timeout
  if (rec_.in_recovery && rec_.rto_recovery) {
    // After a timeout (RFC 5681 §3.1): slow start until everything sent before it is ACKed.
    cc_.on_ack(acked, ctx.now, rtt_.srtt());
    if (rec_.fully_acked(ack)) rec_.end();
  } else if (rec_.in_recovery) {
    if (rec_.fully_acked(ack)) {
      // RFC 6582 §3.2 step 6: full acknowledgment, leave fast recovery.
      rec_.end();
      cc_.on_recovery_exit(seq_len(snd_.una, snd_.max));
    } else {
      // RFC 6582 §3.2 step 5: partial acknowledgment. "retransmit the first unacknowledged
      // segment ... deflate the congestion window by the amount of new data acknowledged".
      // With SACK the pipe takes care of both (RFC 6675 §5 (C)).
      if (!sack_ok_) {
        cc_.deflate(acked);
        rec_.retransmit(tcp_event::RetransmitCause::PartialAck);
      }
    }
  } else {
    rec_.dupacks = 0;
    cc_.on_ack(acked, ctx.now, rtt_.srtt());
  }
  // RFC 6298 §5.2: "When all outstanding data has been acknowledged, turn off the
  // retransmission timer." §5.3: "When an ACK is received that acknowledges new data, restart
  // the retransmission timer so that it will expire after RTO seconds".
  if (snd_.una == snd_.max) timers_.rto.reset(); else timers_.rto = ctx.now + rtt_.rto();
}

void TcpSocket::process_duplicate_ack(TcpContext& ctx, const Repr& seg) {
  // RFC 5681 §2 "DUPLICATE ACKNOWLEDGMENT": outstanding data, no data or SYN/FIN in the
  // segment, ACK = SND.UNA, and the advertised window unchanged (docs/hostile-inputs.md #62: window
  // updates are not counted).
  // A zero window is not counted either: what is outstanding then is a window probe, which the
  // receiver answers without taking it (as in 4.4BSD, where the persist state has no dupacks).
  const std::uint32_t wnd = static_cast<std::uint32_t>(seg.window_raw) << snd_.wscale;
  if (snd_.una == snd_.max || !seg.payload.empty() || seg.flags.syn || seg.flags.fin || wnd != snd_.wnd) return;
  if (snd_.wnd == 0 || probing_) return;
  ++rec_.dupacks;
  int thresh = rec_.dupthresh;
  // RFC 5827 (Early Retransmit): with fewer than four segments outstanding and nothing new that
  // may be sent, three duplicate ACKs can never come; lower DupThresh to oseg - 1. At high loss
  // this is what turns a 1 s timeout into a retransmission one RTT after the loss.
  const std::uint32_t cap = payload_cap();
  const std::uint32_t oseg = (seq_len(snd_.una, snd_.max) + cap - 1) / cap;
  if (oseg < 4 && !next_data_len()) thresh = std::max(1, static_cast<int>(oseg) - 1);
  // RFC 6675 §5: with SACK, loss is also declared once DupThresh segments' worth of data is
  // SACKed above SND.UNA (IsLost(SND.UNA)).
  const bool sack_says_lost = sack_ok_ && rec_.scoreboard.sacked_bytes() >= static_cast<std::uint32_t>(thresh) * cap;
  // With RACK (RFC 8985 §6.2 step 4) losses are found by time, DupThresh included: a reordering
  // window of zero once DupThresh segments are SACKed. Duplicate ACKs only feed Limited Transmit.
  if (rack_on()) return;
  if (!rec_.in_recovery && (rec_.dupacks >= thresh || sack_says_lost)) {
    // RFC 6582 §3.2 step 2: do not start a new recovery for losses from before the last one
    // ("If the Cumulative Acknowledgment field ... does not cover more than recover").
    if (snd_.una <= rec_.recover) return;
    enter_fast_recovery(ctx);
    rec_.retransmit(tcp_event::RetransmitCause::FastRetransmit);
  } else if (rec_.in_recovery && !sack_ok_) {
    // RFC 5681 §3.2 step 4: "For each additional duplicate ACK received (after the third),
    // cwnd MUST be incremented by SMSS."
    cc_.inflate(payload_cap());
  }
}

void TcpSocket::enter_fast_recovery(TcpContext& ctx) {
  rec_.begin_fast(snd_.una, snd_.max);
  if (ts_ok_) rec_.spurious_check = LossRecovery::SpuriousCheck{ts_now(ctx.now), cc_};
  rec_.undo = LossRecovery::DsackUndo{cc_, snd_.una, 0};
  cc_.on_fast_retransmit(ctx.now, seq_len(snd_.una, snd_.max));
  if (sack_ok_) {
    cc_.set_cwnd(cc_.ssthresh());  // RFC 6675 §5 (4.2)
    ++ctx.counters.sack_recoveries;
  }
  ++ctx.counters.fast_retransmits;
  timed_.reset();
}

std::optional<wire::tcp::SackBlock> TcpSocket::rack_take_ack(TcpContext& ctx, const Repr& seg) {
  const SeqNum ack = *seg.ack;
  // RFC 8985 §6.2 step 2: a retransmission's sample is not taken when the ACK echoes the
  // timestamp of an earlier transmission (RFC 7323 §4.3: the receiver echoes TS.Recent).
  const bool have_echo = ts_ok_ && seg.timestamps && seg.timestamps->second != 0;
  const std::uint32_t echo = have_echo ? seg.timestamps->second : 0;
  // Karn's rule by segment (RFC 6298 §3): the oldest segment this ACK delivers that was sent only
  // once times the round trip exactly, with or without timestamps, however many other segments
  // were retransmitted meanwhile (Linux's seq_rtt / sack_rtt).
  std::optional<Instant> acked_once, sacked_once, newest_acked;
  bool acked_retransmission = false;
  auto delivered = [&](const SentSegment& s) {
    const bool echo_before = have_echo && static_cast<std::int32_t>(echo - ts_now(s.xmit_ts)) < 0;
    rack_.on_delivered(s, ctx.now, echo_before);
  };
  // Steps 2-3 for what this ACK delivers: the segments below the cumulative ACK, then SACKed ones.
  if (snd_.una < ack) {
    sent_.on_cumulative_ack(ack, [&](const SentSegment& s) {
      if (!s.retransmitted && !acked_once) acked_once = s.xmit_ts;
      acked_retransmission |= s.retransmitted;
      if (!newest_acked || s.xmit_ts > *newest_acked) newest_acked = s.xmit_ts;
      delivered(s);
    });
  }
  sent_.on_sack(seg.sack_blocks, seq_max(snd_.una, ack), snd_.max, [&](const SentSegment& s) {
    if (!s.retransmitted && !sacked_once) sacked_once = s.xmit_ts;
    delivered(s);
  });
  // An ACK that also covers a retransmission may have been sent for it, long after the segments
  // sent once arrived (they waited above a hole): no sample from those then (Linux does the same).
  // Next come the segments SACKed for the first time, then the timestamp echo, when it is not
  // older than the latest transmission of what the ACK covers (RFC 7323 §4.3, RFC 8985 §6.2).
  rack_rtt_sample_.reset();
  if (acked_once && !acked_retransmission) {
    rack_rtt_sample_ = ctx.now - *acked_once;
  } else if (sacked_once) {
    rack_rtt_sample_ = ctx.now - *sacked_once;
  } else if (have_echo && newest_acked && static_cast<std::int32_t>(echo - ts_now(*newest_acked)) >= 0) {
    const auto ms = static_cast<std::int32_t>(ts_now(ctx.now) - echo);
    if (ms >= 0) rack_rtt_sample_ = Duration::from_millis(ms);
  }

  // RFC 2883 §4: a D-SACK reports data that arrived twice. RFC 3708 §3: once every
  // retransmission of a recovery is reported so, the recovery was needless.
  const auto dsack = dsack_block(seg.sack_blocks, ack);
  if (dsack) {
    ++ctx.counters.dsacks_received;
    if (rec_.undo && rec_.undo->retrans > 0 && rec_.undo->from < dsack->right && dsack->left < rec_.recover &&
        --rec_.undo->retrans == 0) {
      // Linux's DSACK undo: the window before the recovery comes back (never a smaller one).
      const CongestionControl now_cc = cc_;
      cc_ = rec_.undo->cc_before;
      if (now_cc.cwnd() > cc_.cwnd()) cc_.set_cwnd(now_cc.cwnd());
      ++ctx.counters.dsack_undos;
      ++ctx.counters.spurious_retransmits;
      rec_.undo.reset();
    }
  }
  return dsack;
}

void TcpSocket::rack_after_ack(TcpContext& ctx, const Repr& seg, std::optional<wire::tcp::SackBlock> dsack,
                               bool una_advanced) {
  // Step 4: the reordering window learns from D-SACKs and forgets after 16 calm recoveries.
  rack_.on_ack_done(dsack.has_value(), rec_.ended, snd_.una, snd_.max);
  rec_.ended = false;
  rack_detect_loss(ctx);

  // RFC 8985 §7.4: did the probe repair a loss? An ACK beyond the probe's end, without a D-SACK
  // for it, means the original was lost: react as to any loss (a new window, not a timeout).
  if (tlp_ && *seg.ack >= tlp_->end_seq) {
    const SeqNum ack = *seg.ack;
    const bool dsack_for_probe = dsack && tlp_->end_seq.in_range(dsack->left + 1, dsack->right + 1);
    if (!tlp_->is_retrans || dsack_for_probe) {
      tlp_.reset();
    } else if (ack > tlp_->end_seq) {
      tlp_.reset();
      ++ctx.counters.tlp_recoveries;
      if (!rec_.in_recovery) {
        cc_.on_fast_retransmit(ctx.now, seq_len(snd_.una, snd_.max));
        cc_.set_cwnd(std::max(cc_.ssthresh(), payload_cap()));
      }
    } else if (!una_advanced && seg.payload.empty() && !seg.flags.fin && sent_.sacked_segments() == 0) {
      // A pure duplicate ACK at the probe's end: the original and the probe both arrived.
      tlp_.reset();
    }
  }
}

void TcpSocket::rack_detect_loss(TcpContext& ctx) {
  // Step 5. Outside recovery, with nothing SACKed, every segment sent before the latest one
  // delivered is already cumulatively ACKed: nothing to judge (the common case costs nothing).
  timers_.reordering.reset();
  if (!rec_.in_recovery && sent_.sacked_segments() == 0) return;
  const Duration reo_wnd = rack_.reo_wnd(rec_.in_recovery, sent_.sacked_segments(), rec_.dupthresh, rtt_.srtt());
  const Rack::Detection d = rack_.detect_loss(sent_, ctx.now, reo_wnd);
  ctx.counters.rack_lost += d.newly_lost;
  if (d.timeout) timers_.reordering = ctx.now + *d.timeout;
  if (d.newly_lost > 0 && !rec_.in_recovery) {
    enter_fast_recovery(ctx);
    // RFC 6675 §5 (4.3): the first lost segment goes at once, whatever the pipe says.
    rec_.retransmit(tcp_event::RetransmitCause::RackLoss);
  }
}

// RFC 9293 §3.10.7.4 fifth: the window update (the SND.WL1/SND.WL2 rule is in tcp_sender.cpp).
void TcpSocket::update_send_window(TcpContext& ctx, const Repr& seg) {
  const std::uint32_t before = snd_.wnd;
  if (!snd_.update_window(seg.seq, *seg.ack, seg.window_raw)) return;
  const std::uint32_t wnd = snd_.wnd;
  if ((wnd == 0) != (before == 0)) ctx.event(tcp_event::PeerWindow{id_, wnd});
  if (wnd > 0) timers_.persist.reset();
  if (wnd > 0 && probing_) {
    // The window opened. The probes were not losses: forget their backoff (as Linux does in
    // tcp_ack_probe), and send the probe byte again with the rest if it was not taken.
    probing_ = false;
    rtt_.reset_backoff();
    timers_.rto.reset();
    if (snd_.una < snd_.nxt) snd_.nxt = snd_.una;
  }
}

void TcpSocket::process_text(TcpContext& ctx, const Repr& seg) {
  if (seg.payload.empty()) return;
  switch (state_) {
    case TcpState::Established:
    case TcpState::FinWait1:
    case TcpState::FinWait2:
      break;
    default:
      // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: "This should not occur since a FIN has been
      // received from the remote side. Ignore the segment text."
      ctx.drop(id_, TcpDrop::DataAfterClose);
      return;
  }
  if (rcv_.fin_received()) return;
  const auto got = rcv_.accept(seg.seq, seg.payload, sack_ok_);
  if (!got.stored) {
    ctx.drop(id_, TcpDrop::ReassemblyFull);
    ack_now_ = true;
    return;
  }
  if (got.in_order > 0) rcv_.measure_rtt(ctx.now);  // for receive buffer auto-tuning
  if (got.duplicate && sack_ok_) ack_now_ = true;  // the D-SACK goes out at once (RFC 2883 §4.1.2)
  if (got.duplicate) enter_quickack();
  if (user_released_) rcv_.discard_queued();  // nobody will read it: acknowledge and discard

  if (got.out_of_order || got.filled_gap) {
    // RFC 5681 §4.2: "A TCP receiver SHOULD send an immediate duplicate ACK when an out-of-order
    // segment arrives" and "an immediate ACK when the incoming segment fills in all or part of a
    // gap in the sequence space".
    ack_now_ = true;
  } else if (quickacks_left_ > 0) {
    // Quick-ACK at the start of a connection, like Linux's quickack mode: the first segments are
    // ACKed one by one, so the sender's slow start (one SMSS per ACK, RFC 5681 §3.1) and its
    // tail-loss probe timers are not held back by our delayed ACK while its window is small.
    // RFC 5681 §4.2 only sets a floor ("at least every second full-sized segment").
    --quickacks_left_;
    ack_now_ = true;
  } else {
    // RFC 1122 §4.2.3.2 / RFC 5681 §4.2: delay the ACK, but ACK at least every second
    // full-sized segment, and never later than config.delayed_ack (< 500 ms). A super-frame the
    // device joined (receive offload) counts as the segments it holds, so one of two or more
    // is ACKed at once, as Linux ACKs what GRO joined.
    full_segments_unacked_ += static_cast<int>(seg.payload.size() / payload_cap());
    if (full_segments_unacked_ >= 2) ack_now_ = true;
    else if (!timers_.delayed_ack) timers_.delayed_ack = ctx.now + config_.delayed_ack;
  }
  if (rcv_.held_fin_due()) {
    rcv_.take_fin();
    process_fin(ctx);
  }
}

// The receiver has taken the FIN ("advance RCV.NXT over the FIN"); now "send an acknowledgment
// for the FIN" and change state.
void TcpSocket::process_fin(TcpContext& ctx) {
  ack_now_ = true;
  if (!we_closed_first_) peer_closed_first_ = true;
  ctx.event(tcp_event::FinReceived{id_, peer_closed_first_});
  switch (state_) {
    case TcpState::SynReceived:
    case TcpState::Established:
      set_state(ctx, TcpState::CloseWait);
      break;
    case TcpState::FinWait1:
      // "If our FIN has been ACKed ... enter TIME-WAIT ...; otherwise, enter the CLOSING state."
      if (snd_.fin_acked) enter_time_wait(ctx); else set_state(ctx, TcpState::Closing);
      break;
    case TcpState::FinWait2:
      enter_time_wait(ctx);
      break;
    case TcpState::TimeWait:
      timers_.time_wait = ctx.now + config_.time_wait;  // "Restart the 2 MSL time-wait timeout."
      break;
    default:
      break;
  }
}

void TcpSocket::challenge_ack(TcpContext& ctx, const char* reason) {
  // RFC 5961 §7: "An implementation SHOULD include a ACK throttling mechanism". Per connection,
  // not global: a shared counter is the side channel of CVE-2016-5696 (docs/hostile-inputs.md #49).
  if (last_challenge_ack_ && ctx.now - *last_challenge_ack_ < config_.challenge_ack_interval) {
    ctx.drop(id_, TcpDrop::ChallengeAckLimited);
    return;
  }
  last_challenge_ack_ = ctx.now;
  ack_now_ = true;
  ++ctx.counters.challenge_acks;
  ctx.event(tcp_event::ChallengeAck{id_, reason});
}

// Data that arrives twice means an ACK of ours was lost (or the sender timed out early): the
// sender is waiting for feedback. The next segments are ACKed one by one, as Linux does (it counts
// such segments as DelayedACKLost and enters its quickack mode): with a small window a single
// delayed ACK covering the whole flight is all the sender would hear, and losing it costs a
// timeout. RFC 5681 §4.2 and RFC 1122 §4.2.3.2 set only the bounds of delaying ("at least every
// second full-sized segment", within 500 ms); ACKing every segment is within them. At most half
// the receive window's worth of segments, as Linux bounds it, and config.quick_acks.
void TcpSocket::enter_quickack() {
  const std::uint32_t half_window = rcv_.window() / (2 * payload_cap());
  quickacks_left_ = std::max(quickacks_left_, std::min(config_.quick_acks, std::max<std::uint32_t>(2, half_window)));
}

void TcpSocket::enter_time_wait(TcpContext& ctx) {
  set_state(ctx, TcpState::TimeWait);
  // RFC 9293 §3.10.7.4: "Start the time-wait timer, turn off the other timers." 2*MSL is
  // configurable; the default 60 s is Linux's TCP_TIMEWAIT_LEN.
  timers_.time_wait = ctx.now + config_.time_wait;
  timers_.rto.reset();
  timers_.persist.reset();
  timers_.keepalive.reset();
  timers_.fin_wait2.reset();
  timers_.delayed_ack.reset();
}

}  // namespace stack::socket
