// Hand-built frames for the driver tests: an ARP request (RFC 826), an ICMP echo request
// (RFC 792) and a UDP datagram (RFC 768), byte by byte, so the driver tests depend on no parser
// from stack/wire beyond the checksum.
#pragma once

#include <cstdint>

#include "stack/util/bytes.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ip_address.hpp"

namespace test {

using stack::Bytes;
using stack::wire::Ipv4Address;
using stack::wire::MacAddress;

inline constexpr MacAddress kOurMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
inline constexpr Ipv4Address kOurIp = Ipv4Address::from_octets(10, 99, 0, 2);
inline constexpr Ipv4Address kKernelIp = Ipv4Address::from_octets(10, 99, 0, 1);

inline void put_ethernet(Bytes& f, const MacAddress& dst, const MacAddress& src, std::uint16_t type) {
  f.resize(14);
  stack::wire::store_mac(f, 0, dst);
  stack::wire::store_mac(f, 6, src);
  stack::store_be16(f, 12, type);
}

// "who-has tpa tell spa", broadcast.
inline Bytes arp_request(const MacAddress& sha, Ipv4Address spa, Ipv4Address tpa) {
  Bytes f;
  put_ethernet(f, MacAddress::broadcast(), sha, 0x0806);
  f.resize(14 + 28);
  stack::store_be16(f, 14, 1);       // htype Ethernet
  stack::store_be16(f, 16, 0x0800);  // ptype IPv4
  stack::store_u8(f, 18, 6);
  stack::store_u8(f, 19, 4);
  stack::store_be16(f, 20, 1);  // op request
  stack::wire::store_mac(f, 22, sha);
  stack::wire::store_ipv4(f, 28, spa);
  stack::wire::store_mac(f, 32, MacAddress{});
  stack::wire::store_ipv4(f, 38, tpa);
  return f;
}

inline void put_ipv4(Bytes& f, Ipv4Address src, Ipv4Address dst, std::uint8_t protocol, std::size_t payload_len) {
  f.resize(14 + 20 + payload_len);
  stack::store_u8(f, 14, 0x45);
  stack::store_u8(f, 15, 0);
  stack::store_be16(f, 16, static_cast<std::uint16_t>(20 + payload_len));
  stack::store_be16(f, 18, 0x1c46);  // identification
  stack::store_be16(f, 20, 0x4000);  // DF
  stack::store_u8(f, 22, 64);
  stack::store_u8(f, 23, protocol);
  stack::store_be16(f, 24, 0);
  stack::wire::store_ipv4(f, 26, src);
  stack::wire::store_ipv4(f, 30, dst);
  stack::store_be16(f, 24, stack::wire::internet_checksum(std::span<const std::byte>(f).subspan(14, 20)));
}

// An echo request with `data_len` bytes of data 0x00, 0x01, ... (tcpdump reports 8 + data_len).
inline Bytes icmp_echo_request(const MacAddress& dst_mac, const MacAddress& src_mac, Ipv4Address src,
                               Ipv4Address dst, std::uint16_t id, std::uint16_t seq, std::size_t data_len = 56) {
  Bytes f;
  put_ethernet(f, dst_mac, src_mac, 0x0800);
  put_ipv4(f, src, dst, 1, 8 + data_len);
  const std::size_t icmp = 34;
  stack::store_u8(f, icmp, 8);  // echo request
  stack::store_u8(f, icmp + 1, 0);
  stack::store_be16(f, icmp + 4, id);
  stack::store_be16(f, icmp + 6, seq);
  for (std::size_t i = 0; i < data_len; ++i) f[icmp + 8 + i] = static_cast<std::byte>(i & 0xff);
  stack::store_be16(f, icmp + 2, stack::wire::internet_checksum(std::span<const std::byte>(f).subspan(icmp)));
  return f;
}

// True when the UDP datagram in an Ethernet/IPv4 (no options) frame has a valid, non-zero checksum.
inline bool udp_checksum_valid(std::span<const std::byte> f) {
  if (f.size() < 42 || stack::load_be16(f, 12) != 0x0800 || stack::load_u8(f, 23) != 17) return false;
  const std::uint16_t udp_len = stack::load_be16(f, 38);
  if (34u + udp_len > f.size() || stack::load_be16(f, 40) == 0) return false;
  stack::wire::ChecksumAccumulator sum;
  sum.add_pseudo_header(stack::wire::load_ipv4(f, 26), stack::wire::load_ipv4(f, 30), stack::wire::IpProtocol::Udp,
                        udp_len);
  sum.add(f.subspan(34, udp_len));
  return sum.verifies();
}

// True when the TCP or UDP checksum of an Ethernet/IPv4 (no options) frame verifies; the
// segment length comes from the IPv4 total length, so this works for GSO super-frames too.
inline bool l4_checksum_valid(std::span<const std::byte> f) {
  if (f.size() < 34 || stack::load_be16(f, 12) != 0x0800) return false;
  const std::uint16_t total = stack::load_be16(f, 16);
  if (total < 20 || 14u + total > f.size()) return false;
  const auto proto = static_cast<stack::wire::IpProtocol>(stack::load_u8(f, 23));
  const auto l4_len = static_cast<std::uint16_t>(total - 20);
  stack::wire::ChecksumAccumulator sum;
  sum.add_pseudo_header(stack::wire::load_ipv4(f, 26), stack::wire::load_ipv4(f, 30), proto, l4_len);
  sum.add(f.subspan(34, l4_len));
  return sum.verifies();
}

// A TCP segment (RFC 9293 §3.1) with no payload; an MSS option when `mss` is non-zero.
inline Bytes tcp_segment(const MacAddress& dst_mac, const MacAddress& src_mac, Ipv4Address src, Ipv4Address dst,
                         std::uint16_t sport, std::uint16_t dport, std::uint32_t seq, std::uint32_t ack,
                         std::uint8_t flags, std::uint16_t window, std::uint16_t mss = 0) {
  const std::size_t tcp_len = mss ? 24 : 20;
  Bytes f;
  put_ethernet(f, dst_mac, src_mac, 0x0800);
  put_ipv4(f, src, dst, 6, tcp_len);
  const std::size_t t = 34;
  stack::store_be16(f, t, sport);
  stack::store_be16(f, t + 2, dport);
  stack::store_be32(f, t + 4, seq);
  stack::store_be32(f, t + 8, ack);
  stack::store_u8(f, t + 12, static_cast<std::uint8_t>((tcp_len / 4) << 4));
  stack::store_u8(f, t + 13, flags);
  stack::store_be16(f, t + 14, window);
  if (mss) {
    stack::store_u8(f, t + 20, 2);  // kind MSS
    stack::store_u8(f, t + 21, 4);
    stack::store_be16(f, t + 22, mss);
  }
  stack::wire::ChecksumAccumulator sum;
  sum.add_pseudo_header(src, dst, stack::wire::IpProtocol::Tcp, static_cast<std::uint16_t>(tcp_len));
  sum.add(std::span<const std::byte>(f).subspan(t));
  stack::store_be16(f, t + 16, sum.finish());
  return f;
}

// A frame of `len` bytes whose payload encodes `index`, to tell frames apart after a link.
inline Bytes numbered_frame(std::uint32_t index, std::size_t len = 64) {
  Bytes f;
  put_ethernet(f, MacAddress{{0x02, 0, 0, 0, 0, 0xb}}, MacAddress{{0x02, 0, 0, 0, 0, 0xa}}, 0x88b5);  // local experimental
  f.resize(len);
  stack::store_be32(f, 14, index);
  return f;
}
inline std::uint32_t frame_index(std::span<const std::byte> f) { return stack::load_be32(f, 14); }

}  // namespace test
