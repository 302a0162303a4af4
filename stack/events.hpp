// What happened inside the stack, for the narrator and the counters.
//
// Protocol code never prints (docs/architecture.md "Narration from events"): it reports events
// through a callback the application sets, and counts every drop under a named reason.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "stack/time.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ip_address.hpp"

namespace stack {

// Every reason the interface drops an incoming frame or an outgoing packet. Stable names: they
// are printed by --stats and by the narrator ("dropped: bad IPv4 checksum").
enum class DropReason : std::uint8_t {
  // Ethernet
  FrameTooShort,
  NotForUs,            // unicast to another MAC, or multicast we do not join
  UnknownEthertype,    // IPv6, LLDP, …: not handled
  // ARP
  ArpMalformed,
  ArpUnsupported,      // not Ethernet/IPv4
  ArpBadSender,        // broadcast/multicast sender MAC, or sender IP that cannot be a host
  // IPv4
  Ipv4Malformed,       // version, IHL or length fields inconsistent with the buffer
  Ipv4BadChecksum,
  Ipv4BadSource,       // martian source: 0/8, loopback, multicast, broadcast, ours (RFC 1122 §3.2.1.3)
  Ipv4BadOptions,      // an option whose length is 0, 1 or past the header; a bad route option (§3.2.1.8)
  Ipv4LinkBroadcast,   // unicast IP in a link-layer broadcast frame (RFC 1122 §3.3.6)
  Ipv4NotForUs,
  Ipv4UnknownProtocol,
  FragmentOverlap,     // RFC 5722 spirit: overlapping fragments discard the whole datagram
  FragmentTooBig,      // reassembled length beyond 65535
  FragmentTimeout,
  FragmentMemoryFull,
  // ICMP
  IcmpMalformed,
  IcmpBadChecksum,
  IcmpUnhandledType,
  IcmpNoSocket,        // echo reply nobody waits for
  // UDP
  UdpMalformed,
  UdpBadChecksum,
  UdpNoSocket,         // answered with ICMP port unreachable (unless broadcast)
  UdpQueueFull,
  // Egress
  NoRoute,
  ArpQueueFull,        // too many packets waiting for a neighbour to resolve
  ArpUnresolved,       // neighbour never answered: queued packets dropped
  NoAddress,           // asked to send before an address is configured
  PacketTooBig,        // beyond 65535 or DF set and above the MTU
  Count_
};
inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::Count_);
std::string_view to_string(DropReason r);  // "bad IPv4 checksum"
std::string_view counter_name(DropReason r);  // "ipv4.bad_checksum"

// Counters by drop reason, plus whatever traffic totals a layer keeps.
class DropCounters {
 public:
  void bump(DropReason r) { ++counts_[static_cast<std::size_t>(r)]; }
  std::uint64_t get(DropReason r) const { return counts_[static_cast<std::size_t>(r)]; }
  std::uint64_t total() const;
  // Non-zero counters only, as (name, value).
  std::vector<std::pair<std::string, std::uint64_t>> snapshot() const;

 private:
  std::array<std::uint64_t, kDropReasonCount> counts_{};
};

namespace event {
struct Dropped { DropReason reason; std::string detail; };
struct ArpRequestSent { wire::Ipv4Address target; int attempt; };
struct ArpReplyReceived { wire::Ipv4Address ip; wire::MacAddress mac; };
struct ArpResolved { wire::Ipv4Address ip; wire::MacAddress mac; Duration took; };
struct ArpFailed { wire::Ipv4Address ip; int attempts; std::size_t dropped_packets; };
struct ArpReplySent { wire::Ipv4Address to; wire::MacAddress to_mac; };
struct GratuitousArpSent { wire::Ipv4Address ip; };
struct ArpConflict { wire::Ipv4Address ip; wire::MacAddress other_mac; };
struct AddressConfigured { wire::Ipv4Cidr address; std::optional<wire::Ipv4Address> gateway; };
struct AddressRemoved { wire::Ipv4Cidr address; };
struct EchoRequestAnswered { wire::Ipv4Address from; std::uint16_t ident; std::uint16_t seq; std::size_t len; };
struct FragmentReassembled { wire::Ipv4Address src; std::uint16_t ident; std::size_t len; std::size_t fragments; };
struct IcmpErrorReceived { wire::Ipv4Address from; std::string what; };
}  // namespace event

using Event = std::variant<event::Dropped, event::ArpRequestSent, event::ArpReplyReceived, event::ArpResolved,
                           event::ArpFailed, event::ArpReplySent, event::GratuitousArpSent,
                           event::ArpConflict, event::AddressConfigured, event::AddressRemoved,
                           event::EchoRequestAnswered, event::FragmentReassembled, event::IcmpErrorReceived>;
using EventSink = std::function<void(Instant, const Event&)>;

// One line per event, in the narrator's words ("ARP: 10.77.0.1 is-at 46:e0:… (resolved in 0.4 ms)").
std::string describe(const Event& e);

}  // namespace stack
