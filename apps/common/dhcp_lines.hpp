// The DHCP exchange told one message per line, each at its own time, with what it means — for the
// mini-browser's level 7 (docs/levels.md), where a student should see the four messages of RFC 2131
// §3.1 (DISCOVER, OFFER, REQUEST, ACK), the two of Rapid Commit (RFC 4039) or the REQUEST of an
// INIT-REBOOT (RFC 2131 §3.2), and the ARP probes of address conflict detection (RFC 5227 §2.1.1)
// with how long they took.
#pragma once

#include <optional>
#include <string>

#include "stack/socket/dhcp_client.hpp"
#include "stack/time.hpp"

namespace appkit {

class DhcpLines {
 public:
  // `lease_path`: the lease file an INIT-REBOOT's address comes from; `rfc_timers`: RFC 5227's
  // timers as written (else the LAN schedule of dhcp_setup.cpp).
  DhcpLines(std::string lease_path, bool rfc_timers) : lease_path_(std::move(lease_path)), rfc_timers_(rfc_timers) {}
  // The line an event gets, or nothing (the events that only restate a message).
  std::optional<std::string> line(stack::Instant at, const stack::socket::DhcpEvent& e);

 private:
  std::string lease_path_;
  bool rfc_timers_;
  bool init_reboot_ = false;
  std::optional<stack::Instant> acked_;
  std::optional<stack::Instant> first_probe_;
  int probes_ = 0;
};

}  // namespace appkit
