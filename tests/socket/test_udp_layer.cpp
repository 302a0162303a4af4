// socket/udp: binding, ephemeral ports (RFC 6056), queues and their bounds, ICMP errors.
#include <doctest/doctest.h>

#include <set>

#include "stack/socket/udp.hpp"

using namespace stack;
using namespace stack::socket;
using stack::wire::Ipv4Address;

namespace {
const Ipv4Address kUs = Ipv4Address::from_octets(10, 77, 0, 100);
const Ipv4Address kServer = Ipv4Address::from_octets(198, 51, 100, 53);
}  // namespace

TEST_SUITE("socket/udp") {
  TEST_CASE("a port can be bound once; the second bind says address in use") {
    UdpLayer udp;
    auto a = udp.bind(68);
    REQUIRE(a.ok());
    auto b = udp.bind(68);
    REQUIRE_FALSE(b.ok());
    CHECK(b.error() == UdpError::AddressInUse);
    udp.close(*a);
    CHECK(udp.bind(68).ok());
  }

  TEST_CASE("ephemeral ports are random within 49152-65535 and differ between seeds (RFC 6056)") {
    std::set<std::uint16_t> ports;
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      UdpLayer udp(UdpLayer::Config{.seed = seed});
      auto id = udp.bind(0);
      REQUIRE(id.ok());
      const auto port = udp.local_endpoint(*id)->port;
      CHECK(port >= 49152);
      ports.insert(port);
    }
    CHECK(ports.size() >= 18);  // 20 draws from 16384 ports: collisions are rare
  }

  TEST_CASE("the ephemeral range runs out with a named error") {
    UdpLayer udp(UdpLayer::Config{.ephemeral_first = 60000, .ephemeral_last = 60002});
    CHECK(udp.bind(0).ok());
    CHECK(udp.bind(0).ok());
    CHECK(udp.bind(0).ok());
    auto none = udp.bind(0);
    REQUIRE_FALSE(none.ok());
    CHECK(none.error() == UdpError::NoEphemeralPorts);
  }

  TEST_CASE("datagrams are delivered with their true source, in order") {
    UdpLayer udp;
    auto id = udp.bind(5353);
    REQUIRE(id.ok());
    const Bytes one = to_bytes("one"), two = to_bytes("two");
    CHECK(udp.process(kServer, kUs, 53, 5353, one) == UdpLayer::Delivery::Delivered);
    CHECK(udp.process(kServer, kUs, 53, 5353, two) == UdpLayer::Delivery::Delivered);
    CHECK(udp.process(kServer, kUs, 53, 5354, two) == UdpLayer::Delivery::NoSocket);
    auto d = udp.recv_from(*id);
    REQUIRE(d);
    CHECK(d->from == UdpEndpoint{kServer, 53});
    CHECK(d->payload == one);
    CHECK(udp.recv_from(*id)->payload == two);
    CHECK_FALSE(udp.recv_from(*id).has_value());
  }

  TEST_CASE("zero-length datagrams are data, not end of stream") {
    UdpLayer udp;
    auto id = udp.bind(9);
    REQUIRE(id.ok());
    CHECK(udp.process(kServer, kUs, 1, 9, {}) == UdpLayer::Delivery::Delivered);
    auto d = udp.recv_from(*id);
    REQUIRE(d);
    CHECK(d->payload.empty());
  }

  TEST_CASE("the receive queue is bounded and overflow is counted") {
    UdpLayer udp(UdpLayer::Config{.rx_queue_datagrams = 2});
    auto id = udp.bind(9);
    REQUIRE(id.ok());
    const Bytes x = to_bytes("x");
    CHECK(udp.process(kServer, kUs, 1, 9, x) == UdpLayer::Delivery::Delivered);
    CHECK(udp.process(kServer, kUs, 1, 9, x) == UdpLayer::Delivery::Delivered);
    CHECK(udp.process(kServer, kUs, 1, 9, x) == UdpLayer::Delivery::QueueFull);
    bool counted = false;
    for (const auto& [name, value] : udp.stats()) counted |= (name == "udp.socket_queue_drops" && value == 1);
    CHECK(counted);
  }

  TEST_CASE("a socket bound to one address ignores datagrams for another, but takes broadcasts") {
    UdpLayer udp;
    auto id = udp.bind(68, kUs);
    REQUIRE(id.ok());
    const Bytes x = to_bytes("x");
    CHECK(udp.process(kServer, Ipv4Address::from_octets(10, 77, 0, 101), 67, 68, x) == UdpLayer::Delivery::NoSocket);
    CHECK(udp.process(kServer, Ipv4Address::broadcast(), 67, 68, x) == UdpLayer::Delivery::Delivered);
  }

  TEST_CASE("send_to queues; dispatch hands out datagrams oldest first with the socket's port") {
    UdpLayer udp;
    auto id = udp.bind(40000);
    REQUIRE(id.ok());
    const Bytes q1 = to_bytes("q1"), q2 = to_bytes("q2");
    CHECK(udp.send_to(*id, {kServer, 53}, q1).ok());
    CHECK(udp.send_to(*id, {kServer, 53}, q2).ok());
    std::vector<Bytes> seen;
    udp.dispatch([&](const UdpLayer::Outgoing& out) {
      CHECK(out.from.port == 40000);
      CHECK(out.to == UdpEndpoint{kServer, 53});
      seen.push_back(out.payload);
    });
    REQUIRE(seen.size() == 2);
    CHECK(seen[0] == q1);
    CHECK_FALSE(udp.has_pending_output());
  }

  TEST_CASE("ICMP port unreachable is reported to the socket that sent (RFC 1122 §4.1.3.3)") {
    UdpLayer udp;
    auto id = udp.bind(40000);
    REQUIRE(id.ok());
    udp.process_icmp_error(40000, {kServer, 53}, "Destination Port Unreachable from 198.51.100.53");
    auto e = udp.take_error(*id);
    REQUIRE(e);
    CHECK(e->remote == UdpEndpoint{kServer, 53});
    CHECK_FALSE(udp.take_error(*id).has_value());
  }
}
