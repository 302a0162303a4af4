#include "stack/events.hpp"

namespace stack {

namespace {
struct ReasonName {
  std::string_view counter;
  std::string_view text;
};
constexpr std::array<ReasonName, kDropReasonCount> kReasons{{
    {"eth.frame_too_short", "frame shorter than an Ethernet header"},
    {"eth.not_for_us", "frame for another MAC (unicast or multicast)"},
    {"eth.unknown_ethertype", "unhandled ethertype"},
    {"arp.malformed", "malformed ARP packet"},
    {"arp.unsupported", "ARP for a hardware/protocol pair other than Ethernet/IPv4"},
    {"arp.bad_sender", "ARP from an impossible sender address"},
    {"ipv4.malformed", "malformed IPv4 header"},
    {"ipv4.bad_checksum", "bad IPv4 checksum"},
    {"ipv4.bad_source", "IPv4 packet from a martian source (0/8, loopback, multicast, broadcast, our own address)"},
    {"ipv4.bad_options", "IPv4 header with malformed options"},
    {"ipv4.link_broadcast", "unicast IPv4 packet in a link-layer broadcast frame"},
    {"ipv4.not_for_us", "IPv4 packet for another host"},
    {"ipv4.unknown_protocol", "unhandled IP protocol"},
    {"ipv4.fragment_overlap", "overlapping IPv4 fragments (whole datagram discarded)"},
    {"ipv4.fragment_too_big", "reassembled datagram beyond 65535 bytes"},
    {"ipv4.fragment_timeout", "fragments not completed in time"},
    {"ipv4.fragment_memory_full", "reassembly memory full"},
    {"icmp.malformed", "malformed ICMP message"},
    {"icmp.bad_checksum", "bad ICMP checksum"},
    {"icmp.unhandled_type", "unhandled ICMP type"},
    {"icmp.no_socket", "ICMP echo reply nobody is waiting for"},
    {"udp.malformed", "malformed UDP header"},
    {"udp.bad_checksum", "bad UDP checksum"},
    {"udp.no_socket", "UDP datagram for a closed port"},
    {"udp.queue_full", "UDP receive queue full"},
    {"out.no_route", "no route to the destination"},
    {"out.arp_queue_full", "too many packets waiting for ARP"},
    {"out.arp_unresolved", "neighbour did not answer ARP"},
    {"out.no_address", "no IPv4 address configured yet"},
    {"out.packet_too_big", "packet too big"},
}};

std::string mac_ip(wire::Ipv4Address ip, const wire::MacAddress& mac) { return ip.describe() + " is-at " + mac.describe(); }

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;
}  // namespace

std::string_view to_string(DropReason r) { return kReasons[static_cast<std::size_t>(r)].text; }
std::string_view counter_name(DropReason r) { return kReasons[static_cast<std::size_t>(r)].counter; }

std::uint64_t DropCounters::total() const {
  std::uint64_t t = 0;
  for (auto c : counts_) t += c;
  return t;
}

std::vector<std::pair<std::string, std::uint64_t>> DropCounters::snapshot() const {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    if (counts_[i] != 0) out.emplace_back(std::string(kReasons[i].counter), counts_[i]);
  }
  return out;
}

std::string describe(const Event& e) {
  return std::visit(
      Overloaded{
          [](const event::Dropped& d) {
            return "dropped: " + std::string(to_string(d.reason)) + (d.detail.empty() ? "" : " (" + d.detail + ")");
          },
          [](const event::ArpRequestSent& a) {
            return "ARP: who-has " + a.target.describe() + "? (broadcast" +
                   (a.attempt > 1 ? ", try " + std::to_string(a.attempt) : std::string()) + ")";
          },
          [](const event::ArpReplyReceived& a) { return "ARP: reply " + mac_ip(a.ip, a.mac); },
          [](const event::ArpResolved& a) {
            return "ARP: " + mac_ip(a.ip, a.mac) + " (resolved in " + a.took.describe() + ", cached)";
          },
          [](const event::ArpFailed& a) {
            return "ARP: no answer from " + a.ip.describe() + " after " + std::to_string(a.attempts) + " tries; " +
                   std::to_string(a.dropped_packets) + " queued packet(s) dropped";
          },
          [](const event::ArpReplySent& a) {
            return "ARP: answered " + a.to.describe() + " (" + a.to_mac.describe() + ")";
          },
          [](const event::GratuitousArpSent& a) { return "ARP: gratuitous announcement of " + a.ip.describe(); },
          [](const event::ArpConflict& a) {
            return "ARP: address conflict: " + a.ip.describe() + " is also used by " + a.other_mac.describe();
          },
          [](const event::AddressConfigured& a) {
            return "IPv4: address " + a.address.describe() +
                   (a.gateway ? ", default route via " + a.gateway->describe() : std::string());
          },
          [](const event::AddressRemoved& a) { return "IPv4: address " + a.address.describe() + " removed"; },
          [](const event::EchoRequestAnswered& a) {
            return "ICMP: echo request from " + a.from.describe() + " (id " + std::to_string(a.ident) + ", seq " +
                   std::to_string(a.seq) + ", " + std::to_string(a.len) + " bytes) answered";
          },
          [](const event::FragmentReassembled& a) {
            return "IPv4: reassembled " + std::to_string(a.len) + " bytes from " + std::to_string(a.fragments) +
                   " fragments (from " + a.src.describe() + ", id " + std::to_string(a.ident) + ")";
          },
          [](const event::IcmpErrorReceived& a) { return "ICMP: " + a.what + " from " + a.from.describe(); },
      },
      e);
}

}  // namespace stack
