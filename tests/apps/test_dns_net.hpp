// Test support for the DNS tests: our stack (a client Interface) and a peer over a MemoryLink,
// driven by the REAL clock (c-ares reads CLOCK_MONOTONIC and cannot be given virtual time:
// libraries-and-conventions.md §1.4), so timeouts in these tests are small and real.
//
//   DnsTestNet net;                       client 10.77.0.60/24, gateway 10.77.0.1
//   net.serve_udp(53, script)             the peer answers on its own UdpLayer (a real Interface)
//   net.internet = script                 or: a frame-level "internet" behind the gateway that
//                                         answers UDP to any address (for the iterative walk)
//   net.run_until([&]{ return done; }, 3s)
#pragma once

#include <doctest/doctest.h>

#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "apps/common/clock.hpp"
#include "drivers/memory_link.hpp"
#include "stack/iface/interface.hpp"
#include "stack/wire/arp.hpp"
#include "stack/wire/dns.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/udp.hpp"
#include "support/iface_harness.hpp"

namespace test::dnsnet {

using stack::Bytes;
using stack::Instant;
using stack::wire::Ipv4Address;
namespace dns = stack::wire::dns;

inline const Ipv4Address kClientIp = Ipv4Address::from_octets(10, 77, 0, 60);
inline const Ipv4Address kPeerIp = Ipv4Address::from_octets(10, 77, 0, 1);

// A script: what the server at `server` says to `query` (nothing: silence; several: all sent).
struct Reply {
  Bytes payload;
  std::optional<std::uint16_t> from_port;  // default: the port asked
};
using Script = std::function<std::vector<Reply>(Ipv4Address server, const dns::Message& query)>;

// A response to `q` (id, question and RD copied; QR set) with these records.
inline dns::Message response_to(const dns::Message& q, dns::Rcode rcode = dns::Rcode::NoError) {
  dns::Message r;
  r.header.id = q.header.id;
  r.header.qr = true;
  r.header.rd = q.header.rd;
  r.header.ra = q.header.rd;
  r.header.rcode = static_cast<std::uint8_t>(rcode);
  r.questions = q.questions;
  return r;
}
inline dns::Record a_record(const char* name, Ipv4Address a, std::uint32_t ttl = 300) {
  return dns::Record{*dns::Name::parse(name), 1, 1, ttl, dns::rdata::A{a}};
}
inline dns::Record cname_record(const char* name, const char* target, std::uint32_t ttl = 300) {
  return dns::Record{*dns::Name::parse(name), 5, 1, ttl, dns::rdata::Cname{*dns::Name::parse(target)}};
}
inline dns::Record ns_record(const char* zone, const char* host, std::uint32_t ttl = 86400) {
  return dns::Record{*dns::Name::parse(zone), 2, 1, ttl, dns::rdata::Ns{*dns::Name::parse(host)}};
}
inline dns::Record soa_record(const char* zone) {
  return dns::Record{*dns::Name::parse(zone), 6, 1, 3600,
                     dns::rdata::Soa{*dns::Name::parse(std::string("ns.") + zone), *dns::Name::parse(std::string("h.") + zone),
                                     1, 2, 3, 4, 3600}};
}

class DnsTestNet {
 public:
  DnsTestNet()
      : link_(link_config()),
        client_(config(test::ifh::kOurMac, 11), [this](std::span<const std::byte> f) { link_.end_a().transmit(now_, f); }),
        peer_(config(test::ifh::kRouterMac, 22), [this](std::span<const std::byte> f) { to_client(f); }) {
    now_ = appkit::monotonic_now();
    client_.set_address(now_, stack::wire::Ipv4Cidr{kClientIp, 24}, kPeerIp, false);
    peer_.set_address(now_, stack::wire::Ipv4Cidr{kPeerIp, 24}, std::nullopt, false);
  }

  stack::iface::Interface& client() { return client_; }
  stack::iface::Interface& peer() { return peer_; }
  Instant now() const { return appkit::monotonic_now(); }

  // The peer runs a DNS server on its own UDP socket at `port`.
  void serve_udp(std::uint16_t port, Script script) {
    auto s = peer_.udp().bind(port);
    REQUIRE(s.ok());
    server_socket_ = *s;
    server_script_ = std::move(script);
  }
  // Every UDP datagram the client sends to an address that is not the peer's (through the
  // gateway) is answered by this script, from that address: a whole internet of name servers.
  Script internet;
  std::uint64_t queries_seen = 0;

  void pump() {
    now_ = appkit::monotonic_now();
    std::byte buf[2048];
    while (auto n = link_.end_b().receive(now_, buf)) {
      const std::span<const std::byte> frame(buf, *n);
      if (!internet_frame(frame)) peer_.receive(now_, frame);
    }
    while (auto n = link_.end_a().receive(now_, buf)) client_.receive(now_, std::span<const std::byte>(buf, *n));
    if (server_socket_) {
      while (auto d = peer_.udp().recv_from(*server_socket_)) {
        auto q = dns::parse(d->payload);
        if (!q) continue;
        ++queries_seen;
        for (const auto& r : server_script_(kPeerIp, *q)) {
          auto from_port = r.from_port.value_or(peer_.udp().local_endpoint(*server_socket_)->port);
          if (from_port == peer_.udp().local_endpoint(*server_socket_)->port) {
            (void)peer_.udp().send_to(*server_socket_, d->from, r.payload);
          } else {
            auto other = peer_.udp().bind(from_port);
            REQUIRE(other.ok());
            (void)peer_.udp().send_to(*other, d->from, r.payload);
            peer_.poll(now_);
            peer_.udp().close(*other);
          }
        }
      }
    }
    client_.poll(now_);
    peer_.poll(now_);
  }

  // Turns the world until `done()` (true) or `limit` passes (false). `tick` runs every turn
  // (the resolver's process()).
  bool run_until(const std::function<bool()>& done, stack::Duration limit, const std::function<void()>& tick) {
    const Instant end = now() + limit;
    while (now() < end) {
      pump();
      tick();
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return done();
  }

 private:
  static drivers::LinkConfig link_config() {
    drivers::LinkConfig c;
    c.latency = stack::Duration::from_micros(100);
    return c;
  }
  static stack::iface::InterfaceConfig config(const stack::wire::MacAddress& mac, std::uint64_t seed) {
    stack::iface::InterfaceConfig c;
    c.mac = mac;
    c.seed = seed;
    return c;
  }
  void to_client(std::span<const std::byte> f) { link_.end_b().transmit(now_, f); }

  // Frames for addresses beyond the gateway: answer UDP from the script, as the address asked.
  bool internet_frame(std::span<const std::byte> frame) {
    namespace w = stack::wire;
    if (!internet) return false;
    auto eth = w::ethernet::View::checked(frame);
    if (!eth || eth->ethertype() != w::EtherType::Ipv4) return false;
    auto ip = w::ipv4::View::checked(eth->payload());
    if (!ip) return false;
    const auto ipr = w::ipv4::Repr::parse(*ip);
    if (ipr.dst == kPeerIp || ipr.protocol != w::IpProtocol::Udp) return false;
    auto udp = w::udp::View::checked(ip->payload());
    if (!udp) return true;
    auto q = dns::parse(udp->payload());
    if (!q) return true;
    ++queries_seen;
    for (const auto& r : internet(ipr.dst, *q)) {
      const auto sport = r.from_port.value_or(udp->dst_port());
      const Bytes dgram = test::ifh::udp_datagram(ipr.dst, ipr.src, sport, udp->src_port(), r.payload);
      w::ipv4::Repr rip{};
      rip.src = ipr.dst;
      rip.dst = ipr.src;
      rip.protocol = w::IpProtocol::Udp;
      rip.ttl = 60;
      const Bytes packet = test::ifh::ipv4_packet(rip, dgram);
      to_client(test::ifh::eth_frame(test::ifh::kRouterMac, test::ifh::kOurMac, w::EtherType::Ipv4, packet));
    }
    return true;
  }

  drivers::MemoryLink link_;
  Instant now_;
  stack::iface::Interface client_;
  stack::iface::Interface peer_;
  std::optional<stack::socket::UdpLayer::SocketId> server_socket_;
  Script server_script_;
};

}  // namespace test::dnsnet
