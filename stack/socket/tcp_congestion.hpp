// Congestion control: NewReno (RFC 5681, RFC 6582) and CUBIC (RFC 9438), selectable per layer.
//
// The socket tells this class what happened (bytes newly acknowledged, a loss detected by
// duplicate ACKs or SACK, a retransmission timeout); it answers with cwnd and ssthresh. Loss
// *recovery* (what to retransmit) stays in the socket; only the window arithmetic lives here.
#pragma once

#include <cstdint>
#include <optional>

#include "stack/time.hpp"

namespace stack::socket {

enum class CongestionAlgorithm { NewReno, Cubic };
const char* to_string(CongestionAlgorithm a);

// The initial window in bytes: RFC 5681 §3.1's (about 3 segments of 1460) when `segments` is 0,
// else RFC 6928's rule for `segments` segments (10 there: about 14,600 bytes).
std::uint32_t initial_window(std::uint32_t smss, std::uint32_t segments);

class CongestionControl {
 public:
  // iw_segments: the initial window's size in segments (initial_window above; 0 for RFC 5681's).
  CongestionControl(CongestionAlgorithm algorithm, std::uint32_t smss, std::uint32_t iw_segments = 0);

  std::uint32_t cwnd() const { return cwnd_; }
  std::uint32_t ssthresh() const { return ssthresh_; }
  CongestionAlgorithm algorithm() const { return algorithm_; }
  // The sender's MSS changed (after the handshake, or a smaller path MTU): recompute IW.
  void set_mss(std::uint32_t smss, bool before_first_send);

  // Bytes newly acknowledged outside loss recovery (RFC 5681 §3.1; byte counting per RFC 3465).
  void on_ack(std::uint32_t bytes_acked, Instant now, std::optional<Duration> srtt);
  // Loss detected by three duplicate ACKs or SACK (RFC 5681 §3.2 step 2; RFC 9438 §4.6).
  void on_fast_retransmit(Instant now, std::uint32_t flight_size);
  // Inflate by one segment per additional duplicate ACK (RFC 5681 §3.2 step 4, NewReno only).
  void inflate(std::uint32_t bytes) { cwnd_ += bytes; }
  // RFC 6675 §5 step (4.2): SACK recovery runs with cwnd = ssthresh and counts the pipe instead.
  void set_cwnd(std::uint32_t bytes) { cwnd_ = bytes; }
  // RFC 6582 §3.2 step 5: partial ACK deflates the window by the amount acknowledged.
  void deflate(std::uint32_t bytes_acked);
  // Leaving recovery on a full ACK (RFC 6582 §3.2 step 6 option 1).
  void on_recovery_exit(std::uint32_t flight_size);
  // Retransmission timeout (RFC 5681 §3.1 eq. 4 and "loss window"; RFC 9438 §4.8).
  void on_timeout(std::uint32_t flight_size);

 private:
  void cubic_update(std::uint32_t bytes_acked, Instant now, std::optional<Duration> srtt);

  CongestionAlgorithm algorithm_;
  std::uint32_t smss_;
  std::uint32_t iw_segments_;
  std::uint32_t cwnd_;
  std::uint32_t ssthresh_ = 0xffffffffu;  // RFC 5681 §3.1: "arbitrarily high"
  std::uint32_t bytes_acked_ca_ = 0;       // RFC 3465 byte counting in congestion avoidance
  // CUBIC state (RFC 9438 §4.1), in segments.
  double w_max_ = 0;
  double w_est_ = 0;
  double k_ = 0;
  double cubic_bytes_ = 0;  // fractional growth carried between ACKs
  std::optional<Instant> epoch_start_;
};

}  // namespace stack::socket
