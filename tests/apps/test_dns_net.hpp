// Test support for the DNS tests: our stack (a client Interface) and a peer over a MemoryLink,
// driven by the REAL clock (c-ares reads CLOCK_MONOTONIC in ares__tvnow() and cannot be given
// virtual time), so timeouts in these tests are small and real.
//
//   DnsTestNet net;                       client 10.77.0.60/24, gateway 10.77.0.1
//   net.serve_udp(53, script)             the peer answers on its own UdpLayer (a real Interface)
//   net.serve_tcp(53, script, style)      ... and over its own TcpLayer (DNS over TCP, RFC 7766:
//                                         2-octet length framing), whole, byte by byte, or closing
//   net.internet = script                 or: a frame-level "internet" behind the gateway that
//                                         answers UDP to any address (for the iterative walk)
//   net.run_until([&]{ return done; }, 3s)
#pragma once

#include <doctest/doctest.h>

#include <array>
#include <functional>
#include <map>
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

// How the peer's TCP server behaves once a query has arrived over a connection.
enum class TcpStyle {
  Answer,            // writes the framed replies at once; closes when the client closes
  Trickle,           // writes one octet per turn of the world (many segments, partial reads)
  CloseWithoutReply, // reads the query, then closes (FIN) without answering
  Reset,             // reads the query, then aborts (RST)
  Silent,            // accepts, reads, never answers
};

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
  // The peer runs a DNS server over TCP at `port` (without it, a SYN to the peer is answered
  // with RST: connection refused).
  void serve_tcp(std::uint16_t port, Script script, TcpStyle style = TcpStyle::Answer) {
    auto l = peer_.tcp().listen(Ipv4Address::any(), port, 8);
    REQUIRE(l.ok());
    tcp_listener_ = *l;
    tcp_script_ = std::move(script);
    tcp_style_ = style;
  }
  std::uint64_t tcp_queries_seen = 0;
  std::uint64_t tcp_accepted = 0;
  std::uint64_t tcp_client_fins = 0;  // connections the client closed gracefully (FIN read)

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
    if (tcp_listener_) serve_tcp_turn();
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
  struct TcpConn {
    stack::socket::SocketId id;
    Bytes in;
    Bytes out;  // framed replies not yet written
    bool closed = false;
  };

  void serve_tcp_turn() {
    auto& tcp = peer_.tcp();
    while (auto id = tcp.accept(*tcp_listener_)) {
      ++tcp_accepted;
      if (tcp_style_ == TcpStyle::Trickle) tcp.set_nodelay(*id, true);  // one octet, one segment
      tcp_conns_.push_back(TcpConn{*id, {}, {}, false});
    }
    for (auto& c : tcp_conns_) {
      if (c.closed) continue;
      std::array<std::byte, 4096> buf;
      for (;;) {
        auto r = tcp.recv(c.id, buf);
        if (!r) break;
        if (*r == 0) {  // the client's FIN
          ++tcp_client_fins;
          tcp.close(c.id);
          c.closed = true;
          break;
        }
        c.in.insert(c.in.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*r));
      }
      if (c.closed) continue;
      // RFC 1035 §4.2.2: each message is preceded by its length in two octets.
      while (c.in.size() >= 2) {
        const std::size_t len = (std::to_integer<std::size_t>(c.in[0]) << 8) | std::to_integer<std::size_t>(c.in[1]);
        if (c.in.size() < 2 + len) break;
        auto q = dns::parse(std::span<const std::byte>(c.in).subspan(2, len));
        c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(2 + len));
        if (!q) continue;
        ++tcp_queries_seen;
        if (tcp_style_ == TcpStyle::CloseWithoutReply) {
          tcp.close(c.id);
          c.closed = true;
          break;
        }
        if (tcp_style_ == TcpStyle::Reset) {
          tcp.abort(c.id);
          c.closed = true;
          break;
        }
        if (tcp_style_ == TcpStyle::Silent) continue;
        for (const auto& r : tcp_script_(kPeerIp, *q)) {
          c.out.push_back(static_cast<std::byte>(r.payload.size() >> 8));
          c.out.push_back(static_cast<std::byte>(r.payload.size() & 0xff));
          c.out.insert(c.out.end(), r.payload.begin(), r.payload.end());
        }
      }
      if (c.closed || c.out.empty()) continue;
      const std::size_t n = tcp_style_ == TcpStyle::Trickle ? 1 : c.out.size();
      auto w = tcp.send(c.id, std::span<const std::byte>(c.out).first(n));
      if (w && *w > 0) c.out.erase(c.out.begin(), c.out.begin() + static_cast<std::ptrdiff_t>(*w));
    }
  }

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
  std::optional<stack::socket::SocketId> tcp_listener_;
  Script tcp_script_;
  TcpStyle tcp_style_ = TcpStyle::Answer;
  std::vector<TcpConn> tcp_conns_;
};

}  // namespace test::dnsnet
