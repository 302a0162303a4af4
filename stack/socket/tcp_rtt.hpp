// Retransmission timeout computation (RFC 6298), with Karn's rule applied by the caller
// (RFC 6298 §3: no RTT sample from a retransmitted segment, unless timestamps disambiguate it,
// RFC 7323 §4.1).
#pragma once

#include <optional>

#include "stack/time.hpp"

namespace stack::socket {

class RttEstimator {
 public:
  // RFC 6298 §2.1: "Until a round-trip time (RTT) measurement has been made ... the sender
  // SHOULD set RTO <- 1 second". §2.4: "if it is less than 1 second, then the RTO SHOULD be
  // rounded up to 1 second". §2.5: "A maximum value MAY be placed on RTO provided it is at least
  // 60 seconds."
  static constexpr Duration kInitialRto = Duration::from_secs(1);
  static constexpr Duration kMaxRto = Duration::from_secs(60);
  // RFC 6298 §2: G, the clock granularity. Our clock is microseconds; 1 ms keeps K*RTTVAR sane.
  static constexpr Duration kGranularity = Duration::from_millis(1);

  explicit RttEstimator(Duration min_rto = Duration::from_secs(1)) : min_rto_(min_rto) {}

  // RFC 6298 §2.2 (first sample) and §2.3 (subsequent samples), then §2.4/§2.5 bounds.
  void sample(Duration r);
  // RFC 6298 §5.5: "The host MUST set RTO <- RTO * 2 ("back off the timer")". The backoff
  // lasts until the next valid sample (Karn's algorithm, RFC 6298 §5.7 note and §3) or until
  // reset_backoff() (a zero-window probe answered: the peer is alive, nothing was lost).
  void backoff();
  void reset_backoff() { backoffs_ = 0; }
  Duration rto() const;
  int backoffs() const { return backoffs_; }
  std::optional<Duration> srtt() const { return srtt_; }

 private:
  Duration min_rto_;
  std::optional<Duration> srtt_;
  Duration rttvar_;
  Duration base_rto_ = kInitialRto;  // from the samples, before backoff
  int backoffs_ = 0;
};

}  // namespace stack::socket
