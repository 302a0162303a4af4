// wire/icmpv4: golden bytes for echo, time exceeded and port unreachable, round trips, and
// rejection of short, unknown and badly quoting messages (RFC 792; RFC 1122 §3.2.2;
// docs/hostile-inputs.md #25-#26).
#include <doctest/doctest.h>

#include <algorithm>

#include "stack/wire/icmpv4.hpp"
#include "support/bytes.hpp"

using namespace stack;
using namespace stack::wire;

namespace doctest {
template <>
struct StringMaker<icmpv4::Repr> {
  static String convert(const icmpv4::Repr& r) { return r.describe().c_str(); }
};
}  // namespace doctest

namespace {

// All captured with `tcpdump -xx` on a veth pair between throw-away network namespaces:
// host 10.77.0.74, router 10.77.0.1 (forwarding to 10.78.0.0/24). IPv4 headers stripped.

// `ping -c 1 10.77.0.1`: "ICMP echo request, id 6153, seq 1, length 64"
const Bytes kEchoRequest = test::hex(
    "0800 c2d8 1809 0001 a6ec 066b 0000 0000 aff2 0100 0000 0000 1011 1213 1415"
    "1617 1819 1a1b 1c1d 1e1f 2021 2223 2425 2627 2829 2a2b 2c2d 2e2f 3031 3233 3435 3637");
// ... and the kernel's answer: "ICMP echo reply, id 6153, seq 1, length 64"
const Bytes kEchoReply = test::hex(
    "0000 cad8 1809 0001 a6ec 066b 0000 0000 aff2 0100 0000 0000 1011 1213 1415"
    "1617 1819 1a1b 1c1d 1e1f 2021 2223 2425 2627 2829 2a2b 2c2d 2e2f 3031 3233 3435 3637");

// `ping -c 1 -t 1 10.78.0.2`, answered by the router: "ICMP time exceeded in-transit, length 92".
// Linux quotes the whole 84-byte datagram, not just 28 bytes.
const Bytes kTimeExceeded = test::hex(
    "0b00 f4ff 0000 0000"
    "4500 0054 fb70 4000 0101 6952 0a4d 004a 0a4e 0002"
    "0800 b465 180e 0001 a6ec 066b 0000 0000 bd60 0200 0000 0000 1011 1213 1415 1617 1819"
    "1a1b 1c1d 1e1f 2021 2223 2425 2627 2829 2a2b 2c2d 2e2f 3031 3233 3435 3637");

// `echo -n hello > /dev/udp/10.77.0.1/9` (closed port):
// "ICMP 10.77.0.1 udp port 9 unreachable, length 41".
const Bytes kPortUnreachable = test::hex(
    "0303 0e8d 0000 0000"
    "4500 0021 36d4 4000 4011 ef13 0a4d 004a 0a4d 0001"
    "9584 0009 000d 1503 6865 6c6c 6f");

constexpr Ipv4Address kHost = Ipv4Address::from_octets(10, 77, 0, 74);
constexpr Ipv4Address kRouter = Ipv4Address::from_octets(10, 77, 0, 1);

Bytes with(Bytes b, std::size_t at, std::uint8_t v) {
  b.at(at) = std::byte{v};
  return b;
}

std::optional<icmpv4::Repr> parse(std::span<const std::byte> b) {
  const auto view = icmpv4::View::checked(b);
  if (!view) return std::nullopt;
  return icmpv4::Repr::parse(*view);
}

Bytes emit(const icmpv4::Repr& repr) {
  Bytes out(repr.buffer_len(), std::byte{0xaa});
  auto view = icmpv4::ViewMut::unchecked(out);
  repr.emit(view);
  return out;
}

}  // namespace

TEST_SUITE("wire/icmpv4") {
  TEST_CASE("deconstruct a captured echo request (RFC 792 Echo)") {
    const auto p = icmpv4::View::checked(kEchoRequest);
    REQUIRE(p.has_value());
    CHECK(p->type() == icmpv4::Type::EchoRequest);
    CHECK(p->code() == 0);
    CHECK(p->checksum() == 0xc2d8);
    CHECK(p->ident() == 6153);
    CHECK(p->seq_no() == 1);
    CHECK(p->rest_of_header() == 0x18090001);
    CHECK(p->data().size() == 56);
    CHECK(p->verify_checksum());
  }

  TEST_CASE("an echo reply built from the request's data matches the kernel's reply (RFC 1122 §3.2.2.6)") {
    const auto request = parse(kEchoRequest);
    REQUIRE(request);
    const auto* echo = std::get_if<icmpv4::EchoRequest>(&request->message);
    REQUIRE(echo != nullptr);
    CHECK(echo->ident == 6153);
    CHECK(echo->seq_no == 1);
    CHECK(std::ranges::equal(echo->data, std::span(kEchoRequest).subspan(8)));

    const icmpv4::Repr reply{icmpv4::EchoReply{echo->ident, echo->seq_no, echo->data}};
    CHECK(reply.buffer_len() == 64);
    CHECK(emit(reply) == kEchoReply);
    CHECK(emit(*request) == kEchoRequest);
    CHECK(parse(kEchoReply) == reply);
  }

  TEST_CASE("parse a captured time exceeded and emit it byte for byte") {
    const auto repr = parse(kTimeExceeded);
    REQUIRE(repr);
    const auto* te = std::get_if<icmpv4::TimeExceeded>(&repr->message);
    REQUIRE(te != nullptr);
    CHECK(te->code == icmpv4::kTtlExceededInTransit);
    CHECK(te->header == ipv4::Repr{.src = kHost,
                                   .dst = Ipv4Address::from_octets(10, 78, 0, 2),
                                   .protocol = IpProtocol::Icmp,
                                   .payload_len = 64,
                                   .ttl = 1,
                                   .ident = 0xfb70,
                                   .dont_frag = true});
    CHECK(te->data.size() == 64);
    CHECK(repr->buffer_len() == 92);
    CHECK(repr->describe() == "ICMP time exceeded in-transit, length 92");
    CHECK(emit(*repr) == kTimeExceeded);
  }

  TEST_CASE("parse a captured port unreachable and emit it byte for byte") {
    const auto repr = parse(kPortUnreachable);
    REQUIRE(repr);
    const auto* du = std::get_if<icmpv4::DestUnreachable>(&repr->message);
    REQUIRE(du != nullptr);
    CHECK(du->code == icmpv4::UnreachableCode::Port);
    CHECK(du->next_hop_mtu == 0);
    CHECK(du->header.protocol == IpProtocol::Udp);
    CHECK(du->header.src == kHost);
    CHECK(du->header.dst == kRouter);
    CHECK(du->header.payload_len == 13);
    CHECK(du->data.size() == 13);
    CHECK(repr->describe() == "ICMP 10.77.0.1 udp port 9 unreachable, length 41");
    CHECK(emit(*repr) == kPortUnreachable);
    CHECK(icmpv4::View::checked(kPortUnreachable)->verify_checksum());
  }

  TEST_CASE("fragmentation needed carries the next-hop MTU (RFC 1191 §4)") {
    // Built, not captured: a router's answer to a 1500-byte DF datagram on a 1280-byte link.
    const Bytes quoted_udp = test::hex("9584 0035 05c8 0000");
    const icmpv4::Repr repr{icmpv4::DestUnreachable{
        .code = icmpv4::UnreachableCode::FragNeeded,
        .next_hop_mtu = 1280,
        .header = {.src = kHost, .dst = kRouter, .protocol = IpProtocol::Udp, .payload_len = 1480, .dont_frag = true},
        .data = quoted_udp}};
    const Bytes out = emit(repr);
    CHECK(out.size() == 36);
    const auto view = icmpv4::View::checked(out);
    REQUIRE(view);
    CHECK(view->verify_checksum());
    CHECK(view->rest_of_header() == 1280);  // "unused" high half is zero
    CHECK(parse(out) == repr);
    CHECK(repr.describe() == "ICMP 10.77.0.1 unreachable - need to frag (mtu 1280), length 36");
  }

  TEST_CASE("describe follows tcpdump for every unreachable code") {
    auto text = [](icmpv4::UnreachableCode code, IpProtocol proto) {
      const Bytes ports = test::hex("1234 0050 0000 0000");
      icmpv4::Repr r{icmpv4::DestUnreachable{
          .code = code, .next_hop_mtu = 0, .header = {.src = kHost, .dst = kRouter, .protocol = proto, .payload_len = 8}, .data = ports}};
      return r.describe(36);
    };
    using C = icmpv4::UnreachableCode;
    CHECK(text(C::Net, IpProtocol::Udp) == "ICMP net 10.77.0.1 unreachable, length 36");
    CHECK(text(C::Host, IpProtocol::Udp) == "ICMP host 10.77.0.1 unreachable, length 36");
    CHECK(text(C::Protocol, static_cast<IpProtocol>(99)) == "ICMP 10.77.0.1 protocol 99 unreachable, length 36");
    CHECK(text(C::Port, IpProtocol::Tcp) == "ICMP 10.77.0.1 tcp port 80 unreachable, length 36");
    CHECK(text(C::Port, static_cast<IpProtocol>(132)) == "ICMP 10.77.0.1 protocol 132 port 80 unreachable, length 36");
    CHECK(text(C::FragNeeded, IpProtocol::Udp) == "ICMP 10.77.0.1 unreachable - need to frag, length 36");
    CHECK(text(C::AdminProhibited, IpProtocol::Udp) == "ICMP host 10.77.0.1 unreachable - admin prohibited filter, length 36");
    for (std::uint8_t c = 0; c <= icmpv4::kMaxUnreachableCode; ++c) {
      CAPTURE(c);
      CHECK(text(static_cast<C>(c), IpProtocol::Udp).find("10.77.0.1") != std::string::npos);
    }
  }

  TEST_CASE("reassembly time exceeded round trips") {
    const Bytes quoted = test::hex("9584 0035 05c8 0000");
    const icmpv4::Repr repr{icmpv4::TimeExceeded{
        .code = icmpv4::kFragReassemblyExceeded,
        .header = {.src = kHost, .dst = kRouter, .protocol = IpProtocol::Udp, .payload_len = 1480, .more_frags = true},
        .data = quoted}};
    CHECK(parse(emit(repr)) == repr);
    CHECK(repr.describe() == "ICMP ip reassembly time exceeded, length 36");
  }

  TEST_CASE("equality compares data by content, not by address") {
    const Bytes a = test::hex("0102 0304");
    const Bytes b = test::hex("0102 0304");
    const Bytes c = test::hex("0102 0305");
    CHECK(icmpv4::Repr{icmpv4::EchoRequest{1, 2, a}} == icmpv4::Repr{icmpv4::EchoRequest{1, 2, b}});
    CHECK_FALSE(icmpv4::Repr{icmpv4::EchoRequest{1, 2, a}} == icmpv4::Repr{icmpv4::EchoRequest{1, 2, c}});
    CHECK_FALSE(icmpv4::Repr{icmpv4::EchoRequest{1, 2, a}} == icmpv4::Repr{icmpv4::EchoReply{1, 2, a}});
  }

  TEST_CASE("messages shorter than the 8-byte header are rejected (docs/hostile-inputs.md #26)") {
    for (std::size_t len = 0; len < icmpv4::kHeaderLen; ++len) {
      CAPTURE(len);
      CHECK_FALSE(icmpv4::View::checked(std::span(kEchoRequest).first(len)).has_value());
    }
    // An echo with no data at all is fine.
    CHECK(parse(std::span(kEchoRequest).first(8)).has_value());
  }

  TEST_CASE("a corrupted message fails verify_checksum; parse does not look") {
    for (std::size_t bit = 0; bit < kEchoRequest.size() * 8; ++bit) {
      Bytes b = kEchoRequest;
      b[bit / 8] ^= std::byte(1u << (bit % 8));
      CAPTURE(bit);
      CHECK_FALSE(icmpv4::View::checked(b)->verify_checksum());
    }
    CHECK(parse(with(kEchoRequest, 20, 0x99)).has_value());
  }

  TEST_CASE("unknown types and codes are rejected (RFC 1122 §3.2.2)") {
    for (const std::uint8_t type : std::initializer_list<std::uint8_t>{1, 4, 5, 12, 13, 17, 18, 42, 255}) {  // incl. redirect, timestamp, mask
      CAPTURE(type);
      CHECK_FALSE(parse(with(kEchoRequest, 0, type)).has_value());
    }
    CHECK_FALSE(parse(with(kEchoRequest, 1, 1)).has_value());       // echo code 1
    CHECK_FALSE(parse(with(kPortUnreachable, 1, 16)).has_value());  // unreachable code 16
    CHECK_FALSE(parse(with(kTimeExceeded, 1, 2)).has_value());      // time exceeded code 2
    CHECK(parse(with(kPortUnreachable, 1, 15)).has_value());
  }

  TEST_CASE("an error whose quoted header is truncated is rejected (docs/hostile-inputs.md #26)") {
    // Fewer than 20 quoted bytes.
    for (std::size_t len = 8; len < 8 + ipv4::kMinHeaderLen; ++len) {
      CAPTURE(len);
      CHECK_FALSE(parse(std::span(kPortUnreachable).first(len)).has_value());
    }
    // The header is there but fewer than 8 bytes of the original payload (13 bytes) are.
    for (std::size_t len = 28; len < 36; ++len) {
      CAPTURE(len);
      CHECK_FALSE(parse(std::span(kPortUnreachable).first(len)).has_value());
    }
    CHECK(parse(std::span(kPortUnreachable).first(36)).has_value());  // RFC 792's minimum
  }

  TEST_CASE("an error whose quoted header is bogus is rejected") {
    CHECK_FALSE(parse(with(kPortUnreachable, 8, 0x65)).has_value());  // version 6
    CHECK_FALSE(parse(with(kPortUnreachable, 8, 0x44)).has_value());  // IHL 4
    CHECK_FALSE(parse(with(kPortUnreachable, 8, 0x4f)).has_value());  // IHL 15: 60 bytes, 33 quoted
    CHECK_FALSE(parse(with(kPortUnreachable, 11, 0x13)).has_value()); // total_len 19 < IHL
  }

  TEST_CASE("a quote of a datagram with less than 8 payload bytes may be whole") {
    // The offending datagram had a 4-byte payload (total_len 24): all of it is quoted.
    Bytes b = kPortUnreachable;
    b.resize(8 + 24);
    store_be16(b, 8 + 2, 24);
    const auto repr = parse(b);
    REQUIRE(repr);
    CHECK(std::get<icmpv4::DestUnreachable>(repr->message).data.size() == 4);
  }

  TEST_CASE("quoted options are skipped: data starts after the quoted IHL") {
    // Port unreachable quoting a header with a 4-byte option (IHL 6).
    Bytes b(kPortUnreachable.begin(), kPortUnreachable.begin() + 28);
    const Bytes option = test::hex("9404 0000");
    b.insert(b.end(), option.begin(), option.end());
    b.insert(b.end(), kPortUnreachable.begin() + 28, kPortUnreachable.end());
    b[8] = std::byte{0x46};
    store_be16(b, 8 + 2, 37);
    const auto repr = parse(b);
    REQUIRE(repr);
    const auto& du = std::get<icmpv4::DestUnreachable>(repr->message);
    CHECK(du.header.payload_len == 13);
    CHECK(std::ranges::equal(du.data, std::span(kPortUnreachable).subspan(28)));
  }
}
