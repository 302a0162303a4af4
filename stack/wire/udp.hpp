// User Datagram Protocol (RFC 768).
//
// Read first: RFC 768 (the whole page); RFC 1122 §4.1.3.4 (a host MUST verify a non-zero
// checksum and MUST discard on failure) and §4.1.3.1 (no Port Unreachable for broadcast);
// RFC 9293 §3.1's pseudo-header is the same one (checksum.hpp).
//
//  0      7 8     15 16    23 24    31
// +--------+--------+--------+--------+
// |   Source Port   | Destination Port|   0
// +--------+--------+--------+--------+
// |     Length      |    Checksum     |   4
// +--------+--------+--------+--------+
// |          data octets ...              8
//
// Length counts header + data. The checksum covers the pseudo-header (src, dst, zero, protocol
// 17, UDP length), the header and the data; zero means "no checksum" (RFC 768).
#pragma once

#include <cassert>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>

#include "stack/util/bytes.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/ip_address.hpp"

namespace stack::wire::udp {

namespace field {
inline constexpr Field src_port{0, 2};
inline constexpr Field dst_port{2, 4};
inline constexpr Field length{4, 6};
inline constexpr Field checksum{6, 8};
}  // namespace field

inline constexpr std::size_t kHeaderLen = field::checksum.end;  // 8
inline constexpr std::size_t kMaxPayloadLen = 0xffff - kHeaderLen;

// A view over one datagram: the IPv4 payload (already trimmed to the IPv4 total length).
template <class Byte>
class Packet {
 public:
  // 8 <= length field <= buf.size(). Bytes after `length` (IP payload longer than the UDP
  // datagram) are ignored, not an error: docs/hostile-inputs.md #31 "use UDP length, ignore the tail".
  static std::optional<Packet> checked(std::span<Byte> buf) {
    if (buf.size() < kHeaderLen) return std::nullopt;
    Packet p{buf};
    if (p.length() < kHeaderLen || p.length() > buf.size()) return std::nullopt;
    return p;
  }
  // For emission into a buffer we sized ourselves (at least kHeaderLen bytes).
  static Packet unchecked(std::span<Byte> buf) { return Packet{buf}; }

  std::uint16_t src_port() const { return load_be16(buf_, field::src_port); }
  std::uint16_t dst_port() const { return load_be16(buf_, field::dst_port); }
  std::uint16_t length() const { return load_be16(buf_, field::length); }
  std::uint16_t checksum() const { return load_be16(buf_, field::checksum); }
  // [8, length).
  std::span<Byte> payload() const { return buf_.subspan(kHeaderLen, length() - kHeaderLen); }
  // The datagram, [0, length).
  std::span<Byte> datagram() const { return buf_.first(length()); }
  // The whole buffer the view was made from.
  std::span<Byte> bytes() const { return buf_; }

  // RFC 768: "An all zero transmitted checksum value means that the transmitter generated no
  // checksum"; RFC 1122 §4.1.3.4 lets the receiver accept that over IPv4.
  bool verify_checksum(Ipv4Address src, Ipv4Address dst) const {
    if (checksum() == 0) return true;
    ChecksumAccumulator acc;
    acc.add_pseudo_header(src, dst, IpProtocol::Udp, length());
    acc.add(datagram());
    return acc.verifies();
  }

  void set_src_port(std::uint16_t v) requires(!std::is_const_v<Byte>) { store_be16(buf_, field::src_port, v); }
  void set_dst_port(std::uint16_t v) requires(!std::is_const_v<Byte>) { store_be16(buf_, field::dst_port, v); }
  void set_length(std::uint16_t v) requires(!std::is_const_v<Byte>) { store_be16(buf_, field::length, v); }
  void set_checksum(std::uint16_t v) requires(!std::is_const_v<Byte>) { store_be16(buf_, field::checksum, v); }
  // Computes the checksum over [0, length) (set the length first).
  // RFC 768: "If the computed checksum is zero, it is transmitted as all ones", since an
  // all-zero field would mean "no checksum".
  void fill_checksum(Ipv4Address src, Ipv4Address dst) requires(!std::is_const_v<Byte>) {
    set_checksum(0);
    ChecksumAccumulator acc;
    acc.add_pseudo_header(src, dst, IpProtocol::Udp, length());
    acc.add(datagram());
    const std::uint16_t sum = acc.finish();
    set_checksum(sum == 0 ? 0xffff : sum);
  }

 private:
  explicit Packet(std::span<Byte> buf) : buf_(buf) {}
  std::span<Byte> buf_;
};
using View = Packet<const std::byte>;
using ViewMut = Packet<std::byte>;

// The header as a plain value. Length and checksum are derived on emit; the payload is passed
// separately so a Repr stays a small value.
struct Repr {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;

  static Repr parse(const View& packet);
  static constexpr std::size_t header_len() { return kHeaderLen; }
  // Writes the header, copies `payload` after it, sets length = 8 + payload.size() and fills
  // the checksum. `packet` must hold at least 8 + payload.size() bytes (<= 65535).
  void emit(ViewMut& packet, Ipv4Address src, Ipv4Address dst, std::span<const std::byte> payload) const;
  std::string describe() const;  // "UDP 68 > 67"
  bool operator==(const Repr&) const = default;
};

}  // namespace stack::wire::udp
