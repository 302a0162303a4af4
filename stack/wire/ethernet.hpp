// Ethernet II framing (IEEE 802.3 / RFC 894 "A Standard for the Transmission of IP Datagrams
// over Ethernet Networks").
//
//  0                   6                  12        14
// +-------------------+------------------+---------+-----------------
// | destination MAC   | source MAC       | type    | payload (46..1500 on the wire; a TAP
// +-------------------+------------------+---------+ device hands us frames without padding
//                                                    checks and without the FCS)
//
// Read first: RFC 894; RFC 1122 §2.3.3 (Ethernet II framing MUST be supported).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>

#include "stack/util/bytes.hpp"

namespace stack::wire {

struct MacAddress {
  std::array<std::uint8_t, 6> octets{};

  static constexpr MacAddress broadcast() { return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  static std::optional<MacAddress> parse(std::string_view text);  // "02:00:00:00:00:01"

  constexpr bool is_broadcast() const { return *this == broadcast(); }
  constexpr bool is_multicast() const { return (octets[0] & 0x01) != 0; }  // includes broadcast
  constexpr bool is_unicast() const { return !is_multicast(); }
  constexpr bool is_locally_administered() const { return (octets[0] & 0x02) != 0; }
  std::string describe() const;  // lowercase, colon separated, like tcpdump and ip(8)

  constexpr bool operator==(const MacAddress&) const = default;
};

MacAddress load_mac(std::span<const std::byte> b, std::size_t at);
void store_mac(std::span<std::byte> b, std::size_t at, const MacAddress& mac);

// EtherType values (IEEE registry). Kept as a raw value so unknown types survive a round trip.
enum class EtherType : std::uint16_t {
  Ipv4 = 0x0800,
  Arp = 0x0806,
  Ipv6 = 0x86dd,
};
std::string describe(EtherType t);  // "IPv4", "ARP", "IPv6", or "0x88cc"

namespace ethernet {

namespace field {
inline constexpr Field destination{0, 6};
inline constexpr Field source{6, 12};
inline constexpr Field ethertype{12, 14};
}  // namespace field
inline constexpr std::size_t kHeaderLen = field::ethertype.end;  // 14

// A view over one frame. `Byte` is `const std::byte` (read-only) or `std::byte` (writable).
template <class Byte>
class Frame {
 public:
  // Validates everything the accessors rely on: after success no accessor reads out of bounds.
  static std::optional<Frame> checked(std::span<Byte> buf) {
    if (buf.size() < kHeaderLen) return std::nullopt;
    return Frame{buf};
  }
  // For emission into a buffer we sized ourselves.
  static Frame unchecked(std::span<Byte> buf) { return Frame{buf}; }

  MacAddress destination() const { return load_mac(buf_, field::destination.begin); }
  MacAddress source() const { return load_mac(buf_, field::source.begin); }
  EtherType ethertype() const { return static_cast<EtherType>(load_be16(buf_, field::ethertype)); }
  std::span<Byte> payload() const { return buf_.subspan(kHeaderLen); }
  std::span<Byte> bytes() const { return buf_; }

  void set_destination(const MacAddress& m) requires(!std::is_const_v<Byte>) { store_mac(buf_, field::destination.begin, m); }
  void set_source(const MacAddress& m) requires(!std::is_const_v<Byte>) { store_mac(buf_, field::source.begin, m); }
  void set_ethertype(EtherType t) requires(!std::is_const_v<Byte>) {
    store_be16(buf_, field::ethertype, static_cast<std::uint16_t>(t));
  }

 private:
  explicit Frame(std::span<Byte> buf) : buf_(buf) {}
  std::span<Byte> buf_;
};
using View = Frame<const std::byte>;
using ViewMut = Frame<std::byte>;

// The header as a plain value.
struct Repr {
  MacAddress src;
  MacAddress dst;
  EtherType ethertype{};

  static Repr parse(const View& frame);
  static constexpr std::size_t header_len() { return kHeaderLen; }
  // Writes the header; `frame` must be at least header_len() bytes.
  void emit(ViewMut& frame) const;
  std::string describe() const;  // "02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806)"
  bool operator==(const Repr&) const = default;
};

}  // namespace ethernet
}  // namespace stack::wire
