#include "apps/common/dhcp_lines.hpp"

#include <type_traits>

namespace appkit {

namespace sock = stack::socket;
namespace dhcp = stack::wire::dhcpv4;
using dhcp::MessageType;

namespace {

std::string lease_of(const dhcp::Repr& m) {
  if (!m.lease_time) return "";
  return *m.lease_time == 0xffffffffu ? " for ever" : " for " + std::to_string(*m.lease_time) + " s";
}

std::string ms(stack::Duration d) {
  const auto us = d.micros();
  return std::to_string(us / 1000) + "." + std::to_string((us % 1000) / 100) + " ms";
}

}  // namespace

std::optional<std::string> DhcpLines::line(stack::Instant at, const sock::DhcpEvent& e) {
  return std::visit(
      [&](const auto& ev) -> std::optional<std::string> {
        using T = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<T, sock::dhcp_event::Sent>) {
          const auto& m = ev.message;
          const std::string retry = ev.attempt > 1 ? " (retry " + std::to_string(ev.attempt) + ": no reply in time)" : "";
          switch (m.message_type) {
            case MessageType::Discover:
              return "→ DISCOVER, broadcast from 0.0.0.0 (we have no address yet)" + retry +
                     (m.rapid_commit ? ", asking for Rapid Commit (RFC 4039: two messages instead of four if the server agrees)"
                                     : ", without Rapid Commit: the classic four messages");
            case MessageType::Request:
              if (m.requested_ip && !m.server_id) {
                init_reboot_ = true;
                return "→ REQUEST " + m.requested_ip->describe() + ", broadcast" + retry +
                       ": INIT-REBOOT (RFC 2131 §3.2), the address stored in " + lease_path_ +
                       " asked for again without a DISCOVER (--fresh forgets it)";
              }
              if (m.requested_ip && m.server_id) {
                return "→ REQUEST " + m.requested_ip->describe() + " from server " + m.server_id->describe() + ", broadcast" +
                       retry + " (RFC 2131 §4.4.1: any other server learns its offer was not taken)";
              }
              return "→ " + std::string(m.ciaddr.is_unspecified() ? "REQUEST" : "RENEW/REBIND REQUEST") + retry;
            default:
              return "→ " + std::string(dhcp::to_string(m.message_type)).substr(4) + retry;
          }
        } else if constexpr (std::is_same_v<T, sock::dhcp_event::Received>) {
          const auto& m = ev.message;
          switch (m.message_type) {
            case MessageType::Offer:
              return "← OFFER from " + ev.from.describe() + ": " + m.yiaddr.describe() + lease_of(m);
            case MessageType::Ack:
              acked_ = at;
              if (m.rapid_commit) {
                return "← ACK from " + ev.from.describe() + " with Rapid Commit (RFC 4039): " + m.yiaddr.describe() +
                       " is ours" + lease_of(m) + ", no OFFER and no REQUEST (--no-rapid-commit shows all four)";
              }
              return "← ACK from " + ev.from.describe() + ": " + m.yiaddr.describe() + " is ours" + lease_of(m) +
                     (init_reboot_ ? " (the stored address is still valid here)" : "");
            default:
              return "← NAK from " + ev.from.describe() + (m.message ? " \"" + *m.message + "\"" : std::string()) +
                     (init_reboot_ ? ": the stored address is not valid here; back to DISCOVER" : "");
          }
        } else if constexpr (std::is_same_v<T, sock::dhcp_event::ProbeSent>) {
          ++probes_;
          if (ev.probe == 1) {
            first_probe_ = at;
            return "→ ARP probe: who has " + ev.ip.describe() +
                   "? (sender 0.0.0.0; RFC 5227 address conflict detection: is anyone already using the address?)";
          }
          return "→ ARP probe " + std::to_string(ev.probe) + " for " + ev.ip.describe();
        } else if constexpr (std::is_same_v<T, sock::dhcp_event::Conflict>) {
          return "← ARP: " + ev.ip.describe() + " is in use by " + ev.mac.describe() + ": we decline it and start again";
        } else if constexpr (std::is_same_v<T, sock::dhcp_event::StateChanged>) {
          if (ev.from == sock::DhcpState::Probing && ev.to == sock::DhcpState::Bound && first_probe_) {
            return "no reply to " + std::to_string(probes_) + " ARP probe(s): the address is free, we take it; the check took " +
                   ms(at - (acked_ ? *acked_ : *first_probe_)) + (acked_ ? " after the ACK" : "") +
                   (rfc_timers_ ? "" : " (RFC 5227's waits shortened for a LAN, from about 7 s)");
          }
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, sock::dhcp_event::LeaseLost>) {
          return "lease of " + ev.address.describe() + " lost: " + ev.why;
        } else if constexpr (std::is_same_v<T, sock::dhcp_event::GaveUp>) {
          return "no lease after " + ev.after.describe() + ", failing";
        } else {
          return std::nullopt;
        }
      },
      e);
}

}  // namespace appkit
