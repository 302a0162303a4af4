// wire/checksum: RFC 1071 examples and a captured IPv4 header.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "stack/util/random.hpp"
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

  TEST_CASE("the word-parallel sum equals the plain RFC 1071 16-bit big-endian sum for every length and alignment") {
    stack::Rng rng(1071);
    std::vector<std::byte> buf(300);
    for (int round = 0; round < 2000; ++round) {
      for (auto& b : buf) b = static_cast<std::byte>(rng.below(256));
      if (round % 7 == 0) std::fill(buf.begin(), buf.end(), std::byte{0xff});  // carry storms
      const std::size_t offset = rng.below(8), len = rng.below(290);
      const std::span<const std::byte> data(buf.data() + offset, len);
      std::uint64_t ref = 0;
      for (std::size_t i = 0; i < len; i += 2)
        ref += (static_cast<std::uint32_t>(data[i]) << 8) | (i + 1 < len ? static_cast<std::uint32_t>(data[i + 1]) : 0u);
      while (ref >> 16) ref = (ref & 0xffff) + (ref >> 16);
      CAPTURE(len);
      CAPTURE(offset);
      REQUIRE(stack::wire::internet_checksum(data) == static_cast<std::uint16_t>(~ref & 0xffff));
    }
  }
}
