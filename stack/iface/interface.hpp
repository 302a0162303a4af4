// The Interface: one Ethernet interface of one host, and the heart of the sans-I/O stack.
//
// It is fed frames and the current time, and hands back frames and the next instant it wants to
// be woken (smoltcp's poll(now)/poll_at()). It never reads a clock, never touches a file
// descriptor and never prints (docs/architecture.md "Sans-I/O core").
//
//   receive(now, frame)   one Ethernet frame from the wire: ARP, IPv4 (with reassembly), ICMP, UDP
//   poll(now)             timers (ARP retries, reassembly timeouts) and the sockets' output
//   poll_at()             when poll() next has work; nullopt: only a new frame can change anything
//   transmit callback     where every outgoing frame goes (the app hands it to a Device)
//
// Read first: RFC 894 (IP over Ethernet), RFC 826 (ARP), RFC 791 (IPv4), RFC 792 (ICMP),
// RFC 768 (UDP), RFC 1122 (host requirements: §2.3.2 ARP, §3.2.1 IP, §3.2.2 ICMP, §4.1 UDP).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "stack/events.hpp"
#include "stack/iface/arp_cache.hpp"
#include "stack/iface/reassembly.hpp"
#include "stack/socket/icmp.hpp"
#include "stack/socket/tcp_layer.hpp"
#include "stack/socket/udp.hpp"
#include "stack/time.hpp"
#include "stack/util/bytes.hpp"
#include "stack/util/random.hpp"
#include "stack/wire/arp.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/icmpv4.hpp"
#include "stack/wire/ip_address.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/udp.hpp"

namespace stack::iface {

// RFC 791 §3.2: "Every internet module must be able to forward a datagram of 68 octets without
// further fragmentation"; an IPv4 datagram is at most 65535 bytes. The MTU is validated against
// these once, where the device is opened; the Interface clamps anything else into range.
inline constexpr std::size_t kMinMtu = 68;
inline constexpr std::size_t kMaxMtu = 65535;

struct InterfaceConfig {
  wire::MacAddress mac;
  std::size_t mtu = 1500;          // largest IPv4 packet we send (from the device's capabilities);
                                   // kept within [kMinMtu, kMaxMtu] by the constructor
  std::uint64_t seed = 1;          // randomness (IPv4 identification, ports); the app draws it from the OS
  std::uint8_t default_ttl = 64;   // RFC 1700 / Linux default
  ArpConfig arp;
  ReassemblyConfig reassembly;
  socket::UdpLayer::Config udp;
  socket::TcpConfig tcp;           // mtu is taken from `mtu` above; the secret key from `seed`
  std::size_t icmp_error_quote = 548;  // bytes of the offending datagram quoted (576 - 20 - 8)
};

class Interface {
 public:
  using Transmit = std::function<void(std::span<const std::byte> frame)>;

  Interface(InterfaceConfig config, Transmit transmit);

  // --- addressing ---
  // Configures our address and default route; announces it with a gratuitous ARP (RFC 5227 §2.3).
  void set_address(Instant now, wire::Ipv4Cidr address, std::optional<wire::Ipv4Address> gateway, bool announce = true);
  void clear_address(Instant now);
  const std::optional<wire::Ipv4Cidr>& address() const { return address_; }
  const std::optional<wire::Ipv4Address>& gateway() const { return gateway_; }
  const wire::MacAddress& mac() const { return config_.mac; }
  std::size_t mtu() const { return config_.mtu; }
  // The next hop for `dst` (on-link: dst itself; else the gateway), or nullopt without a route.
  std::optional<wire::Ipv4Address> next_hop(wire::Ipv4Address dst) const;

  // --- the sans-I/O engine ---
  // `checksum_vouched`: the device vouches for the frame's TCP/UDP checksum (the kernel made or
  // verified it; drivers::Device::rx_checksum_vouched), so the transport layer skips its pass.
  void receive(Instant now, std::span<const std::byte> frame, bool checksum_vouched = false);
  void poll(Instant now);
  std::optional<Instant> poll_at(Instant now) const;
  // Back-pressure: the device holds frames it could not write (its queue is full); TCP sends no
  // data until this is cleared (socket::TcpLayer::set_link_busy).
  void set_link_busy(bool busy) { tcp_->set_link_busy(busy); }
  // Transmit checksum offload: TCP segments leave with only the pseudo-header sum in their
  // checksum field, for the device to complete (the app switches the device with it).
  void set_tcp_checksum_partial(bool partial) { tcp_checksum_partial_ = partial; }

  // --- the layers above ---
  socket::UdpLayer& udp() { return udp_; }
  socket::IcmpEchoLayer& icmp() { return icmp_; }
  socket::TcpLayer& tcp() { return *tcp_; }

  // --- ARP services for DHCP's address conflict detection (RFC 5227 §2.1) ---
  void send_arp_probe(Instant now, wire::Ipv4Address target);
  void send_arp_announcement(Instant now, wire::Ipv4Address ip);
  // Sees every valid ARP packet (DHCP watches for a conflicting sender during probing).
  std::function<void(Instant, const wire::arp::Repr&)> arp_observer;

  // --- narration and counters ---
  void set_event_sink(EventSink sink) { events_ = std::move(sink); }
  const DropCounters& drops() const { return drops_; }
  const ArpCache& arp_cache() const { return arp_; }
  std::vector<std::pair<std::string, std::uint64_t>> stats() const;

 private:
  // Ingress, one function per protocol.
  void process_arp(Instant now, std::span<const std::byte> payload);
  void process_ipv4(Instant now, std::span<const std::byte> packet, bool link_broadcast, bool checksum_vouched);
  void deliver_ipv4(Instant now, const wire::ipv4::Repr& ip, std::span<const std::byte> payload,
                    std::span<const std::byte> raw_packet, bool to_broadcast, bool checksum_vouched = false);
  void process_icmp(Instant now, const wire::ipv4::Repr& ip, std::span<const std::byte> payload, bool to_broadcast);
  void process_udp(Instant now, const wire::ipv4::Repr& ip, std::span<const std::byte> payload,
                   std::span<const std::byte> raw_packet, bool to_broadcast, bool checksum_vouched);

  // Egress.
  // Builds one IPv4 datagram (fragmenting it when it exceeds the MTU and DF is clear) and sends it.
  // `fill` writes the payload (ip.payload_len bytes) once ip.src is final.
  void send_ipv4(Instant now, wire::ipv4::Repr ip, const std::function<void(std::span<std::byte>)>& fill);
  void send_icmp(Instant now, wire::Ipv4Address dst, const wire::icmpv4::Repr& icmp, std::optional<wire::Ipv4Address> src = {});
  void send_icmp_error(Instant now, const wire::ipv4::Repr& offending, std::span<const std::byte> raw_packet,
                       wire::icmpv4::UnreachableCode code);
  // Resolves the next hop and hands the frame to the wire, or queues it behind ARP.
  // `frame` holds the IPv4 packet after kEthHeadroom bytes of space for the Ethernet header.
  void route(Instant now, wire::Ipv4Address dst, Bytes frame);
  void send_frame(const wire::MacAddress& dst, wire::EtherType type, Bytes& frame);
  void send_arp(const wire::arp::Repr& arp, const wire::MacAddress& eth_dst);
  void arp_learned(Instant now, wire::Ipv4Address ip, const wire::MacAddress& mac, ArpCache::Learned learned);

  bool is_our_address(wire::Ipv4Address a) const { return address_ && address_->address == a; }
  bool is_broadcast_for_us(wire::Ipv4Address a) const {
    return a.is_broadcast() || (address_ && address_->prefix_len < 31 && a == address_->broadcast());
  }
  void drop(Instant now, DropReason reason, std::string detail = {});
  void emit(Instant now, Event e) {
    if (events_) events_(now, std::move(e));
  }

  static constexpr std::size_t kEthHeadroom = wire::ethernet::kHeaderLen;

  InterfaceConfig config_;
  Transmit transmit_;
  EventSink events_;
  Rng rng_;
  std::optional<wire::Ipv4Cidr> address_;
  std::optional<wire::Ipv4Address> gateway_;
  std::uint16_t next_ident_;
  std::optional<Instant> last_conflict_defence_;
  ArpCache arp_;
  Reassembler reassembler_;
  socket::UdpLayer udp_;
  socket::IcmpEchoLayer icmp_;
  std::unique_ptr<socket::TcpLayer> tcp_;  // not movable: its sockets keep a reference to its config
  DropCounters drops_;
  bool tcp_checksum_partial_ = false;  // set_tcp_checksum_partial()
  std::uint64_t frames_in_ = 0;
  std::uint64_t frames_out_ = 0;
  std::uint64_t echo_requests_answered_ = 0;
};

}  // namespace stack::iface
