// wire/arp: golden bytes, round trips, and rejection of everything that is not Ethernet/IPv4
// ARP (RFC 826; docs/hostile-inputs.md #2).
#include <doctest/doctest.h>

#include <algorithm>

#include "stack/wire/arp.hpp"
#include "support/bytes.hpp"

using namespace stack;
using namespace stack::wire;

namespace doctest {
template <>
struct StringMaker<arp::Repr> {
  static String convert(const arp::Repr& r) { return r.describe().c_str(); }
};
}  // namespace doctest

namespace {

// The ARP exchange before `ping 10.77.0.1` from 10.77.0.74, captured with `tcpdump -xx` on a
// veth pair between two throw-away network namespaces. Ethernet header stripped.
// "ARP, Request who-has 10.77.0.1 tell 10.77.0.74, length 28"
const Bytes kRequest = test::hex("0001 0800 06 04 0001 76f8cf9196ca 0a4d004a 000000000000 0a4d0001");
// "ARP, Reply 10.77.0.1 is-at 76:5e:6a:a5:0b:7c, length 28"
const Bytes kReply = test::hex("0001 0800 06 04 0002 765e6aa50b7c 0a4d0001 76f8cf9196ca 0a4d004a");

constexpr MacAddress kHostMac{{0x76, 0xf8, 0xcf, 0x91, 0x96, 0xca}};
constexpr MacAddress kRouterMac{{0x76, 0x5e, 0x6a, 0xa5, 0x0b, 0x7c}};
constexpr Ipv4Address kHostIp = Ipv4Address::from_octets(10, 77, 0, 74);
constexpr Ipv4Address kRouterIp = Ipv4Address::from_octets(10, 77, 0, 1);

const arp::Repr kRequestRepr{
    .operation = arp::Operation::Request,
    .sender_mac = kHostMac,
    .sender_ip = kHostIp,
    .target_mac = MacAddress{},
    .target_ip = kRouterIp,
};
const arp::Repr kReplyRepr{
    .operation = arp::Operation::Reply,
    .sender_mac = kRouterMac,
    .sender_ip = kRouterIp,
    .target_mac = kHostMac,
    .target_ip = kHostIp,
};

Bytes with(Bytes b, std::size_t at, std::uint8_t v) {
  b.at(at) = std::byte{v};
  return b;
}

std::optional<arp::Repr> parse(std::span<const std::byte> b) {
  const auto view = arp::View::checked(b);
  if (!view) return std::nullopt;
  return arp::Repr::parse(*view);
}

}  // namespace

TEST_SUITE("wire/arp") {
  TEST_CASE("deconstruct a captured request (RFC 826 packet format)") {
    const auto p = arp::View::checked(kRequest);
    REQUIRE(p.has_value());
    CHECK(p->htype() == 1);
    CHECK(p->ptype() == EtherType::Ipv4);
    CHECK(p->hlen() == 6);
    CHECK(p->plen() == 4);
    CHECK(p->operation() == arp::Operation::Request);
    CHECK(p->sender_mac() == kHostMac);
    CHECK(p->sender_ip() == kHostIp);
    CHECK(p->target_mac() == MacAddress{});
    CHECK(p->target_ip() == kRouterIp);
  }

  TEST_CASE("construct the captured reply byte for byte") {
    Bytes out(arp::Repr::buffer_len(), std::byte{0xaa});
    auto view = arp::ViewMut::unchecked(out);
    kReplyRepr.emit(view);
    CHECK(out == kReply);
  }

  TEST_CASE("parse and emit round trip") {
    CHECK(parse(kRequest) == kRequestRepr);
    CHECK(parse(kReply) == kReplyRepr);
    Bytes out(arp::Repr::buffer_len());
    auto view = arp::ViewMut::unchecked(out);
    kRequestRepr.emit(view);
    CHECK(out == kRequest);
    CHECK(parse(out) == kRequestRepr);
  }

  TEST_CASE("describe reads like tcpdump -n") {
    CHECK(kRequestRepr.describe() == "Request who-has 10.77.0.1 tell 10.77.0.74");
    CHECK(kReplyRepr.describe() == "Reply 10.77.0.1 is-at 76:5e:6a:a5:0b:7c");
    arp::Repr unicast = kRequestRepr;
    unicast.target_mac = kRouterMac;  // RFC 1122 §2.3.2.1 unicast re-validation
    CHECK(unicast.describe() == "Request who-has 10.77.0.1 (76:5e:6a:a5:0b:7c) tell 10.77.0.74");
    arp::Repr probe = kRequestRepr;
    probe.sender_ip = Ipv4Address::any();  // RFC 5227 §2.1.1 probe
    CHECK(probe.describe() == "Request who-has 10.77.0.1 tell 0.0.0.0");
  }

  TEST_CASE("Ethernet padding after the 28 bytes is accepted and ignored") {
    Bytes padded = kRequest;
    padded.resize(46, std::byte{0});
    CHECK(parse(padded) == kRequestRepr);
  }

  TEST_CASE("packets shorter than 28 bytes are rejected (docs/hostile-inputs.md #2)") {
    for (std::size_t len = 0; len < arp::kPacketLen; ++len) {
      CAPTURE(len);
      CHECK_FALSE(arp::View::checked(std::span(kRequest).first(len)).has_value());
    }
  }

  TEST_CASE("hardware type other than Ethernet (1) is rejected") {
    CHECK_FALSE(parse(with(kRequest, 1, 6)).has_value());   // IEEE 802
    CHECK_FALSE(parse(with(kRequest, 0, 1)).has_value());   // 0x0101
    CHECK_FALSE(parse(with(kRequest, 1, 0)).has_value());
  }

  TEST_CASE("protocol type other than IPv4 (0x0800) is rejected") {
    CHECK_FALSE(parse(with(kRequest, 2, 0x86)).has_value());  // 0x8600
    CHECK_FALSE(parse(with(kRequest, 3, 0x06)).has_value());  // 0x0806
  }

  TEST_CASE("hardware length other than 6 is rejected") {
    for (const std::uint8_t hlen : std::initializer_list<std::uint8_t>{0, 1, 5, 7, 16, 255}) {
      CAPTURE(hlen);
      CHECK_FALSE(parse(with(kRequest, 4, hlen)).has_value());
    }
  }

  TEST_CASE("protocol length other than 4 is rejected") {
    for (const std::uint8_t plen : std::initializer_list<std::uint8_t>{0, 1, 3, 5, 16, 255}) {
      CAPTURE(plen);
      CHECK_FALSE(parse(with(kRequest, 5, plen)).has_value());
    }
  }

  TEST_CASE("operations other than request (1) and reply (2) are rejected") {
    for (const std::uint8_t op : std::initializer_list<std::uint8_t>{0, 3, 4, 8, 9, 99}) {  // 3/4 RARP, 8/9 InARP
      CAPTURE(op);
      CHECK_FALSE(parse(with(kRequest, 7, op)).has_value());
    }
    CHECK_FALSE(parse(with(kRequest, 6, 1)).has_value());  // 0x0101
  }

  TEST_CASE("unknown operations survive a view round trip") {
    Bytes out(arp::kPacketLen);
    auto view = arp::ViewMut::unchecked(out);
    view.set_operation(static_cast<arp::Operation>(3));
    CHECK(static_cast<std::uint16_t>(arp::View::unchecked(out).operation()) == 3);
  }
}
