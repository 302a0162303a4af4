// IPv4 addresses and CIDR prefixes as values (RFC 791 §3.2 addressing; RFC 4632 CIDR notation).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "stack/util/bytes.hpp"

namespace stack::wire {

struct Ipv4Address {
  std::uint32_t value = 0;  // host order: 10.77.0.1 is 0x0a4d0001

  static constexpr Ipv4Address from_octets(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return {(std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | std::uint32_t{d}};
  }
  static constexpr Ipv4Address any() { return {0}; }
  static constexpr Ipv4Address broadcast() { return {0xffffffffu}; }
  // Dotted quad only ("10.77.0.1"); no shorthand forms, no leading zeros beyond "0".
  static std::optional<Ipv4Address> parse(std::string_view text);

  constexpr bool is_unspecified() const { return value == 0; }
  constexpr bool is_broadcast() const { return value == 0xffffffffu; }
  constexpr bool is_multicast() const { return (value >> 28) == 0xe; }  // 224.0.0.0/4
  constexpr bool is_loopback() const { return (value >> 24) == 127; }
  constexpr std::array<std::uint8_t, 4> octets() const {
    return {static_cast<std::uint8_t>(value >> 24), static_cast<std::uint8_t>(value >> 16),
            static_cast<std::uint8_t>(value >> 8), static_cast<std::uint8_t>(value)};
  }
  std::string describe() const;  // "10.77.0.1"

  constexpr auto operator<=>(const Ipv4Address&) const = default;
};

inline Ipv4Address load_ipv4(std::span<const std::byte> b, std::size_t at) { return {load_be32(b, at)}; }
inline void store_ipv4(std::span<std::byte> b, std::size_t at, Ipv4Address a) { store_be32(b, at, a.value); }

// An address with a prefix length: our interface address ("10.77.0.100/24") or a route.
struct Ipv4Cidr {
  Ipv4Address address;
  std::uint8_t prefix_len = 32;

  static std::optional<Ipv4Cidr> parse(std::string_view text);  // "10.77.0.100/24"
  constexpr std::uint32_t mask() const {
    return prefix_len == 0 ? 0u : ~std::uint32_t{0} << (32 - prefix_len);
  }
  constexpr Ipv4Address network() const { return {address.value & mask()}; }
  constexpr Ipv4Address broadcast() const { return {address.value | ~mask()}; }
  constexpr bool contains(Ipv4Address a) const { return (a.value & mask()) == network().value; }
  // Prefix length from a dotted netmask (DHCP option 1); nullopt when the mask is not contiguous.
  static std::optional<std::uint8_t> prefix_from_mask(Ipv4Address mask);
  std::string describe() const;  // "10.77.0.100/24"

  constexpr bool operator==(const Ipv4Cidr&) const = default;
};

}  // namespace stack::wire
