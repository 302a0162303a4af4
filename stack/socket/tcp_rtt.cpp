#include "stack/socket/tcp_rtt.hpp"

#include <algorithm>

namespace stack::socket {

void RttEstimator::sample(Duration r) {
  if (r < Duration::zero()) return;
  if (!srtt_) {
    // (2.2) SRTT <- R, RTTVAR <- R/2
    srtt_ = r;
    rttvar_ = r / 2;
  } else {
    // (2.3) RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|, beta = 1/4
    //       SRTT <- (1 - alpha) * SRTT + alpha * R',              alpha = 1/8
    const Duration diff = *srtt_ > r ? *srtt_ - r : r - *srtt_;
    rttvar_ = rttvar_ * 3 / 4 + diff / 4;
    srtt_ = *srtt_ * 7 / 8 + r / 8;
  }
  // RTO <- SRTT + max (G, K*RTTVAR), K = 4
  base_rto_ = std::clamp(*srtt_ + std::max(kGranularity, rttvar_ * 4), min_rto_, kMaxRto);
  backoffs_ = 0;  // a valid sample ends the backoff (Karn: only valid samples reach here)
}

void RttEstimator::backoff() {
  if (base_rto_ * (std::int64_t{1} << backoffs_) < kMaxRto) ++backoffs_;
}

Duration RttEstimator::rto() const { return std::min(base_rto_ * (std::int64_t{1} << backoffs_), kMaxRto); }

}  // namespace stack::socket
