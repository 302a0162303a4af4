// wire/ipv4: golden bytes, round trips, and every malformed length rejected (RFC 791 §3.1,
// RFC 1122 §3.2.1; docs/hostile-inputs.md #8-#14).
#include <doctest/doctest.h>

#include <algorithm>

#include "stack/wire/ipv4.hpp"
#include "support/bytes.hpp"

using namespace stack;
using namespace stack::wire;

namespace doctest {
template <>
struct StringMaker<ipv4::Repr> {
  static String convert(const ipv4::Repr& r) { return r.describe().c_str(); }
};
}  // namespace doctest

namespace {

// `ping -c 1 10.77.0.1` from 10.77.0.74, captured with `tcpdump -xx` on a veth pair between two
// throw-away network namespaces (Linux 6.x, iputils 20221126). Ethernet header stripped.
// (tos 0x0, ttl 64, id 2494, offset 0, flags [DF], proto ICMP (1), length 84)
const Bytes kEchoRequest = test::hex(
    "4500 0054 09be 4000 4001 1c07 0a4d 004a 0a4d 0001"
    "0800 c2d8 1809 0001 a6ec 066b 0000 0000 aff2 0100 0000 0000 1011 1213 1415"
    "1617 1819 1a1b 1c1d 1e1f 2021 2223 2425 2627 2829 2a2b 2c2d 2e2f 3031 3233 3435 3637");

// Same capture, `ping -s 1600 -M dont`: the second (last) fragment of the echo request.
// (tos 0x0, ttl 64, id 2500, offset 1480, flags [none], proto ICMP (1), length 148)
const Bytes kLastFragment = test::hex(
    "4500 0094 09c4 00b9 4001 5b08 0a4d 004a 0a4d 0001"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdd"
    "dedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfd"
    "feff000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d"
    "1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d"
    "3e3f");

// Its first fragment's header (flags [+], total length 1500): only the header is kept here.
const Bytes kFirstFragmentHeader = test::hex("4500 05dc 09c4 2000 4001 3679 0a4d 004a 0a4d 0001");

// A 4-byte UDP datagram ("ping") to 10.77.0.1:5353, read from a TAP device the same way. The
// kernel does not pad frames it writes to a TAP device, so the 14 bytes of Ethernet padding a
// real NIC adds to reach 60 bytes are appended by hand below.
const Bytes kShortUdp = test::hex(
    "4500 0020 c7f6 4000 4011 5df2 0a4d 004a 0a4d 0001"
    "9833 14e9 000c 5f04 7069 6e67");

const ipv4::Repr kEchoRequestRepr{
    .src = Ipv4Address::from_octets(10, 77, 0, 74),
    .dst = Ipv4Address::from_octets(10, 77, 0, 1),
    .protocol = IpProtocol::Icmp,
    .payload_len = 64,
    .ttl = 64,
    .ident = 0x09be,
    .dont_frag = true,
};

Bytes with(Bytes b, std::size_t at, std::uint8_t v) {
  b.at(at) = std::byte{v};
  return b;
}
Bytes with16(Bytes b, std::size_t at, std::uint16_t v) {
  store_be16(b, at, v);
  return b;
}

}  // namespace

TEST_SUITE("wire/ipv4") {
  TEST_CASE("deconstruct a captured echo request (RFC 791 §3.1)") {
    const auto ip = ipv4::View::checked(kEchoRequest);
    REQUIRE(ip.has_value());
    CHECK(ip->version() == 4);
    CHECK(ip->header_len() == 20);
    CHECK(ip->tos() == 0);
    CHECK(ip->total_len() == 84);
    CHECK(ip->ident() == 0x09be);
    CHECK(ip->dont_frag());
    CHECK_FALSE(ip->more_frags());
    CHECK(ip->frag_offset() == 0);
    CHECK(ip->ttl() == 64);
    CHECK(ip->protocol() == IpProtocol::Icmp);
    CHECK(ip->checksum() == 0x1c07);
    CHECK(ip->src() == Ipv4Address::from_octets(10, 77, 0, 74));
    CHECK(ip->dst() == Ipv4Address::from_octets(10, 77, 0, 1));
    CHECK(ip->options().empty());
    CHECK(ip->payload().size() == 64);
    CHECK(ip->payload()[0] == std::byte{0x08});
    CHECK(ip->verify_checksum());
  }

  TEST_CASE("construct the same header byte for byte, checksum included") {
    Bytes out(ipv4::Repr::header_len() + 64, std::byte{0xaa});
    auto view = ipv4::ViewMut::unchecked(out);
    kEchoRequestRepr.emit(view);
    CHECK(std::equal(out.begin(), out.begin() + 20, kEchoRequest.begin()));
    CHECK(out[20] == std::byte{0xaa});  // emit writes the header only
  }

  TEST_CASE("parse and emit round trip") {
    const auto ip = ipv4::View::checked(kEchoRequest);
    REQUIRE(ip);
    const auto repr = ipv4::Repr::parse(*ip);
    CHECK(repr == kEchoRequestRepr);
    CHECK(repr.describe() ==
          "IP (tos 0x0, ttl 64, id 2494, offset 0, flags [DF], proto ICMP (1), length 84) 10.77.0.74 > 10.77.0.1");
    Bytes out(ipv4::Repr::header_len() + repr.payload_len);
    auto view = ipv4::ViewMut::unchecked(out);
    repr.emit(view);
    const auto again = ipv4::View::checked(out);
    REQUIRE(again);
    CHECK(again->verify_checksum());
    CHECK(ipv4::Repr::parse(*again) == repr);
  }

  TEST_CASE("fragment fields: offset is in bytes, MF and DF are separate bits (RFC 791 §3.1)") {
    const auto last = ipv4::View::checked(kLastFragment);
    REQUIRE(last);
    CHECK(last->frag_offset() == 1480);  // 0x00b9 eight-byte units
    CHECK_FALSE(last->more_frags());
    CHECK_FALSE(last->dont_frag());
    CHECK(last->payload().size() == 128);
    CHECK(last->verify_checksum());
    const auto repr = ipv4::Repr::parse(*last);
    CHECK(repr.describe() ==
          "IP (tos 0x0, ttl 64, id 2500, offset 1480, flags [none], proto ICMP (1), length 148) 10.77.0.74 > 10.77.0.1");

    // The first fragment's header says "more fragments" and offset 0.
    const auto first = ipv4::View::unchecked(kFirstFragmentHeader);
    CHECK(first.more_frags());
    CHECK(first.frag_offset() == 0);
    CHECK(internet_checksum(kFirstFragmentHeader) == 0);

    // Emitting the last fragment from its Repr reproduces the captured header.
    Bytes out(kLastFragment.size());
    auto view = ipv4::ViewMut::unchecked(out);
    repr.emit(view);
    CHECK(std::equal(out.begin(), out.begin() + 20, kLastFragment.begin()));
  }

  TEST_CASE("flag and offset setters leave each other alone") {
    Bytes out(20);
    auto view = ipv4::ViewMut::unchecked(out);
    view.set_frag_offset(65528);  // the largest offset: 0x1fff units
    view.set_more_frags(true);
    view.set_dont_frag(true);
    CHECK(view.frag_offset() == 65528);
    CHECK(view.more_frags());
    CHECK(view.dont_frag());
    view.set_dont_frag(false);
    CHECK(view.more_frags());
    CHECK(view.frag_offset() == 65528);
    view.set_frag_offset(8);
    CHECK(view.more_frags());
    CHECK(view.frag_offset() == 8);
    out[6] = std::byte{0xff};  // reserved bit set by a peer
    view.clear_flags();
    CHECK(load_be16(out, 6) == 0x1f01);  // offset bits kept, all three flags cleared
    view.set_version(4);
    view.set_header_len(24);
    CHECK(view.version() == 4);
    CHECK(view.header_len() == 24);
  }

  TEST_CASE("Ethernet padding is not payload (docs/hostile-inputs.md #12)") {
    Bytes padded = kShortUdp;
    padded.resize(kShortUdp.size() + 14, std::byte{0});  // 14 + 46 = the 60-byte Ethernet minimum
    const auto ip = ipv4::View::checked(padded);
    REQUIRE(ip);
    CHECK(ip->total_len() == 32);
    CHECK(ip->payload().size() == 12);  // 8 UDP header + "ping", not the 14 zeros
    CHECK(ip->bytes().size() == 46);
    CHECK(ipv4::Repr::parse(*ip).payload_len == 12);
  }

  TEST_CASE("options are skipped by parse and never emitted (RFC 1122 §3.2.1.8)") {
    // The echo request with a Router Alert option (RFC 2113: 94 04 0000) spliced in: IHL 6.
    Bytes b(kEchoRequest.begin(), kEchoRequest.begin() + 20);
    const Bytes option = test::hex("9404 0000");
    b.insert(b.end(), option.begin(), option.end());
    b.insert(b.end(), kEchoRequest.begin() + 20, kEchoRequest.end());
    b[0] = std::byte{0x46};
    store_be16(b, 2, 88);
    auto mut = ipv4::ViewMut::unchecked(b);
    mut.fill_checksum();

    const auto ip = ipv4::View::checked(b);
    REQUIRE(ip);
    CHECK(ip->header_len() == 24);
    CHECK(std::ranges::equal(ip->options(), option));
    CHECK(ip->payload().size() == 64);
    CHECK(ip->payload()[0] == std::byte{0x08});
    CHECK(ip->verify_checksum());
    CHECK(ipv4::Repr::parse(*ip) == kEchoRequestRepr);

    // The checksum covers the options too (RFC 791 §3.1 "Header Checksum").
    b[21] = std::byte{0x05};
    CHECK_FALSE(ipv4::View::checked(b)->verify_checksum());
  }

  TEST_CASE("a corrupted header fails verify_checksum (RFC 1122 §3.2.1.2), checked() does not look") {
    for (std::size_t bit = 0; bit < 20 * 8; ++bit) {
      Bytes b = kEchoRequest;
      b[bit / 8] ^= std::byte(1u << (bit % 8));
      const auto ip = ipv4::View::checked(b);
      if (!ip) continue;  // the flip broke a length or the version: rejected earlier
      CAPTURE(bit);
      CHECK_FALSE(ip->verify_checksum());
    }
    // A payload flip is the transport's business, not the IP header checksum's.
    CHECK(ipv4::View::checked(with(kEchoRequest, 40, 0xff))->verify_checksum());
  }

  TEST_CASE("version other than 4 is rejected (RFC 1122 §3.2.1.1)") {
    for (const std::uint8_t v : std::initializer_list<std::uint8_t>{0, 1, 5, 6, 15}) {
      CAPTURE(v);
      CHECK_FALSE(ipv4::View::checked(with(kEchoRequest, 0, static_cast<std::uint8_t>(v << 4 | 5))).has_value());
    }
  }

  TEST_CASE("IHL below 5 is rejected") {
    for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
      CAPTURE(ihl);
      CHECK_FALSE(ipv4::View::checked(with(kEchoRequest, 0, static_cast<std::uint8_t>(0x40 | ihl))).has_value());
    }
  }

  TEST_CASE("IHL reaching past the buffer is rejected") {
    // A 20-byte buffer whose IHL claims 24..60 bytes (and total_len agrees with the claim).
    const Bytes header(kEchoRequest.begin(), kEchoRequest.begin() + 20);
    for (std::uint8_t ihl = 6; ihl <= 15; ++ihl) {
      CAPTURE(ihl);
      const Bytes b = with16(with(header, 0, static_cast<std::uint8_t>(0x40 | ihl)), 2, static_cast<std::uint16_t>(ihl * 4));
      CHECK_FALSE(ipv4::View::checked(b).has_value());
      CHECK_FALSE(ipv4::View::checked_prefix(b).has_value());
    }
  }

  TEST_CASE("total length below the header length is rejected (docs/hostile-inputs.md #13)") {
    for (const std::uint16_t len : std::initializer_list<std::uint16_t>{0, 1, 19}) {
      CAPTURE(len);
      CHECK_FALSE(ipv4::View::checked(with16(kEchoRequest, 2, len)).has_value());
    }
    // IHL 6 (24 bytes) with total length 20..23.
    for (std::uint16_t len = 20; len < 24; ++len) {
      CAPTURE(len);
      CHECK_FALSE(ipv4::View::checked(with16(with(kEchoRequest, 0, 0x46), 2, len)).has_value());
    }
    CHECK(ipv4::View::checked(with16(kEchoRequest, 2, 20)).has_value());  // an empty payload is fine
  }

  TEST_CASE("total length beyond the buffer is rejected (docs/hostile-inputs.md #11)") {
    CHECK_FALSE(ipv4::View::checked(with16(kEchoRequest, 2, 85)).has_value());
    CHECK_FALSE(ipv4::View::checked(with16(kEchoRequest, 2, 1500)).has_value());
    CHECK_FALSE(ipv4::View::checked(with16(kEchoRequest, 2, 0xffff)).has_value());
    CHECK_FALSE(ipv4::View::checked(std::span(kEchoRequest).first(83)).has_value());
  }

  TEST_CASE("buffers shorter than 20 bytes are rejected") {
    for (std::size_t len = 0; len < ipv4::kMinHeaderLen; ++len) {
      CAPTURE(len);
      CHECK_FALSE(ipv4::View::checked(std::span(kEchoRequest).first(len)).has_value());
      CHECK_FALSE(ipv4::View::checked_prefix(std::span(kEchoRequest).first(len)).has_value());
    }
  }

  TEST_CASE("checked_prefix accepts a quoted header whose datagram does not fit, and clips payload()") {
    const auto quoted = std::span(kEchoRequest).first(28);  // what an ICMP error quotes
    CHECK_FALSE(ipv4::View::checked(quoted).has_value());
    const auto ip = ipv4::View::checked_prefix(quoted);
    REQUIRE(ip);
    CHECK(ip->total_len() == 84);
    CHECK(ip->payload().size() == 8);
    CHECK(ipv4::Repr::parse(*ip).payload_len == 64);
    // It still enforces the header's own consistency.
    CHECK_FALSE(ipv4::View::checked_prefix(with16(kEchoRequest, 2, 19)).has_value());
  }

  TEST_CASE("protocol names follow tcpdump, unknown ones print as numbers") {
    CHECK(describe(IpProtocol::Icmp) == "ICMP");
    CHECK(describe(IpProtocol::Tcp) == "TCP");
    CHECK(describe(IpProtocol::Udp) == "UDP");
    CHECK(describe(static_cast<IpProtocol>(47)) == "47");
    ipv4::Repr r = kEchoRequestRepr;
    r.protocol = static_cast<IpProtocol>(47);
    r.more_frags = true;
    r.tos = 0xc0;
    CHECK(r.describe() ==
          "IP (tos 0xc0, ttl 64, id 2494, offset 0, flags [DF+], proto 47, length 84) 10.77.0.74 > 10.77.0.1");
  }
}
