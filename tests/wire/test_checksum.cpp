// wire/checksum: RFC 1071 examples and a captured IPv4 header.
#include <doctest/doctest.h>

#include "stack/wire/checksum.hpp"
#include "support/bytes.hpp"

using namespace stack;
using namespace stack::wire;

TEST_SUITE("wire/checksum") {
  TEST_CASE("RFC 1071 §3 numerical example sums to 0xddf2") {
    // Bytes 00 01 f2 03 f4 f5 f6 f7: the one's complement sum is 0xddf2, the checksum its complement.
    CHECK(internet_checksum(test::hex("0001f203f4f5f6f7")) == static_cast<std::uint16_t>(~0xddf2));
  }
  TEST_CASE("an odd trailing byte is padded with zero") {
    CHECK(internet_checksum(test::hex("01")) == internet_checksum(test::hex("0100")));
  }
  TEST_CASE("an IPv4 header verifies once its checksum is filled in, and a flipped bit does not") {
    // 10.77.0.74 > 10.77.0.1 ICMP, ttl 64, id 0x1c46, DF, checksum field zeroed, then filled in.
    Bytes header = test::hex("45000054 1c464000 4001 0000 0a4d004a 0a4d0001");
    const std::uint16_t sum = internet_checksum(header);
    header[10] = static_cast<std::byte>(sum >> 8);
    header[11] = static_cast<std::byte>(sum & 0xff);
    ChecksumAccumulator ok;
    ok.add(header);
    CHECK(ok.verifies());
    header[8] ^= std::byte{0x01};
    ChecksumAccumulator bad;
    bad.add(header);
    CHECK_FALSE(bad.verifies());
  }
  TEST_CASE("pseudo-header words are added as RFC 768 lays them out") {
    ChecksumAccumulator a;
    a.add_pseudo_header(Ipv4Address::from_octets(10, 77, 0, 74), Ipv4Address::from_octets(10, 77, 0, 1), IpProtocol::Udp, 8);
    ChecksumAccumulator b;
    b.add(test::hex("0a4d004a 0a4d0001 0011 0008"));
    CHECK(a.finish() == b.finish());
  }
}
