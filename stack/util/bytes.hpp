// Big-endian (network order) loads and stores at named offsets.
//
// Every protocol field is read and written through these helpers: no packed structs, no
// reinterpret_cast over packet bytes, no in-place byte swapping (docs/architecture.md "Packets and views").
// Callers validate lengths first (a view's checked()); the helpers assert in debug builds only.
#pragma once

#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace stack {

// A field inside a header: bytes [begin, end).
struct Field {
  std::size_t begin;
  std::size_t end;
  constexpr std::size_t size() const { return end - begin; }
};

inline std::uint8_t load_u8(std::span<const std::byte> b, std::size_t at) {
  assert(at < b.size());
  return static_cast<std::uint8_t>(b[at]);
}
inline std::uint16_t load_be16(std::span<const std::byte> b, std::size_t at) {
  assert(at + 2 <= b.size());
  return static_cast<std::uint16_t>((static_cast<unsigned>(b[at]) << 8) |
                                    static_cast<unsigned>(b[at + 1]));
}
inline std::uint32_t load_be32(std::span<const std::byte> b, std::size_t at) {
  assert(at + 4 <= b.size());
  return (static_cast<std::uint32_t>(b[at]) << 24) | (static_cast<std::uint32_t>(b[at + 1]) << 16) |
         (static_cast<std::uint32_t>(b[at + 2]) << 8) | static_cast<std::uint32_t>(b[at + 3]);
}
inline void store_u8(std::span<std::byte> b, std::size_t at, std::uint8_t v) {
  assert(at < b.size());
  b[at] = std::byte{v};
}
inline void store_be16(std::span<std::byte> b, std::size_t at, std::uint16_t v) {
  assert(at + 2 <= b.size());
  b[at] = static_cast<std::byte>(v >> 8);
  b[at + 1] = static_cast<std::byte>(v & 0xff);
}
inline void store_be32(std::span<std::byte> b, std::size_t at, std::uint32_t v) {
  assert(at + 4 <= b.size());
  b[at] = static_cast<std::byte>(v >> 24);
  b[at + 1] = static_cast<std::byte>((v >> 16) & 0xff);
  b[at + 2] = static_cast<std::byte>((v >> 8) & 0xff);
  b[at + 3] = static_cast<std::byte>(v & 0xff);
}

inline std::uint16_t load_be16(std::span<const std::byte> b, Field f) { return load_be16(b, f.begin); }
inline std::uint32_t load_be32(std::span<const std::byte> b, Field f) { return load_be32(b, f.begin); }
inline void store_be16(std::span<std::byte> b, Field f, std::uint16_t v) { store_be16(b, f.begin, v); }
inline void store_be32(std::span<std::byte> b, Field f, std::uint32_t v) { store_be32(b, f.begin, v); }

using Bytes = std::vector<std::byte>;

// Test and literal helper: the bytes of a string ("GET / HTTP/1.1\r\n").
inline Bytes to_bytes(std::string_view s) {
  Bytes out(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) out[i] = static_cast<std::byte>(s[i]);
  return out;
}

}  // namespace stack
