// The timers of one TCP connection, as absolute deadlines (docs/architecture.md "Time and
// state"): nothing ticks; the socket compares each with the time it is given, and the layer
// asks for the earliest to know when to call again.
//
// Read first: RFC 9293 §3.8.1 (retransmission timeout), §3.8.6.1 (zero-window probes, the
// persist timer), §3.10.8 (timeouts); RFC 1122 §4.2.3.2 (delayed ACK), §4.2.3.6 (keep-alive);
// RFC 8985 §6.2 step 5 and §7.2 (RACK's reordering timer, TLP's probe timeout).
#pragma once

#include <optional>

#include "stack/time.hpp"

namespace stack::socket {

struct TcpTimers {
  std::optional<Instant> rto;          // retransmission (RFC 6298)
  std::optional<Instant> delayed_ack;  // an ACK held back (RFC 1122 §4.2.3.2)
  std::optional<Instant> persist;      // zero-window probe, or the SWS override (RFC 9293 §3.8.6)
  std::optional<Instant> keepalive;    // RFC 1122 §4.2.3.6
  std::optional<Instant> time_wait;    // 2·MSL (RFC 9293 §3.10.8)
  std::optional<Instant> fin_wait2;    // an orphan's FIN-WAIT-2 bound (Linux's tcp_fin_timeout)
  std::optional<Instant> reordering;   // RACK's reordering window (RFC 8985 §6.2 step 5)
  std::optional<Instant> loss_probe;   // TLP's probe timeout, PTO (RFC 8985 §7.2)

  // The deadline that comes first, if any is armed.
  std::optional<Instant> earliest() const {
    std::optional<Instant> at;
    for (const auto* t : {&rto, &delayed_ack, &persist, &keepalive, &time_wait, &fin_wait2, &reordering, &loss_probe})
      if (*t && (!at || **t < *at)) at = *t;
    return at;
  }
  // The connection is CLOSED: nothing is due any more.
  void cancel_all() { *this = TcpTimers{}; }
};

}  // namespace stack::socket
