// wire/udp: golden bytes, round trips, length checks and checksum rules (RFC 768;
// RFC 1122 §4.1.3.4; docs/hostile-inputs.md #31-#32).
#include <doctest/doctest.h>

#include <algorithm>

#include "stack/wire/udp.hpp"
#include "support/bytes.hpp"

using namespace stack;
using namespace stack::wire;

namespace doctest {
template <>
struct StringMaker<udp::Repr> {
  static String convert(const udp::Repr& r) { return r.describe().c_str(); }
};
}  // namespace doctest

namespace {

constexpr Ipv4Address kSrc = Ipv4Address::from_octets(10, 77, 0, 74);
constexpr Ipv4Address kDst = Ipv4Address::from_octets(10, 77, 0, 1);

// `echo -n hello > /dev/udp/10.77.0.1/9` and `echo -n ping > /dev/udp/10.77.0.1/5353` from
// 10.77.0.74, read from a TAP device in a throw-away network namespace (the kernel fills UDP
// checksums in software for a TAP device; a veth capture shows only the partial sum that
// checksum offload would have completed). IPv4 header stripped.
// "IP 10.77.0.74.41728 > 10.77.0.1.9: [udp sum ok] UDP, length 5". An odd-length payload: the
// checksum pads "hello" with one zero byte (RFC 768).
const Bytes kHello = test::hex("a300 0009 000d 0414 68656c6c6f");
// "IP 10.77.0.74.38963 > 10.77.0.1.5353: [udp sum ok]", an even-length payload.
const Bytes kPing = test::hex("9833 14e9 000c 5f04 70696e67");

Bytes with16(Bytes b, std::size_t at, std::uint16_t v) {
  store_be16(b, at, v);
  return b;
}

}  // namespace

TEST_SUITE("wire/udp") {
  TEST_CASE("deconstruct a captured datagram") {
    const auto p = udp::View::checked(kHello);
    REQUIRE(p.has_value());
    CHECK(p->src_port() == 41728);
    CHECK(p->dst_port() == 9);
    CHECK(p->length() == 13);
    CHECK(p->checksum() == 0x0414);
    CHECK(std::ranges::equal(p->payload(), to_bytes("hello")));
    CHECK(p->verify_checksum(kSrc, kDst));
  }

  TEST_CASE("construct both captured datagrams byte for byte") {
    Bytes out(kHello.size(), std::byte{0xaa});
    auto view = udp::ViewMut::unchecked(out);
    udp::Repr{.src_port = 41728, .dst_port = 9}.emit(view, kSrc, kDst, to_bytes("hello"));
    CHECK(out == kHello);

    Bytes out2(kPing.size());
    auto view2 = udp::ViewMut::unchecked(out2);
    udp::Repr{.src_port = 38963, .dst_port = 5353}.emit(view2, kSrc, kDst, to_bytes("ping"));
    CHECK(out2 == kPing);
  }

  TEST_CASE("parse and emit round trip") {
    const auto p = udp::View::checked(kPing);
    REQUIRE(p);
    const auto repr = udp::Repr::parse(*p);
    CHECK(repr == udp::Repr{.src_port = 38963, .dst_port = 5353});
    CHECK(repr.describe() == "UDP 38963 > 5353");
    Bytes out(udp::Repr::header_len() + p->payload().size());
    auto view = udp::ViewMut::unchecked(out);
    repr.emit(view, kSrc, kDst, p->payload());
    CHECK(out == kPing);
  }

  TEST_CASE("the checksum covers the pseudo-header (RFC 768)") {
    const auto p = udp::View::checked(kHello);
    REQUIRE(p);
    CHECK_FALSE(p->verify_checksum(kSrc, Ipv4Address::from_octets(10, 77, 0, 2)));
    CHECK_FALSE(p->verify_checksum(Ipv4Address::from_octets(10, 77, 0, 75), kDst));
  }

  TEST_CASE("a wrong non-zero checksum fails (RFC 1122 §4.1.3.4), every bit of an odd payload counts") {
    for (std::size_t bit = 0; bit < kHello.size() * 8; ++bit) {
      Bytes b = kHello;
      b[bit / 8] ^= std::byte(1u << (bit % 8));
      const auto p = udp::View::checked(b);
      if (!p || p->checksum() == 0) continue;  // length broken, or flipped into "no checksum"
      CAPTURE(bit);
      CHECK_FALSE(p->verify_checksum(kSrc, kDst));
    }
  }

  TEST_CASE("a zero checksum means none and is accepted (RFC 768)") {
    const Bytes b = with16(kHello, 6, 0);
    const auto p = udp::View::checked(b);
    REQUIRE(p);
    CHECK(p->verify_checksum(kSrc, kDst));
    CHECK(p->verify_checksum(Ipv4Address::any(), Ipv4Address::broadcast()));
  }

  TEST_CASE("a computed checksum of zero is sent as 0xffff (RFC 768)") {
    // Pick the 2-byte payload so the one's complement sum becomes 0xffff: first emit with a zero
    // payload, then put the checksum it got into the payload.
    Bytes out(udp::kHeaderLen + 2);
    auto view = udp::ViewMut::unchecked(out);
    const udp::Repr repr{.src_port = 1234, .dst_port = 5678};
    repr.emit(view, kSrc, kDst, test::hex("0000"));
    const std::uint16_t c = view.checksum();
    const Bytes payload{std::byte(c >> 8), std::byte(c & 0xff)};
    repr.emit(view, kSrc, kDst, payload);
    CHECK(view.checksum() == 0xffff);
    CHECK(udp::View::unchecked(out).verify_checksum(kSrc, kDst));
  }

  TEST_CASE("bytes after the length field are ignored, also by the checksum (docs/hostile-inputs.md #31)") {
    Bytes b = kHello;
    b.push_back(std::byte{0x77});  // the IP payload is one byte longer than the UDP datagram
    const auto p = udp::View::checked(b);
    REQUIRE(p);
    CHECK(p->payload().size() == 5);
    CHECK(p->datagram().size() == 13);
    CHECK(p->verify_checksum(kSrc, kDst));
  }

  TEST_CASE("a length field below 8 is rejected") {
    for (std::uint16_t len = 0; len < udp::kHeaderLen; ++len) {
      CAPTURE(len);
      CHECK_FALSE(udp::View::checked(with16(kHello, 4, len)).has_value());
    }
    CHECK(udp::View::checked(with16(kHello, 4, 8)).has_value());  // an empty datagram is valid
  }

  TEST_CASE("a length field beyond the buffer is rejected") {
    CHECK_FALSE(udp::View::checked(with16(kHello, 4, 14)).has_value());
    CHECK_FALSE(udp::View::checked(with16(kHello, 4, 0xffff)).has_value());
  }

  TEST_CASE("buffers shorter than the 8-byte header are rejected") {
    for (std::size_t len = 0; len < udp::kHeaderLen; ++len) {
      CAPTURE(len);
      CHECK_FALSE(udp::View::checked(std::span(kHello).first(len)).has_value());
    }
  }

  TEST_CASE("an empty payload round trips") {
    Bytes out(udp::kHeaderLen);
    auto view = udp::ViewMut::unchecked(out);
    udp::Repr{.src_port = 53, .dst_port = 40000}.emit(view, kSrc, kDst, {});
    const auto p = udp::View::checked(out);
    REQUIRE(p);
    CHECK(p->length() == 8);
    CHECK(p->payload().empty());
    CHECK(p->verify_checksum(kSrc, kDst));
  }
}
