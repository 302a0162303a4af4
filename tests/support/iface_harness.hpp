// A test harness around one Interface: frames it sends are captured, events recorded, and
// frames for it are built from Reprs. Virtual time only.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "stack/events.hpp"
#include "stack/iface/interface.hpp"
#include "stack/wire/arp.hpp"
#include "stack/wire/describe.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/icmpv4.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/udp.hpp"

namespace test::ifh {

using stack::Bytes;
using stack::Instant;
using stack::wire::Ipv4Address;
using stack::wire::MacAddress;

inline const MacAddress kOurMac{{0x02, 0x75, 0x73, 0x00, 0x00, 0x01}};
inline const Ipv4Address kOurIp = Ipv4Address::from_octets(10, 77, 0, 50);
inline const MacAddress kRouterMac{{0x46, 0xe0, 0xe8, 0x63, 0xd0, 0x9e}};
inline const Ipv4Address kRouterIp = Ipv4Address::from_octets(10, 77, 0, 1);
inline const Ipv4Address kInternetHost = Ipv4Address::from_octets(203, 0, 113, 80);

inline Instant at_ms(std::int64_t ms) { return Instant::from_millis(ms); }

inline Bytes eth_frame(const MacAddress& src, const MacAddress& dst, stack::wire::EtherType type,
                       std::span<const std::byte> payload) {
  Bytes f(stack::wire::ethernet::kHeaderLen + payload.size());
  auto v = stack::wire::ethernet::ViewMut::unchecked(f);
  stack::wire::ethernet::Repr{.src = src, .dst = dst, .ethertype = type}.emit(v);
  std::copy(payload.begin(), payload.end(), f.begin() + stack::wire::ethernet::kHeaderLen);
  return f;
}

inline Bytes arp_frame(stack::wire::arp::Operation op, const MacAddress& sender_mac, Ipv4Address sender_ip,
                       const MacAddress& target_mac, Ipv4Address target_ip, const MacAddress& eth_dst) {
  Bytes body(stack::wire::arp::kPacketLen);
  auto v = stack::wire::arp::ViewMut::unchecked(body);
  stack::wire::arp::Repr{.operation = op, .sender_mac = sender_mac, .sender_ip = sender_ip,
                         .target_mac = target_mac, .target_ip = target_ip}
      .emit(v);
  return eth_frame(sender_mac, eth_dst, stack::wire::EtherType::Arp, body);
}

// An IPv4 packet (header from `ip`, payload as given; ip.payload_len is set here).
inline Bytes ipv4_packet(stack::wire::ipv4::Repr ip, std::span<const std::byte> payload) {
  ip.payload_len = payload.size();
  Bytes p(stack::wire::ipv4::kMinHeaderLen + payload.size());
  auto v = stack::wire::ipv4::ViewMut::unchecked(p);
  ip.emit(v);
  std::copy(payload.begin(), payload.end(), p.begin() + stack::wire::ipv4::kMinHeaderLen);
  return p;
}

inline Bytes icmp_message(const stack::wire::icmpv4::Repr& icmp) {
  Bytes m(icmp.buffer_len());
  auto v = stack::wire::icmpv4::ViewMut::unchecked(m);
  icmp.emit(v);
  return m;
}

inline Bytes echo_request(std::uint16_t ident, std::uint16_t seq, std::span<const std::byte> data) {
  return icmp_message(stack::wire::icmpv4::Repr{stack::wire::icmpv4::EchoRequest{ident, seq, data}});
}

inline Bytes udp_datagram(Ipv4Address src, Ipv4Address dst, std::uint16_t sport, std::uint16_t dport,
                          std::span<const std::byte> payload) {
  Bytes d(stack::wire::udp::kHeaderLen + payload.size());
  auto v = stack::wire::udp::ViewMut::unchecked(d);
  stack::wire::udp::Repr{.src_port = sport, .dst_port = dport}.emit(v, src, dst, payload);
  return d;
}

struct IfaceHarness {
  std::vector<Bytes> sent;
  std::vector<std::string> events;
  stack::iface::Interface iface;

  explicit IfaceHarness(stack::iface::InterfaceConfig config = default_config())
      : iface(config, [this](std::span<const std::byte> f) { sent.emplace_back(f.begin(), f.end()); }) {
    iface.set_event_sink([this](Instant, const stack::Event& e) { events.push_back(stack::describe(e)); });
  }
  static stack::iface::InterfaceConfig default_config() {
    stack::iface::InterfaceConfig c;
    c.mac = kOurMac;
    c.seed = 42;
    return c;
  }
  // Configured like `--ip 10.77.0.50/24 --gateway 10.77.0.1`, with the announcement consumed.
  void configure(Instant now = at_ms(0)) {
    iface.set_address(now, stack::wire::Ipv4Cidr{kOurIp, 24}, kRouterIp);
    sent.clear();
  }
  // The router's MAC already known (as after the first ARP exchange).
  void learn_router(Instant now = at_ms(0)) {
    iface.receive(now, arp_frame(stack::wire::arp::Operation::Request, kRouterMac, kRouterIp, MacAddress{}, kOurIp,
                                 MacAddress::broadcast()));
    sent.clear();
  }
  void deliver_ip(Instant now, stack::wire::ipv4::Repr ip, std::span<const std::byte> payload,
                  const MacAddress& from = kRouterMac) {
    iface.receive(now, eth_frame(from, kOurMac, stack::wire::EtherType::Ipv4, ipv4_packet(ip, payload)));
  }
  std::vector<Bytes> take() {
    std::vector<Bytes> out;
    out.swap(sent);
    return out;
  }
  std::vector<std::string> take_described() {
    std::vector<std::string> out;
    for (const auto& f : take()) out.push_back(stack::wire::describe_frame(f));
    return out;
  }
  std::uint64_t dropped(stack::DropReason r) const { return iface.drops().get(r); }
};

// Views into a captured frame.
inline stack::wire::ethernet::View eth_of(const Bytes& f) { return *stack::wire::ethernet::View::checked(f); }
inline stack::wire::ipv4::View ip_of(const Bytes& f) { return *stack::wire::ipv4::View::checked(eth_of(f).payload()); }

}  // namespace test::ifh
