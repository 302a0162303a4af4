// RACK-TLP (RFC 8985) and the sender's record of what it sent. See tcp_rack.hpp.
#include "stack/socket/tcp_rack.hpp"

#include <algorithm>

namespace stack::socket {

using wire::tcp::seq_len;

// --- SentLog ---

std::size_t SentLog::split_at(SeqNum at) {
  // Find the segment holding `at` (start < at < end) and cut it in two; the marks go to both.
  const std::size_t n = segs_.size() - first_;
  for (std::size_t i = 0; i < n; ++i) {
    SentSegment& s = segs_[first_ + i];
    if (s.start == at) return i;
    if (at.in_range(s.start, s.end)) {
      SentSegment tail = s;
      tail.start = at;
      s.end = at;
      if (s.sacked) ++sacked_segs_;
      segs_.insert(segs_.begin() + static_cast<std::ptrdiff_t>(first_ + i + 1), tail);
      return i + 1;
    }
  }
  return n;
}

void SentLog::drop_front() {
  if (first_ == segs_.size()) {
    std::vector<SentSegment>().swap(segs_);
    first_ = 0;
  } else if (first_ >= 64 && first_ * 2 >= segs_.size()) {
    segs_.erase(segs_.begin(), segs_.begin() + static_cast<std::ptrdiff_t>(first_));
    first_ = 0;
  }
}

void SentLog::on_transmit(SeqNum start, SeqNum end, Instant now) {
  if (!(start < end)) return;
  const SeqNum log_end = empty() ? start : segs_.back().end;
  if (!empty() && start < log_end) {
    // A retransmission of what the log holds (RFC 8985 §6.2: its xmit_ts is the new send time).
    const SeqNum log_start = segs_[first_].start;
    const SeqNum from = seq_max(start, log_start);
    const SeqNum to = seq_min(end, log_end);
    if (from < to) {
      std::size_t i = split_at(from);
      if (to < log_end) split_at(to);
      for (auto segs = segments(); i < segs.size() && segs[i].end <= to; ++i) {
        SentSegment& s = segs[i];
        if (s.lost) {
          s.lost = false;
          lost_bytes_ -= s.len();
        }
        s.retransmitted = true;
        s.xmit_ts = now;
      }
    }
    if (end <= log_end) return;
    start = log_end;
  }
  if (!empty() && start != log_end) {
    // A gap (the caller skipped sequence space): the log no longer matches what is in flight.
    // Never expected; start over rather than keep a record with a hole in it.
    clear();
  }
  segs_.push_back(SentSegment{start, end, now});
  bytes_ += seq_len(start, end);
}

void SentLog::mark_sacked(SentSegment& s) {
  s.sacked = true;
  sacked_bytes_ += s.len();
  ++sacked_segs_;
  if (s.lost) {
    s.lost = false;
    lost_bytes_ -= s.len();
  }
}

void SentLog::mark_lost(SentSegment& s) {
  if (s.lost || s.sacked) return;
  s.lost = true;
  lost_bytes_ += s.len();
}

void SentLog::mark_all_lost(bool forget_sacks) {
  for (SentSegment& s : segments()) {
    if (forget_sacks && s.sacked) {
      s.sacked = false;
      sacked_bytes_ -= s.len();
      --sacked_segs_;
    }
    mark_lost(s);
  }
}

void SentLog::forget(const SentSegment& s) {
  bytes_ -= s.len();
  if (s.sacked) {
    sacked_bytes_ -= s.len();
    --sacked_segs_;
  }
  if (s.lost) lost_bytes_ -= s.len();
}

const SentSegment* SentLog::first_lost() const {
  if (lost_bytes_ == 0) return nullptr;
  for (const SentSegment& s : segments())
    if (s.lost) return &s;
  return nullptr;
}

void SentLog::clear() {
  std::vector<SentSegment>().swap(segs_);
  first_ = 0;
  bytes_ = sacked_bytes_ = lost_bytes_ = sacked_segs_ = 0;
}

bool SentLog::consistent() const {
  std::uint32_t bytes = 0, sacked = 0, lost = 0, sacked_segs = 0;
  const auto segs = segments();
  for (std::size_t i = 0; i < segs.size(); ++i) {
    const SentSegment& s = segs[i];
    if (!(s.start < s.end) || (s.sacked && s.lost)) return false;
    if (i > 0 && segs[i - 1].end != s.start) return false;
    bytes += s.len();
    if (s.sacked) {
      sacked += s.len();
      ++sacked_segs;
    }
    if (s.lost) lost += s.len();
  }
  return bytes == bytes_ && sacked == sacked_bytes_ && lost == lost_bytes_ && sacked_segs == sacked_segs_;
}

// --- Rack ---

void Rack::on_rtt_sample(Duration rtt) {
  if (!min_rtt_ || rtt < *min_rtt_) min_rtt_ = rtt;
}

void Rack::on_delivered(const SentSegment& s, Instant now, bool echo_before_xmit) {
  // Step 2 (RACK_update). A retransmitted segment's sample is ambiguous: skip it when the ACK
  // echoes an earlier transmission's timestamp, or when it is shorter than any RTT seen (then the
  // ACK was for the original, sent a round trip before the retransmission).
  const Duration rtt = now - s.xmit_ts;
  bool take = true;
  if (s.retransmitted) {
    if (echo_before_xmit) take = false;
    if (min_rtt_ && rtt < *min_rtt_) take = false;
  }
  if (take) {
    if (!xmit_ts_ || !sent_after(*xmit_ts_, end_seq_, s.xmit_ts, s.end)) {
      rtt_ = rtt;
      xmit_ts_ = s.xmit_ts;
      end_seq_ = s.end;
    }
    if (!s.retransmitted) on_rtt_sample(rtt);
  }
  // Step 3 (RACK_detect_reordering): a segment never retransmitted that is delivered below the
  // highest one delivered so far arrived out of order.
  if (!fack_ || s.end > *fack_) {
    fack_ = s.end;
  } else if (s.end < *fack_ && !s.retransmitted) {
    reordering_seen_ = true;
  }
}

void Rack::on_ack_done(bool dsack, bool recovery_ended, SeqNum snd_una, SeqNum snd_nxt) {
  // Step 4 (RACK_update_reo_wnd), the D-SACK adaptation.
  if (dsack_round_ && snd_una >= *dsack_round_) dsack_round_.reset();
  if (!dsack_round_ && dsack) {
    dsack_round_ = snd_nxt;
    reo_wnd_mult_ = std::min(reo_wnd_mult_ + 1, 64);
    reo_wnd_persist_ = 16;
  } else if (recovery_ended) {
    if (--reo_wnd_persist_ <= 0) reo_wnd_mult_ = 1;
  }
}

Duration Rack::reo_wnd(bool in_recovery, std::uint32_t segs_sacked, int dupthresh,
                       std::optional<Duration> srtt) const {
  if (!reordering_seen_) {
    if (in_recovery) return Duration::zero();
    if (segs_sacked >= static_cast<std::uint32_t>(dupthresh)) return Duration::zero();
  }
  const Duration base = min_rtt_ ? *min_rtt_ / 4 * reo_wnd_mult_ : Duration::zero();
  return srtt ? std::min(base, *srtt) : base;
}

Rack::Detection Rack::detect_loss(SentLog& log, Instant now, Duration reo_wnd) const {
  Detection d;
  if (!xmit_ts_) return d;
  for (SentSegment& s : log.segments()) {
    if (s.sacked || s.lost) continue;
    // Only segments sent before the most recently delivered one can be judged.
    if (!sent_after(*xmit_ts_, end_seq_, s.xmit_ts, s.end)) continue;
    const Duration remaining = (s.xmit_ts + rtt_ + reo_wnd) - now;
    if (remaining <= Duration::zero()) {
      log.mark_lost(s);
      ++d.newly_lost;
    } else if (!d.timeout || remaining > *d.timeout) {
      d.timeout = remaining;
    }
  }
  return d;
}

// --- TLP and D-SACK ---

Duration tlp_timeout(std::optional<Duration> srtt, bool one_segment_in_flight, Duration max_ack_delay,
                     Duration rto_remaining) {
  Duration pto = Duration::from_secs(1);
  if (srtt) {
    pto = std::max(*srtt * 2, kTlpMinTimeout);
    if (one_segment_in_flight) pto += max_ack_delay;
  }
  return std::min(pto, rto_remaining);
}

std::optional<wire::tcp::SackBlock> dsack_block(std::span<const std::optional<wire::tcp::SackBlock>> blocks,
                                                wire::tcp::SeqNum ack) {
  if (blocks.empty() || !blocks[0]) return std::nullopt;
  const auto& first = *blocks[0];
  if (!(first.left < first.right)) return std::nullopt;
  if (first.right <= ack) return first;
  if (blocks.size() > 1 && blocks[1]) {
    const auto& second = *blocks[1];
    if (second.left <= first.left && first.right <= second.right) return first;
  }
  return std::nullopt;
}

}  // namespace stack::socket
