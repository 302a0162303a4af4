// The Internet checksum (RFC 1071) and the IPv4 pseudo-header used by UDP and TCP
// (RFC 768; RFC 9293 §3.1).
//
// The checksum is the 16-bit one's complement of the one's complement sum of the data taken as
// big-endian 16-bit words (an odd trailing byte is padded with zero). Summing into 32 bits and
// folding the carries at the end is equivalent (RFC 1071 §2 (B) "Deferred carries").
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/wire/ip_address.hpp"

namespace stack::wire {

enum class IpProtocol : std::uint8_t {
  Icmp = 1,
  Tcp = 6,
  Udp = 17,
};

class ChecksumAccumulator {
 public:
  // Adds bytes as 16-bit big-endian words. Spans of odd length may only be the last one added.
  void add(std::span<const std::byte> data);
  void add_u16(std::uint16_t v) { sum_ += v; }
  void add_u32(std::uint32_t v) { sum_ += (v >> 16) + (v & 0xffff); }
  // Adds the IPv4 pseudo-header: source, destination, zero, protocol, upper-layer length.
  void add_pseudo_header(Ipv4Address src, Ipv4Address dst, IpProtocol protocol, std::uint16_t length);
  // The folded one's complement sum, complemented: the value to store in a checksum field.
  std::uint16_t finish() const;
  // True when the data (which includes its checksum field) sums to 0xffff, i.e. is intact.
  bool verifies() const { return finish() == 0; }

 private:
  std::uint64_t sum_ = 0;
};

// Checksum of a single buffer (IPv4 header, ICMP message).
std::uint16_t internet_checksum(std::span<const std::byte> data);

}  // namespace stack::wire
