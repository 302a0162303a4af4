#include "stack/socket/tcp_congestion.hpp"

#include <algorithm>
#include <cmath>

namespace stack::socket {

namespace {
// RFC 9438 §4.6: beta_cubic = 0.7; §5.1: C = 0.4.
constexpr double kBetaCubic = 0.7;
constexpr double kC = 0.4;
// RFC 9438 §4.3: alpha_cubic = 3 * (1 - beta) / (1 + beta), the Reno-friendly increase.
constexpr double kAlphaCubic = 3.0 * (1.0 - kBetaCubic) / (1.0 + kBetaCubic);

}  // namespace

std::uint32_t initial_window(std::uint32_t smss, std::uint32_t segments) {
  // RFC 5681 §3.1 eq. 3: IW = min(4*SMSS, max(2*SMSS, 4380 bytes)).
  if (segments == 0) return std::min(4 * smss, std::max(2 * smss, 4380u));
  // RFC 6928 §2: IW = min(10*MSS, max(2*MSS, 14600)), generalised to N segments of SMSS.
  return std::min(segments * smss, std::max(2 * smss, segments * 1460u));
}

const char* to_string(CongestionAlgorithm a) {
  switch (a) {
    case CongestionAlgorithm::NewReno: return "newreno";
    case CongestionAlgorithm::Cubic: return "cubic";
  }
  return "?";
}

CongestionControl::CongestionControl(CongestionAlgorithm algorithm, std::uint32_t smss, std::uint32_t iw_segments)
    : algorithm_(algorithm), smss_(smss), iw_segments_(iw_segments), cwnd_(initial_window(smss, iw_segments)) {}

void CongestionControl::set_mss(std::uint32_t smss, bool before_first_send) {
  smss_ = smss;
  if (before_first_send) cwnd_ = initial_window(smss, iw_segments_);
}

void CongestionControl::on_ack(std::uint32_t bytes_acked, Instant now, std::optional<Duration> srtt) {
  if (cwnd_ < ssthresh_) {
    // RFC 5681 §3.1 eq. 2: slow start, cwnd += min(N, SMSS).
    cwnd_ += std::min(bytes_acked, smss_);
    return;
  }
  if (algorithm_ == CongestionAlgorithm::Cubic) {
    cubic_update(bytes_acked, now, srtt);
    return;
  }
  // RFC 5681 §3.1 congestion avoidance with byte counting (RFC 3465 §2.1): one SMSS per cwnd
  // bytes acknowledged.
  bytes_acked_ca_ += bytes_acked;
  if (bytes_acked_ca_ >= cwnd_) {
    bytes_acked_ca_ -= cwnd_;
    cwnd_ += smss_;
  }
}

void CongestionControl::cubic_update(std::uint32_t bytes_acked, Instant now, std::optional<Duration> srtt) {
  const double segs = static_cast<double>(cwnd_) / smss_;
  if (!epoch_start_) {
    // RFC 9438 §4.2: a new congestion-avoidance epoch starts on the first ACK after a loss.
    epoch_start_ = now;
    if (w_max_ < segs) w_max_ = segs;  // no loss yet: start on the concave plateau
    k_ = std::cbrt((w_max_ - segs) / kC);  // eq. 2, with cwnd_epoch = current cwnd
    w_est_ = segs;
  }
  const double rtt = srtt ? static_cast<double>(srtt->micros()) / 1e6 : 0.1;
  const double t = static_cast<double>((now - *epoch_start_).micros()) / 1e6;
  // eq. 1: W_cubic(t) = C * (t - K)^3 + W_max, evaluated one RTT ahead (§4.2 target).
  const double w_cubic = kC * std::pow(t + rtt - k_, 3.0) + w_max_;
  // §4.3: the Reno-friendly estimate grows by alpha_cubic segments per cwnd acknowledged.
  w_est_ += kAlphaCubic * (static_cast<double>(bytes_acked) / smss_) / segs;
  if (w_cubic < w_est_) {
    // §4.3 Reno-friendly region: "cwnd SHOULD be set to W_est at each reception of a new ACK".
    // W_est has grown by this ACK's segments already (above); the per-segment increment of
    // §4.4/§4.5 below would count them a second time: a stretch ACK (a cumulative ACK over data
    // SACKed long before, after a timeout) grew cwnd by the square of its size, from 2 segments
    // to 3,500 in the simulation at 20 % loss (seed 42, with a send ring grown by doubling), and
    // the 4 MiB burst that followed overflowed the peer's out-of-order queue.
    const auto est = static_cast<std::uint32_t>(std::min(w_est_ * smss_, 4294967295.0));
    if (est > cwnd_) cwnd_ = est;
    return;
  }
  const double target = std::clamp(w_cubic, segs, 1.5 * segs);  // §4.4/§4.5, target bounded to 1.5 cwnd
  // cwnd grows by (target - cwnd) / cwnd per segment acknowledged.
  const double inc = (target - segs) / segs * (static_cast<double>(bytes_acked) / smss_);
  if (inc > 0) {
    cubic_bytes_ += inc * smss_;
    const auto whole = static_cast<std::uint32_t>(cubic_bytes_);
    cwnd_ += whole;
    cubic_bytes_ -= whole;
  }
}

void CongestionControl::on_fast_retransmit(Instant /*now*/, std::uint32_t flight_size) {
  if (algorithm_ == CongestionAlgorithm::Cubic) {
    const double segs = static_cast<double>(cwnd_) / smss_;
    // RFC 9438 §4.7 fast convergence: release bandwidth if W_max shrank.
    w_max_ = segs < w_max_ ? segs * (1.0 + kBetaCubic) / 2.0 : segs;
    // §4.6: ssthresh = cwnd * beta_cubic, at least 2 segments.
    ssthresh_ = std::max(static_cast<std::uint32_t>(cwnd_ * kBetaCubic), 2 * smss_);
    epoch_start_.reset();
  } else {
    // RFC 5681 §3.2 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS).
    ssthresh_ = std::max(flight_size / 2, 2 * smss_);
  }
  // RFC 5681 §3.2 step 3 / RFC 6582: cwnd = ssthresh + 3*SMSS (the three segments that left).
  cwnd_ = ssthresh_ + 3 * smss_;
  bytes_acked_ca_ = 0;
}

void CongestionControl::deflate(std::uint32_t bytes_acked) {
  // RFC 6582 §3.2 step 5: "deflate the congestion window by the amount of new data
  // acknowledged ... then add back SMSS bytes".
  cwnd_ = cwnd_ > bytes_acked ? cwnd_ - bytes_acked : 0;
  cwnd_ = std::max(cwnd_ + smss_, smss_);
}

void CongestionControl::on_recovery_exit(std::uint32_t flight_size) {
  // RFC 6582 §3.2 step 6: cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS).
  cwnd_ = std::min(ssthresh_, std::max(flight_size, smss_) + smss_);
  bytes_acked_ca_ = 0;
}

void CongestionControl::on_timeout(std::uint32_t flight_size) {
  if (algorithm_ == CongestionAlgorithm::Cubic) {
    const double segs = static_cast<double>(cwnd_) / smss_;
    w_max_ = segs;
    ssthresh_ = std::max(static_cast<std::uint32_t>(cwnd_ * kBetaCubic), 2 * smss_);
    epoch_start_.reset();
  } else {
    // RFC 5681 §3.1 eq. 4.
    ssthresh_ = std::max(flight_size / 2, 2 * smss_);
  }
  // "the congestion window MUST be set to no more than the loss window, LW, which equals 1
  // full-sized segment".
  cwnd_ = smss_;
  bytes_acked_ca_ = 0;
}

}  // namespace stack::socket
