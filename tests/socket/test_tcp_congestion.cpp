// socket/tcp_congestion: CUBIC's window arithmetic on its own (RFC 9438), in virtual time.
#include <doctest/doctest.h>

#include "stack/socket/tcp_congestion.hpp"

using stack::Duration;
using stack::Instant;
using stack::socket::CongestionAlgorithm;
using stack::socket::CongestionControl;

namespace {
constexpr std::uint32_t kMss = 1448;
// RFC 9438 §4.3: alpha_cubic = 3 * (1 - beta_cubic) / (1 + beta_cubic), beta_cubic = 0.7.
constexpr double kAlpha = 3.0 * (1.0 - 0.7) / (1.0 + 0.7);

// Two timeouts in a row: cwnd is one segment, ssthresh two (RFC 9438 §4.8, RFC 5681 §3.1); one
// ACK of a segment brings cwnd to ssthresh, so the next ACK is in congestion avoidance.
CongestionControl cubic_at_two_segments(Instant now, Duration srtt) {
  CongestionControl cc(CongestionAlgorithm::Cubic, kMss, 10);
  cc.on_timeout(cc.cwnd());
  cc.on_timeout(cc.cwnd());
  REQUIRE(cc.cwnd() == kMss);
  REQUIRE(cc.ssthresh() == 2 * kMss);
  cc.on_ack(kMss, now, srtt);
  REQUIRE(cc.cwnd() == 2 * kMss);
  return cc;
}
}  // namespace

TEST_CASE("tcp_congestion: a stretch ACK in CUBIC's Reno-friendly region sets cwnd to W_est, no more (RFC 9438 §4.3)") {
  const Instant now = Instant{} + Duration::from_secs(100);
  const Duration srtt = Duration::from_millis(100);
  CongestionControl cc = cubic_at_two_segments(now, srtt);
  // One cumulative ACK for 163 segments, as after a timeout whose retransmission fills the only
  // hole below data the peer had SACKed. The epoch starts here with W_max = cwnd (no loss in
  // it), so W_cubic(t + RTT) is about 2 segments and W_est = 2 + alpha * 163 / 2 is larger.
  const std::uint32_t acked = 163 * kMss;
  cc.on_ack(acked, now, srtt);
  const double w_est = 2.0 + kAlpha * 163.0 / 2.0;  // about 45.1 segments
  CHECK(cc.cwnd() > 2 * kMss);
  CHECK(cc.cwnd() <= static_cast<std::uint32_t>(w_est * kMss));
  CHECK(cc.cwnd() >= static_cast<std::uint32_t>(w_est * kMss) - kMss);
}

TEST_CASE("tcp_congestion: ACKs of one segment each grow CUBIC's Reno-friendly cwnd by about alpha segments per window (RFC 9438 §4.3)") {
  const Instant now = Instant{} + Duration::from_secs(100);
  const Duration srtt = Duration::from_millis(100);
  CongestionControl cc = cubic_at_two_segments(now, srtt);
  // W_est grows by alpha / cwnd per segment: about alpha segments for each window acknowledged.
  // Five windows of ACKs, at one instant (W_cubic stays at W_max, two segments).
  std::uint32_t last = cc.cwnd();
  double w_est = 2.0;
  for (int window = 0; window < 5; ++window) {
    const double segs = static_cast<double>(cc.cwnd()) / kMss;
    for (int i = 0; i < static_cast<int>(segs); ++i) {
      w_est += kAlpha / (static_cast<double>(cc.cwnd()) / kMss);
      cc.on_ack(kMss, now, srtt);
      CHECK(cc.cwnd() >= last);  // never shrinks on an ACK
      last = cc.cwnd();
    }
  }
  CHECK(cc.cwnd() <= static_cast<std::uint32_t>(w_est * kMss) + 1);
  CHECK(cc.cwnd() + kMss >= static_cast<std::uint32_t>(w_est * kMss));
  CHECK(cc.cwnd() > 4 * kMss);  // 2 + 5 * alpha: it did grow
}
