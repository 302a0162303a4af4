// Address Resolution Protocol for Ethernet and IPv4 (RFC 826).
//
// Read first: RFC 826 ("Packet format" and "Packet Reception": the merge rule lives in
// iface/arp_cache, not here); RFC 1122 §2.3.2 (cache and flooding rules); RFC 5227 (probes with
// sender IP 0.0.0.0, announcements).
//
// RFC 826 allows any hardware/protocol pair with variable address lengths. We only speak
// Ethernet (htype 1, hlen 6) and IPv4 (ptype 0x0800, plen 4), so the layout is fixed:
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |       Hardware type (1)       |     Protocol type (0x0800)    |   0
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |   hlen (6)    |   plen (4)    |           Operation           |   4
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                  Sender hardware address (6)                  |   8
// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                               |  Sender protocol address (4)  |  12
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
// |                               |                               |  16
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
// |                  Target hardware address (6)                  |  20
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                  Target protocol address (4)                  |  24
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>

#include "stack/util/bytes.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ip_address.hpp"

namespace stack::wire::arp {

namespace field {
inline constexpr Field htype{0, 2};
inline constexpr Field ptype{2, 4};
inline constexpr std::size_t hlen = 4;
inline constexpr std::size_t plen = 5;
inline constexpr Field operation{6, 8};
inline constexpr Field sender_mac{8, 14};
inline constexpr Field sender_ip{14, 18};
inline constexpr Field target_mac{18, 24};
inline constexpr Field target_ip{24, 28};
}  // namespace field

inline constexpr std::size_t kPacketLen = field::target_ip.end;  // 28
inline constexpr std::uint16_t kHtypeEthernet = 1;  // RFC 826 "ares_hrd$Ethernet"
inline constexpr std::uint8_t kHlenEthernet = 6;
inline constexpr std::uint8_t kPlenIpv4 = 4;

// RFC 826 opcodes; the enum can hold any 16-bit value (RARP's 3/4 survive a round trip).
enum class Operation : std::uint16_t { Request = 1, Reply = 2 };

// A view over one ARP packet (an Ethernet payload, possibly padded past 28 bytes).
template <class Byte>
class Packet {
 public:
  // Only checks the length: with at least 28 bytes every fixed-offset accessor is in bounds.
  // Whether the packet is Ethernet/IPv4 at all is Repr::parse's question.
  static std::optional<Packet> checked(std::span<Byte> buf) {
    if (buf.size() < kPacketLen) return std::nullopt;
    return Packet{buf};
  }
  // For emission into a buffer we sized ourselves (at least kPacketLen bytes).
  static Packet unchecked(std::span<Byte> buf) { return Packet{buf}; }

  std::uint16_t htype() const { return load_be16(buf_, field::htype); }
  EtherType ptype() const { return static_cast<EtherType>(load_be16(buf_, field::ptype)); }
  std::uint8_t hlen() const { return load_u8(buf_, field::hlen); }
  std::uint8_t plen() const { return load_u8(buf_, field::plen); }
  Operation operation() const { return static_cast<Operation>(load_be16(buf_, field::operation)); }
  MacAddress sender_mac() const { return load_mac(buf_, field::sender_mac.begin); }
  Ipv4Address sender_ip() const { return load_ipv4(buf_, field::sender_ip.begin); }
  MacAddress target_mac() const { return load_mac(buf_, field::target_mac.begin); }
  Ipv4Address target_ip() const { return load_ipv4(buf_, field::target_ip.begin); }
  std::span<Byte> bytes() const { return buf_; }

  void set_htype(std::uint16_t v) requires(!std::is_const_v<Byte>) { store_be16(buf_, field::htype, v); }
  void set_ptype(EtherType v) requires(!std::is_const_v<Byte>) {
    store_be16(buf_, field::ptype, static_cast<std::uint16_t>(v));
  }
  void set_hlen(std::uint8_t v) requires(!std::is_const_v<Byte>) { store_u8(buf_, field::hlen, v); }
  void set_plen(std::uint8_t v) requires(!std::is_const_v<Byte>) { store_u8(buf_, field::plen, v); }
  void set_operation(Operation op) requires(!std::is_const_v<Byte>) {
    store_be16(buf_, field::operation, static_cast<std::uint16_t>(op));
  }
  void set_sender_mac(const MacAddress& m) requires(!std::is_const_v<Byte>) { store_mac(buf_, field::sender_mac.begin, m); }
  void set_sender_ip(Ipv4Address a) requires(!std::is_const_v<Byte>) { store_ipv4(buf_, field::sender_ip.begin, a); }
  void set_target_mac(const MacAddress& m) requires(!std::is_const_v<Byte>) { store_mac(buf_, field::target_mac.begin, m); }
  void set_target_ip(Ipv4Address a) requires(!std::is_const_v<Byte>) { store_ipv4(buf_, field::target_ip.begin, a); }

 private:
  explicit Packet(std::span<Byte> buf) : buf_(buf) {}
  std::span<Byte> buf_;
};
using View = Packet<const std::byte>;
using ViewMut = Packet<std::byte>;

// An Ethernet/IPv4 ARP packet as a plain value.
struct Repr {
  Operation operation{};
  MacAddress sender_mac;
  Ipv4Address sender_ip;
  MacAddress target_mac;
  Ipv4Address target_ip;

  // nullopt unless htype 1, ptype 0x0800, hlen 6, plen 4 and operation Request or Reply: anything
  // else would put the addresses at other offsets, or is RARP/InARP which a host ignores.
  static std::optional<Repr> parse(const View& packet);
  static constexpr std::size_t buffer_len() { return kPacketLen; }
  // Writes all 28 bytes; `packet` must hold at least buffer_len() bytes.
  void emit(ViewMut& packet) const;
  // tcpdump -n: "Request who-has 10.77.0.1 tell 10.77.0.74", "Reply 10.77.0.1 is-at 46:e0:e8:63:d0:9e".
  std::string describe() const;
  bool operator==(const Repr&) const = default;
};

}  // namespace stack::wire::arp
