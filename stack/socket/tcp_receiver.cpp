// The receiving half of a TCP connection. See tcp_receiver.hpp.
#include "stack/socket/tcp_receiver.hpp"

#include <algorithm>
#include <cassert>

namespace stack::socket {

void TcpReceiver::on_syn(SeqNum seg_seq) {
  irs_ = seg_seq;
  nxt_ = seg_seq + 1;
  adv_ = nxt_;
}

bool TcpReceiver::acceptable(SeqNum seq, std::uint32_t seg_len) const {
  const std::uint32_t wnd = window();
  if (wnd == 0) {
    // "If the RCV.WND is zero, no segments will be acceptable, but special allowance should be
    // made to accept valid ACKs, URGs, and RSTs" (MUST-66): a segment at RCV.NXT is let through;
    // its text is trimmed away by the caller.
    return seq == nxt_;
  }
  // "RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND", or for text the same of its last byte.
  if (seg_len == 0) return seq.in_window(nxt_, wnd);
  return seq.in_window(nxt_, wnd) || (seq + (seg_len - 1)).in_window(nxt_, wnd);
}

std::uint16_t TcpReceiver::syn_window() {
  const auto field = static_cast<std::uint16_t>(std::min<std::size_t>(rx_.free(), 0xffff));
  if (adv_ < nxt_ + field) adv_ = nxt_ + field;
  return field;
}

std::uint16_t TcpReceiver::advertise(std::uint16_t mss) {
  const SeqNum possible = nxt_ + static_cast<std::uint32_t>(rx_.free());
  if (adv_ < nxt_) adv_ = nxt_;
  if (adv_ < possible) {
    const std::uint32_t step = std::min<std::uint32_t>(static_cast<std::uint32_t>(rx_.capacity() / 2), mss);
    if (seq_len(adv_, possible) >= step || adv_ == nxt_) adv_ = possible;
  }
  // What the peer computes from the field (rounded down) is never beyond adv_, and adv_ stays
  // where it was: a right edge we offered once is not taken back.
  return static_cast<std::uint16_t>(std::min<std::uint32_t>(window() >> wscale_, 0xffff));
}

bool TcpReceiver::window_update_due(std::uint16_t mss) const {
  const SeqNum possible = nxt_ + static_cast<std::uint32_t>(rx_.free());
  if (!(adv_ < possible)) return false;
  const std::uint32_t step = std::min<std::uint32_t>(static_cast<std::uint32_t>(rx_.capacity() / 2), 2u * mss);
  return seq_len(adv_, possible) >= step;
}

TcpReceiver::Accepted TcpReceiver::accept(SeqNum seq, std::span<const std::byte> payload, bool report_dsack) {
  Accepted a;
  const std::uint32_t offset = seq_len(nxt_, seq);
  const auto len = static_cast<std::uint32_t>(payload.size());
  a.out_of_order = offset > 0;
  a.filled_gap = !ooo_.empty();
  auto fresh = ooo_.add(offset, len);
  if (!fresh) {
    a.stored = false;
    return a;
  }
  // RFC 2883 §4.1.2: a segment already held out of order is reported as a D-SACK block (the
  // SACK block holding it follows, as the most recent one).
  if (offset > 0 && fresh->empty()) {
    a.duplicate = true;
    if (report_dsack) dsack_ = SackBlock{seq, seq + len};
  }
  for (const auto& r : *fresh) {
    // The assembler only hands out ranges inside the free space, so the ring takes all of it.
    [[maybe_unused]] const std::size_t written =
        rx_.write_unallocated(r.begin, payload.subspan(r.begin - offset, r.end - r.begin));
    assert(written == r.end - r.begin);
  }
  a.in_order = ooo_.take_front();
  rx_.commit(a.in_order);
  nxt_ += a.in_order;
  return a;
}

TcpReceiver::FinResult TcpReceiver::on_fin(SeqNum at) {
  if (fin_received_) return FinResult::Ignored;
  if (at == nxt_) {
    take_fin();
    return FinResult::Taken;
  }
  if (at > nxt_ && (!held_fin_ || at < *held_fin_)) {
    held_fin_ = at;
    return FinResult::Held;
  }
  return FinResult::Ignored;
}

void TcpReceiver::take_fin() {
  // "advance RCV.NXT over the FIN".
  fin_received_ = true;
  held_fin_.reset();
  ooo_.clear();
  nxt_ += 1;
}

// Dynamic right-sizing (W. Feng, M. Fisk et al., "Dynamic Right-Sizing in TCP", LANL 2001; the
// way Linux's receive-buffer moderation applies it): a buffer that keeps a sender busy holds what
// arrives in one round trip, the bandwidth-delay product, and a sender in slow start doubles
// that every round trip. The receiver cannot see the sender's window, but it sees what the
// application took out in one round trip: when that is more than the last round trip's, the
// buffer becomes twice as large as it (plus 16 segments of slack), plus twice the growth
// measured, so the advertised window stays ahead of the sender. An application that reads
// slowly never makes the buffer grow: the window is for data it will take.
bool TcpReceiver::autotune(Instant now, Duration rtt, std::uint16_t mss, std::size_t max) {
  if (!measure_) {
    // The first round trip is measured against an initial window's worth (RFC 6928's ten
    // segments), or half the buffer if that is smaller: a sender that keeps a small buffer
    // more than half full every round trip is held back by it.
    measure_ = Measure{now, bytes_read_, std::min<std::uint64_t>(rx_.capacity() / 2, std::uint64_t{10} * mss)};
    return false;
  }
  if (now - measure_->since < rtt) return false;
  const std::uint64_t copied = bytes_read_ - measure_->read_before;
  bool grew = false;
  if (copied > measure_->space) {
    const std::uint64_t space = std::max<std::uint64_t>(measure_->space, 1);
    std::uint64_t target = 2 * copied + std::uint64_t{16} * mss;
    target += 2 * (target * (copied - space) / space);
    target = std::min<std::uint64_t>(target, max);
    target = (target + 4095) / 4096 * 4096;  // whole pages
    target = std::min<std::uint64_t>(target, max);
    if (target > rx_.capacity()) {
      rx_.grow(static_cast<std::size_t>(target));
      grew = true;
    }
    measure_->space = copied;
  }
  measure_->since = now;
  measure_->read_before = bytes_read_;
  return grew;
}

void TcpReceiver::measure_rtt(Instant now) {
  if (rtt_probe_ && rtt_probe_->edge <= nxt_) {
    const std::int64_t sample = (now - rtt_probe_->since).micros();
    if (sample > 0) {
      const std::int64_t old = rtt_ ? rtt_->micros() : sample;
      rtt_ = Duration::from_micros(sample < old ? sample : (old * 7 + sample) / 8);
    }
    rtt_probe_.reset();
  }
  if (!rtt_probe_ && nxt_ < adv_) rtt_probe_ = RttProbe{adv_, now};
}

void TcpReceiver::fill_sack_blocks(std::array<std::optional<SackBlock>, 4>& out, std::size_t max_blocks) {
  std::size_t n = 0;
  if (dsack_ && n < max_blocks) out[n++] = *dsack_;
  dsack_.reset();
  const std::size_t first = n;  // the D-SACK block may equal the SACK block that follows it
  auto add = [&](const TcpAssembler::Range& range) {
    const SackBlock b{nxt_ + range.begin, nxt_ + range.end};
    for (std::size_t i = first; i < n; ++i)
      if (out[i] == b) return;
    if (n < max_blocks) out[n++] = b;
  };
  if (auto recent = ooo_.most_recent()) add(*recent);
  for (const auto& range : ooo_.ranges()) add(range);
}

}  // namespace stack::socket
